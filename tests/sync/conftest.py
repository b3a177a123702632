"""Sync tests need real commits (the cursor is a transaction id), so they run against a
dedicated database with a real HTTP server; every table is emptied after each test."""

from __future__ import annotations

import functools
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from monitor_api.accounts.devices import register_device
from monitor_api.accounts.models import Team, TeamMember, User
from monitor_api.accounts.service import hash_password
from monitor_api.app import create_app
from monitor_api.auth import Principal
from monitor_api.checklists.models import ChecklistQuestion, ChecklistTemplate
from monitor_api.config import Settings
from monitor_api.db import make_engine
from monitor_api.facilities.models import Facility
from monitor_api.visits.models import Visit
from sync.client import SyncClient
from tests.conftest import own_database

PASSWORD = "correct horse battery staple"
ROOT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sync_db_url(database_url: str) -> Iterator[str]:
    """A database of our own next to the test database (dropped at the end)."""
    with own_database(database_url, "sync") as url:
        yield url


@pytest.fixture(scope="session")
def sync_settings(settings: Settings, sync_db_url: str) -> Settings:
    return replace(settings, database_url=sync_db_url, sync_page_records=50,
                   sync_max_push_records=300, sync_max_body_bytes=64 * 1024)


@pytest.fixture(scope="session")
def live(sync_settings: Settings) -> Iterator[str]:
    """The app served over real HTTP on 127.0.0.1 (threaded), against the sync database."""
    app = create_app(sync_settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["db_engine"].dispose()


@pytest.fixture(scope="session")
def sync_engine(sync_db_url: str) -> Iterator[Engine]:
    eng = make_engine(sync_db_url)
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sync_engine" not in request.fixturenames:
        return
    eng: Engine = request.getfixturevalue("sync_engine")
    # The live server's background refresher may still be recomputing what the test's pushes
    # marked; deleting every table under it in one transaction could deadlock with it.
    deadline = time.monotonic() + 10
    with eng.connect() as conn:
        while time.monotonic() < deadline and conn.execute(sa.text(
                "select exists (select 1 from indicators_due)")).scalar():
            conn.rollback()
            time.sleep(0.02)
    with eng.begin() as conn:
        names = conn.scalars(sa.text(
            "select tablename from pg_tables where schemaname = 'public' and tablename not in "
            # audit_log is append-only (its trigger refuses deletes); it only grows here.
            "('alembic_version', 'spatial_ref_sys', 'audit_log')")).all()
        # Replica mode skips foreign-key triggers, so the order of the deletes does not matter.
        conn.execute(sa.text("set local session_replication_role = replica"))
        for name in names:
            conn.execute(sa.text(f'delete from "{name}"'))


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: hash the test password once


class World:
    """Builds committed users, teams, devices and reference data; speaks HTTP to `live`."""

    def __init__(self, engine: Engine, base: str) -> None:
        self.engine, self.base = engine, base

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def user(self, role: str = "monitor") -> Any:
        with self.session() as s:
            user = User(username=f"{role}-{secrets.token_hex(4)}", display_name=role, role=role,
                        password_hash=_password_hash())
            s.add(user)
            s.commit()
            return user

    def login(self, user: Any) -> str:
        resp = requests.post(self.base + "/api/v1/auth/login",
                             json={"username": user.username, "password": PASSWORD}, timeout=10)
        assert resp.status_code == 201, resp.text
        return resp.json()["token"]

    def team(self, *members: Any, lead: Any = None, name: str | None = None) -> uuid.UUID:
        with self.session() as s:
            team = Team(name=name or f"team-{secrets.token_hex(4)}",
                        lead_id=(lead or (members[0] if members else None)).id
                        if (lead or members) else None)
            s.add(team)
            s.flush()
            for m in members:
                s.add(TeamMember(team_id=team.id, user_id=m.id))
            s.commit()
            return team.id

    def join(self, team_id: uuid.UUID, user: Any) -> None:
        with self.engine.begin() as c:
            c.execute(sa.insert(TeamMember.__table__).values(team_id=team_id, user_id=user.id))

    def leave(self, team_id: uuid.UUID, user: Any) -> None:
        with self.engine.begin() as c:
            c.execute(sa.delete(TeamMember.__table__).where(
                TeamMember.team_id == team_id, TeamMember.user_id == user.id))

    def device(self, user: Any) -> str:
        with self.session() as s:
            _, token = register_device(s, Principal(user.id, user.role, user.username),
                                       name="phone", platform="android", lifetime_days=30)
            s.commit()
            return token

    def client(self, user: Any, **kw: Any) -> SyncClient:
        return SyncClient(self.base, self.device(user), **kw)

    def facility(self) -> str:
        with self.session() as s:
            f = Facility(code=f"F-{secrets.token_hex(3)}", name="SIZO 1",
                         facility_type="pretrial_detention", authority="ministry_of_justice",
                         region="TJ-DU", official_capacity=300)
            s.add(f)
            s.commit()
            return str(f.id)

    def template(self, status: str = "published", questions: int = 3) -> tuple[str, list[str]]:
        with self.session() as s:
            t = ChecklistTemplate(code=f"T-{secrets.token_hex(3)}", version=1, title="Starter",
                                  facility_types=["pretrial_detention"], status=status)
            s.add(t)
            s.flush()
            qs = [ChecklistQuestion(template_id=t.id, section="treatment", code=f"Q{i}",
                                    position=i, text_en=f"Question {i}",
                                    answer_type="yes_no_partial", info_sources=["observation"],
                                    standard_refs=[{"instrument": "mandela", "rule": "44"}])
                  for i in range(questions)]
            s.add_all(qs)
            s.commit()
            return str(t.id), [str(q.id) for q in qs]

    def visit(self, team_id: uuid.UUID | None, facility_id: str) -> str:
        with self.session() as s:
            v = Visit(facility_id=uuid.UUID(facility_id), team_id=team_id)
            s.add(v)
            s.commit()
            return str(v.id)

    def pull(self, token: str, cursor: Any = "null", **params: Any) -> requests.Response:
        return requests.get(self.base + "/api/v1/sync", timeout=30,
                            params={"last_pulled_at": cursor, **params},
                            headers={"Authorization": f"Bearer {token}"})

    def push(self, token: str, changes: Any, cursor: Any, data: bytes | None = None,
             **headers: str) -> requests.Response:
        return requests.post(self.base + "/api/v1/sync", params={"last_pulled_at": cursor},
                             data=json.dumps(changes) if data is None else data, timeout=30,
                             headers={"Authorization": f"Bearer {token}", **headers})

    def cursor(self, token: str) -> int:
        """Pull everything (all pages) and return the final cursor."""
        cur: Any = "null"
        while True:
            body = self.pull(token, cur).json()
            cur = body["timestamp"]
            if not body["has_more"]:
                return cur

    def sql(self, query: str, **params: Any) -> Any:
        with self.engine.begin() as c:
            return c.execute(sa.text(query), params)


@pytest.fixture
def world(sync_engine: Engine, live: str) -> World:
    return World(sync_engine, live)


def visit_raw(facility_id: str, **kw: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "facility_id": facility_id, "visit_type": "in_depth",
            "announced": False, "joint_with_ombudsman": True, "status": "in_progress",
            "started_at": 1_732_000_000_000, **kw}


def finding_raw(visit_id: str, **kw: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "visit_id": visit_id, "theme": "material_conditions",
            "severity": "serious", "title": "Overcrowding",
            "standard_refs": '[{"instrument":"cpt","rule":"space"}]', **kw}
