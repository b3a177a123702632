"""Revision history: read it, and write it for changes made outside a push (e.g. REST)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sync.registry import Registry
from sync.store import as_int, revisions


def record_revision(session: Session, *, table: str, record_id: uuid.UUID, op: str,
                    before: dict[str, Any] | None, after: dict[str, Any] | None,
                    user_id: uuid.UUID | None, device_id: uuid.UUID | None = None,
                    source: str = "rest", quarantine_id: uuid.UUID | None = None) -> None:
    """Append one revision (op: create/update/delete; before/after as raw records)."""
    session.execute(sa.insert(revisions).values(
        table_name=table, record_id=record_id, op=op, before=before, after=after,
        user_id=user_id, device_id=device_id, source=source, quarantine_id=quarantine_id))


def current_raw(session: Session, registry: Registry, table: str,
                record_id: uuid.UUID) -> dict[str, Any] | None:
    """The record as a pull would send it (None when absent or not a synced table)."""
    st = registry.get(table)
    if st is None:
        return None
    row = session.execute(sa.select(*st.columns()).where(st.table.c.id == record_id)
                          ).mappings().first()
    return None if row is None else st.codec.to_raw(row)


def history(session: Session, table: str, record_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every revision of one record, oldest first."""
    rows = session.execute(
        sa.select(revisions, as_int(revisions.c.change_xid).label("xid"))
        .where(revisions.c.table_name == table, revisions.c.record_id == record_id)
        .order_by(revisions.c.id)).mappings()
    return [{"id": r["id"], "op": r["op"], "before": r["before"], "after": r["after"],
             "user_id": r["user_id"], "device_id": r["device_id"], "source": r["source"],
             "quarantine_id": r["quarantine_id"], "ignored": r["ignored"],
             "at": r["created_at"], "xid": r["xid"]}
            for r in rows]
