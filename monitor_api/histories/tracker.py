"""The recommendation tracker: recommendations across facilities per addressee authority,
with their latest status, repeats and implementation rates (visits the caller sees)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from monitor_api.auth import Principal
from monitor_api.facilities.models import Facility
from monitor_api.findings.models import Recommendation, RecommendationReview
from monitor_api.histories import metrics
from monitor_api.histories.access import audit_read, visit_clause
from monitor_api.visits.models import Visit


def tracker(session: Session, principal: Principal, *, addressed_to: str | None = None,
            open_only: bool = False) -> dict[str, Any]:
    """Per authority: its recommendations (facility, date, text, chain length, latest status)
    and the implementation rate over those reviewed (implemented + ½ partially)."""
    r, rv, v, f = (Recommendation.__table__, RecommendationReview.__table__, Visit.__table__,
                   Facility.__table__)
    latest = (sa.select(rv.c.recommendation_id, rv.c.status)
              .join(v, v.c.id == rv.c.visit_id, isouter=True)
              .where(sa.or_(rv.c.visit_id.is_(None), visit_clause(principal, v)))
              .ext(distinct_on(rv.c.recommendation_id))
              .order_by(rv.c.recommendation_id, rv.c.reviewed_at.desc().nulls_last(),
                        rv.c.server_created_at.desc()).subquery())
    query = (sa.select(r.c.id, r.c.repeats_id, r.c.text, r.c.theme, r.c.addressed_to,
                       r.c.priority, sa.func.coalesce(v.c.started_at, v.c.planned_for)
                       .label("visit_day"), f.c.id.label("facility_id"),
                       f.c.name.label("facility_name"), f.c.code.label("facility_code"),
                       latest.c.status)
             .join(v, v.c.id == r.c.visit_id).join(f, f.c.id == v.c.facility_id)
             .outerjoin(latest, latest.c.recommendation_id == r.c.id)
             .where(visit_clause(principal, v), f.c.deleted_at.is_(None))
             .order_by(r.c.addressed_to, f.c.name, sa.func.coalesce(v.c.started_at,
                                                                    v.c.planned_for)))
    if addressed_to:
        query = query.where(r.c.addressed_to == addressed_to)
    rows = session.execute(query).all()
    parents = {row.id: row.repeats_id for row in rows}
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        depth, cur = 1, row.repeats_id
        while cur is not None and depth < 100:
            depth, cur = depth + 1, parents.get(cur)
        is_open = row.status not in metrics.CLOSED
        group = groups.setdefault(row.addressed_to, {"authority": row.addressed_to,
                                                     "items": [], "reviewed": []})
        if row.status is not None:
            group["reviewed"].append((row.addressed_to, row.status))
        if open_only and not is_open:
            continue
        group["items"].append({
            "id": row.id, "facility_id": row.facility_id, "facility": row.facility_name,
            "facility_code": row.facility_code, "visit_date": row.visit_day, "text": row.text,
            "theme": row.theme, "priority": row.priority, "chain_length": depth,
            "latest_status": row.status, "open": is_open})
    out = []
    for group in groups.values():
        rate = metrics.implementation(group.pop("reviewed")).get(group["authority"])
        out.append({**group, "implementation": rate, "total": len(group["items"])})
    audit_read(session, principal, "tracker", details={"addressed_to": addressed_to})
    return {"authorities": out}
