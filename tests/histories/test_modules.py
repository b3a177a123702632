"""Checklist modules count as asked only where they apply (women's questions where women are
held, children's where minors are, police-custody questions at police custody)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from monitor_api.checklists.service import build_template
from monitor_api.histories.metrics import applies
from monitor_api.histories.models import VisitIndicators
from monitor_api.visits.models import Answer, Visit


def test_applies() -> None:
    assert applies("treatment", "penal_colony", {"men": True})
    assert not applies("women", "penal_colony", {"men": True})
    assert applies("women", "penal_colony", {"women": True})
    assert applies("children", "juvenile_colony", {})
    assert not applies("children", "penal_colony", {"men": True})
    assert applies("police_custody", "police_custody", {}) and not applies(
        "police_custody", "pretrial_detention", {})


def test_module_questions_are_asked_only_where_they_apply(
        db: Session, make_facility: Any, make_team: Any, quick_user: Any) -> None:
    coord, _api = quick_user("coordinator")
    team = make_team(coord)
    template = build_template(db, code=f"m-{secrets.token_hex(3)}", version=1, title="M",
                              facility_types=[], created_by_id=None, status="published",
                              questions=[
        {"section": "treatment", "code": "T1", "text_en": "?", "answer_type": "yes_no_partial",
         "info_sources": ["detainee"], "compliance": "no"},
        {"section": "women", "code": "W1", "text_en": "?", "answer_type": "yes_no_partial",
         "info_sources": ["detainee"], "compliance": "yes"}])
    asked = {}
    for name, holds in (("men", {"men": True}), ("women", {"women": True})):
        facility = make_facility("penal_colony", holds=holds)
        visit = Visit(facility_id=facility.id, team_id=team.id, template_id=template.id,
                      status="in_progress", started_at=datetime(2025, 1, 5, tzinfo=UTC))
        db.add(visit)
        db.flush()
        db.add(Answer(visit_id=visit.id, question_id=template.questions[0].id,
                      info_source="detainee", value="no"))
        db.commit()
        asked[name] = db.get(VisitIndicators, visit.id).compliance["overall"]["asked"]
    assert asked == {"men": 1, "women": 2}
