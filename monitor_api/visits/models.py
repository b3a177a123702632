"""Visits and what a team records during one: answers, rooms, access incidents."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from monitor_api.checklists.models import INFO_SOURCES
from monitor_api.db import Base
from monitor_api.synced import SyncColumns, enum_check

VISIT_TYPES = ("in_depth", "thematic", "follow_up", "reactive")
VISIT_STATUSES = ("planned", "in_progress", "submitted", "reviewed", "reported")
POPULATION_SOURCES = ("admin_declared", "register", "monitor_count")
ROOM_KINDS = ("cell", "dormitory", "disciplinary_cell", "medical", "visiting", "other")
ADEQUACY = ("adequate", "insufficient", "none")
INCIDENT_KINDS = ("refused", "delayed", "restricted")
INCIDENT_TARGETS = ("place", "person", "document")


class Visit(SyncColumns, Base):
    """A monitoring visit; `team_id` is assigned on the server, never by the phone."""

    __tablename__ = "visits"
    __table_args__ = (
        enum_check("visit_type", VISIT_TYPES), enum_check("status", VISIT_STATUSES),
        enum_check("population_source", POPULATION_SOURCES, nullable=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"), index=True)
    template_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checklist_templates.id"))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"), index=True)
    visit_type: Mapped[str] = mapped_column(String(20), default="in_depth")
    announced: Mapped[bool] = mapped_column(default=False)
    joint_with_ombudsman: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    planned_for: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    declared_capacity: Mapped[int | None]
    population_total: Mapped[int | None]
    population_remand: Mapped[int | None]
    population_women: Mapped[int | None]
    population_minors: Mapped[int | None]
    population_foreigners: Mapped[int | None]
    population_source: Mapped[str | None] = mapped_column(String(20))
    summary: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Set when a coordinator publishes the visit (status reported): from then on partners
    # and analysts see its indicators, confirmed findings, recommendations, redacted photos.
    published_at: Mapped[datetime | None]


class Answer(SyncColumns, Base):
    """One answer to one question from one information source."""

    __tablename__ = "answers"
    __table_args__ = (enum_check("info_source", INFO_SOURCES),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id"), index=True)
    question_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checklist_questions.id"),
                                                   index=True)
    info_source: Mapped[str] = mapped_column(String(20))
    value: Mapped[str | None] = mapped_column(Text)
    number_value: Mapped[float | None]
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]


class RoomInspection(SyncColumns, Base):
    """A measured room: the basis of living space per person."""

    __tablename__ = "room_inspections"
    __table_args__ = (
        enum_check("room_kind", ROOM_KINDS),
        enum_check("natural_light", ADEQUACY, nullable=True),
        enum_check("ventilation", ADEQUACY, nullable=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    room_kind: Mapped[str] = mapped_column(String(30))
    floor_area_m2: Mapped[float | None]
    occupants: Mapped[int | None]
    beds: Mapped[int | None]
    ceiling_height_m: Mapped[float | None]
    toilet_partitioned: Mapped[bool | None]
    natural_light: Mapped[str | None] = mapped_column(String(20))
    ventilation: Mapped[str | None] = mapped_column(String(20))
    temperature_c: Mapped[float | None]
    inspected_at: Mapped[datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)


class AccessIncident(SyncColumns, Base):
    """Access refused, delayed or restricted during a visit."""

    __tablename__ = "access_incidents"
    __table_args__ = (enum_check("kind", INCIDENT_KINDS), enum_check("target", INCIDENT_TARGETS))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime | None]
    minutes_lost: Mapped[int | None]
