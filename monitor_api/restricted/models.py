"""Push-only, restricted records: interviews and allegations of ill-treatment."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from monitor_api.db import Base
from monitor_api.synced import SyncColumns, enum_check

CATEGORIES = ("detainee", "staff", "management", "medical", "relative")
GENDERS = ("female", "male", "other", "undisclosed")
AGE_GROUPS = ("under_14", "14_17", "18_24", "25_39", "40_59", "60_plus", "unknown")
ISTANBUL = ("not_consistent", "consistent", "highly_consistent", "typical", "diagnostic")
REPRISAL_RISKS = ("low", "medium", "high")
METHODS = ("beating", "kicking", "electric_shock", "suffocation", "stress_positions",
           "suspension", "sexual_violence", "threats", "humiliation", "sleep_deprivation",
           "deprivation_food_water", "extreme_temperature", "prolonged_isolation",
           "forced_confession", "denial_medical_care", "other")


class Interview(SyncColumns, Base):
    __tablename__ = "interviews"
    __table_args__ = (enum_check("category", CATEGORIES),
                      enum_check("gender", GENDERS, nullable=True),
                      enum_check("age_group", AGE_GROUPS, nullable=True))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id"), index=True)
    interviewee_code: Mapped[str] = mapped_column(String(60))
    category: Mapped[str] = mapped_column(String(20))
    gender: Mapped[str | None] = mapped_column(String(20))
    age_group: Mapped[str | None] = mapped_column(String(20))
    is_group: Mapped[bool] = mapped_column(default=False)
    consent_to_record: Mapped[bool] = mapped_column(default=False)
    consent_to_refer: Mapped[bool] = mapped_column(default=False)
    consent_to_publish: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    conducted_at: Mapped[datetime | None]


class Allegation(SyncColumns, Base):
    __tablename__ = "allegations"
    __table_args__ = (enum_check("istanbul_consistency", ISTANBUL, nullable=True),
                      enum_check("reprisal_risk", REPRISAL_RISKS, nullable=True))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id"), index=True)
    interview_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("interviews.id"))
    alleged_when: Mapped[str | None] = mapped_column(String(200))
    place_description: Mapped[str | None] = mapped_column(Text)
    alleged_unit: Mapped[str | None] = mapped_column(String(300))
    methods: Mapped[Any] = mapped_column(JSONB, default=list)
    injuries_observed: Mapped[str | None] = mapped_column(Text)
    medical_exam_requested: Mapped[bool] = mapped_column(default=False)
    istanbul_consistency: Mapped[str | None] = mapped_column(String(30))
    consent_legal_aid: Mapped[bool] = mapped_column(default=False)
    consent_prosecutor: Mapped[bool] = mapped_column(default=False)
    consent_publication: Mapped[bool] = mapped_column(default=False)
    reprisal_risk: Mapped[str | None] = mapped_column(String(10))
    narrative: Mapped[str | None] = mapped_column(Text)
