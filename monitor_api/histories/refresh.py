"""Keep `visit_indicators` current: recompute the visits whose records changed, in the
transaction that changed them (just before it commits), and rebuild them all on demand."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from monitor_api.checklists.models import ChecklistQuestion
from monitor_api.facilities.models import Facility
from monitor_api.findings.models import Finding, Recommendation, RecommendationReview
from monitor_api.histories import metrics
from monitor_api.histories.models import LIVING_ROOMS, SpaceThreshold, VisitIndicators
from monitor_api.visits.models import AccessIncident, Answer, RoomInspection, Visit

DIRTY = "indicators_dirty"
CHUNK = 500
_CHILDREN = (Answer, RoomInspection, Finding, AccessIncident, Recommendation,
             RecommendationReview)


def mark(session: Session, visit_ids: Any) -> None:
    """Queue visits for recomputation when the session commits."""
    session.info.setdefault(DIRTY, set()).update(v for v in visit_ids if v is not None)


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _ctx: Any) -> None:
    """ORM writes (REST, CLI, seeds) mark their visits; the sync engine marks its own."""
    ids: set[Any] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Visit):
            ids.add(obj.id)
        elif isinstance(obj, _CHILDREN):
            ids.add(obj.visit_id)
            if isinstance(obj, RecommendationReview):
                ids.add(session.scalar(sa.select(Recommendation.visit_id).where(
                    Recommendation.id == obj.recommendation_id)))
        elif isinstance(obj, Facility):
            session.info.setdefault(DIRTY + "_facilities", set()).add(obj.id)
    if ids:
        mark(session, ids)


@event.listens_for(Session, "before_commit")
def _refresh_dirty(session: Session) -> None:
    facilities = session.info.pop(DIRTY + "_facilities", set())
    if facilities:
        mark(session, session.scalars(sa.select(Visit.id).where(
            Visit.facility_id.in_(facilities))))
    dirty = session.info.pop(DIRTY, set())
    if dirty:
        refresh(session, dirty)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(DIRTY, None)
    session.info.pop(DIRTY + "_facilities", None)


def follow_ups(session: Session, visit_ids: set[Any]) -> set[Any]:
    """Visits linked by follow-up: those whose recommendations were reviewed at these visits
    (their open counts move) and those that reviewed these visits' recommendations (their
    implementation rates move)."""
    r, rv = Recommendation.__table__, RecommendationReview.__table__
    ids = list(visit_ids)
    made_there = sa.select(r.c.visit_id).join(rv, rv.c.recommendation_id == r.c.id).where(
        rv.c.visit_id.in_(ids), r.c.visit_id.is_not(None))
    reviewed_there = sa.select(rv.c.visit_id).join(r, r.c.id == rv.c.recommendation_id).where(
        r.c.visit_id.in_(ids), rv.c.visit_id.is_not(None))
    return set(session.scalars(sa.union(made_there, reviewed_there)))


def refresh(session: Session, visit_ids: Any, reapply_thresholds: bool = False) -> int:
    """Recompute the indicators of these visits (their rows go when the visit is gone)."""
    ids = sorted({uuid.UUID(str(v)) for v in visit_ids})
    ids = sorted(set(ids) | follow_ups(session, set(ids)))
    done = 0
    for start in range(0, len(ids), CHUNK):
        done += _refresh_chunk(session, ids[start:start + CHUNK], reapply_thresholds)
    return done


def rebuild(session: Session, reapply_thresholds: bool = False,
            missing_only: bool = False) -> int:
    """Recompute every visit, or those without indicators (`monitor-api rebuild-indicators`)."""
    query = sa.select(Visit.id)
    if missing_only:
        query = query.where(Visit.id.not_in(sa.select(VisitIndicators.visit_id)))
    return refresh(session, list(session.scalars(query)), reapply_thresholds)


def _refresh_chunk(session: Session, ids: list[uuid.UUID], reapply: bool) -> int:
    v, f = Visit.__table__, Facility.__table__
    visits = session.execute(
        sa.select(v.c.id, v.c.facility_id, v.c.template_id, v.c.published_at,
                  v.c.population_total, v.c.declared_capacity, f.c.official_capacity,
                  sa.cast(sa.func.coalesce(v.c.started_at, v.c.planned_for), sa.Date)
                  .label("day"))
        .join(f, f.c.id == v.c.facility_id).where(v.c.id.in_(ids))).all()
    gone = set(ids) - {row.id for row in visits}
    if gone:
        session.execute(sa.delete(VisitIndicators).where(VisitIndicators.visit_id.in_(gone)))
    if not visits:
        return 0
    found = [row.id for row in visits]
    used = {} if reapply else dict(session.execute(sa.select(
        VisitIndicators.visit_id, VisitIndicators.space_thresholds).where(
        VisitIndicators.visit_id.in_(found))).all())
    thresholds = session.scalars(sa.select(SpaceThreshold).order_by(
        SpaceThreshold.source, SpaceThreshold.valid_from, SpaceThreshold.version)).all()
    rooms, answers, questions = _rooms(session, found), _answers(session, found), \
        _questions(session, {r.template_id for r in visits}, found)
    findings, incidents, recs = _findings(session, found), _incidents(session, found), \
        _recommendations(session, found)
    rows = []
    for row in visits:
        capacity, source, rate = metrics.occupancy(row.population_total, row.declared_capacity,
                                                  row.official_capacity)
        asked = {qid: q for qid, q in questions.items()
                 if q["template_id"] == row.template_id or qid in answers[row.id]["asked"]}
        rows.append({
            "visit_id": row.id, "facility_id": row.facility_id, "visit_date": row.day,
            "published_at": row.published_at, "population_total": row.population_total,
            "capacity": capacity, "capacity_source": source, "occupancy_rate": rate,
            **metrics.living_space(rooms[row.id], LIVING_ROOMS,
                                   _versions(thresholds, row.day, used.get(row.id))),
            "compliance": metrics.compliance(asked, answers[row.id]["values"]),
            "findings": findings[row.id], "access_incidents": incidents[row.id],
            "recommendations": recs[row.id], "computed_at": sa.func.now()})
    stmt = pg_insert(VisitIndicators).values(rows)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[VisitIndicators.visit_id],
        set_={c: stmt.excluded[c] for c in rows[0] if c != "visit_id"}))
    return len(rows)


def _versions(thresholds: list[SpaceThreshold], day: date | None,
              used: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Per source, the version this visit's result used before (a new version never
    rewrites past results silently), else the one in force on the visit's day."""
    out: dict[str, dict[str, Any]] = {}
    for t in thresholds:
        kept = (used or {}).get(t.source, {}).get("version")
        if kept is not None:
            take = t.version == kept
        else:
            take = day is None or t.valid_from <= day or t.source not in out
        if take:
            out[t.source] = {"version": t.version, "shared_m2": t.shared_m2,
                             "single_m2": t.single_m2, "title": t.title}
    return out


def _rooms(session: Session, ids: list[uuid.UUID]) -> dict[Any, list[metrics.Room]]:
    out: dict[Any, list[metrics.Room]] = defaultdict(list)
    t = RoomInspection.__table__
    for vid, kind, area, occ in session.execute(sa.select(
            t.c.visit_id, t.c.room_kind, t.c.floor_area_m2, t.c.occupants)
            .where(t.c.visit_id.in_(ids))):
        out[vid].append(metrics.Room(kind, area, occ))
    return out


def _answers(session: Session, ids: list[uuid.UUID]) -> dict[Any, dict[str, Any]]:
    out: dict[Any, dict[str, Any]] = defaultdict(lambda: {"asked": set(), "values": []})
    t = Answer.__table__
    for vid, qid, value, number in session.execute(sa.select(
            t.c.visit_id, t.c.question_id, t.c.value, t.c.number_value)
            .where(t.c.visit_id.in_(ids))):
        out[vid]["asked"].add(qid)
        out[vid]["values"].append((qid, value, number))
    return out


def _questions(session: Session, templates: set[Any],
               ids: list[uuid.UUID]) -> dict[Any, dict[str, Any]]:
    """Questions with a compliance rule: of the visits' templates, or answered there."""
    q, a = ChecklistQuestion.__table__, Answer.__table__
    answered = sa.select(a.c.question_id).where(a.c.visit_id.in_(ids))
    rows = session.execute(sa.select(
        q.c.id, q.c.template_id, q.c.section, q.c.standard_refs, q.c.compliance,
        q.c.answer_type, q.c.options).where(
        q.c.compliance.is_not(None),
        sa.or_(q.c.template_id.in_([t for t in templates if t]), q.c.id.in_(answered))))
    return {r.id: dict(r._mapping) for r in rows}


def _findings(session: Session, ids: list[uuid.UUID]) -> dict[Any, dict[str, Any]]:
    out: dict[Any, dict[str, Any]] = defaultdict(lambda: {
        "total": 0, "confirmed": 0, "by_theme": {}, "by_severity": {}})
    t = Finding.__table__
    for vid, theme, severity, status, n in session.execute(sa.select(
            t.c.visit_id, t.c.theme, t.c.severity, t.c.status, sa.func.count())
            .where(t.c.visit_id.in_(ids), t.c.status != "withdrawn")
            .group_by(t.c.visit_id, t.c.theme, t.c.severity, t.c.status)):
        acc = out[vid]
        acc["total"] += n
        acc["confirmed"] += n if status == "confirmed" else 0
        acc["by_theme"][theme] = acc["by_theme"].get(theme, 0) + n
        acc["by_severity"][severity] = acc["by_severity"].get(severity, 0) + n
    return out


def _incidents(session: Session, ids: list[uuid.UUID]) -> dict[Any, dict[str, Any]]:
    out: dict[Any, dict[str, Any]] = defaultdict(lambda: {
        "total": 0, "minutes_lost": 0, "by_kind": {}})
    t = AccessIncident.__table__
    for vid, kind, n, minutes in session.execute(sa.select(
            t.c.visit_id, t.c.kind, sa.func.count(),
            sa.func.coalesce(sa.func.sum(t.c.minutes_lost), 0))
            .where(t.c.visit_id.in_(ids)).group_by(t.c.visit_id, t.c.kind)):
        acc = out[vid]
        acc["total"] += n
        acc["minutes_lost"] += int(minutes)
        acc["by_kind"][kind] = {"count": n, "minutes_lost": int(minutes)}
    return out


# Length of the repeats chain ending at each recommendation (itself included), bounded.
_CHAIN = sa.text("""
with recursive chain(start_id, cur_id, depth) as (
    select r.id, r.repeats_id, 1 from recommendations r where r.visit_id = any(:ids)
    union all
    select c.start_id, p.repeats_id, c.depth + 1 from chain c
    join recommendations p on p.id = c.cur_id where c.depth < 100
)
select start_id, max(depth) from chain group by start_id
""")
# The latest review of each recommendation (and the visit it was made at).
LATEST_REVIEW = sa.text("""
select distinct on (rv.recommendation_id) rv.recommendation_id, rv.status, rv.visit_id
from recommendation_reviews rv where rv.recommendation_id = any(:recs)
order by rv.recommendation_id, rv.reviewed_at desc nulls last, rv.server_created_at desc
""")


def _recommendations(session: Session, ids: list[uuid.UUID]) -> dict[Any, dict[str, Any]]:
    """Per visit: recommendations made there (open, repeated, longest chain) and the
    implementation rate per authority of those reviewed there (their latest review at it)."""
    out: dict[Any, dict[str, Any]] = defaultdict(lambda: {
        "made": 0, "open": 0, "repeated": 0, "max_chain": 0, "reviewed": 0,
        "by_authority": {}})
    r, rv = Recommendation.__table__, RecommendationReview.__table__
    made = session.execute(sa.select(r.c.id, r.c.visit_id).where(r.c.visit_id.in_(ids))).all()
    chains = dict(session.execute(_CHAIN, {"ids": ids}).all()) if made else {}
    latest = {rid: status for rid, status, _v in session.execute(
        LATEST_REVIEW, {"recs": [m.id for m in made]})} if made else {}
    for rid, vid in made:
        acc, depth = out[vid], chains.get(rid, 1)
        acc["made"] += 1
        acc["open"] += latest.get(rid) not in metrics.CLOSED
        acc["repeated"] += depth > 1
        acc["max_chain"] = max(acc["max_chain"], depth)
    reviewed = session.execute(
        sa.select(rv.c.visit_id, r.c.addressed_to, rv.c.status)
        .join(r, r.c.id == rv.c.recommendation_id).where(rv.c.visit_id.in_(ids))
        .ext(distinct_on(rv.c.visit_id, rv.c.recommendation_id))
        .order_by(rv.c.visit_id, rv.c.recommendation_id, rv.c.reviewed_at.desc().nulls_last(),
                  rv.c.server_created_at.desc())).all()
    per_visit: dict[Any, list[tuple[str, str]]] = defaultdict(list)
    for vid, authority, status in reviewed:
        per_visit[vid].append((authority, status))
    for vid, pairs in per_visit.items():
        out[vid]["reviewed"] = len(pairs)
        out[vid]["by_authority"] = metrics.implementation(pairs)
    return out
