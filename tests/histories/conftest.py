"""A SIZO with a history: published visits over three years, rooms, answers, findings,
recommendations repeated across visits with reviews, photos; plus an unpublished visit and
another team's visit. Built with the ORM (the sync path has its own tests)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from geoalchemy2.elements import WKTElement
from sqlalchemy import text
from sqlalchemy.orm import Session

from monitor_api.checklists.service import build_template
from monitor_api.findings.models import Finding, Recommendation, RecommendationReview
from monitor_api.photos.models import Photo
from monitor_api.restricted.models import Allegation, Interview
from monitor_api.visits.models import AccessIncident, Answer, RoomInspection, Visit
from tests.coordinator.conftest import make_facility, quick_user  # noqa: F401

QUESTIONS = [
    {"section": "regime_activities", "code": "SOL-01", "answer_type": "count",
     "text_en": "Longest solitary confinement seen (days)", "info_sources": ["document"],
     "standard_refs": [{"instrument": "mandela", "rule": "44"}], "compliance": "<= 15"},
    {"section": "health_care", "code": "HLT-06", "answer_type": "yes_no_partial",
     "text_en": "Health screening on admission?", "text_ru": "Медосмотр при поступлении?",
     "info_sources": ["detainee", "staff"],
     "standard_refs": [{"instrument": "bangkok", "rule": "6"}], "compliance": "yes"},
    {"section": "treatment", "code": "TRT-01", "answer_type": "yes_no_partial",
     "text_en": "Ill-treatment reported?", "info_sources": ["detainee"], "compliance": "no"},
]


@dataclass
class History:
    api: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    facility: Any = None
    other_facility: Any = None
    visits: list[Visit] = field(default_factory=list)  # published, oldest first
    draft: Any = None  # team A's unpublished visit
    foreign: Any = None  # team B's unpublished visit
    questions: dict[str, uuid.UUID] = field(default_factory=dict)
    recs: dict[str, uuid.UUID] = field(default_factory=dict)
    photos: dict[str, uuid.UUID] = field(default_factory=dict)
    restricted: dict[str, uuid.UUID] = field(default_factory=dict)


# Per published visit: (date, population, rooms (area, occupants), SOL-01 days,
# HLT-06 answers by source, TRT-01).
VISITS = [
    (datetime(2023, 4, 10, 9, tzinfo=UTC), 380, [(24.0, 6), (30.0, 10), (7.0, 1)], 10,
     {"detainee": "yes", "staff": "yes"}, "no"),
    (datetime(2024, 5, 2, 9, tzinfo=UTC), 430, [(24.0, 8), (30.0, 12), (7.0, 1), (16.0, 3)], 21,
     {"detainee": "no", "staff": "yes"}, "yes"),
    (datetime(2025, 6, 20, 9, tzinfo=UTC), 455, [(24.0, 9), (30.0, 11), (16.0, 5)], 30,
     {"detainee": "partial", "staff": "yes"}, "yes"),
]
CAPACITY = 400


def _visit(db: Session, h: History, team: Any, template: Any, when: datetime,
           population: int, status: str = "reviewed", facility: Any = None) -> Visit:
    visit = Visit(facility_id=(facility or h.facility).id, team_id=team.id,
                  template_id=template.id, status=status, started_at=when,
                  ended_at=when.replace(hour=17), population_total=population,
                  announced=False, joint_with_ombudsman=True)
    db.add(visit)
    db.flush()
    return visit


ROLES = [("admin", "admin"), ("coord_a", "coordinator"), ("mon_a", "monitor"),
         ("coord_b", "coordinator"), ("mon_b", "monitor"), ("partner", "partner"),
         ("analyst", "analyst"), ("legal_aid", "legal_aid")]


@pytest.fixture
def history(db: Session, quick_user: Any, make_team: Any,  # noqa: F811
            make_facility: Any) -> History:  # noqa: F811
    h = History()
    for name, role in ROLES:
        h.users[name], h.api[name] = quick_user(role)
    team_a = make_team(h.users["coord_a"], h.users["mon_a"])
    team_b = make_team(h.users["coord_b"], h.users["mon_b"])
    h.facility = make_facility("pretrial_detention", official_capacity=CAPACITY,
                               holds={"men": True, "women": True})
    h.other_facility = make_facility("police_custody", region="TJ-DU", official_capacity=20,
                                     holds={"men": True})
    other = populate(db, h, team_a, team_b)
    db.commit()  # indicators are refreshed as the transaction (here: savepoint) commits
    for visit in [*h.visits, other]:  # published by a coordinator of team A, over HTTP
        resp = h.api["coord_a"].post(f"/api/v1/visits/{visit.id}/publish")
        assert resp.status_code == 200, resp.get_json()
    h.visits_other = other  # type: ignore[attr-defined]
    return h


def populate(db: Session, h: History, team_a: Any, team_b: Any) -> Visit:
    """The SIZO's visits and records (and the police station's visit, returned); nothing is
    published yet."""
    template = build_template(db, code=f"h-{secrets.token_hex(4)}", version=1, title="History",
                              facility_types=[], questions=[dict(q) for q in QUESTIONS],
                              created_by_id=None, status="published")
    h.questions = {q.code: q.id for q in template.questions}
    previous: dict[str, uuid.UUID] = {}
    for n, (when, population, rooms, days, screening, treatment) in enumerate(VISITS):
        visit = _visit(db, h, team_a, template, when, population)
        h.visits.append(visit)
        for area, occupants in rooms:
            db.add(RoomInspection(visit_id=visit.id, label=f"cell {area}/{occupants}",
                                  room_kind="cell", floor_area_m2=area, occupants=occupants))
        db.add(RoomInspection(visit_id=visit.id, label="visiting room", room_kind="visiting",
                              floor_area_m2=4.0, occupants=8))  # not living space
        db.add(Answer(visit_id=visit.id, question_id=h.questions["SOL-01"],
                      info_source="document", number_value=days, comment="Named the officer"))
        for source, value in screening.items():
            db.add(Answer(visit_id=visit.id, question_id=h.questions["HLT-06"],
                          info_source=source, value=value))
        db.add(Answer(visit_id=visit.id, question_id=h.questions["TRT-01"],
                      info_source="detainee", value=treatment))
        db.add(Finding(visit_id=visit.id, theme="material_conditions", severity="serious",
                       title="Overcrowding", status="confirmed"))
        db.add(Finding(visit_id=visit.id, theme="treatment", severity="minor", title="draft?",
                       status="withdrawn"))
        db.add(AccessIncident(visit_id=visit.id, kind="delayed", target="place",
                              minutes_lost=30 + 10 * n))
        rec = Recommendation(facility_id=h.facility.id, visit_id=visit.id,
                             theme="material_conditions", text=f"Reduce occupancy ({n})",
                             addressed_to="ministry_of_justice",
                             repeats_id=previous.get("space"))
        health = Recommendation(facility_id=h.facility.id, visit_id=visit.id,
                                theme="health_care", text=f"Screen every admission ({n})",
                                addressed_to="ministry_of_health_social")
        db.add_all([rec, health])
        db.flush()
        if previous:  # follow-up of the last visit's recommendations at this visit
            db.add(RecommendationReview(recommendation_id=previous["space"], visit_id=visit.id,
                                        status="not_implemented", reviewed_at=when,
                                        evidence="Cells still full; officer Karimov said so"))
            db.add(RecommendationReview(recommendation_id=previous["health"],
                                        visit_id=visit.id,
                                        status="implemented" if n == 1 else
                                        "partially_implemented", reviewed_at=when))
        previous = {"space": rec.id, "health": health.id}
        h.recs[f"space{n}"], h.recs[f"health{n}"] = rec.id, health.id
        ok = Photo(visit_id=visit.id, sha256=f"{n:x}" * 64, byte_size=10, consent="obtained",
                   location=WKTElement("POINT(69.61 40.29)", srid=4326))
        no_consent = Photo(visit_id=visit.id, sha256=f"{n + 5:x}" * 64, byte_size=10)
        db.add_all([ok, no_consent])
        db.flush()
        # As if their bytes had been uploaded and verified (the uploads have their own tests);
        # the trigger that derives upload_status from uploads is bypassed for this.
        db.execute(text("set local session_replication_role = replica"))
        db.execute(Photo.__table__.update().where(Photo.id.in_([ok.id, no_consent.id]))
                   .values(upload_status="verified"))
        db.execute(text("set local session_replication_role = origin"))
        h.photos[f"ok{n}"], h.photos[f"no_consent{n}"] = ok.id, no_consent.id
    interview = Interview(visit_id=h.visits[-1].id, interviewee_code="D-77",
                          category="detainee", notes="private")
    db.add(interview)
    db.flush()
    allegation = Allegation(visit_id=h.visits[-1].id, interview_id=interview.id,
                            methods=["beating"], consent_publication=True, narrative="...")
    db.add(allegation)
    db.flush()
    h.restricted = {"interview": interview.id, "allegation": allegation.id}
    # Team A's next visit, not yet published; team B's visit of the same SIZO.
    h.draft = _visit(db, h, team_a, template, datetime(2026, 2, 1, 9, tzinfo=UTC), 470,
                     status="submitted")
    db.add(RoomInspection(visit_id=h.draft.id, label="c", room_kind="cell", floor_area_m2=10.0,
                          occupants=10))
    h.foreign = _visit(db, h, team_b, template, datetime(2025, 9, 1, 9, tzinfo=UTC), 440,
                       status="reviewed")
    other = _visit(db, h, team_a, template, datetime(2024, 3, 3, 9, tzinfo=UTC), 25,
                   facility=h.other_facility)
    db.add(Answer(visit_id=other.id, question_id=h.questions["SOL-01"], info_source="document",
                  number_value=40))
    db.add(Answer(visit_id=other.id, question_id=h.questions["HLT-06"], info_source="staff",
                  value="no"))
    return other
