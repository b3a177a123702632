"""Keep `visit_indicators` current: just before a transaction that changed visits' records
commits, mark those visits for recomputation after it (`due.py`) — or, in a process with no
background refresher (a command), recompute them in the transaction; recompute visits
(`refresh`), and rebuild them all on demand."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date
from types import SimpleNamespace
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from monitor_api.facilities.models import Facility
from monitor_api.findings.models import Finding, Recommendation, RecommendationReview
from monitor_api.histories import due, metrics, render, sources
from monitor_api.histories.models import LIVING_ROOMS, SpaceThreshold, VisitIndicators
from monitor_api.visits.models import AccessIncident, Answer, RoomInspection, Visit

DIRTY = "indicators_dirty"
# Set when the transaction wrote (or deleted) a recommendation or a review: only then do
# follow-up indicators move (see `refresh(..., reuse_follow_up=...)`).
FOLLOWED = "indicators_followed"
CHUNK = 500
_CHILDREN = (Answer, RoomInspection, Finding, AccessIncident, Recommendation,
             RecommendationReview)


def mark(session: Session, visit_ids: Any) -> None:
    """Queue visits to be marked due when the session commits."""
    session.info.setdefault(DIRTY, set()).update(v for v in visit_ids if v is not None)


# The synced tables whose records the indicators read (photos, interviews and allegations
# are not counted in any indicator: a push of those recomputes nothing).
READ_TABLES = frozenset(("visits", "answers", "room_inspections", "findings", "access_incidents",
                         "recommendations", "recommendation_reviews"))


def pushed(session: Session, roots: dict[str, set[Any]]) -> None:
    """The sync engine's hook: a push wrote records of these visits, per table."""
    if roots.keys() & {"recommendations", "recommendation_reviews"}:
        session.info[FOLLOWED] = True
    mark(session, set().union(*(ids for table, ids in roots.items() if table in READ_TABLES)))


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _ctx: Any) -> None:
    """ORM writes (REST, CLI, seeds) mark their visits; the sync engine marks its own."""
    ids: set[Any] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Visit):
            ids.add(obj.id)
        elif isinstance(obj, _CHILDREN):
            ids.add(obj.visit_id)
            if isinstance(obj, Recommendation | RecommendationReview):
                session.info[FOLLOWED] = True
            if isinstance(obj, RecommendationReview):
                ids.add(session.scalar(sa.select(Recommendation.visit_id).where(
                    Recommendation.id == obj.recommendation_id)))
        elif isinstance(obj, Facility):
            session.info.setdefault(DIRTY + "_facilities", set()).add(obj.id)
    if ids:
        mark(session, ids)


@event.listens_for(Session, "before_commit")
def _refresh_dirty(session: Session) -> None:
    # before_commit runs before the commit's own flush: flush now, so that objects added
    # since the last flush are marked (and written) before the refresh reads them.
    session.flush()
    facilities = session.info.pop(DIRTY + "_facilities", set())
    if facilities:
        mark(session, session.scalars(sa.select(Visit.id).where(
            Visit.facility_id.in_(facilities))))
    dirty = session.info.pop(DIRTY, set())
    followed = session.info.pop(FOLLOWED, False)
    if not dirty:
        return
    if due.deferred(session):  # a process with a background refresher: after the commit
        due.mark(session, dirty, followed)
    else:  # a command, a test's connection: now, in this transaction
        refresh(session, dirty, reuse_follow_up=not (followed or stamped_here(session)))


def stamped_here(session: Session) -> bool:
    """Whether this transaction inserted or updated a recommendation or a review, by any
    path (every write stamps change_xid; deletes are flagged by the ORM and sync hooks)."""
    return bool(session.scalar(due.STAMPED_HERE))


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(DIRTY, None)
    session.info.pop(DIRTY + "_facilities", None)
    session.info.pop(FOLLOWED, None)


def follow_ups(session: Session, visit_ids: set[Any]) -> set[Any]:
    """Visits linked by follow-up through a recommendation or review this transaction wrote
    (every write stamps change_xid): those whose recommendations were reviewed at these
    visits (their open counts move) and those that reviewed these visits' recommendations
    (their implementation rates move). A push of answers, rooms or findings moves neither."""
    return set(session.scalars(due.FOLLOW_UPS, {"ids": list(visit_ids)}))


def refresh(session: Session, visit_ids: Any, reapply_thresholds: bool = False,
            linked: bool = True, reuse_follow_up: bool = False) -> int:
    """Recompute the indicators of these visits and, with `linked`, of the visits linked to
    them by follow-up (their rows go when the visit is gone).

    `reuse_follow_up`: the caller knows no recommendation and no review changed since the
    visits' rows were computed (`due.py` marks say so), so the recommendation indicators of
    visits with a current row are what that row holds: they are kept, not read again (a
    push of answers, rooms or findings), and no other visit is linked."""
    ids = {uuid.UUID(str(v)) for v in visit_ids}
    if linked and ids and not reuse_follow_up:
        ids |= follow_ups(session, ids)
    ordered = sorted(ids)
    done = 0
    for start in range(0, len(ordered), CHUNK):
        done += _refresh_chunk(session, ordered[start:start + CHUNK], reapply_thresholds,
                               reuse_follow_up)
    return done


def rebuild(session: Session, reapply_thresholds: bool = False,
            missing_only: bool = False) -> int:
    """Recompute every visit, or those without (current) indicators (`monitor-api
    rebuild-indicators`; `monitor-api migrate` runs it with `missing_only`)."""
    query = sa.select(Visit.id)
    if missing_only:
        query = query.where(Visit.id.not_in(sa.select(VisitIndicators.visit_id).where(
            VisitIndicators.rendered.is_not(None))))
    return refresh(session, list(session.scalars(query)), reapply_thresholds, linked=False)


def _visits() -> Any:
    v, f, i = Visit.__table__, Facility.__table__, VisitIndicators.__table__
    return (sa.select(v.c.id, v.c.facility_id, v.c.template_id, v.c.published_at,
                      v.c.population_total, v.c.declared_capacity, f.c.official_capacity,
                      f.c.facility_type, f.c.holds,
                      sa.cast(sa.func.coalesce(v.c.started_at, v.c.planned_for), sa.Date)
                      .label("day"), i.c.space_thresholds.label("used"),
                      sa.case((i.c.rendered.is_not(None), i.c.recommendations))
                      .label("kept_recommendations"))
            .join(f, f.c.id == v.c.facility_id).outerjoin(i, i.c.visit_id == v.c.id)
            .where(sources.among(v.c.id)))


_VISITS = _visits()


def _refresh_chunk(session: Session, ids: list[uuid.UUID], reapply: bool,
                   reuse_follow_up: bool = False) -> int:
    visits = session.execute(_VISITS, {"ids": ids}).all()
    gone = set(ids) - {row.id for row in visits}
    if gone:
        session.execute(sa.delete(VisitIndicators).where(VisitIndicators.visit_id.in_(gone)))
    if not visits:
        return 0
    found = [row.id for row in visits]
    thresholds = session.scalars(sa.select(SpaceThreshold).order_by(
        SpaceThreshold.source, SpaceThreshold.valid_from, SpaceThreshold.version)).all()
    answers = sources.answers(session, found)
    questions, sections = sources.questions(session, {r.template_id for r in visits},
                                            set().union(*(a["asked"] for a in answers.values())))
    rooms, findings, incidents = sources.records(session, found)
    kept = ({row.id: row.kept_recommendations for row in visits
             if row.kept_recommendations is not None} if reuse_follow_up else {})
    unread = [vid for vid in found if vid not in kept]
    recs = sources.recommendations(session, unread) if unread else {}
    of_template: dict[Any, list[tuple[str, str]]] = defaultdict(list)
    for qid, (template_id, _q) in questions.items():
        of_template[template_id].append((qid, sections[qid]))
    rows = []
    for row in visits:
        capacity, source, rate = metrics.occupancy(row.population_total, row.declared_capacity,
                                                  row.official_capacity)
        given = answers.get(str(row.id)) or {"asked": set(), "values": []}
        asked = {qid for qid, section in of_template.get(row.template_id, ())
                 if metrics.applies(section, row.facility_type, row.holds)}
        asked |= given["asked"] & questions.keys()
        ind = SimpleNamespace(
            visit_id=row.id, facility_id=row.facility_id, visit_date=row.day,
            published_at=row.published_at, population_total=row.population_total,
            capacity=capacity, capacity_source=source, occupancy_rate=rate,
            **metrics.living_space(rooms[row.id], LIVING_ROOMS,
                                   _versions(thresholds, row.day,
                                             None if reapply else row.used)),
            compliance=metrics.compliance({q: questions[q][1] for q in asked},
                                          given["values"]),
            findings=findings[row.id], access_incidents=incidents[row.id],
            recommendations=kept[row.id] if row.id in kept else recs[row.id])
        rendered, scalars = render.documents(ind)
        rows.append({**vars(ind), "scalars": scalars, "rendered": rendered})
    # One statement, one parameter: the rows as one JSON array (orjson writes the UUIDs,
    # dates and times as PostgreSQL reads them), spread into columns by PostgreSQL.
    session.execute(_UPSERT, {"rows": orjson.dumps(rows).decode()})
    return len(rows)


def _upsert() -> Any:
    columns = [c.name for c in VisitIndicators.__table__.columns if c.name != "computed_at"]
    names = ", ".join(columns)  # the model's own column names, no input
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "visit_id")
    sql = (f"insert into visit_indicators ({names}, computed_at) "  # noqa: S608
           f"select {names}, now() from jsonb_populate_recordset(null::visit_indicators, "
           f"cast(:rows as jsonb)) on conflict (visit_id) do update set {updates}, "
           f"computed_at = now()")
    return sa.text(sql)


_UPSERT = _upsert()


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
