"""Uploads (tus state with offsets in the database), stored blobs, derivatives, custody log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from monitor_api.db import Base
from monitor_api.synced import enum_check

UPLOAD_STATES = ("open", "processing", "complete", "terminated", "expired")
OUTCOMES = ("verified", "hash_mismatch", "rejected")
BLOB_STATUSES = ("ok", "rejected")
DERIVATIVE_KINDS = ("display", "thumbnail")
CUSTODY_EVENTS = ("captured", "upload_started", "verified", "hash_mismatch", "rejected",
                  "derivative_made", "viewed", "exported")


class Upload(Base):
    """One tus upload: declared hash and length, committed offset, staging state."""

    __tablename__ = "uploads"
    __table_args__ = (enum_check("state", UPLOAD_STATES),
                      enum_check("outcome", OUTCOMES, nullable=True),
                      CheckConstraint('"offset" >= 0 and "offset" <= length', name="offset_range"),
                      Index("ix_uploads_photo_id", "photo_id"),
                      Index("ix_uploads_expires_open", "expires_at",
                            postgresql_where="state = 'open'"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    photo_id: Mapped[uuid.UUID]  # no FK: the photo record may arrive by sync later
    declared_sha256: Mapped[str] = mapped_column(String(64))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(12), default="open")
    staging: Mapped[dict[str, Any]] = mapped_column(default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id"))
    actual_sha256: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    quarantine_key: Mapped[str | None] = mapped_column(Text)
    deduplicated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(),
                                                 onupdate=func.now())
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class Blob(Base):
    """Bytes stored under their SHA-256 (write once) and what inspecting them found."""

    __tablename__ = "blobs"
    __table_args__ = (enum_check("status", BLOB_STATUSES),)

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    byte_size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(Text)
    mime_type: Mapped[str | None] = mapped_column(String(40))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    exif: Mapped[dict[str, Any]] = mapped_column(default=dict)
    exif_captured_at: Mapped[datetime | None]
    exif_location: Mapped[Any] = mapped_column(
        Geography(geometry_type="POINT", srid=4326, spatial_index=False), nullable=True)
    retained_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Derivative(Base):
    """A re-encoded, metadata-free copy of a blob (display or thumbnail)."""

    __tablename__ = "derivatives"
    __table_args__ = (enum_check("kind", DERIVATIVE_KINDS),)

    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256", ondelete="CASCADE"),
                                        primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    storage_key: Mapped[str] = mapped_column(Text)
    mime_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    byte_size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CustodyEvent(Base):
    """One link of a photo's chain of custody (also mirrored to the audit log)."""

    __tablename__ = "photo_custody"
    __table_args__ = (enum_check("event", CUSTODY_EVENTS),
                      Index("ix_photo_custody_photo", "photo_id", "id"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    photo_id: Mapped[uuid.UUID]  # no FK: uploads may start before the record arrives
    event: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    actor_device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id"))
    upload_id: Mapped[uuid.UUID | None]
    sha256: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
