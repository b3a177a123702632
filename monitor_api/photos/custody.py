"""The per-photo chain of custody: every step from capture to each view, mirrored to audit."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor_api.audit import service as audit
from monitor_api.uploads.models import CustodyEvent


def log(session: Session, photo_id: uuid.UUID, event: str, *,
        upload_id: uuid.UUID | None = None, sha256: str | None = None,
        details: dict[str, Any] | None = None) -> CustodyEvent:
    """Append a custody event for the acting principal and record the same in the audit log."""
    actor = session.info.get("audit_actor") or audit.Actor()
    entry = CustodyEvent(photo_id=photo_id, event=event, actor_user_id=actor.user_id,
                         actor_device_id=actor.device_id, upload_id=upload_id, sha256=sha256,
                         details=details or {})
    session.add(entry)
    audit.record(session, f"photo.{event}", target_type="photo", target_id=photo_id,
                 details={"upload_id": str(upload_id) if upload_id else None,
                          "sha256": sha256, **(details or {})})
    return entry


def events(session: Session, photo_id: uuid.UUID) -> list[CustodyEvent]:
    """The photo's custody log, oldest first."""
    return list(session.scalars(select(CustodyEvent).where(CustodyEvent.photo_id == photo_id)
                                .order_by(CustodyEvent.occurred_at, CustodyEvent.id)))
