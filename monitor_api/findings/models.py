"""Findings, recommendations (with repeat chains) and their follow-up reviews."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.orm import Mapped, mapped_column

from monitor_api.checklists.models import SECTIONS
from monitor_api.db import Base
from monitor_api.facilities.models import AUTHORITIES
from monitor_api.synced import SyncColumns, enum_check

SEVERITIES = ("critical_urgent", "serious", "moderate", "minor", "good_practice")
FINDING_STATUSES = ("draft", "confirmed", "withdrawn")
PRIORITIES = ("urgent", "high", "medium", "low")
REVIEW_STATUSES = ("implemented", "partially_implemented", "not_implemented", "counteracted",
                   "no_longer_relevant")


class Finding(SyncColumns, Base):
    __tablename__ = "findings"
    __table_args__ = (enum_check("theme", SECTIONS), enum_check("severity", SEVERITIES),
                      enum_check("status", FINDING_STATUSES))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id"), index=True)
    theme: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    # json, not jsonb: a phone gets back exactly the text it pushed (no reformatting, which
    # would cost it a local write per record); queries cast to jsonb.
    standard_refs: Mapped[Any] = mapped_column(JSON, default=list)
    question_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checklist_questions.id"))
    room_inspection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("room_inspections.id"))
    is_systemic: Mapped[bool] = mapped_column(default=False)
    sources_count: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(20), default="draft")
    confirmed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None]


class Recommendation(SyncColumns, Base):
    __tablename__ = "recommendations"
    __table_args__ = (enum_check("theme", SECTIONS), enum_check("addressed_to", AUTHORITIES),
                      enum_check("priority", PRIORITIES, nullable=True))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id"),
                                                          index=True)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("visits.id"), index=True)
    finding_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("findings.id"))
    theme: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    addressed_to: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str | None] = mapped_column(String(20))
    due_date: Mapped[datetime | None]
    repeats_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("recommendations.id"),
                                                         index=True)


class RecommendationReview(SyncColumns, Base):
    __tablename__ = "recommendation_reviews"
    __table_args__ = (enum_check("status", REVIEW_STATUSES),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    recommendation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("recommendations.id"),
                                                         index=True)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("visits.id"), index=True)
    status: Mapped[str] = mapped_column(String(30))
    evidence: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None]
