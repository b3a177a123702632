"""Accounts fixtures: users with session tokens made directly in the db (no argon2 per user)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from monitor_api.accounts.models import AuthSession, Team, TeamMember, User
from monitor_api.accounts.service import hash_password
from monitor_api.auth import SESSION_PREFIX, new_token
from monitor_api.config import Settings
from monitor_api.db import utcnow
from tests.conftest import Api

PASSWORD = "correct horse battery staple"
ROLES_AND_ANON = ("admin", "coordinator", "monitor", "partner", "analyst", "legal_aid",
                  "anonymous")


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def quick_user(db: Session, client: FlaskClient, settings: Settings, password_hash: str) -> Any:
    """Create a user (password PASSWORD) and a login session for them: returns (user, Api)."""

    def _make(role: str, username: str | None = None) -> tuple[User, Api]:
        name = username or f"{role.replace('_', '-')}-{secrets.token_hex(4)}"
        user = User(username=name, display_name=name, role=role, password_hash=password_hash)
        db.add(user)
        db.flush()
        return user, Api(client, open_session(db, settings, user))

    return _make


def open_session(db: Session, settings: Settings, user: User) -> str:
    """A fresh login session for `user`, as login would open it; returns the token."""
    token, token_hash = new_token(SESSION_PREFIX)
    now = utcnow()
    db.add(AuthSession(user_id=user.id, token_hash=token_hash, created_at=now,
                       last_used_at=now,
                       expires_at=now + timedelta(seconds=settings.session_absolute_seconds)))
    db.flush()
    return token


@dataclass
class World:
    """Two teams (A: coordinator + monitor, B: coordinator + monitor) and one user per role."""

    users: dict[str, User]
    apis: dict[str, Api]
    team_a: Team
    team_b: Team
    device_a: Any  # the team-A monitor's phone
    device_b: Any  # the team-B monitor's phone
    device_a_api: Api
    ids: dict[str, str] = field(default_factory=dict)

    def api(self, role: str) -> Api:
        return self.apis[role]


@pytest.fixture
def world(db: Session, client: FlaskClient, quick_user: Any, make_device: Any) -> World:
    users: dict[str, User] = {}
    apis: dict[str, Api] = {}
    for role in ROLES_AND_ANON[:-1]:
        users[role], apis[role] = quick_user(role)
    apis["anonymous"] = Api(client)
    users["coordinator_b"], apis["coordinator_b"] = quick_user("coordinator")
    users["monitor_b"], apis["monitor_b"] = quick_user("monitor")
    users["free_monitor"], _ = quick_user("monitor")  # in no team yet
    team_a = Team(name=f"A-{secrets.token_hex(3)}", lead_id=users["coordinator"].id)
    team_b = Team(name=f"B-{secrets.token_hex(3)}", lead_id=users["coordinator_b"].id)
    db.add_all([team_a, team_b])
    db.flush()
    db.add_all([TeamMember(team_id=team_a.id, user_id=users["coordinator"].id),
                TeamMember(team_id=team_a.id, user_id=users["monitor"].id),
                TeamMember(team_id=team_b.id, user_id=users["coordinator_b"].id),
                TeamMember(team_id=team_b.id, user_id=users["monitor_b"].id)])
    db.flush()
    device_a, device_a_api = make_device(users["monitor"], client)
    device_b, _ = make_device(users["monitor_b"], client)
    w = World(users, apis, team_a, team_b, device_a, device_b, device_a_api)
    w.ids = {
        "team_a": str(team_a.id), "team_b": str(team_b.id),
        "device_a": str(device_a.id), "device_b": str(device_b.id),
        **{f"user_{k}": str(u.id) for k, u in users.items()},
    }
    return w
