"""Columns every synced table carries, and the xid8 type behind the commit-safe cursor."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Uuid, func, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.types import UserDefinedType


class XID8(UserDefinedType[str]):
    """PostgreSQL's 64-bit transaction id; read as text, compare in SQL."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


def enum_check(column: str, values: tuple[str, ...], name: str | None = None,
               nullable: bool = False) -> CheckConstraint:
    """A CHECK constraint limiting `column` to `values`."""
    cond = f"{column} in {values!r}".replace(",)", ")")
    if nullable:
        cond = f"{column} is null or {cond}"
    return CheckConstraint(cond, name=name or column)


class ChangeStamp:
    """change_xid: the writing transaction's id, set by trigger on every insert and update."""

    @declared_attr
    def change_xid(cls) -> Mapped[str]:
        return mapped_column(XID8(), server_default=text("pg_current_xact_id()"), index=True)


class SyncColumns(ChangeStamp):
    """change_xid plus the server's own created/updated times and the creating device."""

    server_created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    server_updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # The device whose push created the row (None: created by REST or the server). A pull
    # sends a device its own new rows as `updated`: it has them already.
    origin_device_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)


# Every table that gets the sync_stamp trigger (set in migration 0002).
SYNC_STAMPED_TABLES = (
    "facilities", "checklist_templates", "checklist_questions", "visits", "answers",
    "room_inspections", "findings", "recommendations", "recommendation_reviews", "photos",
    "access_incidents", "interviews", "allegations",
)
