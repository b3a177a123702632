"""A revoked device and a disabled user get 401 on every endpoint, sync and uploads included;
enabling the user again revives no token issued before the disable."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from monitor_api.accounts.models import Device, User
from monitor_api.db import utcnow
from tests.conftest import Api


def _endpoints(app: Flask) -> list[tuple[str, str]]:
    """Every (method, url) under /api/v1 except login, with path parameters filled in."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.rule == "/api/v1/auth/login":
            continue
        url = re.sub(r"<uuid:[a-z_]+>", str(uuid.uuid4()), rule.rule)
        url = re.sub(r"<string:table>", "visits", url)
        url = re.sub(r"<int:[a-z_]+>", "1", url)
        url = re.sub(r"<any\([^)]*\):variant>", "display", url)
        for method in sorted((rule.methods or set()) - {"OPTIONS"}):
            out.append((method, url))
    return out


def _hit(api: Api, method: str, url: str) -> Any:
    headers = {"Authorization": f"Bearer {api.token}", "Tus-Resumable": "1.0.0"}
    return api.client.open(url, method=method, headers=headers, json={} if method in (
        "POST", "PATCH", "PUT") else None)


def _all_401(app: Flask, api: Api, slug: str) -> None:
    endpoints = _endpoints(app)
    assert len(endpoints) > 50
    for method, url in endpoints:
        resp = _hit(api, method, url)
        assert resp.status_code == 401, (method, url, resp.status_code)
        if method != "HEAD":
            assert resp.get_json()["type"].endswith(slug), (method, url)


def test_revoked_device_is_401_everywhere(app: Flask, db: Session, client: FlaskClient,
                                         make_user: Any, make_team: Any,
                                         make_device: Any) -> None:
    user, _ = make_user("monitor")
    make_team(user)
    device, phone = make_device(user, client)
    assert phone.get("/api/v1/sync?last_pulled_at=null").status_code == 200
    db.execute(update(Device).where(Device.id == device.id).values(revoked_at=utcnow()))
    db.flush()
    _all_401(app, phone, "device-revoked")


@pytest.mark.parametrize("kind", ("session", "device"))
def test_disabled_user_is_401_everywhere(app: Flask, db: Session, client: FlaskClient,
                                         make_user: Any, make_team: Any, make_device: Any,
                                         kind: str) -> None:
    user, session_api = make_user("coordinator")
    make_team(user)
    _, phone = make_device(user, client)
    api = session_api if kind == "session" else phone
    assert api.get("/api/v1/auth/me").status_code == 200
    # Disabled behind the API's back (e.g. by SQL or another instance): the token must die too.
    db.execute(update(User).where(User.id == user.id).values(is_active=False))
    db.flush()
    _all_401(app, api, "")


def test_revoked_device_push_writes_nothing(db: Session, client: FlaskClient, make_user: Any,
                                            make_team: Any, make_device: Any) -> None:
    from monitor_api.facilities.models import Facility
    from monitor_api.visits.models import Visit

    user, _ = make_user("monitor")
    team = make_team(user)
    fac = Facility(code=f"R-{uuid.uuid4().hex[:6]}", name="IVS", facility_type="police_custody",
                   authority="ministry_of_interior", region="TJ-DU")
    db.add(fac)
    db.flush()
    visit = Visit(facility_id=fac.id, team_id=team.id)
    db.add(visit)
    db.flush()
    device, phone = make_device(user, client)
    db.execute(update(Device).where(Device.id == device.id).values(revoked_at=utcnow()))
    db.flush()
    rid = str(uuid.uuid4())
    resp = phone.post("/api/v1/sync?last_pulled_at=null", json={"findings": {"created": [{
        "id": rid, "visit_id": str(visit.id), "theme": "material_conditions",
        "severity": "serious", "title": "after revocation"}]}})
    assert resp.status_code == 401
    from monitor_api.findings.models import Finding
    assert db.get(Finding, uuid.UUID(rid)) is None


@pytest.mark.parametrize("role", ("partner", "analyst", "legal_aid", "monitor", "coordinator"))
def test_session_tokens_cannot_sync_or_upload(make_user: Any, role: str) -> None:
    _, api = make_user(role)
    assert api.get("/api/v1/sync?last_pulled_at=null").status_code == 403
    assert api.post("/api/v1/sync?last_pulled_at=null", json={}).status_code == 403
    resp = api.post("/api/v1/uploads", headers={"Tus-Resumable": "1.0.0",
                                                "Upload-Length": "10"})
    assert resp.status_code == 403


@pytest.mark.parametrize("how", ("disable", "role"))
def test_enabling_a_user_again_revives_no_old_token(db: Session, client: FlaskClient,
                                                     make_user: Any, login: Any,
                                                     how: str) -> None:
    """Disable (or move out of field work), then undo it: old phones and sessions stay dead."""
    from sqlalchemy import select

    from monitor_api.audit.models import AuditEntry

    _, admin = make_user("admin")
    user, session_api = make_user("monitor")
    reg = session_api.post("/api/v1/devices", json={"name": "field phone"})
    assert reg.status_code == 201
    phone = Api(client, reg.get_json()["token"])
    assert phone.get("/api/v1/sync?last_pulled_at=null").status_code == 200
    off, on = ({"is_active": False}, {"is_active": True}) if how == "disable" else (
        {"role": "partner"}, {"role": "monitor"})
    assert admin.patch(f"/api/v1/users/{user.id}", json=off).status_code == 200
    assert admin.patch(f"/api/v1/users/{user.id}", json=on).status_code == 200
    for url in ("/api/v1/sync?last_pulled_at=null", "/api/v1/auth/me"):
        resp = phone.get(url)
        assert resp.status_code == 401, url
        problem = resp.get_json()
        assert problem["type"] == "/problems/device-revoked"
        assert "revoked on" in problem["detail"]
    device_id = reg.get_json()["id"]
    revokes = db.scalars(select(AuditEntry).where(AuditEntry.action == "device.revoke",
                                                  AuditEntry.target_id == device_id)).all()
    assert len(revokes) == 1  # revoked at the disable, audited
    if how == "disable":
        assert "account was disabled" in problem["detail"]
        assert session_api.get("/api/v1/auth/me").status_code == 401  # the session too
    # A fresh login registers a new phone, which works.
    fresh = login(user.username, "correct horse battery staple")
    new = fresh.post("/api/v1/devices", json={"name": "field phone"})
    assert new.status_code == 201
    assert Api(client, new.get_json()["token"]).get(
        "/api/v1/sync?last_pulled_at=null").status_code == 200


def test_tokens_issued_before_the_latest_disable_stay_dead(
        app: Flask, db: Session, client: FlaskClient, make_user: Any, make_device: Any) -> None:
    """Second line: a phone or session the disable missed (here, undone by SQL) stays dead."""
    from monitor_api.accounts.models import AuthSession

    _, admin = make_user("admin")
    user, session_api = make_user("coordinator")
    device, phone = make_device(user, client)
    assert admin.patch(f"/api/v1/users/{user.id}", json={"is_active": False}).status_code == 200
    assert admin.patch(f"/api/v1/users/{user.id}", json={"is_active": True}).status_code == 200
    db.execute(update(Device).where(Device.id == device.id).values(revoked_at=None))
    db.execute(update(AuthSession).where(AuthSession.user_id == user.id).values(ended_at=None))
    db.flush()
    resp = phone.get("/api/v1/auth/me")
    assert resp.status_code == 401
    assert resp.get_json()["type"] == "/problems/device-revoked"
    assert "before the account was last disabled" in resp.get_json()["detail"]
    resp = session_api.get("/api/v1/auth/me")
    assert resp.status_code == 401
    assert "before the account was disabled" in resp.get_json()["detail"]
