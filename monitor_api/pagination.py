"""Page-number pagination shared by every list endpoint."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


def paginate(session: Session, query: Select[Any], *, page: int,
             per_page: int) -> tuple[list[Any], int]:
    """One page of `query` (already ordered, with a unique tiebreaker) and the total count."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return items, int(total or 0)


def page_body(items: Any, total: int, args: dict[str, Any]) -> dict[str, Any]:
    """The `{items, meta: {page, per_page, total}}` body of a list response."""
    return {"items": items, "meta": {"page": args["page"], "per_page": args["per_page"],
                                     "total": total}}
