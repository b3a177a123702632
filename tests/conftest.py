"""Test fixtures: a migrated PostGIS database, per-test rollback, moto's S3 server, clients."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from monitor_api.app import create_app
from monitor_api.config import Settings
from monitor_api.db import make_engine
from monitor_api.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.exit("TEST_DATABASE_URL is not set: run the tests with `make test`", 2)
    return url


@contextmanager
def own_database(database_url: str, purpose: str) -> Iterator[str]:
    """A migrated database of our own next to the test database, dropped afterwards (for
    tests whose server commits: sync cursors, live servers, browsers)."""
    import secrets

    url = make_url(database_url)
    name = f"{url.database}_{purpose}_{secrets.token_hex(3)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    own = url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(own)
        yield own
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)  # an empty database built by `alembic upgrade head`
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """moto's standalone S3 server over real HTTP, for the whole test session."""
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                 "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/moto-api/", timeout=1)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"moto server did not start; see {log}") from None
            time.sleep(0.2)
    yield {"endpoint_url": url, "region": "us-east-1", "access_key": "testing",
           "secret_key": "testing"}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = Settings.from_env({"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"})
    return replace(base, blob_dir=str(tmp_path_factory.mktemp("blobs")),
                   state_dir=str(tmp_path_factory.mktemp("state")))


@pytest.fixture(scope="session")
def app(settings: Settings, engine: Engine) -> Flask:
    return create_app(settings)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside an outer transaction that is rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    if trans.is_active:
        trans.rollback()
    conn.close()


@pytest.fixture
def db(app: Flask, connection: Connection) -> Iterator[Session]:
    """A session joined to the test's outer transaction; the app's requests use the same."""
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                           expire_on_commit=False)
    original = app.extensions["db_sessionmaker"]
    app.extensions["db_sessionmaker"] = factory
    session = factory()
    yield session
    session.close()
    app.extensions["db_sessionmaker"] = original


@pytest.fixture
def client(app: Flask, db: Session) -> FlaskClient:
    return app.test_client()


class Api:
    """A test client that carries a bearer token and speaks JSON."""

    def __init__(self, client: FlaskClient, token: str | None = None) -> None:
        self.client = client
        self.token = token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = dict(headers or {})
        if self.token:
            out.setdefault("Authorization", f"Bearer {self.token}")
        return out

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.client.delete(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(url, json=json, headers=self._headers(kw.pop("headers", None)),
                                **kw)

    def patch(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.client.patch(url, json=json, headers=self._headers(kw.pop("headers", None)),
                                 **kw)

    def put(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.client.put(url, json=json, headers=self._headers(kw.pop("headers", None)),
                               **kw)


@pytest.fixture
def make_user(db: Session, login: Any) -> Any:
    """Create a user and log in: returns (user, Api)."""
    from monitor_api.accounts.service import create_user

    def _make(role: str, username: str | None = None, client: FlaskClient | None = None,
              app: Flask | None = None) -> tuple[Any, Api]:
        import secrets

        name = username or f"{role.replace('_', '-')}-{secrets.token_hex(4)}"
        password = "correct horse battery staple"
        user = create_user(db, username=name, display_name=name, role=role, password=password)
        db.flush()
        return user, login(name, password)

    return _make


@pytest.fixture
def login(client: FlaskClient) -> Any:
    """Log in over the API: returns an Api carrying the session token."""

    def _login(username: str, password: str) -> Api:
        resp = client.post("/api/v1/auth/login",
                           json={"username": username, "password": password})
        assert resp.status_code == 201, resp.get_json()
        return Api(client, resp.get_json()["token"])

    return _login


@pytest.fixture
def anon(client: FlaskClient) -> Api:
    return Api(client)


@pytest.fixture
def make_team(db: Session) -> Any:
    """Create a team with the given users as members (first one leads)."""
    from monitor_api.accounts.models import Team, TeamMember

    def _make(*users: Any, name: str | None = None) -> Any:
        import secrets

        team = Team(name=name or f"team-{secrets.token_hex(4)}",
                    lead_id=users[0].id if users else None)
        db.add(team)
        db.flush()
        for user in users:
            db.add(TeamMember(team_id=team.id, user_id=user.id))
        db.flush()
        return team

    return _make


@pytest.fixture
def make_device(db: Session, settings: Settings) -> Any:
    """Register a device for a user: returns (device, Api with the device token)."""
    from monitor_api.accounts.devices import register_device
    from monitor_api.auth import Principal

    def _make(user: Any, client: FlaskClient) -> tuple[Any, Api]:
        device, token = register_device(db, Principal(user.id, user.role, user.username),
                                        name="phone", platform="android",
                                        lifetime_days=settings.device_token_days)
        db.flush()
        return device, Api(client, token)

    return _make
