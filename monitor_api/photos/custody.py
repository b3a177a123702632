"""The per-photo chain of custody: every step from capture to each view, mirrored to audit."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from monitor_api.accounts.models import TeamMember, User
from monitor_api.audit import service as audit
from monitor_api.photos.models import Photo
from monitor_api.uploads.models import CustodyEvent, Upload
from monitor_api.visits.models import Visit


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


def counting_uploads(photo: Photo) -> Select[Any]:
    """Ids of the photo's uploads that count for it (as in photo_upload_status()): by an
    admin or a member of the visit's team. Others' uploads under this id stay in the audit
    log but are not part of this photo's record."""
    admins = select(User.id).where(User.role == "admin")
    team = (select(TeamMember.user_id).join(Visit, Visit.team_id == TeamMember.team_id)
            .where(Visit.id == photo.visit_id))
    return select(Upload.id).where(Upload.photo_id == photo.id,
                                   Upload.user_id.in_(admins.union(team)))


def events(session: Session, photo: Photo) -> list[CustodyEvent]:
    """The photo's custody log, oldest first (events of uploads that do not count left out)."""
    return list(session.scalars(select(CustodyEvent).where(
        CustodyEvent.photo_id == photo.id,
        CustodyEvent.upload_id.is_(None) | CustodyEvent.upload_id.in_(counting_uploads(photo)))
        .order_by(CustodyEvent.occurred_at, CustodyEvent.id)))
