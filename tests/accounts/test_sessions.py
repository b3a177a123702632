"""Token format and lifetimes: idle timeout, absolute lifetime, logout, ending and disabling."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from monitor_api.accounts.models import AuthSession, Device
from monitor_api.audit.models import AuditEntry
from monitor_api.config import Settings
from monitor_api.db import utcnow
from tests.accounts.conftest import PASSWORD, open_session
from tests.conftest import Api

V = "/api/v1"


def _problem_type(resp: Any) -> str:
    assert resp.mimetype == "application/problem+json", resp.data
    return resp.get_json()["type"]


def _secret_bits(token: str) -> int:
    body = token.split("_", 1)[1]
    return len(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))) * 8


def test_login_token_is_opaque_long_and_stored_only_as_its_hash(
        quick_user: Any, anon: Api, db: Session) -> None:
    user, _ = quick_user("monitor")
    resp = anon.post(f"{V}/auth/login", json={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 201
    body = resp.get_json()
    token = body["token"]
    assert body["token_type"] == "Bearer"
    assert _secret_bits(token) >= 128
    rows = db.scalars(select(AuthSession).where(AuthSession.user_id == user.id)).all()
    stored = [r for r in rows if r.token_hash == hashlib.sha256(token.encode()).hexdigest()]
    assert len(stored) == 1
    # No column of any session row holds the token itself.
    dump = db.scalar(text("select string_agg(t::text, '|') from auth_sessions t "
                          "where user_id = :u"), {"u": user.id})
    assert token not in dump and token.split("_", 1)[1] not in dump
    assert Api(anon.client, token).get(f"{V}/auth/me").status_code == 200


def test_device_token_is_long_and_stored_only_as_its_hash(quick_user: Any, db: Session) -> None:
    _, api = quick_user("monitor")
    resp = api.post(f"{V}/devices", json={"name": "Nokia", "platform": "android"})
    assert resp.status_code == 201
    token = resp.get_json()["token"]
    assert _secret_bits(token) >= 128
    dump = db.scalar(text("select t::text from devices t where id = :i"),
                     {"i": resp.get_json()["id"]})
    assert hashlib.sha256(token.encode()).hexdigest() in dump
    assert token not in dump and token.split("_", 1)[1] not in dump
    # Listing devices never shows the token again.
    assert token not in api.get(f"{V}/devices").get_data(as_text=True)


def test_idle_timeout(quick_user: Any, db: Session, settings: Settings) -> None:
    user, api = quick_user("monitor")
    idle = timedelta(seconds=settings.session_idle_seconds)
    # Used just inside the idle window: still valid, and the use slides the window.
    db.execute(update(AuthSession).where(AuthSession.user_id == user.id)
               .values(last_used_at=utcnow() - idle + timedelta(seconds=30)))
    assert api.get(f"{V}/auth/me").status_code == 200
    last = db.scalar(select(AuthSession.last_used_at).where(AuthSession.user_id == user.id))
    assert utcnow() - last < timedelta(seconds=10)
    # Unused for longer than the idle timeout: expired.
    db.execute(update(AuthSession).where(AuthSession.user_id == user.id)
               .values(last_used_at=utcnow() - idle - timedelta(seconds=1)))
    resp = api.get(f"{V}/auth/me")
    assert resp.status_code == 401
    assert _problem_type(resp) == "/problems/token-expired"


def test_absolute_lifetime_holds_however_busy(quick_user: Any, db: Session) -> None:
    user, api = quick_user("monitor")
    db.execute(update(AuthSession).where(AuthSession.user_id == user.id)
               .values(created_at=utcnow() - timedelta(hours=13),
                       expires_at=utcnow() - timedelta(seconds=1), last_used_at=utcnow()))
    resp = api.get(f"{V}/auth/me")
    assert resp.status_code == 401
    assert _problem_type(resp) == "/problems/token-expired"


def test_short_lifetimes_from_settings(app: Any, db: Session, settings: Settings,
                                       quick_user: Any) -> None:
    """A separate app with short settings: login's expires_at and the idle rule follow them."""
    from monitor_api.app import create_app

    short = create_app(replace(settings, session_idle_seconds=120, session_absolute_seconds=600))
    short.extensions["db_sessionmaker"] = app.extensions["db_sessionmaker"]  # the test's txn
    client = short.test_client()
    user, _ = quick_user("monitor")
    resp = client.post(f"{V}/auth/login", json={"username": user.username,
                                                 "password": PASSWORD})
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["idle_timeout_seconds"] == 120
    auth = db.scalar(select(AuthSession).where(AuthSession.user_id == user.id)
                     .order_by(AuthSession.created_at.desc()))
    assert abs((auth.expires_at - auth.created_at) - timedelta(seconds=600)) < timedelta(
        seconds=1)
    api = Api(client, body["token"])
    db.execute(update(AuthSession).where(AuthSession.id == auth.id)
               .values(last_used_at=utcnow() - timedelta(seconds=100)))
    assert api.get(f"{V}/auth/me").status_code == 200  # 100 s idle < 120 s
    db.execute(update(AuthSession).where(AuthSession.id == auth.id)
               .values(last_used_at=utcnow() - timedelta(seconds=121)))
    assert api.get(f"{V}/auth/me").status_code == 401
    short.extensions["db_engine"].dispose()


def test_logout_ends_only_this_session(quick_user: Any, db: Session, settings: Settings,
                                       client: Any) -> None:
    user, api = quick_user("monitor")
    other = Api(client, open_session(db, settings, user))
    assert api.post(f"{V}/auth/logout").status_code == 204
    resp = api.get(f"{V}/auth/me")
    assert resp.status_code == 401
    assert _problem_type(resp) == "/problems/unauthorized"
    assert other.get(f"{V}/auth/me").status_code == 200
    ended = db.scalars(select(AuthSession.end_reason).where(AuthSession.user_id == user.id)
                       ).all()
    assert sorted(ended, key=str) == sorted(["logout", None], key=str)


def test_admin_ends_all_sessions_of_a_user(quick_user: Any, db: Session, settings: Settings,
                                           client: Any, make_device: Any) -> None:
    _, admin = quick_user("admin")
    user, first = quick_user("monitor")
    second = Api(client, open_session(db, settings, user))
    _, phone = make_device(user, client)
    resp = admin.delete(f"{V}/users/{user.id}/sessions")
    assert resp.status_code == 200
    assert resp.get_json() == {"ended": 2}
    assert first.get(f"{V}/auth/me").status_code == 401
    assert second.get(f"{V}/auth/me").status_code == 401
    # Devices are revoked, not logged out: the phone keeps working until revoked.
    assert phone.get(f"{V}/auth/me").status_code == 200
    # The user can log in again.
    login = client.post(f"{V}/auth/login", json={"username": user.username,
                                                 "password": PASSWORD})
    assert login.status_code == 201


def test_disabling_a_user_ends_sessions_and_blocks_devices(
        quick_user: Any, client: Any, make_device: Any, db: Session) -> None:
    _, admin = quick_user("admin")
    user, api = quick_user("monitor")
    _, phone = make_device(user, client)
    assert phone.get(f"{V}/auth/me").status_code == 200
    resp = admin.patch(f"{V}/users/{user.id}", json={"is_active": False})
    assert resp.status_code == 200
    assert resp.get_json()["is_active"] is False
    assert api.get(f"{V}/auth/me").status_code == 401
    resp = phone.get(f"{V}/auth/me")
    assert resp.status_code == 401
    assert _problem_type(resp) == "/problems/account-disabled"
    login = client.post(f"{V}/auth/login", json={"username": user.username,
                                                 "password": PASSWORD})
    assert login.status_code == 401
    reasons = set(db.scalars(select(AuthSession.end_reason)
                             .where(AuthSession.user_id == user.id)))
    assert reasons == {"disabled"}
    # Re-enabled: the correct password works again (the old sessions stay ended).
    assert admin.patch(f"{V}/users/{user.id}", json={"is_active": True}).status_code == 200
    assert api.get(f"{V}/auth/me").status_code == 401
    assert client.post(f"{V}/auth/login", json={"username": user.username,
                                                "password": PASSWORD}).status_code == 201


def test_password_change_ends_sessions(quick_user: Any, client: Any) -> None:
    _, admin = quick_user("admin")
    user, api = quick_user("monitor")
    resp = admin.patch(f"{V}/users/{user.id}", json={"password": "a brand new password"})
    assert resp.status_code == 200
    assert api.get(f"{V}/auth/me").status_code == 401
    assert client.post(f"{V}/auth/login", json={"username": user.username,
                                                "password": PASSWORD}).status_code == 401
    assert client.post(f"{V}/auth/login", json={
        "username": user.username, "password": "a brand new password"}).status_code == 201


def test_device_revocation_answers_device_revoked(quick_user: Any, client: Any,
                                                  make_device: Any, db: Session,
                                                  make_team: Any) -> None:
    coordinator, coord_api = quick_user("coordinator")
    monitor, _ = quick_user("monitor")
    make_team(coordinator, monitor)
    device, phone = make_device(monitor, client)
    assert phone.get(f"{V}/auth/me").status_code == 200
    resp = coord_api.post(f"{V}/devices/{device.id}/revoke", json={"reason": "phone lost"})
    assert resp.status_code == 200
    assert resp.get_json()["revoked_at"] is not None
    for _ in range(2):  # every request from then on
        resp = phone.get(f"{V}/auth/me")
        assert resp.status_code == 401
        assert _problem_type(resp) == "/problems/device-revoked"
        assert "invalid_token" in resp.headers["WWW-Authenticate"]
    again = coord_api.post(f"{V}/devices/{device.id}/revoke", json={})
    assert again.status_code == 409
    # Each refused attempt is logged, although the refused request itself rolls back.
    refused = db.scalars(select(AuditEntry).where(AuditEntry.action == "device.refused",
                                                  AuditEntry.target_id == str(device.id))).all()
    assert len(refused) == 2
    assert all(e.actor_device_id == device.id and e.request_id for e in refused)
    row = db.get(Device, device.id, populate_existing=True)
    assert row is not None and row.revoked_by_id == coordinator.id
    assert row.revoke_reason == "phone lost"


def test_expired_device_token(quick_user: Any, client: Any, make_device: Any,
                              db: Session) -> None:
    user, _ = quick_user("monitor")
    device, phone = make_device(user, client)
    db.execute(update(Device).where(Device.id == device.id)
               .values(expires_at=utcnow() - timedelta(seconds=1)))
    resp = phone.get(f"{V}/auth/me")
    assert resp.status_code == 401
    assert _problem_type(resp) == "/problems/token-expired"


def test_device_token_cannot_log_out_or_register_devices(quick_user: Any, client: Any,
                                                        make_device: Any) -> None:
    user, _ = quick_user("monitor")
    _, phone = make_device(user, client)
    assert phone.post(f"{V}/auth/logout").status_code == 403
    assert phone.post(f"{V}/devices", json={"name": "second"}).status_code == 403


def test_bad_tokens(anon: Api, client: Any) -> None:
    for header in ("Bearer", "Basic dXNlcjpwYXNz", "Bearer mas_not-a-real-token",
                   "Bearer mad_not-a-real-token", "Bearer " + "x" * 5000):
        resp = client.get(f"{V}/auth/me", headers={"Authorization": header})
        assert resp.status_code == 401, header
        assert _problem_type(resp) == "/problems/unauthorized"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_role_change_out_of_field_work(quick_user: Any, client: Any, make_device: Any,
                                       make_team: Any, db: Session) -> None:
    _, admin = quick_user("admin")
    member, _ = quick_user("monitor")
    lead, _ = quick_user("coordinator")
    make_team(lead, member)
    # A team member cannot silently become a partner: the team would hold a partner.
    resp = admin.patch(f"{V}/users/{member.id}", json={"role": "partner"})
    assert resp.status_code == 409
    # A monitor in no team can; their phones stop working at once.
    loner, _ = quick_user("monitor")
    device, phone = make_device(loner, client)
    resp = admin.patch(f"{V}/users/{loner.id}", json={"role": "analyst"})
    assert resp.status_code == 200 and resp.get_json()["role"] == "analyst"
    resp = phone.get(f"{V}/auth/me")
    assert resp.status_code == 401
    assert _problem_type(resp) == "/problems/device-revoked"
    assert db.get(Device, device.id, populate_existing=True).revoke_reason == "role changed"
