"""Recommendations, their `repeats_id` chains and follow-up reviews.

A recommendation made on a visit is visible exactly when its visit is; one without a visit
(systemic, or written at the desk) is visible to admins and coordinators.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from monitor_api.audit.service import record
from monitor_api.auth import Principal
from monitor_api.checklists.helpers import raw_record, rest_revision, snapshot
from monitor_api.db import utcnow
from monitor_api.errors import Forbidden, NotFound, ValidationFailed
from monitor_api.facilities.models import Facility
from monitor_api.findings.models import Finding, Recommendation, RecommendationReview
from monitor_api.pagination import paginate, paginate_rows
from monitor_api.scope import require_field_role, require_lead, visible_visits
from monitor_api.visits.models import Visit

CLOSED = ("implemented", "no_longer_relevant")
MAX_CHAIN = 1000


def _visible(principal: Principal) -> ColumnElement[bool]:
    if principal.is_admin:
        return true()
    in_visits = Recommendation.visit_id.in_(visible_visits(principal))
    if principal.role == "coordinator":
        return or_(Recommendation.visit_id.is_(None), in_visits)
    return in_visits if principal.role == "monitor" else false()


def _latest_status() -> Any:
    return (select(RecommendationReview.status)
            .where(RecommendationReview.recommendation_id == Recommendation.id)
            .order_by(RecommendationReview.reviewed_at.desc().nulls_last(),
                      RecommendationReview.server_created_at.desc())
            .limit(1).correlate(Recommendation).scalar_subquery())


def get_recommendation(session: Session, principal: Principal,
                       rec_id: uuid.UUID) -> Recommendation:
    """A recommendation the caller may see, with its latest review status, else 404."""
    require_field_role(principal)
    row = session.execute(select(Recommendation, _latest_status()).where(
        Recommendation.id == rec_id, _visible(principal))).first()
    if row is None:
        raise NotFound("No such recommendation.")
    rec, status = row
    rec.latest_review_status = status  # type: ignore[attr-defined]
    return rec


def list_recommendations(session: Session, principal: Principal, *, page: int, per_page: int,
                         facility_id: uuid.UUID | None = None,
                         visit_id: uuid.UUID | None = None, addressed_to: str | None = None,
                         open: bool | None = None,
                         repeated: bool | None = None) -> tuple[list[Recommendation], int]:
    """Recommendations visible to the caller, newest first."""
    require_field_role(principal)
    latest = _latest_status()
    query = select(Recommendation, latest).where(_visible(principal))
    if facility_id:
        query = query.where(Recommendation.facility_id == facility_id)
    if visit_id:
        query = query.where(Recommendation.visit_id == visit_id)
    if addressed_to:
        query = query.where(Recommendation.addressed_to == addressed_to)
    if open is not None:
        is_open = or_(latest.is_(None), latest.not_in(CLOSED))
        query = query.where(is_open if open else ~is_open)
    if repeated is not None:
        has = Recommendation.repeats_id.is_not(None)
        query = query.where(has if repeated else ~has)
    query = query.order_by(Recommendation.server_created_at.desc(), Recommendation.id)
    rows, total = paginate_rows(session, query, page=page, per_page=per_page)
    for rec, status in rows:
        rec.latest_review_status = status  # type: ignore[attr-defined]
    return [rec for rec, _ in rows], total


def _statuses(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = session.execute(select(Recommendation.id, _latest_status())
                           .where(Recommendation.id.in_(ids)))
    return {rec_id: status for rec_id, status in rows if status is not None}


def _ref(session: Session, principal: Principal, field: str, model: Any, ref_id: Any) -> Any:
    """A referenced row that exists and is visible, else 422 naming the field."""
    if model is Visit:
        obj = session.scalar(select(Visit).where(Visit.id == ref_id,
                                                 Visit.id.in_(visible_visits(principal))))
    elif model is Finding:
        obj = session.scalar(select(Finding).where(
            Finding.id == ref_id, Finding.visit_id.in_(visible_visits(principal))))
    elif model is Recommendation:
        obj = session.scalar(select(Recommendation).where(Recommendation.id == ref_id,
                                                          _visible(principal)))
    else:
        obj = session.get(model, ref_id)
    if obj is None or getattr(obj, "deleted_at", None) is not None:
        raise ValidationFailed(errors={field: ["No such record, or not visible to you."]})
    return obj


def _due(value: date | None) -> datetime | None:
    return None if value is None else datetime.combine(value, time.min, tzinfo=UTC)


def _check_links(session: Session, principal: Principal, rec: Recommendation) -> None:
    """finding_id and repeats_id must belong to the same facility (and visit) and not loop."""
    if rec.finding_id is not None:
        finding = _ref(session, principal, "finding_id", Finding, rec.finding_id)
        finding_visit = session.get(Visit, finding.visit_id)
        # A systemic recommendation (no facility) may rest on any finding the caller sees.
        if (rec.visit_id is not None and finding.visit_id != rec.visit_id) or (
                rec.facility_id is not None and finding_visit is not None
                and finding_visit.facility_id != rec.facility_id):
            raise ValidationFailed(errors={"finding_id": [
                "The finding belongs to another visit or facility."]})
    if rec.repeats_id is None:
        return
    if rec.repeats_id == rec.id:
        raise ValidationFailed(errors={"repeats_id": ["A recommendation cannot repeat itself."]})
    earlier = _ref(session, principal, "repeats_id", Recommendation, rec.repeats_id)
    if earlier.facility_id != rec.facility_id:
        raise ValidationFailed(errors={"repeats_id": [
            "The repeated recommendation belongs to another facility."]})
    seen = {rec.id}
    current: Recommendation | None = earlier
    while current is not None and len(seen) <= MAX_CHAIN:
        if current.id in seen:
            raise ValidationFailed(errors={"repeats_id": ["This would make a repeat cycle."]})
        seen.add(current.id)
        current = session.get(Recommendation, current.repeats_id) if current.repeats_id else None


def create_recommendation(session: Session, principal: Principal, *,
                          facility_id: uuid.UUID | None = None,
                          visit_id: uuid.UUID | None = None, due_date: date | None = None,
                          **data: Any) -> Recommendation:
    """Write a recommendation (on a visit the caller leads, or systemic)."""
    if visit_id is not None:
        visit = _ref(session, principal, "visit_id", Visit, visit_id)
        require_lead(session, principal, visit)
        if facility_id is not None and facility_id != visit.facility_id:
            raise ValidationFailed(errors={"facility_id": ["Differs from the visit's facility."]})
        facility_id = visit.facility_id
    elif facility_id is not None:
        _ref(session, principal, "facility_id", Facility, facility_id)
    rec = Recommendation(id=uuid.uuid4(), facility_id=facility_id, visit_id=visit_id,
                         due_date=_due(due_date), **data)
    _check_links(session, principal, rec)
    session.add(rec)
    session.flush()
    rest_revision(session, principal.user_id, table="recommendations", record_id=rec.id,
                  op="create", before=None)
    record(session, "recommendation.create", target_type="recommendation", target_id=rec.id,
           details=snapshot(rec))
    rec.latest_review_status = None  # type: ignore[attr-defined]
    return rec


def update_recommendation(session: Session, principal: Principal, rec_id: uuid.UUID,
                          **data: Any) -> Recommendation:
    """Edit a recommendation's text, addressee, priority, due date or links."""
    rec = _writable(session, principal, rec_id)
    if "due_date" in data:
        data["due_date"] = _due(data["due_date"])
    before, raw_before = snapshot(rec, data), raw_record(session, "recommendations", rec.id)
    with session.no_autoflush:
        for key, value in data.items():
            setattr(rec, key, value)
        _check_links(session, principal, rec)
    session.flush()
    rest_revision(session, principal.user_id, table="recommendations", record_id=rec.id,
                  op="update", before=raw_before)
    record(session, "recommendation.update", target_type="recommendation", target_id=rec.id,
           details={"before": before, "after": snapshot(rec, data)})
    return rec


def _writable(session: Session, principal: Principal, rec_id: uuid.UUID) -> Recommendation:
    rec = get_recommendation(session, principal, rec_id)
    if rec.visit_id is not None:
        require_lead(session, principal, session.get(Visit, rec.visit_id))
    elif principal.role not in ("admin", "coordinator"):
        raise Forbidden("Only coordinators and admins write systemic recommendations.")
    return rec


def chain(session: Session, principal: Principal, rec_id: uuid.UUID) -> list[Recommendation]:
    """The repeat chain through this recommendation, oldest → newest (visible links only)."""
    rec = get_recommendation(session, principal, rec_id)
    back: list[Recommendation] = []
    seen = {rec.id}
    current = rec
    while current.repeats_id is not None and len(seen) < MAX_CHAIN:
        earlier = session.get(Recommendation, current.repeats_id)
        if earlier is None or earlier.id in seen:
            break
        seen.add(earlier.id)
        back.append(earlier)
        current = earlier
    forward: list[Recommendation] = []
    frontier = [rec.id]
    while frontier and len(seen) < MAX_CHAIN:
        later = list(session.scalars(select(Recommendation).where(
            Recommendation.repeats_id.in_(frontier), Recommendation.id.not_in(seen))
            .order_by(Recommendation.server_created_at, Recommendation.id)))
        seen.update(r.id for r in later)
        forward.extend(later)
        frontier = [r.id for r in later]
    ordered = [*reversed(back), rec, *forward]
    visible = set(session.scalars(select(Recommendation.id).where(
        Recommendation.id.in_([r.id for r in ordered]), _visible(principal))))
    statuses = _statuses(session, list(visible))
    for item in ordered:
        item.latest_review_status = statuses.get(item.id)  # type: ignore[attr-defined]
    return [r for r in ordered if r.id in visible]


def add_review(session: Session, principal: Principal, rec_id: uuid.UUID, *, status: str,
               evidence: str | None = None, visit_id: uuid.UUID | None = None,
               reviewed_at: datetime | None = None) -> RecommendationReview:
    """Record how far a recommendation was implemented (usually on a follow-up visit)."""
    rec = get_recommendation(session, principal, rec_id)
    if visit_id is not None:
        visit = _ref(session, principal, "visit_id", Visit, visit_id)
        if rec.facility_id is not None and visit.facility_id != rec.facility_id:
            raise ValidationFailed(errors={"visit_id": ["A visit of another facility."]})
    review = RecommendationReview(recommendation_id=rec.id, visit_id=visit_id, status=status,
                                  evidence=evidence, reviewed_at=reviewed_at or utcnow())
    session.add(review)
    session.flush()
    rest_revision(session, principal.user_id, table="recommendation_reviews",
                  record_id=review.id, op="create", before=None)
    record(session, "recommendation_review.create", target_type="recommendation_review",
           target_id=review.id, details={"recommendation_id": str(rec.id), "status": status,
                                         "visit_id": str(visit_id) if visit_id else None})
    return review


def list_reviews(session: Session, principal: Principal, rec_id: uuid.UUID, *, page: int,
                 per_page: int) -> tuple[list[RecommendationReview], int]:
    """The status history of a recommendation, oldest first."""
    rec = get_recommendation(session, principal, rec_id)
    query = (select(RecommendationReview).where(RecommendationReview.recommendation_id == rec.id)
             .order_by(RecommendationReview.reviewed_at.nulls_first(),
                       RecommendationReview.server_created_at, RecommendationReview.id))
    return paginate(session, query, page=page, per_page=per_page)
