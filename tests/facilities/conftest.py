"""Fixtures for the facility registry tests: logged-in clients per role, a facility maker."""

from __future__ import annotations

import itertools
import secrets
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from monitor_api.accounts.models import AuthSession, User
from monitor_api.auth import SESSION_PREFIX, new_token
from monitor_api.db import utcnow
from tests.conftest import Api

ROLES = ("admin", "coordinator", "monitor", "partner", "analyst", "legal_aid")
URL = "/api/v1/facilities"
PROBLEM = "application/problem+json"
_codes = itertools.count(1)


def payload(**overrides: Any) -> dict[str, Any]:
    """A valid create body; `code` is unique per call unless given."""
    body: dict[str, Any] = {
        "code": f"T-{secrets.token_hex(3)}-{next(_codes):04d}",
        "name": "Test facility",
        "name_ru": "Тестовое учреждение",
        "name_tg": "Муассисаи санҷишӣ",
        "facility_type": "pretrial_detention",
        "authority": "ministry_of_justice",
        "region": "TJ-DU",
        "district": "Sino",
        "lat": 38.56,
        "lng": 68.77,
        "official_capacity": 400,
        "holds": {"men": True, "women": False, "minors": False, "foreigners": True},
        "status": "active",
        "notes": None,
    }
    body.update(overrides)
    return body


def assert_problem(resp: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and type slug)."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    body = resp.get_json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/") and body["title"] and body["detail"]
    if slug:
        assert body["type"] == f"/problems/{slug}"
    return body


@pytest.fixture
def user_api(db: Session, client: Any) -> Any:
    """A user of `role` with a real session token, minted without argon2 (fast).

    The token still goes through monitor_api.auth.authenticate on every request; the slow
    password login itself is covered by the accounts tests and test_authz's real-login case.
    """

    def _make(role: str) -> Any:
        user = User(username=f"{role.replace('_', '-')}-{secrets.token_hex(4)}",
                    display_name=role, role=role, password_hash="!unusable")
        db.add(user)
        db.flush()
        token, token_hash = new_token(SESSION_PREFIX)
        db.add(AuthSession(user_id=user.id, token_hash=token_hash,
                           expires_at=utcnow() + timedelta(hours=1)))
        db.flush()
        api = Api(client, token)
        api.user = user  # type: ignore[attr-defined]
        return api

    return _make


@pytest.fixture
def admin(user_api: Any) -> Any:
    return user_api("admin")


@pytest.fixture
def coordinator(user_api: Any) -> Any:
    return user_api("coordinator")


@pytest.fixture
def apis(user_api: Any, admin: Any) -> dict[str, Any]:
    """role -> Api authenticated as a user of that role."""
    return {"admin": admin, **{role: user_api(role) for role in ROLES[1:]}}


@pytest.fixture
def marker() -> str:
    """A token put in test facilities' names so list tests ignore rows they did not make."""
    return "mk" + secrets.token_hex(4)


@pytest.fixture
def create(admin: Any) -> Any:
    """Create a facility over the API as admin; returns the response body."""

    def _create(**overrides: Any) -> dict[str, Any]:
        resp = admin.post(URL, json=payload(**overrides))
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()

    return _create
