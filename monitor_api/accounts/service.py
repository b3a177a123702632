"""Accounts: users, passwords and login sessions (throttling: throttle.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from monitor_api.accounts import throttle
from monitor_api.accounts.models import (
    DISABLED_REASON,
    FIELD_ROLES,
    AuthSession,
    Device,
    TeamMember,
    User,
)
from monitor_api.audit import service as audit
from monitor_api.auth import SESSION_PREFIX, Principal, new_token
from monitor_api.config import Settings
from monitor_api.db import utcnow
from monitor_api.errors import Conflict, Forbidden, NotFound, Unauthorized
from monitor_api.pagination import paginate

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-timing")


def hash_password(password: str) -> str:
    """argon2id hash of a password."""
    return _hasher.hash(password)


def _verify(hash_: str, password: str) -> bool:
    try:
        return _hasher.verify(hash_, password)
    except (VerificationError, InvalidHashError):
        return False


# --- users -----------------------------------------------------------------------------------

def create_user(session: Session, *, username: str, display_name: str, role: str,
                password: str, email: str | None = None) -> User:
    """Create a user; usernames are unique."""
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"Username {username!r} is taken.")
    user = User(username=username, display_name=display_name, role=role, email=email,
                password_hash=hash_password(password))
    session.add(user)
    session.flush()
    audit.record(session, "user.create", target_type="user", target_id=user.id,
                 details={"username": username, "role": role})
    return user


def visible_users_query(session: Session, principal: Principal) -> Any:
    """Users the principal may see: all for admins, team mates for coordinators, else self."""
    query = select(User)
    if principal.is_admin:
        return query
    if principal.role == "coordinator":
        teams = principal.team_ids(session)
        mates = select(TeamMember.user_id).where(TeamMember.team_id.in_(teams))
        return query.where(or_(User.id == principal.user_id, User.id.in_(mates)))
    return query.where(User.id == principal.user_id)


def list_users(session: Session, principal: Principal, *, page: int, per_page: int
               ) -> tuple[list[User], int]:
    """A page of visible users, ordered by username."""
    query = visible_users_query(session, principal).order_by(User.username)
    return paginate(session, query, page=page, per_page=per_page)


def get_user(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    """A visible user, or 404 whether or not it exists."""
    user = session.scalar(visible_users_query(session, principal).where(User.id == user_id))
    if user is None:
        raise NotFound("No such user.")
    return user


def update_user(session: Session, principal: Principal, user_id: uuid.UUID,
                **changes: Any) -> User:
    """Admin edits of a user; disabling ends every session and revokes every phone for good."""
    user = get_user(session, principal, user_id)
    if not principal.is_admin:
        raise Forbidden("Only an admin may change accounts.")
    fields = sorted(changes)
    if changes.get("role", user.role) not in FIELD_ROLES and user.role in FIELD_ROLES:
        _leave_field_work(session, user)
    if "password" in changes:
        user.password_hash = hash_password(changes.pop("password"))
        end_sessions(session, user.id, reason="password_changed")
    was_active = user.is_active
    for key, value in changes.items():
        setattr(user, key, value)
    if was_active and not user.is_active:
        # Kept when the user is enabled again: tokens issued before it stay dead (auth.py).
        user.disabled_at = utcnow()
        end_sessions(session, user.id, reason="disabled")
        revoke_devices(session, user.id, reason=DISABLED_REASON)
    session.flush()
    audit.record(session, "user.update", target_type="user", target_id=user.id,
                 details={"fields": fields, **({"role": user.role} if "role" in fields else {})})
    return user


def _leave_field_work(session: Session, user: User) -> None:
    """A user moving to a role without field work leaves no team behind and keeps no phone."""
    if session.scalar(select(TeamMember.team_id).where(TeamMember.user_id == user.id).limit(1)):
        raise Conflict("Remove the user from their teams before giving them this role.")
    revoke_devices(session, user.id, reason="role changed")


def revoke_devices(session: Session, user_id: uuid.UUID, *, reason: str) -> int:
    """Revoke every live phone of a user for good (audited); returns how many."""
    revoked = list(session.execute(
        update(Device).where(Device.user_id == user_id, Device.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoke_reason=reason).returning(Device.id)).scalars())
    for device_id in revoked:
        audit.record(session, "device.revoke", target_type="device", target_id=device_id,
                     details={"owner": str(user_id), "reason": reason})
    return len(revoked)


def end_sessions(session: Session, user_id: uuid.UUID, *, reason: str) -> int:
    """End every open login session of a user; returns how many."""
    result = session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )
    audit.record(session, "user.sessions_end", target_type="user", target_id=user_id,
                 details={"reason": reason, "count": result.rowcount})
    return result.rowcount


# --- login -----------------------------------------------------------------------------------

def login(session: Session, *, settings: Settings, username: str, password: str,
          ip: str | None, user_agent: str | None,
          own_session: Callable[[], Session]) -> tuple[str, AuthSession, User]:
    """Check credentials and open a session; the attempt is counted before the password is."""
    keys = throttle.throttle_keys(username, ip)
    # Reserved and committed in a transaction of its own (the failing request's rolls back),
    # and no connection is held while argon2 runs.
    with own_session() as s:
        reservations = throttle.reserve(s, settings, keys)
        s.commit()
        found = s.execute(select(User.id, User.password_hash)
                          .where(User.username == username, User.is_active)).first()
    ok = _verify(found.password_hash if found else _DUMMY_HASH, password)
    user = session.get(User, found.id) if ok and found else None
    if user is None or not user.is_active:
        with own_session() as s:  # the reservation stays: it was a failure
            audit.set_actor(s, audit.Actor(ip=ip))
            audit.record(s, "auth.login_failed", target_type="user",
                         details={"username": username[:64]})
            s.commit()
        raise Unauthorized("Wrong username or password, or the account is disabled.")
    now = utcnow()
    token, token_hash = new_token(SESSION_PREFIX)
    auth = AuthSession(user_id=user.id, token_hash=token_hash, created_at=now, last_used_at=now,
                       expires_at=now + timedelta(seconds=settings.session_absolute_seconds),
                       ip=ip, user_agent=(user_agent or "")[:300] or None)
    session.add(auth)
    throttle.give_back(session, reservations)
    session.flush()
    audit.record(session, "auth.login", target_type="user", target_id=user.id,
                 actor=audit.Actor(user.id, None, None, ip))
    return token, auth, user


def logout(session: Session, principal: Principal) -> None:
    """End the caller's own login session."""
    if principal.session_id is None:
        raise Forbidden("Device tokens are revoked, not logged out.")
    session.execute(update(AuthSession).where(AuthSession.id == principal.session_id)
                    .values(ended_at=utcnow(), end_reason="logout"))
    audit.record(session, "auth.logout", target_type="user", target_id=principal.user_id)
