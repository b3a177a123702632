"""Checklist templates (versioned; immutable once published) and their questions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from monitor_api.db import Base
from monitor_api.synced import SyncColumns, enum_check

TEMPLATE_STATUSES = ("draft", "published", "retired")
SECTIONS = ("treatment", "safeguards", "material_conditions", "regime_activities",
            "health_care", "personnel", "women", "children", "police_custody")
ANSWER_TYPES = ("yes_no_partial", "count", "measure", "choice", "multi_choice", "date", "text")
INFO_SOURCES = ("observation", "detainee", "staff", "management", "document")
INSTRUMENTS = ("mandela", "bangkok", "havana", "beijing", "cpt", "icrc", "istanbul",
               "body_of_principles", "cat", "iccpr", "tj_law")


class ChecklistTemplate(SyncColumns, Base):
    __tablename__ = "checklist_templates"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_checklist_templates_code_v"),
                      enum_check("status", TEMPLATE_STATUSES))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(60))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    facility_types: Mapped[list[str]] = mapped_column(JSONB, default=list)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    published_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    questions: Mapped[list[ChecklistQuestion]] = relationship(
        back_populates="template", order_by="ChecklistQuestion.position",
        cascade="all, delete-orphan")


class ChecklistQuestion(SyncColumns, Base):
    __tablename__ = "checklist_questions"
    __table_args__ = (UniqueConstraint("template_id", "code", name="uq_checklist_questions_code"),
                      enum_check("section", SECTIONS), enum_check("answer_type", ANSWER_TYPES))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("checklist_templates.id", ondelete="CASCADE"), index=True)
    section: Mapped[str] = mapped_column(String(30))
    code: Mapped[str] = mapped_column(String(30))
    position: Mapped[int]
    text_en: Mapped[str] = mapped_column(Text)
    text_ru: Mapped[str | None] = mapped_column(Text)
    text_tg: Mapped[str | None] = mapped_column(Text)
    answer_type: Mapped[str] = mapped_column(String(20))
    options: Mapped[Any | None] = mapped_column(JSONB)
    # {option code: {"en": label, "ru": ..., "tg": ...}} for choice and multi_choice questions.
    option_labels: Mapped[Any | None] = mapped_column(JSONB)
    unit: Mapped[str | None] = mapped_column(String(20))
    standard_refs: Mapped[Any] = mapped_column(JSONB, default=list)
    info_sources: Mapped[Any] = mapped_column(JSONB, default=list)
    compliance: Mapped[str | None] = mapped_column(String(200))
    indicator: Mapped[str | None] = mapped_column(String(80), index=True)

    template: Mapped[ChecklistTemplate] = relationship(back_populates="questions")
