"""Record audit events and verify the hash chain.

Events are queued on the session and written just before it commits, under a
transaction-level advisory lock, so the chain is linear in commit order and
the lock is held only for the commit itself.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session

from monitor_api.audit.models import AuditEntry
from monitor_api.db import utcnow

GENESIS = "0" * 64
# pg_advisory_xact_lock key reserved for the audit chain (taken by audit_chain_head,
# migration 0016).
AUDIT_LOCK_KEY = 7_201_100_001


@dataclass(frozen=True)
class Actor:
    """Who acts in a session: filled from the authenticated request or the CLI."""

    user_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None
    request_id: str | None = None
    ip: str | None = None


def set_actor(session: Session, actor: Actor) -> None:
    """Attach the acting principal to a session; every event it records names them."""
    session.info["audit_actor"] = actor


@contextmanager
def acting(session: Session, request_id: str) -> Iterator[Session]:
    """`session` acting for a command or a job (`request_id` names it in the audit log); it
    commits when the block ends without an error, else rolls back, and is closed."""
    set_actor(session, Actor(request_id=request_id))
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def record(
    session: Session,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object = None,
    details: dict[str, Any] | None = None,
    actor: Actor | None = None,
    despite_rollback: bool = False,
) -> None:
    """Queue an audit event; it is written when the session commits, or not at all.

    With `despite_rollback`, the event survives a rollback of the session's work (a refused
    request is itself worth recording): `flush_after_rollback` then writes it alone.
    """
    actor = _with_request(actor or session.info.get("audit_actor") or Actor())
    key = "audit_always" if despite_rollback else "audit_pending"
    session.info.setdefault(key, []).append(
        {
            "occurred_at": utcnow(),
            "actor_user_id": actor.user_id,
            "actor_device_id": actor.device_id,
            "request_id": actor.request_id,
            "ip": actor.ip,
            "action": action,
            "target_type": target_type,
            "target_id": None if target_id is None else str(target_id),
            "details": _jsonable(details or {}),
        }
    )


def _with_request(actor: Actor) -> Actor:
    """Fill the request id and client address from the HTTP request being served, if any."""
    if actor.request_id is not None and actor.ip is not None:
        return actor
    try:  # flask is optional here: the CLI and the sync engine record without a request
        from flask import g, has_request_context, request
    except ImportError:  # pragma: no cover
        return actor
    if not has_request_context():
        return actor
    return replace(actor, request_id=actor.request_id or g.get("request_id"),
                   ip=actor.ip or request.remote_addr)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def canonical(row: dict[str, Any]) -> str:
    """The canonical text of a row's content (everything but its own hash)."""
    occurred = row["occurred_at"]
    content = {
        "id": row["id"],
        # In UTC whatever the reading connection's TimeZone, so verification does not depend on it.
        "occurred_at": occurred.astimezone(UTC).isoformat() if isinstance(occurred, datetime)
        else occurred,
        "actor_user_id": _s(row["actor_user_id"]),
        "actor_device_id": _s(row["actor_device_id"]),
        "request_id": row["request_id"],
        "ip": row["ip"],
        "action": row["action"],
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "details": row["details"],
        "prev_hash": row["prev_hash"],
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and this row's canonical content."""
    return hashlib.sha256((prev_hash + canonical(row)).encode()).hexdigest()


# The chain's lock, then its head and the entries' ids, in one round trip: the function
# (migration 0016) reads after taking the lock with a snapshot of its own, so it sees the
# entry the previous holder committed.
_HEAD_AND_IDS = text("select head, ids from audit_chain_head(:n)")


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop("audit_always", []) + session.info.pop("audit_pending", [])
    if not pending:
        return
    session.flush()
    prev, ids = session.execute(_HEAD_AND_IDS, {"n": len(pending)}).one()
    prev = prev or GENESIS
    rows = []
    for item, entry_id in zip(pending, ids, strict=True):
        row = dict(item)
        row["id"] = entry_id
        row["prev_hash"] = prev
        row["hash"] = chain_hash(prev, row)
        rows.append(row)
        prev = row["hash"]
    # A Core insert: no unit of work for rows nothing else in the session holds.
    session.execute(insert(AuditEntry.__table__), rows)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop("audit_pending", None)


def flush_after_rollback(session: Session) -> None:
    """Commit the events recorded `despite_rollback` once the session's work is rolled back."""
    if session.info.get("audit_always"):
        session.commit()


@dataclass
class VerifyResult:
    """Outcome of a chain verification."""

    checked: int
    broken_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def _rows(session: Session) -> Iterator[dict[str, Any]]:
    result = session.execute(
        select(AuditEntry.__table__).order_by(AuditEntry.id).execution_options(yield_per=1000)
    )
    for row in result.mappings():
        yield dict(row)


def verify_chain(session: Session) -> VerifyResult:
    """Recompute the chain; name the first row whose link or content does not match."""
    prev = GENESIS
    checked = 0
    for row in _rows(session):
        if row["prev_hash"] != prev:
            return VerifyResult(checked, row["id"], "prev_hash does not match the previous row")
        if chain_hash(prev, row) != row["hash"]:
            return VerifyResult(checked, row["id"], "content does not match its hash")
        prev = row["hash"]
        checked += 1
    return VerifyResult(checked)
