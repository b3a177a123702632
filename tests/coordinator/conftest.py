"""Fixtures for the coordinator API: facilities, a published template, two teams' visits."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from geoalchemy2.elements import WKTElement
from sqlalchemy.orm import Session

from monitor_api.checklists.service import build_template
from monitor_api.facilities.models import Facility
from monitor_api.findings.models import Finding, Recommendation
from monitor_api.photos.models import Photo
from monitor_api.restricted.models import Allegation, Interview
from monitor_api.visits.models import AccessIncident, Answer, RoomInspection, Visit

QUESTIONS = [
    {"section": "material_conditions", "code": "MAT-01", "text_en": "Living space per person",
     "answer_type": "measure", "unit": "m2", "info_sources": ["observation"],
     "standard_refs": [{"instrument": "cpt", "rule": "space"}], "compliance": ">= 4",
     "indicator": "living_space_m2_pp"},
    {"section": "treatment", "code": "TRT-01", "text_en": "Ill-treatment reported?",
     "answer_type": "yes_no_partial", "info_sources": ["detainee"], "compliance": "no"},
]


@pytest.fixture
def quick_user(db: Session, client: Any) -> Any:
    """A user with a session token made directly (no argon2): returns (user, Api).

    The login endpoint itself is covered by the accounts tests; the matrix here needs many users.
    """
    from monitor_api.accounts.models import AuthSession, User
    from monitor_api.auth import SESSION_PREFIX, new_token
    from monitor_api.db import utcnow
    from tests.conftest import Api

    def _make(role: str) -> tuple[Any, Any]:
        name = f"{role.replace('_', '-')}-{secrets.token_hex(4)}"
        user = User(username=name, display_name=name, role=role, password_hash="!unusable")
        db.add(user)
        db.flush()
        token, token_hash = new_token(SESSION_PREFIX)
        now = utcnow()
        db.add(AuthSession(user_id=user.id, token_hash=token_hash, created_at=now,
                           last_used_at=now, expires_at=now + timedelta(hours=1)))
        db.flush()
        return user, Api(client, token)

    return _make


@pytest.fixture
def make_facility(db: Session) -> Any:
    def _make(facility_type: str = "pretrial_detention", **kw: Any) -> Facility:
        fac = Facility(code=kw.pop("code", f"T-{secrets.token_hex(4)}"),
                       name=kw.pop("name", "SIZO test"), facility_type=facility_type,
                       authority=kw.pop("authority", "ministry_of_justice"),
                       region=kw.pop("region", "TJ-SU"),
                       location=WKTElement("POINT(69.6 40.28)", srid=4326), **kw)
        db.add(fac)
        db.flush()
        return fac

    return _make


@pytest.fixture
def published_template(db: Session) -> Any:
    return build_template(db, code=f"t-{secrets.token_hex(4)}", version=1, title="Test",
                          facility_types=[], questions=[dict(q) for q in QUESTIONS],
                          created_by_id=None, status="published")


@dataclass
class World:
    """Two teams with their own visits and records, and one user per role."""

    api: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    team_a: Any = None
    team_b: Any = None
    facility: Any = None
    visit_a: Any = None
    visit_b: Any = None


def _records(db: Session, visit: Visit, question_id: uuid.UUID, tag: str,
             ids: dict[str, uuid.UUID]) -> None:
    now = datetime(2025, 3, 1, 10, tzinfo=UTC)
    room = RoomInspection(visit_id=visit.id, label=f"cell {tag}", room_kind="cell",
                          floor_area_m2=12.0, occupants=4)
    db.add(room)
    db.flush()
    interview = Interview(visit_id=visit.id, interviewee_code=f"D-{tag}", category="detainee",
                          consent_to_refer=True, notes="private notes")
    db.add(interview)
    db.flush()
    finding = Finding(visit_id=visit.id, theme="material_conditions", severity="serious",
                      title=f"Overcrowding {tag}", room_inspection_id=room.id)
    db.add(finding)
    db.flush()
    rows = {
        "answer": Answer(visit_id=visit.id, question_id=question_id, info_source="observation",
                         number_value=3.0, answered_at=now),
        "incident": AccessIncident(visit_id=visit.id, kind="delayed", target="place",
                                   minutes_lost=40),
        "photo": Photo(visit_id=visit.id, sha256="a" * 64, byte_size=1000,
                       mime_type="image/jpeg", room_inspection_id=room.id,
                       location=WKTElement("POINT(69.61 40.29)", srid=4326)),
        "allegation": Allegation(visit_id=visit.id, interview_id=interview.id,
                                 methods=["beating"], consent_legal_aid=True,
                                 narrative=f"account {tag}", alleged_unit="unit 5"),
        "allegation_noconsent": Allegation(visit_id=visit.id, methods=["threats"],
                                           consent_legal_aid=False, narrative="secret"),
        "recommendation": Recommendation(facility_id=visit.facility_id, visit_id=visit.id,
                                         finding_id=finding.id, theme="material_conditions",
                                         text="Reduce occupancy",
                                         addressed_to="ministry_of_justice"),
    }
    db.add_all(rows.values())
    db.flush()
    ids.update({f"{k}_{tag}": v.id for k, v in rows.items()})
    ids.update({f"room_{tag}": room.id, f"interview_{tag}": interview.id,
                f"finding_{tag}": finding.id})


@pytest.fixture
def world(db: Session, quick_user: Any, make_team: Any, make_facility: Any,
          published_template: Any) -> World:
    w = World()
    for name, role in [("admin", "admin"), ("coord_a", "coordinator"), ("mon_a", "monitor"),
                       ("coord_b", "coordinator"), ("mon_b", "monitor"), ("partner", "partner"),
                       ("analyst", "analyst"), ("legal_aid", "legal_aid"),
                       ("coord_none", "coordinator")]:
        w.users[name], w.api[name] = quick_user(role)
    w.team_a = make_team(w.users["coord_a"], w.users["mon_a"])
    w.team_b = make_team(w.users["coord_b"], w.users["mon_b"])
    w.facility = make_facility()
    question_id = published_template.questions[0].id
    for tag, team in (("a", w.team_a), ("b", w.team_b)):
        visit = Visit(facility_id=w.facility.id, team_id=team.id,
                      template_id=published_template.id,
                      status="in_progress", started_at=datetime(2025, 3, 1, 9, tzinfo=UTC))
        db.add(visit)
        db.flush()
        setattr(w, f"visit_{tag}", visit)
        _records(db, visit, question_id, tag, w.ids)
    return w
