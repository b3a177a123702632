"""Login throttling with real commits: the failed request rolls back, its failure count does not.

These tests use an app of their own on the real session factory (no per-test rollback), so
they create uniquely named users and addresses and delete them afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from monitor_api.accounts.models import AuthSession, LoginThrottle, User
from monitor_api.accounts.service import IP_FAILURE_FACTOR
from monitor_api.app import create_app
from monitor_api.audit.models import AuditEntry
from monitor_api.config import Settings
from monitor_api.db import utcnow
from tests.accounts.conftest import PASSWORD

LOGIN = "/api/v1/auth/login"
MAX = 2


class Committed:
    """A throttling app on committed transactions, plus what to clean up."""

    def __init__(self, app: Flask, password_hash: str) -> None:
        self.app = app
        self.client = app.test_client()
        self.password_hash = password_hash
        self.usernames: list[str] = []
        self.ips: list[str] = []

    def session(self) -> Session:
        return self.app.extensions["db_sessionmaker"]()

    def user(self) -> str:
        name = f"thr-{secrets.token_hex(5)}"
        with self.session() as s:
            s.add(User(username=name, display_name=name, role="monitor",
                       password_hash=self.password_hash))
            s.commit()
        self.usernames.append(name)
        return name

    def ip(self) -> str:
        addr = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
        self.ips.append(addr)
        return addr

    def login(self, username: str, password: str, ip: str, **headers: str) -> Any:
        return self.client.post(LOGIN, json={"username": username, "password": password},
                                environ_base={"REMOTE_ADDR": ip}, headers=headers)

    def throttle(self, key: str) -> LoginThrottle | None:
        with self.session() as s:
            return s.get(LoginThrottle, key)


@pytest.fixture
def committed(settings: Settings, engine: Any, password_hash: str) -> Iterator[Committed]:
    app = create_app(replace(settings, login_max_failures=MAX, login_lockout_seconds=60,
                             login_window_seconds=900))
    env = Committed(app, password_hash)
    yield env
    with env.session() as s:
        keys = [f"user:{u}" for u in env.usernames] + [f"ip:{i}" for i in env.ips]
        s.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
        ids = select(User.id).where(User.username.in_(env.usernames))
        s.execute(delete(AuthSession).where(AuthSession.user_id.in_(ids)))
        s.execute(delete(User).where(User.username.in_(env.usernames)))
        s.commit()
    app.extensions["db_engine"].dispose()


def test_failures_per_username_are_counted_and_throttled(committed: Committed) -> None:
    name = committed.user()
    for n in range(1, MAX + 1):
        # Each from a different address: the per-username counter is what trips.
        resp = committed.login(name, "wrong password", committed.ip(),
                               **{"X-Request-ID": f"thr-{name}-{n}"})
        assert resp.status_code == 401
        row = committed.throttle(f"user:{name}")
        assert row is not None and row.failures == n  # committed despite the 401's rollback
    resp = committed.login(name, PASSWORD, committed.ip())  # even the right password waits
    assert resp.status_code == 429
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["type"] == "/problems/too-many-requests"
    assert 1 <= int(resp.headers["Retry-After"]) <= 61
    # Each failure is in the audit log, with the address and request id of its request.
    with committed.session() as s:
        rows = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "auth.login_failed",
            AuditEntry.details["username"].astext == name).order_by(AuditEntry.id)).all()
    assert [r.request_id for r in rows] == [f"thr-{name}-{n}" for n in range(1, MAX + 1)]
    assert all(r.ip and r.ip.startswith("10.") for r in rows)


def test_lock_expires_and_success_resets_the_username_counter(committed: Committed) -> None:
    name = committed.user()
    ip = committed.ip()
    for _ in range(MAX):
        committed.login(name, "wrong", ip)
    assert committed.login(name, PASSWORD, committed.ip()).status_code == 429
    with committed.session() as s:  # the lockout passes
        s.execute(update(LoginThrottle).where(LoginThrottle.key.in_([f"user:{name}",
                                                                      f"ip:{ip}"]))
                  .values(locked_until=utcnow() - timedelta(seconds=1)))
        s.commit()
    assert committed.login(name, PASSWORD, committed.ip()).status_code == 201
    row = committed.throttle(f"user:{name}")
    assert row is not None and row.failures == 0 and row.locked_until is None
    # Failures start from zero again.
    for _ in range(MAX - 1):
        assert committed.login(name, "wrong", committed.ip()).status_code == 401
    assert committed.login(name, PASSWORD, committed.ip()).status_code == 201


def test_repeated_lockouts_double(committed: Committed) -> None:
    name = committed.user()
    for _ in range(MAX):
        committed.login(name, "wrong", committed.ip())
    first = committed.throttle(f"user:{name}")
    assert first is not None and first.locked_until is not None
    with committed.session() as s:
        s.execute(update(LoginThrottle).where(LoginThrottle.key == f"user:{name}")
                  .values(locked_until=utcnow() - timedelta(seconds=1)))
        s.commit()
    committed.login(name, "wrong", committed.ip())
    second = committed.throttle(f"user:{name}")
    assert second is not None and second.locked_until is not None
    assert second.failures == MAX + 1
    remaining = (second.locked_until - utcnow()).total_seconds()
    assert 100 < remaining <= 120  # 60 s doubled


def test_failures_per_address_are_throttled_at_a_higher_limit(committed: Committed) -> None:
    ip = committed.ip()
    limit = MAX * IP_FAILURE_FACTOR
    for n in range(limit):
        # Spraying: a different (unknown) username each time, from one address.
        nobody = f"nobody-{secrets.token_hex(4)}"
        committed.usernames.append(nobody)  # for the clean-up of its counter
        assert committed.login(nobody, "guess", ip).status_code == 401, n
    victim = committed.user()
    resp = committed.login(victim, PASSWORD, ip)
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) >= 1
    # The same account from another address is not affected.
    assert committed.login(victim, PASSWORD, committed.ip()).status_code == 201
    row = committed.throttle(f"ip:{ip}")
    assert row is not None and row.failures == limit
