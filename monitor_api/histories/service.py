"""One facility's condition history: the timeline of its visits with indicators and what
changed since the previous published visit, its recommendations with their follow-up, and
its redacted photos."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitor_api.auth import Principal
from monitor_api.errors import Forbidden
from monitor_api.findings.models import Recommendation, RecommendationReview
from monitor_api.histories import due, metrics, render
from monitor_api.histories.access import OUTSIDE_ROLES, audit_read, visible_facility, visit_clause
from monitor_api.histories.models import VisitIndicators
from monitor_api.photos.models import Photo
from monitor_api.visits.models import Visit

VISIT_COLUMNS = ("visit_type", "announced", "joint_with_ombudsman", "status", "published_at")


def conditions(session: Session, principal: Principal, facility_id: uuid.UUID, *,
               date_from: date | None = None, date_to: date | None = None) -> dict[str, Any]:
    """The facility's visits, oldest first, each with its indicators and their change
    against the facility's previous published visit."""
    facility, entries = _timeline(session, principal, facility_id, date_from, date_to)
    return {"facility": _facility(facility), "visits": [{
        "visit": {"id": row.visit_id, "date": row.visit_date,
                  "published": row.published_at is not None,
                  **{c: getattr(row, c) for c in VISIT_COLUMNS}},
        "indicators": json.loads(rendered), "compared_with": compared_with,
        "changes": changes} for row, rendered, compared_with, changes in entries]}


def conditions_body(session: Session, principal: Principal, facility_id: uuid.UUID, *,
                    date_from: date | None = None, date_to: date | None = None) -> bytes:
    """`conditions` as the API's JSON body, assembled from the pre-rendered indicators."""
    facility, entries = _timeline(session, principal, facility_id, date_from, date_to)
    return render.conditions(_facility(facility), [
        render.visit(row, VISIT_COLUMNS, *entry) for row, *entry in entries])


def _timeline(session: Session, principal: Principal, facility_id: uuid.UUID,
              date_from: date | None, date_to: date | None) -> tuple[Any, list[tuple[Any, ...]]]:
    """The facility and, per visit in range: (row, rendered indicators, the previous
    published visit's id, changes since it)."""
    facility = visible_facility(session, principal, facility_id)
    due.settle(session, facility_id=facility.id)
    v, i = Visit.__table__, VisitIndicators.__table__
    rows = session.execute(
        sa.select(i.c.visit_id, i.c.visit_date, i.c.scalars, i.c.rendered,
                  *(v.c[c] for c in VISIT_COLUMNS))
        .join(v, v.c.id == i.c.visit_id)
        .where(i.c.facility_id == facility.id, visit_clause(principal, v))
        .order_by(i.c.visit_date.asc().nulls_last(), v.c.server_created_at, v.c.id)).all()
    stale = render.complete(session, [r.visit_id for r in rows if r.rendered is None])
    entries: list[tuple[Any, ...]] = []
    previous: tuple[Any, Any] | None = None  # (visit id, scalars) of the last published one
    for row in rows:
        rendered, scalars = ((row.rendered, row.scalars) if row.rendered is not None
                             else stale[row.visit_id])
        in_range = ((date_from is None or (row.visit_date and row.visit_date >= date_from))
                    and (date_to is None or (row.visit_date and row.visit_date <= date_to)))
        if in_range:
            entries.append((row, rendered, previous[0] if previous else None,
                            metrics.diff(scalars, previous[1]) if previous else {}))
        if row.published_at is not None:
            previous = (row.visit_id, scalars)
    audit_read(session, principal, "conditions", target_type="facility",
               target_id=facility.id, details={"visits": len(entries)})
    return facility, entries


def _facility(facility: Any) -> dict[str, Any]:
    return {k: getattr(facility, k) for k in (
        "id", "code", "name", "name_ru", "name_tg", "facility_type", "authority", "region",
        "official_capacity")}


def recommendations(session: Session, principal: Principal, facility_id: uuid.UUID, *,
                    addressed_to: list[str] | None = None, open: bool | None = None,
                    repeated_min: int | None = None) -> dict[str, Any]:
    """The facility's recommendations (made at visits the caller sees), each with its
    repeats chain and its whole status history; the latest status decides `open`."""
    facility = visible_facility(session, principal, facility_id)
    r, v = Recommendation.__table__, Visit.__table__
    recs = session.execute(
        sa.select(r, v.c.started_at, v.c.planned_for).join(v, v.c.id == r.c.visit_id)
        .where(v.c.facility_id == facility.id, visit_clause(principal, v))
        .order_by(sa.func.coalesce(v.c.started_at, v.c.planned_for), r.c.id)).all()
    by_id = {rec.id: rec for rec in recs}
    history = _reviews(session, principal, list(by_id))
    items = []
    for rec in recs:
        chain, cur = [], rec.repeats_id
        while cur is not None and cur in by_id and len(chain) < 100:
            chain.append(cur)
            cur = by_id[cur].repeats_id
        reviews = history.get(rec.id, [])
        latest = reviews[-1]["status"] if reviews else None
        item = {"id": rec.id, "visit_id": rec.visit_id,
                "visit_date": (rec.started_at or rec.planned_for),
                "theme": rec.theme, "text": rec.text, "addressed_to": rec.addressed_to,
                "priority": rec.priority, "due_date": rec.due_date, "repeats_id": rec.repeats_id,
                "repeats_chain": chain, "chain_length": len(chain) + 1,
                "latest_status": latest, "open": latest not in metrics.CLOSED,
                "status_history": reviews}
        if addressed_to and rec.addressed_to not in addressed_to:
            continue
        if open is not None and item["open"] != open:
            continue
        if repeated_min is not None and item["chain_length"] < repeated_min:
            continue
        items.append(item)
    audit_read(session, principal, "recommendations", target_type="facility",
               target_id=facility.id, details={"items": len(items)})
    return {"facility": _facility(facility), "items": items}


def _reviews(session: Session, principal: Principal,
             rec_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Reviews made at visits the caller sees (or at none: a coordinator's desk review),
    oldest first; analysts get no evidence text (it may name people)."""
    if not rec_ids:
        return {}
    rv, v = RecommendationReview.__table__, Visit.__table__
    rows = session.execute(
        sa.select(rv, sa.func.coalesce(v.c.started_at, v.c.planned_for).label("visit_day"))
        .outerjoin(v, v.c.id == rv.c.visit_id)
        .where(rv.c.recommendation_id.in_(rec_ids),
               sa.or_(rv.c.visit_id.is_(None), visit_clause(principal, v)))
        .order_by(rv.c.reviewed_at.asc().nulls_first(), rv.c.server_created_at)).all()
    out: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in rows:
        item = {"id": row.id, "status": row.status, "reviewed_at": row.reviewed_at,
                "visit_id": row.visit_id, "visit_date": row.visit_day}
        if principal.role != "analyst":
            item["evidence"] = row.evidence
        out.setdefault(row.recommendation_id, []).append(item)
    return out


def photos(session: Session, principal: Principal, facility_id: uuid.UUID, *,
           visit_id: uuid.UUID | None = None) -> dict[str, Any]:
    """Photos of the facility's visits the caller sees; partners only verified ones with a
    consent value (analysts none), as links to the re-encoded copies (no GPS, no EXIF, no hash,
    no caption: free text may name people)."""
    facility = visible_facility(session, principal, facility_id)
    if principal.role == "analyst":  # pseudonymised data, not media (DESIGN.md)
        raise Forbidden("Analysts work with pseudonymised data; photos are for partners.")
    p, v = Photo.__table__, Visit.__table__
    query = (sa.select(p.c.id, p.c.visit_id, p.c.finding_id, p.c.room_inspection_id,
                       p.c.captured_at, p.c.caption, p.c.consent, p.c.upload_status,
                       sa.func.coalesce(v.c.started_at, v.c.planned_for).label("visit_day"))
             .join(v, v.c.id == p.c.visit_id)
             .where(v.c.facility_id == facility.id, visit_clause(principal, v))
             .order_by(sa.func.coalesce(v.c.started_at, v.c.planned_for), p.c.captured_at,
                       p.c.id))
    outside = principal.role in OUTSIDE_ROLES
    if outside:
        query = query.where(p.c.upload_status == "verified", p.c.consent.is_not(None))
    if visit_id is not None:
        query = query.where(p.c.visit_id == visit_id)
    items = []
    for row in session.execute(query):
        base = f"/api/v1/photos/{row.id}"
        item = {"id": row.id, "visit_id": row.visit_id, "visit_date": row.visit_day,
                "finding_id": row.finding_id, "room_inspection_id": row.room_inspection_id,
                "captured_at": row.captured_at, "consent": row.consent,
                "thumbnail": f"{base}/thumbnail", "display": f"{base}/display"}
        if not outside:
            item.update(caption=row.caption, upload_status=row.upload_status,
                        original=f"{base}/original")
        items.append(item)
    audit_read(session, principal, "photos", target_type="facility", target_id=facility.id,
               details={"items": len(items)})
    return {"facility": _facility(facility), "items": items}
