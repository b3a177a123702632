"""Role x endpoint authorisation matrix for the accounts endpoints, and id enumeration."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest

from tests.accounts.conftest import PASSWORD, ROLES_AND_ANON, World

V = "/api/v1"
ROLES = ROLES_AND_ANON[:-1]
FIELD = ("admin", "coordinator", "monitor")


def _expect(default: int, **overrides: int) -> dict[str, int]:
    """Status per role: `default` for every signed-in role, 401 for anonymous, then overrides."""
    out = {role: default for role in ROLES}
    out["anonymous"] = 401
    out.update(overrides)
    return out


def _only(allowed: tuple[str, ...], ok: int, others: int) -> dict[str, int]:
    return _expect(others, **{role: ok for role in allowed})


# (name, method, url template, body, expected status per role)
CASES: list[tuple[str, str, str, Any, dict[str, int]]] = [
    ("me", "GET", "/auth/me", None, _expect(200)),
    ("logout", "POST", "/auth/logout", None, _expect(204)),
    ("list users", "GET", "/users", None, _expect(200)),
    ("create user", "POST", "/users", "new_user", _only(("admin",), 201, 403)),
    ("read self", "GET", "/users/{self}", None, _expect(200)),
    ("read team-A monitor", "GET", "/users/{user_monitor}", None,
     _only(FIELD, 200, 404)),
    ("read team-B monitor", "GET", "/users/{user_monitor_b}", None,
     _only(("admin",), 200, 404)),
    ("patch user", "PATCH", "/users/{user_monitor}", {"display_name": "Renamed"},
     _only(("admin",), 200, 403)),
    ("end sessions", "DELETE", "/users/{user_monitor}/sessions", None,
     _only(("admin",), 200, 403)),
    ("list teams", "GET", "/teams", None, _expect(200)),
    ("create team", "POST", "/teams", "new_team", _only(("admin", "coordinator"), 201, 403)),
    ("read own team", "GET", "/teams/{team_a}", None, _only(FIELD, 200, 404)),
    ("read other team", "GET", "/teams/{team_b}", None, _only(("admin",), 200, 404)),
    ("rename own team", "PATCH", "/teams/{team_a}", "new_team",
     _only(("admin", "coordinator"), 200, 403)),
    ("rename other team", "PATCH", "/teams/{team_b}", "new_team",
     _expect(403, admin=200, coordinator=404)),
    ("add member to own team", "PUT", "/teams/{team_a}/members/{user_free_monitor}", None,
     _only(("admin", "coordinator"), 200, 403)),
    ("add member to other team", "PUT", "/teams/{team_b}/members/{user_free_monitor}", None,
     _expect(403, admin=200, coordinator=404)),
    ("add other team's user", "PUT", "/teams/{team_a}/members/{user_monitor_b}", None,
     _expect(403, admin=200, coordinator=404)),
    ("remove member", "DELETE", "/teams/{team_a}/members/{user_monitor}", None,
     _only(("admin", "coordinator"), 200, 403)),
    ("list devices", "GET", "/devices", None, _expect(200)),
    ("register device", "POST", "/devices", {"name": "phone", "platform": "android"},
     _only(FIELD, 201, 403)),
    ("read team-A device", "GET", "/devices/{device_a}", None, _only(FIELD, 200, 404)),
    ("read team-B device", "GET", "/devices/{device_b}", None, _only(("admin",), 200, 404)),
    ("revoke team-A device", "POST", "/devices/{device_a}/revoke", {"reason": "lost"},
     _only(FIELD, 200, 404)),
    ("revoke team-B device", "POST", "/devices/{device_b}/revoke", {},
     _only(("admin",), 200, 404)),
    ("audit log", "GET", "/audit", None, _only(("admin",), 200, 403)),
    ("audit verify", "GET", "/audit/verify", None, _only(("admin",), 200, 403)),
]


def _body(spec: Any) -> Any:
    if spec == "new_user":
        name = f"new-{secrets.token_hex(4)}"
        return {"username": name, "display_name": name, "role": "monitor",
                "password": "a long enough password"}
    if spec == "new_team":
        return {"name": f"team {secrets.token_hex(4)}"}
    return spec


def _call(world: World, role: str, method: str, template: str, body: Any) -> Any:
    ids = dict(world.ids, self=world.ids[f"user_{role if role != 'anonymous' else 'admin'}"])
    url = V + template.format(**ids)
    api = world.api(role)
    if method in ("GET", "DELETE"):
        return getattr(api, method.lower())(url)
    return getattr(api, method.lower())(url, json=_body(body))


@pytest.mark.parametrize("role", ROLES_AND_ANON)
@pytest.mark.parametrize(("name", "method", "template", "body", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_matrix(world: World, role: str, name: str, method: str, template: str, body: Any,
                expected: dict[str, int]) -> None:
    resp = _call(world, role, method, template, body)
    assert resp.status_code == expected[role], (role, name, resp.get_json())
    if resp.status_code >= 400:
        assert resp.mimetype == "application/problem+json"
        problem = resp.get_json()
        assert problem["status"] == resp.status_code
        assert {"type", "title", "detail"} <= set(problem)
    if resp.status_code == 401:
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ROLES)
def test_login_for_every_role(world: World, role: str, anon: Any) -> None:
    resp = anon.post(f"{V}/auth/login",
                     json={"username": world.users[role].username, "password": PASSWORD})
    assert resp.status_code == 201
    assert resp.get_json()["user"]["role"] == role
    wrong = anon.post(f"{V}/auth/login",
                      json={"username": world.users[role].username, "password": "wrong!"})
    assert wrong.status_code == 401
    assert wrong.get_json()["type"] == "/problems/unauthorized"


# (role, method, url template, body, the placeholder holding an object the role may not see)
ENUMERATION = [
    ("coordinator", "GET", "/teams/{team_b}", None, "team_b"),
    ("coordinator", "PATCH", "/teams/{team_b}", {"name": "mine now"}, "team_b"),
    ("coordinator", "PUT", "/teams/{team_b}/members/{user_coordinator}", None, "team_b"),
    ("coordinator", "DELETE", "/teams/{team_b}/members/{user_monitor_b}", None, "team_b"),
    ("coordinator", "PUT", "/teams/{team_a}/members/{user_monitor_b}", None, "user_monitor_b"),
    ("coordinator", "PUT", "/teams/{team_a}/members/{user_partner}", None, "user_partner"),
    ("coordinator", "DELETE", "/teams/{team_a}/members/{user_monitor_b}", None,
     "user_monitor_b"),
    ("coordinator", "GET", "/users/{user_monitor_b}", None, "user_monitor_b"),
    ("coordinator", "GET", "/devices/{device_b}", None, "device_b"),
    ("coordinator", "POST", "/devices/{device_b}/revoke", {"reason": "x"}, "device_b"),
    ("monitor", "GET", "/teams/{team_b}", None, "team_b"),
    ("monitor", "GET", "/users/{user_monitor_b}", None, "user_monitor_b"),
    ("monitor", "GET", "/devices/{device_b}", None, "device_b"),
    ("monitor", "POST", "/devices/{device_b}/revoke", {}, "device_b"),
    ("partner", "GET", "/teams/{team_a}", None, "team_a"),
    ("partner", "GET", "/users/{user_monitor}", None, "user_monitor"),
    ("partner", "GET", "/devices/{device_a}", None, "device_a"),
    ("legal_aid", "POST", "/devices/{device_a}/revoke", {}, "device_a"),
    ("analyst", "GET", "/users/{user_admin}", None, "user_admin"),
]


def _strip(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k != "request_id"}


@pytest.mark.parametrize(("role", "method", "template", "body", "hidden"), ENUMERATION,
                         ids=[f"{e[0]}-{e[1]}-{e[2]}" for e in ENUMERATION])
def test_other_teams_ids_answer_like_missing_ones(world: World, role: str, method: str,
                                                 template: str, body: Any,
                                                 hidden: str) -> None:
    real = _call(world, role, method, template, body)
    saved = dict(world.ids)
    try:  # the same request with the hidden object's id replaced by one that exists nowhere
        world.ids[hidden] = str(uuid.uuid4())
        missing = _call(world, role, method, template, body)
    finally:
        world.ids = saved
    assert real.status_code == missing.status_code == 404, (real.get_json(), missing.get_json())
    assert _strip(real.get_json()) == _strip(missing.get_json())
    assert real.mimetype == missing.mimetype == "application/problem+json"


def test_lists_are_scoped(world: World) -> None:
    def ids(role: str, path: str, key: str = "id") -> set[str]:
        resp = world.api(role).get(f"{V}{path}")
        assert resp.status_code == 200
        return {item[key] for item in resp.get_json()["items"]}

    w = world.ids
    everyone = {w[k] for k in w if k.startswith("user_")}
    assert everyone <= ids("admin", "/users?per_page=500")
    assert ids("coordinator", "/users?per_page=500") == {w["user_coordinator"], w["user_monitor"]}
    assert ids("monitor", "/users") == {w["user_monitor"]}
    for role in ("partner", "analyst", "legal_aid"):
        assert ids(role, "/users") == {w[f"user_{role}"]}
        assert ids(role, "/teams") == set()
        assert ids(role, "/devices") == set()
    assert ids("coordinator", "/teams") == {w["team_a"]}
    assert ids("monitor", "/teams") == {w["team_a"]}
    assert {w["team_a"], w["team_b"]} <= ids("admin", "/teams")
    assert ids("coordinator", "/devices") == {w["device_a"]}
    assert ids("monitor", "/devices") == {w["device_a"]}
    assert {w["device_a"], w["device_b"]} <= ids("admin", "/devices")
