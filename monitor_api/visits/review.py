"""What a coordinator reads to review a visit: answers with their question, standards and
compliance result, rooms with m² per person against the thresholds, findings, indicators."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitor_api.auth import Principal
from monitor_api.checklists.compliance import ComplianceError, parse
from monitor_api.checklists.models import ChecklistQuestion
from monitor_api.facilities.models import Facility
from monitor_api.findings.models import Finding, Recommendation
from monitor_api.histories import due
from monitor_api.histories.models import LIVING_ROOMS, VisitIndicators
from monitor_api.scope import get_visit
from monitor_api.visits.models import AccessIncident, Answer, RoomInspection


def _verdict(question: Any, answer: Any) -> bool | None:
    try:
        rule = parse(question.compliance, question.answer_type, question.options)
    except ComplianceError:
        return None
    return None if rule is None else rule.evaluate(answer.value, answer.number_value)


def visit_review(session: Session, principal: Principal, visit_id: uuid.UUID,
                 lang: str = "en") -> dict[str, Any]:
    """Everything of one visit the review page shows (the caller's scope: 404 otherwise)."""
    visit = get_visit(session, principal, visit_id)
    facility = session.get(Facility, visit.facility_id)
    rows = session.execute(
        sa.select(Answer, ChecklistQuestion).join(ChecklistQuestion,
                                                  ChecklistQuestion.id == Answer.question_id)
        .where(Answer.visit_id == visit.id)
        .order_by(ChecklistQuestion.section, ChecklistQuestion.position, Answer.info_source)).all()
    answers = [{"question": q, "text": getattr(q, f"text_{lang}", None) or q.text_en,
                "answer": a, "compliant": _verdict(q, a)} for a, q in rows]
    due.settle(session, [visit.id])
    indicators = session.get(VisitIndicators, visit.id)
    limits = (indicators.space_thresholds if indicators else {}) or {}
    rooms = []
    for room in session.scalars(sa.select(RoomInspection).where(
            RoomInspection.visit_id == visit.id).order_by(RoomInspection.label)):
        per_person = (round(room.floor_area_m2 / room.occupants, 2)
                      if room.floor_area_m2 and room.occupants else None)
        below = [src for src, t in limits.items() if per_person is not None
                 and room.room_kind in LIVING_ROOMS
                 and per_person < (t["single_m2"] if room.occupants == 1 else t["shared_m2"])]
        rooms.append({"room": room, "per_person": per_person, "below": below})
    findings = session.scalars(sa.select(Finding).where(Finding.visit_id == visit.id)
                               .order_by(Finding.severity, Finding.title)).all()
    recs = session.scalars(sa.select(Recommendation).where(
        Recommendation.visit_id == visit.id).order_by(Recommendation.addressed_to)).all()
    incidents = session.scalars(sa.select(AccessIncident).where(
        AccessIncident.visit_id == visit.id)).all()
    return {"visit": visit, "facility": facility, "answers": answers, "rooms": rooms,
            "findings": findings, "recommendations": recs, "incidents": incidents,
            "indicators": indicators, "thresholds": limits}
