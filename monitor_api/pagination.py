"""Page-number pagination shared by every list endpoint."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


def paginate(session: Session, query: Select[Any], *, page: int,
             per_page: int) -> tuple[list[Any], int]:
    """One page of `query` (already ordered, with a unique tiebreaker) and the total count."""
    total = _count(session, query)
    return list(session.scalars(_page(query, page, per_page))), total


def paginate_rows(session: Session, query: Select[Any], *, page: int,
                  per_page: int) -> tuple[list[Any], int]:
    """As paginate(), for a query of several columns: the page as rows (tuples)."""
    total = _count(session, query)
    return list(session.execute(_page(query, page, per_page)).all()), total


def _page(query: Select[Any], page: int, per_page: int) -> Select[Any]:
    return query.limit(per_page).offset((page - 1) * per_page)


def _count(session: Session, query: Select[Any]) -> int:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return int(total or 0)


def page_body(items: Any, total: int, args: dict[str, Any]) -> dict[str, Any]:
    """The `{items, meta: {page, per_page, total}}` body of a list response."""
    return {"items": items, "meta": {"page": args["page"], "per_page": args["per_page"],
                                     "total": total}}
