"""Places of detention and the history of their renames, moves and status changes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from monitor_api.db import Base, Timestamps
from monitor_api.synced import ChangeStamp

REGIONS = ("TJ-DU", "TJ-SU", "TJ-KT", "TJ-GB", "TJ-RR")
FACILITY_TYPES = (
    "police_custody", "pretrial_detention", "penal_colony", "settlement_colony", "prison",
    "juvenile_colony", "prison_hospital", "psychiatric_hospital", "narcology_centre",
    "social_care_home", "children_institution", "military_disciplinary_unit",
    "security_service_detention", "migrant_detention", "other",
)
AUTHORITIES = (
    "ministry_of_justice", "ministry_of_interior", "state_security", "ministry_of_defence",
    "ministry_of_health_social", "ministry_of_education", "drug_control_agency", "other",
)
FACILITY_STATUSES = ("active", "closed", "relocated")
HOLDS_KEYS = ("men", "women", "minors", "foreigners")


class Facility(ChangeStamp, Timestamps, Base):
    __tablename__ = "facilities"
    __table_args__ = (
        CheckConstraint(f"region in {REGIONS}", name="region"),
        CheckConstraint(f"facility_type in {FACILITY_TYPES}", name="facility_type"),
        CheckConstraint(f"authority in {AUTHORITIES}", name="authority"),
        CheckConstraint(f"status in {FACILITY_STATUSES}", name="status"),
        CheckConstraint("official_capacity is null or official_capacity >= 0", name="capacity"),
        # Codes are unique among facilities that are not deleted.
        Index("uq_facilities_code_live", "code", unique=True,
              postgresql_where=text("deleted_at is null")),
        Index("ix_facilities_location", "location", postgresql_using="gist"),
        Index("ix_facilities_names_trgm", text("(lower(name || ' ' || coalesce(name_ru, '') "
                                               "|| ' ' || coalesce(name_tg, '') || ' ' || code)) "
                                               "gin_trgm_ops"),
              postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(300))
    name_ru: Mapped[str | None] = mapped_column(String(300))
    name_tg: Mapped[str | None] = mapped_column(String(300))
    facility_type: Mapped[str] = mapped_column(String(40), index=True)
    authority: Mapped[str] = mapped_column(String(40), index=True)
    region: Mapped[str] = mapped_column(String(5), index=True)
    district: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[Any] = mapped_column(
        Geography(geometry_type="POINT", srid=4326, spatial_index=False), nullable=True)
    official_capacity: Mapped[int | None]
    holds: Mapped[dict[str, Any]] = mapped_column(
        server_default=text(
            """'{"men": false, "women": false, "minors": false, "foreigners": false}'::jsonb"""))
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    notes: Mapped[str | None] = mapped_column(Text)
    is_sample: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    version: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    deleted_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class FacilityHistory(Base):
    """One change of a facility: what it was before and after, who changed it and when."""

    __tablename__ = "facility_history"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"), index=True)
    version: Mapped[int]
    # created, renamed, relocated, status, updated, deleted
    kind: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    changed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
