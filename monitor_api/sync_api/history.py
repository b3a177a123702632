"""Revision history for writes outside sync (coordinator REST, CLI): call around a write.

    before = snapshot(session, "findings", finding.id)
    ...change the finding..., session.flush()
    record_change(session, principal, "findings", finding.id, before)

The revision (who, which device, when, before → after, as raw sync records) lands in the
same history the sync engine writes, and a phone's later push over that change is a
conflict, never a silent overwrite.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

import sync
from monitor_api.auth import Principal
from monitor_api.sync_api.registry import registry


def snapshot(session: Session, table: str, record_id: uuid.UUID) -> dict[str, Any] | None:
    """The record as a pull would send it, or None when it does not exist."""
    return sync.current_raw(session, registry(), table, record_id)


def record_change(session: Session, principal: Principal | None, table: str,
                  record_id: uuid.UUID, before: dict[str, Any] | None,
                  source: str = "rest") -> None:
    """Append the revision from `before` to the record's current state (after a flush)."""
    after = snapshot(session, table, record_id)
    if before == after:
        return
    op = "create" if before is None else "delete" if after is None else "update"
    sync.record_revision(session, table=table, record_id=record_id, op=op, before=before,
                         after=after, user_id=principal.user_id if principal else None,
                         device_id=principal.device_id if principal else None, source=source)
