"""Login throttling with real commits: the failed request rolls back, its failure count does not.

These tests use an app of their own on the real session factory (no per-test rollback), so
they create uniquely named users and addresses and delete them afterwards.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from monitor_api.accounts import service
from monitor_api.accounts.models import AuthSession, LoginThrottle, User
from monitor_api.accounts.throttle import IP_FAILURE_FACTOR
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


PARALLEL = 30
LIMIT = 5


@pytest.fixture
def two_instances(settings: Settings, engine: Any, password_hash: str
                  ) -> Iterator[tuple[Committed, Flask]]:
    """Two app instances, each with its own engine and pool: two servers on one database."""
    tuned = replace(settings, login_max_failures=LIMIT, login_lockout_seconds=60,
                    login_window_seconds=900)
    env, other = Committed(create_app(tuned), password_hash), create_app(tuned)
    yield env, other
    with env.session() as s:
        keys = [f"user:{u}" for u in env.usernames] + [f"ip:{i}" for i in env.ips]
        s.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
        s.execute(delete(User).where(User.username.in_(env.usernames)))
        s.commit()
    for app in (env.app, other):
        app.extensions["db_engine"].dispose()


@pytest.mark.parametrize("spread", ("username", "address"))
def test_parallel_wrong_passwords_check_at_most_the_limit(
        two_instances: tuple[Committed, Flask], monkeypatch: pytest.MonkeyPatch,
        spread: str) -> None:
    """30 wrong passwords at once, over two instances: `limit` argon2 checks, then only 429s."""
    env, other = two_instances
    checks: list[str] = []
    real_verify = service._verify

    def counting_verify(hash_: str, password: str) -> bool:
        checks.append(password)  # list.append is atomic under the GIL
        time.sleep(0.2)  # hold the door open: without an atomic reservation, all 30 get in
        return real_verify(hash_, password)

    monkeypatch.setattr(service, "_verify", counting_verify)
    if spread == "username":  # one account, every attempt from its own address
        name = env.user()
        attempts = [(name, env.ip()) for _ in range(PARALLEL)]
        limit, key = LIMIT, f"user:{name}"
    else:  # spraying: a different username each time, all from one address
        ip = env.ip()
        attempts = [(f"spray-{secrets.token_hex(4)}", ip) for _ in range(PARALLEL)]
        env.usernames.extend(n for n, _ in attempts)  # for the clean-up of their counters
        limit, key = min(LIMIT * IP_FAILURE_FACTOR, PARALLEL), f"ip:{ip}"
    statuses: list[int] = []
    start = threading.Barrier(PARALLEL)

    def attempt(n: int) -> None:
        client = (env.app if n % 2 else other).test_client()
        username, addr = attempts[n]
        start.wait()
        resp = client.post(LOGIN, json={"username": username, "password": f"wrong {n}"},
                           environ_base={"REMOTE_ADDR": addr})
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(statuses) == sorted([401] * limit + [429] * (PARALLEL - limit)), statuses
    assert len(checks) == limit  # password checks: exactly the limit, the rest never reached
    row = env.throttle(key)
    assert row is not None and row.failures == limit and row.locked_until is not None
    with env.session() as s:
        usernames = {n for n, _ in attempts}
        failed = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "auth.login_failed",
            AuditEntry.details["username"].astext.in_(usernames))).all()
    assert len(failed) == limit
