"""Seed the SAMPLE condition histories (plan.py) as published visits of the Demo team:
rooms, answers, findings, recommendations repeated across visits with their reviews, access
incidents and photos. Ids are uuid5 of the plan, so seeding is keyed and never duplicates."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from functools import cache
from typing import Any

from geoalchemy2.elements import WKTElement
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor_api.accounts.models import Team, User
from monitor_api.audit import service as audit
from monitor_api.config import Settings
from monitor_api.demo import pictures
from monitor_api.demo.plan import FacilityPlan, VisitPlan, build, most_crowded, uid
from monitor_api.facilities.models import Facility
from monitor_api.findings.models import Finding, Recommendation, RecommendationReview
from monitor_api.storage import BlobStore, make_blob_store
from monitor_api.visits.models import AccessIncident, Answer, RoomInspection, Visit

DEMO_TEAM = "Demo team"
DUE_DAYS = {"urgent": 30, "high": 90, "medium": 180, "low": 365}
EVIDENCE = {
    "implemented": "SAMPLE: Verified on site at this visit.",
    "partially_implemented": "SAMPLE: Some steps taken; the problem persists to a lesser degree.",
    "not_implemented": "SAMPLE: No change found; the administration cited a lack of funding.",
}
LINKED_ROOM = {"solitary": "disciplinary_cell", "disciplinary_cells": "disciplinary_cell",
               "child_isolation": "disciplinary_cell"}


@cache
def _plan() -> tuple[list[FacilityPlan], dict[str, Any]]:
    return build()


def visit_ids() -> list[uuid.UUID]:
    """The ids of every sample visit (the seeding key)."""
    return [uid(f.code, v.n, "visit") for f in _plan()[0] for v in f.visits]


def history_present(session: Session) -> bool:
    """Whether the sample history was seeded (any of its visits exists)."""
    return bool(session.scalar(select(func.count()).select_from(Visit)
                               .where(Visit.id.in_(visit_ids()))))


def seed_history(session: Session, settings: Settings) -> dict[str, int]:
    """Seed the history once, on the Demo team and the sample facilities present."""
    from monitor_api.checklists.loader import load_checklist, starter_text

    if history_present(session):
        return {}
    team = session.scalar(select(Team).where(Team.name == DEMO_TEAM))
    users = {u.username: u.id for u in session.scalars(select(User).where(
        User.username.in_(("demo-coordinator", "demo-monitor"))))}
    if team is None or len(users) < 2:
        return {}
    template, _ = load_checklist(session, starter_text())
    seeder = _Seeder(session, settings, make_blob_store(settings), team.id, template.id,
                     {q.code: q.id for q in template.questions}, users)
    plans, seeder.catalogue = _plan()
    for fplan in plans:
        facility = session.scalar(select(Facility).where(
            Facility.code == fplan.code, Facility.deleted_at.is_(None)))
        if facility is not None:
            seeder.facility(fplan, facility)
    counts = dict(sorted(seeder.counts.items()))
    audit.record(session, "demo.history_seeded", details=counts)
    return counts


class _Seeder:
    def __init__(self, session: Session, settings: Settings, store: BlobStore,
                 team_id: uuid.UUID, template_id: uuid.UUID, questions: dict[str, uuid.UUID],
                 users: dict[str, uuid.UUID]) -> None:
        self.session, self.settings, self.store = session, settings, store
        self.team_id, self.template_id, self.questions = team_id, template_id, questions
        self.coordinator, self.monitor = users["demo-coordinator"], users["demo-monitor"]
        self.catalogue: dict[str, Any] = {}
        self.counts: Counter[str] = Counter()

    def facility(self, fplan: FacilityPlan, facility: Facility) -> None:
        first_made: dict[str, Any] = {}
        previous: VisitPlan | None = None
        for vplan in fplan.visits:
            first_made = {k: first_made.get(k, vplan.started) for k in vplan.issues}
            self.visit(fplan, facility, vplan, previous, first_made)
            previous = vplan
        self.counts["facilities"] += 1

    def visit(self, fplan: FacilityPlan, facility: Facility, v: VisitPlan,
              previous: VisitPlan | None, first_made: dict[str, Any]) -> None:
        code, s = fplan.code, self.session
        vid = uid(code, v.n, "visit")
        pop = v.population
        s.add(Visit(
            id=vid, facility_id=facility.id, template_id=self.template_id, team_id=self.team_id,
            visit_type=v.visit_type, announced=v.announced, joint_with_ombudsman=v.joint,
            status="reported", planned_for=v.started - timedelta(days=14), started_at=v.started,
            ended_at=v.ended, declared_capacity=v.declared_capacity, population_total=pop["total"],
            population_remand=pop["remand"], population_women=pop["women"],
            population_minors=pop["minors"], population_foreigners=pop["foreigners"],
            population_source=v.population_source, summary=v.summary,
            created_by_id=self.coordinator, published_at=v.published))
        s.flush()
        rooms = {r.key: uid(code, v.n, "room", r.key) for r in v.rooms}
        s.add_all(RoomInspection(
            id=rooms[r.key], visit_id=vid, label=r.label, room_kind=r.kind, floor_area_m2=r.area,
            occupants=r.occupants, beds=r.beds, ceiling_height_m=r.ceiling,
            toilet_partitioned=r.toilet, natural_light=r.light, ventilation=r.ventilation,
            temperature_c=r.temperature, inspected_at=v.started + timedelta(hours=2),
            notes="SAMPLE measurement") for r in v.rooms)
        s.add_all(Answer(
            id=uid(code, v.n, "answer", a.code, a.source), visit_id=vid,
            question_id=self.questions[a.code], info_source=a.source, value=a.value,
            number_value=a.number, comment=a.comment,
            answered_at=v.started + timedelta(hours=3)) for a in v.answers)
        s.add_all(AccessIncident(
            id=uid(code, v.n, "incident", i), visit_id=vid, kind=x.kind, target=x.target,
            description=x.description, occurred_at=v.started, minutes_lost=x.minutes)
            for i, x in enumerate(v.incidents))
        s.flush()
        findings = self.findings(code, v, rooms)
        self.recommendations(code, facility, v, previous, findings, first_made)
        self.photos(fplan, facility, v, rooms, findings)
        self.counts.update(visits=1, rooms=len(v.rooms), answers=len(v.answers),
                           access_incidents=len(v.incidents))

    def findings(self, code: str, v: VisitPlan, rooms: dict[str, uuid.UUID]
                 ) -> dict[str, uuid.UUID]:
        out = {}
        crowded = most_crowded(v.rooms)
        for key, state in v.issues.items():
            issue = self.catalogue[key]
            room = crowded.key if key == "overcrowding" else next(
                (r.key for r in v.rooms if r.kind == LINKED_ROOM.get(key)), None)
            out[key] = uid(code, v.n, "finding", key)
            self.session.add(Finding(
                id=out[key], visit_id=uid(code, v.n, "visit"), theme=issue["theme"],
                severity=issue["severity"], title=issue["title"],
                description=issue["description"].format(**v.figures)
                + ("" if state == "bad" else " Some improvement since the last visit."),
                standard_refs=[{"instrument": i, "rule": r} for i, r in issue["refs"]],
                question_id=self.questions.get(issue["question"]),
                room_inspection_id=rooms.get(room) if room else None,
                is_systemic=key == "overcrowding", sources_count=2, status="confirmed",
                confirmed_by_id=self.coordinator, confirmed_at=v.ended + timedelta(days=7)))
        for key, status in v.reviews.items():
            if status == "implemented":
                issue = self.catalogue[key]
                self.session.add(Finding(
                    id=uid(code, v.n, "finding", "followed", key), visit_id=uid(code, v.n, "visit"),
                    theme=issue["theme"], severity="good_practice",
                    title="SAMPLE: Implemented since the last visit — "
                          + issue["title"].removeprefix("SAMPLE: "),
                    description=EVIDENCE[status], standard_refs=[], sources_count=1,
                    status="confirmed", confirmed_by_id=self.coordinator,
                    confirmed_at=v.ended + timedelta(days=7)))
        self.session.flush()
        self.counts["findings"] += len(out) + sum(s == "implemented" for s in v.reviews.values())
        return out

    def recommendations(self, code: str, facility: Facility, v: VisitPlan,
                        previous: VisitPlan | None, findings: dict[str, uuid.UUID],
                        first_made: dict[str, Any]) -> None:
        s, vid = self.session, uid(code, v.n, "visit")
        for key in v.issues:
            issue = self.catalogue[key]
            repeats = previous is not None and key in previous.issues
            text = issue["recommendation"]
            if repeats:
                text += f" Repeated: first made on {first_made[key]:%d.%m.%Y}."
            priority = issue["priority"]
            if repeats and previous is not None and priority == "high" and \
                    previous.started - first_made[key] > timedelta(days=400):
                priority = "urgent"  # open for well over a year
            s.add(Recommendation(
                id=uid(code, v.n, "rec", key), facility_id=facility.id, visit_id=vid,
                finding_id=findings[key], theme=issue["theme"], text=text,
                addressed_to=issue["addressed_to"] or facility.authority, priority=priority,
                due_date=v.ended + timedelta(days=DUE_DAYS[priority]),
                repeats_id=uid(code, v.n - 1, "rec", key) if repeats else None))
        s.flush()
        s.add_all(RecommendationReview(
            id=uid(code, v.n, "review", key), recommendation_id=uid(code, v.n - 1, "rec", key),
            visit_id=vid, status=status, evidence=EVIDENCE[status], reviewed_at=v.ended)
            for key, status in v.reviews.items())
        s.flush()
        self.counts.update(recommendations=len(v.issues), reviews=len(v.reviews))

    def photos(self, fplan: FacilityPlan, facility: Facility, v: VisitPlan,
               rooms: dict[str, uuid.UUID], findings: dict[str, uuid.UUID]) -> None:
        for p in v.photos:
            key = f"{fplan.code}|{v.n}|{p.key}"
            data = pictures.draw(key, [fplan.name, f"{v.started:%Y-%m-%d}", p.caption])
            pictures.file_photo(
                self.session, self.store, self.settings, photo_id=uid(key, "photo"),
                upload_id=uid(key, "upload"), data=data, uploader=self.monitor,
                captured_at=v.started + timedelta(hours=4), visit_id=uid(fplan.code, v.n, "visit"),
                finding_id=findings.get(p.issue) if p.issue else None,
                room_inspection_id=rooms.get(p.room) if p.room else None,
                location=WKTElement(f"POINT({fplan.lng} {fplan.lat})", srid=4326),
                caption=p.caption, consent=p.consent)
            self.counts["photos"] += 1
