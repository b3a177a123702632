"""Photo metadata as synced from phones; the bytes arrive separately over tus."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from monitor_api.db import Base
from monitor_api.synced import SyncColumns, enum_check

CONSENTS = ("not_needed", "obtained")
UPLOAD_STATUSES = ("pending", "processing", "verified", "hash_mismatch", "rejected")


class Photo(SyncColumns, Base):
    __tablename__ = "photos"
    __table_args__ = (enum_check("consent", CONSENTS, nullable=True),
                      enum_check("upload_status", UPLOAD_STATUSES),
                      enum_check("mime_type", ("image/jpeg", "image/png", "image/webp",
                                               "image/heic"), nullable=True))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id"), index=True)
    finding_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("findings.id"))
    room_inspection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("room_inspections.id"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    byte_size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str | None] = mapped_column(String(40))
    captured_at: Mapped[datetime | None]
    location: Mapped[Any] = mapped_column(
        Geography(geometry_type="POINT", srid=4326, spatial_index=False), nullable=True)
    caption: Mapped[str | None] = mapped_column(Text)
    consent: Mapped[str | None] = mapped_column(String(20))
    upload_status: Mapped[str] = mapped_column(String(20), default="pending",
                                               server_default="pending")
