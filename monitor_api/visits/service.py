"""Visits: planning, team assignment, status transitions, and reading what a team synced."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor_api.accounts.models import Team
from monitor_api.audit.service import record
from monitor_api.auth import Principal
from monitor_api.checklists.helpers import (
    check_if_match,
    etag_of,
    raw_record,
    rest_revision,
    snapshot,
)
from monitor_api.checklists.models import ChecklistTemplate
from monitor_api.db import utcnow
from monitor_api.errors import Conflict, ValidationFailed
from monitor_api.facilities.models import Facility
from monitor_api.findings.models import Finding, Recommendation
from monitor_api.findings.recommendations import list_recommendations
from monitor_api.pagination import paginate, paginate_rows
from monitor_api.photos.models import Photo
from monitor_api.scope import (
    get_visit,
    leads_team,
    require_field_role,
    require_lead,
    visible_visits,
)
from monitor_api.visits.models import AccessIncident, Answer, RoomInspection, Visit

# Forward one step at a time; a submitted visit may go back to the team for more work.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "planned": ("in_progress",),
    "in_progress": ("submitted",),
    "submitted": ("reviewed", "in_progress"),
    "reviewed": ("reported",),
    "reported": ("reviewed",),  # unpublishing
}
POPULATION_PARTS = ("population_remand", "population_women", "population_minors",
                    "population_foreigners")
PHOTO_FIELDS = ("id", "visit_id", "finding_id", "room_inspection_id", "sha256", "byte_size",
                "mime_type", "captured_at", "caption", "consent", "upload_status")
RECORD_MODELS: dict[str, Any] = {
    "answers": Answer, "room-inspections": RoomInspection, "findings": Finding,
    "recommendations": Recommendation, "access-incidents": AccessIncident, "photos": Photo,
}


def visit_etag(visit: Visit) -> str:
    """ETag of a visit's content."""
    return etag_of(visit)


def list_visits(session: Session, principal: Principal, *, page: int, per_page: int,
                facility_id: uuid.UUID | None = None, team_id: uuid.UUID | None = None,
                status: str | None = None, date_from: date | None = None,
                date_to: date | None = None) -> tuple[list[Visit], int]:
    """Visits the caller may see, most recent first."""
    require_field_role(principal)
    when = func.coalesce(Visit.started_at, Visit.planned_for)
    query = select(Visit).where(Visit.id.in_(visible_visits(principal)))
    if facility_id:
        query = query.where(Visit.facility_id == facility_id)
    if team_id:
        query = query.where(Visit.team_id == team_id)
    if status:
        query = query.where(Visit.status == status)
    if date_from:
        query = query.where(when >= datetime.combine(date_from, time.min, tzinfo=UTC))
    if date_to:
        query = query.where(when < datetime.combine(date_to + timedelta(days=1), time.min,
                                                    tzinfo=UTC))
    query = query.order_by(when.desc().nulls_last(), Visit.server_created_at.desc(), Visit.id)
    return paginate(session, query, page=page, per_page=per_page)


def _check_team(session: Session, principal: Principal, team_id: uuid.UUID) -> None:
    # Another team's id answers exactly like a missing one: team ids cannot be probed.
    if session.get(Team, team_id) is None or not leads_team(session, principal, team_id):
        raise ValidationFailed(errors={"team_id": ["No such team, or not one of yours."]})


def _check_template(session: Session, template_id: uuid.UUID | None, facility: Facility) -> None:
    if template_id is None:
        return
    template = session.get(ChecklistTemplate, template_id)
    if template is None or template.status != "published":
        raise ValidationFailed(errors={"template_id": ["Must be a published template."]})
    if template.facility_types and facility.facility_type not in template.facility_types:
        raise ValidationFailed(errors={"template_id": [
            f"The template does not apply to {facility.facility_type} facilities."]})


def _check_populations(values: dict[str, Any]) -> None:
    total = values.get("population_total")
    errors = {part: ["Must not exceed population_total."] for part in POPULATION_PARTS
              if total is not None and (values.get(part) or 0) > total}
    started, ended = values.get("started_at"), values.get("ended_at")
    if started is not None and ended is not None and ended < started:
        errors["ended_at"] = ["Must not be before started_at."]
    if errors:
        raise ValidationFailed("The visit's figures are inconsistent; see `errors`.",
                               errors=errors)


def create_visit(session: Session, principal: Principal, *, facility_id: uuid.UUID,
                 team_id: uuid.UUID, **data: Any) -> Visit:
    """Plan a visit of a facility and assign it to a team."""
    facility = session.get(Facility, facility_id)
    if facility is None or facility.deleted_at is not None:
        raise ValidationFailed(errors={"facility_id": ["No such facility."]})
    _check_team(session, principal, team_id)
    _check_template(session, data.get("template_id"), facility)
    _check_populations(data)
    visit = Visit(facility_id=facility_id, team_id=team_id, status="planned",
                  created_by_id=principal.user_id, **data)
    session.add(visit)
    session.flush()
    rest_revision(session, principal.user_id, table="visits", record_id=visit.id, op="create",
                  before=None)
    record(session, "visit.create", target_type="visit", target_id=visit.id,
           details=snapshot(visit))
    return visit


def read_visit(session: Session, principal: Principal, visit_id: uuid.UUID) -> Visit:
    """One visit the caller may see."""
    return get_visit(session, principal, visit_id)


def lead_visit(session: Session, principal: Principal, visit_id: uuid.UUID) -> Visit:
    """A visit the caller may change: 404 when invisible, 403 unless they lead its team."""
    visit = get_visit(session, principal, visit_id)
    require_lead(session, principal, visit)
    return visit


def update_visit(session: Session, principal: Principal, visit_id: uuid.UUID, *,
                 if_match: str | None = None, **data: Any) -> Visit:
    """Reassign, reschedule, move the status on, or correct a visit's figures."""
    visit = lead_visit(session, principal, visit_id)
    check_if_match(if_match, visit_etag(visit))
    if "team_id" in data and data["team_id"] != visit.team_id:
        _check_team(session, principal, data["team_id"])
    if "template_id" in data and data["template_id"] != visit.template_id:
        if visit.status != "planned" or session.scalar(
                select(Answer.id).where(Answer.visit_id == visit.id).limit(1)):
            raise Conflict("The checklist of a visit can change only while it is planned "
                           "and has no answers.")
        _check_template(session, data["template_id"], session.get(Facility, visit.facility_id))
    status = data.get("status", visit.status)
    if status != visit.status:
        if status not in TRANSITIONS[visit.status]:
            allowed = ", ".join(TRANSITIONS[visit.status]) or "none"
            raise Conflict(f"A {visit.status} visit cannot become {status} (allowed: "
                           f"{allowed}).")
        if status == "in_progress" and visit.started_at is None:
            data.setdefault("started_at", utcnow())
        if status == "submitted" and visit.ended_at is None:
            data.setdefault("ended_at", utcnow())
        # Reported = published: partners and analysts see it from now on (and not after
        # it goes back to reviewed).
        data["published_at"] = utcnow() if status == "reported" else None
        if "reported" in (status, visit.status):
            record(session, "visit.publish" if status == "reported" else "visit.unpublish",
                   target_type="visit", target_id=visit.id, details={"from": visit.status})
    _check_populations({**snapshot(visit, (*POPULATION_PARTS, "population_total")),
                        "started_at": visit.started_at, "ended_at": visit.ended_at, **data})
    before, raw_before = snapshot(visit, data), raw_record(session, "visits", visit.id)
    for key, value in data.items():
        setattr(visit, key, value)
    session.flush()
    rest_revision(session, principal.user_id, table="visits", record_id=visit.id, op="update",
                  before=raw_before)
    record(session, "visit.update", target_type="visit", target_id=visit.id,
           details={"before": before, "after": snapshot(visit, data)})
    return visit


def publish(session: Session, principal: Principal, visit_id: uuid.UUID,
            published: bool) -> Visit:
    """Publish a reviewed visit (status reported) or take it back (status reviewed)."""
    visit = lead_visit(session, principal, visit_id)
    want = "reported" if published else "reviewed"
    if visit.status == want:
        return visit
    if published and visit.status != "reviewed":
        raise Conflict(f"Only a reviewed visit can be published; this one is {visit.status}.")
    if not published and visit.status != "reported":
        raise Conflict("Only a published (reported) visit can be unpublished.")
    return update_visit(session, principal, visit_id, status=want)


def list_visit_records(session: Session, principal: Principal, visit_id: uuid.UUID,
                       kind: str, *, page: int, per_page: int) -> tuple[list[Any], int]:
    """One page of the records of `kind` a team synced on a visit."""
    visit = get_visit(session, principal, visit_id)
    model = RECORD_MODELS[kind]
    if model is Recommendation:  # with their latest review status
        return list_recommendations(session, principal, visit_id=visit.id, page=page,
                                    per_page=per_page)
    if model is Photo:
        return _photos(session, visit.id, page=page, per_page=per_page)
    query = (select(model).where(model.visit_id == visit.id)
             .order_by(model.server_created_at, model.id))
    return paginate(session, query, page=page, per_page=per_page)


def _photos(session: Session, visit_id: uuid.UUID, *, page: int,
            per_page: int) -> tuple[list[dict[str, Any]], int]:
    geometry = func.ST_GeomFromWKB(func.ST_AsBinary(Photo.location))
    query = (select(Photo, func.ST_Y(geometry), func.ST_X(geometry))
             .where(Photo.visit_id == visit_id).order_by(Photo.server_created_at, Photo.id))
    rows, total = paginate_rows(session, query, page=page, per_page=per_page)
    items = [{**{key: getattr(photo, key) for key in PHOTO_FIELDS},
              "server_created_at": photo.server_created_at,
              "server_updated_at": photo.server_updated_at, "lat": lat, "lng": lng}
             for photo, lat, lng in rows]
    return items, total
