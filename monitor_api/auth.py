"""Bearer-token authentication and the role gate every route goes through."""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import current_app, g, request
from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session

from monitor_api.accounts.models import DISABLED_REASON, AuthSession, Device, TeamMember, User
from monitor_api.audit.service import Actor, record, set_actor
from monitor_api.db import get_session, utcnow
from monitor_api.errors import ApiError, Forbidden, Unauthorized

SESSION_PREFIX = "mas_"
DEVICE_PREFIX = "mad_"
# The acting "user" of the command line: an admin that is no row of `users`.
SYSTEM_USER_ID = uuid.UUID(int=0)
F = TypeVar("F", bound=Callable[..., Any])


def new_token(prefix: str) -> tuple[str, str]:
    """A fresh opaque token (256 bits) and the hash that is stored instead of it."""
    token = prefix + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """SHA-256 of a token: enough for 256-bit random secrets, and constant-time to look up."""
    return hashlib.sha256(token.encode()).hexdigest()


_TEAM_IDS = select(TeamMember.team_id).where(TeamMember.user_id == bindparam("user_id"))


@dataclass
class Principal:
    """The authenticated caller."""

    user_id: uuid.UUID
    role: str
    username: str
    session_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None
    _team_ids: frozenset[uuid.UUID] | None = field(default=None, repr=False)

    def team_ids(self, session: Session) -> frozenset[uuid.UUID]:
        """Teams the caller belongs to (cached for the request)."""
        if self._team_ids is None:
            rows = session.scalars(_TEAM_IDS, {"user_id": self.user_id})
            self._team_ids = frozenset(rows)
        return self._team_ids

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def system_principal() -> Principal:
    """An admin principal for the command line (audited with request id "cli", no user)."""
    return Principal(SYSTEM_USER_ID, "admin", "cli")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(session: Session, token: str | None = None) -> Principal:
    """Resolve the bearer token (or `token`: the web sign-in cookie's) to a principal, or
    raise a 401 problem."""
    token = token if token is not None else _bearer()
    if token is None:
        raise Unauthorized("Send 'Authorization: Bearer <token>'.",
                           headers={"WWW-Authenticate": 'Bearer realm="monitor-api"'})
    if len(token) > 200:  # ours are 47 characters; do not hash arbitrary blobs
        raise _invalid("Unknown or malformed token.")
    now = utcnow()
    settings = current_app.config["SETTINGS"]
    if token.startswith(DEVICE_PREFIX):
        return _device_principal(session, token, now)
    auth = session_of(session, hash_token(token))
    if auth is None or auth.ended_at is not None:
        raise _invalid("Unknown, malformed or ended token.")
    idle = timedelta(seconds=settings.session_idle_seconds)
    if auth.expires_at <= now or auth.last_used_at + idle <= now:
        raise _invalid("The session expired; log in again.", "token-expired")
    user = session.get(User, auth.user_id)
    _check_user(user)
    assert user is not None
    if _before_disable(auth.created_at, user):  # ended at the disable; never revived
        raise _invalid("This session began before the account was disabled; log in again.")
    if now - auth.last_used_at > timedelta(seconds=min(60, settings.session_idle_seconds / 4)):
        session.execute(
            update(AuthSession).where(AuthSession.id == auth.id).values(last_used_at=now)
        )
    return Principal(user.id, user.role, user.username, session_id=auth.id)


# Every request runs one of these: built once, their cache keys are computed once too.
_SESSION_OF = select(AuthSession).where(AuthSession.token_hash == bindparam("token_hash"))
_DEVICE_OF = (select(Device, User).outerjoin(User, User.id == Device.user_id)
              .where(Device.token_hash == bindparam("token_hash")))


def session_of(session: Session, token_hash: str) -> AuthSession | None:
    """The login session of a token's hash (ended or not)."""
    return session.scalar(_SESSION_OF, {"token_hash": token_hash})


def device_of(session: Session, token_hash: str) -> Row[tuple[Device, User | None]] | None:
    """The device of a token's hash and its user, in one round trip."""
    return session.execute(_DEVICE_OF, {"token_hash": token_hash}).first()


def _device_principal(session: Session, token: str, now: datetime) -> Principal:
    """The principal of a device token, or a 401 naming why the phone is refused."""
    # One round trip for both, read fresh on every request: a revoke or disable committed
    # before this request began refuses it (no cache to outlive a revocation).
    found = device_of(session, hash_token(token))
    if found is None:
        raise _invalid("Unknown or malformed token.")
    device, user = found
    if device.revoked_at is not None or (user is not None and _before_disable(
            device.created_at, user)):
        # Scenario: a lost phone is revoked; its next sync is refused AND logged.
        record(session, "device.refused", target_type="device", target_id=device.id,
               details={"reason": "revoked" if device.revoked_at else "before disable",
                        "path": request.path, "method": request.method},
               actor=Actor(device.user_id, device.id), despite_rollback=True)
        _check_user(user)  # a disabled account says so (account-disabled)
        again = "Log in and register the phone again."
        if device.revoked_at is None:  # registered while the disable was being written
            raise _invalid("This device was registered before the account was last disabled; "
                           f"its token stays dead. {again}", "device-revoked")
        when = f"{device.revoked_at:%Y-%m-%d}"
        if device.revoke_reason == DISABLED_REASON:
            raise _invalid(f"This device was revoked on {when} when the account was disabled; "
                           f"enabling the account does not revive it. {again}",
                           "device-revoked")
        raise _invalid(f"This device was revoked on {when}; its token no longer works.",
                       "device-revoked")
    if device.expires_at <= now:
        raise _invalid("The device token expired; register the device again.", "token-expired")
    _check_user(user)
    assert user is not None
    if device.last_seen_at is None or now - device.last_seen_at > timedelta(minutes=1):
        session.execute(update(Device).where(Device.id == device.id).values(last_seen_at=now))
    return Principal(user.id, user.role, user.username, device_id=device.id)


def _before_disable(issued_at: datetime, user: User) -> bool:
    """Whether a token was issued before the user's latest disable (it never comes back)."""
    return user.disabled_at is not None and issued_at <= user.disabled_at


def _invalid(detail: str, slug: str = "unauthorized") -> ApiError:
    """A 401 for a presented but unusable token (RFC 6750: error="invalid_token")."""
    return ApiError(detail, status=401, slug=slug, headers={
        "WWW-Authenticate": 'Bearer realm="monitor-api", error="invalid_token"'})


def _check_user(user: User | None) -> None:
    if user is None:
        raise _invalid("Unknown token.")
    if not user.is_active:
        raise _invalid("This account is disabled.", "account-disabled")


def current_principal() -> Principal:
    """The principal of this request (authenticating on first use)."""
    if "principal" not in g:
        session = get_session()
        principal = authenticate(session)
        # The token check's own writes (last_used_at) commit with the request.
        g.principal = principal
        set_actor(session, Actor(principal.user_id, principal.device_id, g.get("request_id"),
                                 request.remote_addr))
    return g.principal


def auth_check_for(view: Any, method: str) -> Callable[[], Principal] | None:
    """The roles_required check of the function serving `method` on `view`, if it has one."""
    if method == "OPTIONS":  # answered by Flask itself (and CORS preflights carry no token)
        return None
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        name = method.lower()
        view = getattr(view_class, name, None) or (
            getattr(view_class, "get", None) if name == "head" else None)
    return getattr(view, "auth_check", None)


# What a phone's device token may reach besides the device-only operations (sync, uploads):
# the reads a phone makes, and revoking itself (an app's "sign out"; a device token sees no
# other device). Everything else - users, teams, device administration, audit, sync review
# and status, every other REST write - refuses a device token whatever the user's role, so a
# lost or seized phone cannot administer accounts. Default deny: a new operation is closed
# to phones until it is added here. Keys are Flask endpoints; HEAD counts as GET.
DEVICE_OPERATIONS: dict[str, frozenset[str]] = {
    **{endpoint: frozenset({"GET"}) for endpoint in (
        "accounts.me",
        "accounts.DeviceItem",  # its own device only (devices.visible_devices_query)
        "facilities.Facilities", "facilities.FacilityItem", "facilities.history",
        "checklists.Templates", "checklists.TemplateItem",
        "visits.Visits", "visits.VisitItem", "visits.list_answers",
        "visits.list_room_inspections", "visits.list_findings", "visits.list_recommendations",
        "visits.list_access_incidents", "visits.list_photos",
        "findings.FindingItem",
        "recommendations.Recommendations", "recommendations.RecommendationItem",
        "recommendations.chain", "recommendations.Reviews",
        "photos.detail", "photos.custody", "photos.download",
    )},
    "accounts.revoke_device": frozenset({"POST"}),  # itself only, as above
}


def device_may_call(endpoint: str | None, method: str) -> bool:
    """Whether a device token may call `method` on `endpoint` (besides device-only ones)."""
    allowed = DEVICE_OPERATIONS.get(endpoint or "", frozenset())
    return (method if method != "HEAD" else "GET") in allowed


def roles_required(*roles: str, device: bool = False) -> Callable[[F], F]:
    """Require a valid token, one of `roles` (any when empty) and, if `device`, a device token."""
    # The one rule for phones: a device token passes only operations declared device=True
    # (sync, uploads) or listed in DEVICE_OPERATIONS.

    def check() -> Principal:
        principal = current_principal()
        if (principal.device_id is not None and not device
                and not device_may_call(request.endpoint, request.method)):
            raise Forbidden("A device token reaches only sync, uploads and the reads a phone "
                            "makes; log in with a password for this.")
        if roles and principal.role not in roles:
            raise Forbidden(f"The {principal.role} role may not do this.")
        if device and principal.device_id is None:
            raise Forbidden("This endpoint takes a device token; register the device first.")
        return principal

    def decorator(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check()
            return fn(*args, **kwargs)

        # Outer decorators (flask-smorest's, via functools.wraps) carry this up to the view,
        # so the request hook can authenticate before any body or query is parsed.
        wrapper.auth_check = check  # type: ignore[attr-defined]
        doc = getattr(wrapper, "_apidoc", {})
        doc.setdefault("manual_doc", {}).setdefault("security", [{"bearerAuth": []}])
        wrapper._apidoc = doc  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
