"""Small helpers shared by the coordinator API services: ETags, pagination, row snapshots."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from monitor_api.errors import PreconditionFailed

# Columns the database stamps on every write; they say nothing about the content.
_STAMPS = {"change_xid", "server_created_at", "server_updated_at"}


def snapshot(obj: Any, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """A JSON-safe dict of a row's columns (or just `fields`), for audit details and ETags."""
    mapper = inspect(obj).mapper
    keys = list(fields) if fields is not None else [
        c.key for c in mapper.column_attrs if c.key not in _STAMPS]
    return {key: _jsonable(getattr(obj, key)) for key in keys}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (uuid.UUID, datetime, date)):
        return str(value) if isinstance(value, uuid.UUID) else value.isoformat()
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


def etag_of(*rows: Any) -> str:
    """A strong ETag over the content of `rows` (not their timestamps)."""
    payload = json.dumps([snapshot(row) for row in rows], sort_keys=True, default=str)
    return '"' + hashlib.sha256(payload.encode()).hexdigest()[:32] + '"'


def check_if_match(if_match: str | None, current: str) -> None:
    """412 when If-Match is given and names none of the current ETag (optional header)."""
    if if_match is None:
        return
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in tags and current not in tags:
        raise PreconditionFailed("The resource changed since you read it; GET it again.",
                                 headers={"ETag": current})


def raw_record(session: Session, table: str, record_id: uuid.UUID) -> dict[str, Any] | None:
    """A synced record as a pull would send it (the shape revisions keep)."""
    from monitor_api.sync_api.history import snapshot as sync_snapshot

    return sync_snapshot(session, table, record_id)


def rest_revision(session: Session, user_id: uuid.UUID, *, table: str, record_id: uuid.UUID,
                  op: str, before: dict[str, Any] | None) -> None:
    """Add a REST change of a synced record to its revision history (after a flush)."""
    from sync.history import record_revision

    after = raw_record(session, table, record_id) if op != "delete" else None
    record_revision(session, table=table, record_id=record_id, op=op, before=before,
                    after=after, user_id=user_id, source="rest")
