"""Role-by-endpoint matrix for every facilities endpoint, plus anonymous callers."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from monitor_api.facilities.models import Facility
from tests.facilities.conftest import ROLES, URL, assert_problem, payload

ALLOWED = {
    "list": set(ROLES),
    "read": set(ROLES),
    "history": set(ROLES),
    "create": {"admin", "coordinator"},
    "update": {"admin", "coordinator"},
    "delete": {"admin"},
}
SUCCESS = {"list": 200, "read": 200, "history": 200, "create": 201, "update": 200,
           "delete": 204}


def _call(api: Any, action: str, fac: dict[str, Any], code: str) -> Any:
    item = f"{URL}/{fac['id']}"
    if action == "list":
        return api.get(URL)
    if action == "read":
        return api.get(item)
    if action == "history":
        return api.get(f"{item}/history")
    if action == "create":
        return api.post(URL, json=payload(code=code))
    if action == "update":
        return api.patch(item, json={"name": "Renamed"}, headers={"If-Match": '"1"'})
    return api.delete(item)


@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
@pytest.mark.parametrize("action", list(SUCCESS))
def test_matrix(role: str, action: str, user_api: Any, admin: Any, anon: Any,
                create: Any, db: Any) -> None:
    fac = create()
    api = {"anonymous": anon, "admin": admin}.get(role) or user_api(role)
    code = f"NEW-{role}-{action}"
    resp = _call(api, action, fac, code)
    if role == "anonymous":
        assert_problem(resp, 401, "unauthorized")
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    elif role in ALLOWED[action]:
        assert resp.status_code == SUCCESS[action], resp.get_json()
    else:
        assert_problem(resp, 403, "forbidden")
    # A refused write leaves no trace; an allowed one does what it says.
    row = db.get(Facility, fac["id"])
    db.refresh(row)
    allowed = role in ALLOWED[action]
    assert (row.name == "Renamed") == (action == "update" and allowed)
    assert (row.deleted_at is not None) == (action == "delete" and allowed)
    assert row.version == (2 if action in ("update", "delete") and allowed else 1)
    created = db.scalar(select(func.count()).where(Facility.code == code))
    assert created == (1 if action == "create" and allowed else 0)


@pytest.mark.parametrize("role", ROLES[1:])
@pytest.mark.parametrize("suffix", ["", "/{id}", "/{id}/history"])
def test_include_deleted_is_admin_only(role: str, suffix: str, user_api: Any,
                                       create: Any) -> None:
    fac = create()
    api = user_api(role)
    resp = api.get(URL + suffix.format(id=fac["id"]) + "?include_deleted=true")
    assert_problem(resp, 403, "forbidden")


def test_anonymous_bad_body_gets_401_not_422(anon: Any) -> None:
    assert_problem(anon.post(URL, json={"nonsense": True}), 401)


def test_device_token_reads_but_cannot_write_as_monitor(make_user: Any, make_device: Any,
                                                        client: Any, create: Any) -> None:
    fac = create()
    user, _ = make_user("monitor")
    _, phone = make_device(user, client)
    assert phone.get(f"{URL}/{fac['id']}").status_code == 200
    assert_problem(phone.post(URL, json=payload()), 403)


@pytest.mark.parametrize("role", ["coordinator", "partner"])
def test_real_password_login_path(role: str, make_user: Any, create: Any) -> None:
    fac = create()
    _, api = make_user(role)
    assert api.get(f"{URL}/{fac['id']}").status_code == 200
    resp = api.patch(f"{URL}/{fac['id']}", json={"notes": "n"}, headers={"If-Match": '"1"'})
    assert resp.status_code == (200 if role == "coordinator" else 403)
