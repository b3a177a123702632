"""The condition-history read model: living-space thresholds and per-visit indicators."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from monitor_api.db import Base

THRESHOLD_SOURCES = ("tj_law", "cpt", "icrc")
# Rooms people live in: living space is measured there (not in medical or visiting rooms).
LIVING_ROOMS = ("cell", "dormitory", "disciplinary_cell")


class SpaceThreshold(Base):
    """Minimum living space per person, by source and version (data, not code)."""

    __tablename__ = "space_thresholds"
    __table_args__ = (UniqueConstraint("source", "version", name="uq_space_thresholds_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    version: Mapped[int]
    shared_m2: Mapped[float]  # shared cell or dormitory, per person
    single_m2: Mapped[float]  # single cell (one occupant)
    title: Mapped[str] = mapped_column(String(200))
    citation: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class VisitIndicators(Base):
    """One visit's indicators, kept current in the transaction that changes its records."""

    __tablename__ = "visit_indicators"

    visit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"), index=True)
    visit_date: Mapped[date | None] = mapped_column(index=True)
    published_at: Mapped[datetime | None]
    population_total: Mapped[int | None]
    capacity: Mapped[int | None]
    capacity_source: Mapped[str | None] = mapped_column(String(20))  # declared | official
    occupancy_rate: Mapped[float | None]
    rooms_measured: Mapped[int] = mapped_column(default=0)
    space_min_m2: Mapped[float | None]
    space_median_m2: Mapped[float | None]
    # {source: {version, shared_m2, single_m2, rooms_below}} with the versions used.
    space_thresholds: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # {"sections": {s: counts}, "standards": {"mandela:44": counts}, "overall": counts};
    # counts = {asked, answered, compliant, rate}.
    compliance: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # {"total", "confirmed", "by_theme": {...}, "by_severity": {...}} (withdrawn left out).
    findings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # {"total", "minutes_lost", "by_kind": {kind: {count, minutes_lost}}}.
    access_incidents: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # {"made", "open", "repeated", "max_chain", "reviewed", "by_authority": {a: rates}}.
    recommendations: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Derived from the above for fast reads: the comparable values (metrics.scalars) and the
    # `indicators` object as the API renders it (render.py). Null on rows computed before
    # they existed, until `monitor-api migrate` recomputes those (reads fall back meanwhile).
    scalars: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    rendered: Mapped[str | None] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(server_default=func.now())


class IndicatorsDue(Base):
    """A visit whose indicators a committed change made stale: recomputed by the background
    refresher or by the first read that needs them (`histories/due.py`). No foreign key: a
    deleted visit's mark is how its indicators row goes."""

    __tablename__ = "indicators_due"

    visit_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # False when a marking transaction wrote a recommendation or a review (read them again).
    reuse_follow_up: Mapped[bool]
    generation: Mapped[int] = mapped_column(default=1)  # marks since the row was made
    marked_at: Mapped[datetime] = mapped_column(server_default=func.now())
