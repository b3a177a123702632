"""What a chunk of visits recorded, read for their indicators in few round trips (a push's
refresh runs inside the push's transaction: each round trip is paid by the phone waiting)."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from monitor_api.checklists.models import ChecklistQuestion
from monitor_api.findings.models import Finding, Recommendation, RecommendationReview
from monitor_api.histories import metrics
from monitor_api.visits.models import AccessIncident, Answer, RoomInspection
from sync.binds import UuidArray

# Every statement takes the chunk's ids as one array parameter (`= any(:ids)`): built once,
# its cache key and its plan do not grow with the number of ids.
IDS = sa.bindparam("ids", type_=UuidArray())


def among(column: Any) -> Any:
    return column == sa.any_(IDS)


def _answers() -> Any:
    t = Answer.__table__
    return sa.select(sa.cast(t.c.visit_id, sa.String), sa.cast(t.c.question_id, sa.String),
                     t.c.value, t.c.number_value).where(among(t.c.visit_id))


_ANSWERS = _answers()


def answers(session: Session, ids: list[uuid.UUID]) -> dict[str, dict[str, Any]]:
    """Per visit (by id as text: a str hashes in C, a UUID in Python, and a rebuild reads
    millions of answers): the questions answered and (question, value, number) per answer."""
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"asked": set(), "values": []})
    for vid, qid, value, number in session.execute(_ANSWERS, {"ids": ids}).all():
        acc = out[vid]
        acc["asked"].add(qid)
        acc["values"].append((qid, value, number))
    return out


def _questions() -> Any:
    q = ChecklistQuestion.__table__
    return sa.select(
        sa.cast(q.c.id, sa.String), q.c.template_id, q.c.section,
        sa.cast(q.c.standard_refs, sa.Text), q.c.compliance, q.c.answer_type,
        sa.cast(q.c.options, sa.Text)).where(
        q.c.compliance.is_not(None),
        sa.or_(q.c.template_id == sa.any_(sa.bindparam("templates", type_=UuidArray())),
               q.c.id == sa.any_(sa.bindparam("answered", type_=UuidArray()))))


_QUESTIONS = _questions()


@lru_cache(maxsize=8192)
def _prepared(section: str, refs: str | None, rule: str, answer_type: str,
              options: str | None) -> metrics.Question:
    """A question's rule and groups, parsed once per distinct content (the JSON columns are
    read as text: the cache key is what the row says, so an edited question is re-parsed)."""
    return metrics.prepare({"section": section, "compliance": rule, "answer_type": answer_type,
                            "standard_refs": json.loads(refs) if refs else None,
                            "options": json.loads(options) if options else None})


def questions(session: Session, templates: set[Any], answered: set[str]
              ) -> tuple[dict[str, tuple[Any, metrics.Question]], dict[str, str]]:
    """Questions with a compliance rule, of the visits' templates or answered there, by id
    as text: (template, prepared question); and each one's section."""
    rows = session.execute(_QUESTIONS, {"templates": [t for t in templates if t],
                                        "answered": list(answered)}).all()
    return ({qid: (template, _prepared(section, refs, rule, kind, options))
             for qid, template, section, refs, rule, kind, options in rows},
            {row[0]: row[2] for row in rows})


def _text(value: Any = None) -> Any:
    return sa.cast(sa.null() if value is None else value, sa.String)


def _records() -> Any:
    ri, fi, ai = RoomInspection.__table__, Finding.__table__, AccessIncident.__table__
    return sa.union_all(
        sa.select(_text(sa.literal("room")), ri.c.visit_id, _text(ri.c.room_kind), _text(),
                  _text(), sa.cast(ri.c.floor_area_m2, sa.Float), ri.c.occupants)
        .where(among(ri.c.visit_id)),
        sa.select(_text(sa.literal("finding")), fi.c.visit_id, _text(fi.c.theme),
                  _text(fi.c.severity), _text(fi.c.status), sa.cast(sa.null(), sa.Float),
                  sa.func.count()).where(among(fi.c.visit_id), fi.c.status != "withdrawn")
        .group_by(fi.c.visit_id, fi.c.theme, fi.c.severity, fi.c.status),
        sa.select(_text(sa.literal("incident")), ai.c.visit_id, _text(ai.c.kind), _text(),
                  _text(), sa.cast(sa.func.coalesce(sa.func.sum(ai.c.minutes_lost), 0),
                                   sa.Float), sa.func.count())
        .where(among(ai.c.visit_id)).group_by(ai.c.visit_id, ai.c.kind))


_RECORDS = _records()


def records(session: Session, ids: list[uuid.UUID]) -> tuple[dict[Any, list[metrics.Room]],
                                                             dict[Any, dict[str, Any]],
                                                             dict[Any, dict[str, Any]]]:
    """Per visit, in one query: its rooms, its findings counted (withdrawn ones left out)
    and its access incidents counted."""
    rows = session.execute(_RECORDS, {"ids": ids}).all()
    rooms: dict[Any, list[metrics.Room]] = defaultdict(list)
    findings: dict[Any, dict[str, Any]] = defaultdict(lambda: {
        "total": 0, "confirmed": 0, "by_theme": {}, "by_severity": {}})
    incidents: dict[Any, dict[str, Any]] = defaultdict(lambda: {
        "total": 0, "minutes_lost": 0, "by_kind": {}})
    for what, vid, a, b, c, x, n in rows:
        if what == "room":
            rooms[vid].append(metrics.Room(a, x, n))
        elif what == "finding":
            acc = findings[vid]
            acc["total"] += n
            acc["confirmed"] += n if c == "confirmed" else 0
            acc["by_theme"][a] = acc["by_theme"].get(a, 0) + n
            acc["by_severity"][b] = acc["by_severity"].get(b, 0) + n
        else:
            acc = incidents[vid]
            acc["total"] += n
            acc["minutes_lost"] += int(x)
            acc["by_kind"][a] = {"count": n, "minutes_lost": int(x)}
    return rooms, findings, incidents


# Recommendations made at the visits: the length of the repeats chain ending at each
# (itself included, bounded) and its latest review's status, in one query.
MADE = sa.text("""
with recursive made as (
    select id, visit_id, repeats_id from recommendations where visit_id = any(:ids)
), chain(start_id, cur_id, depth) as (
    select id, repeats_id, 1 from made
    union all
    select c.start_id, p.repeats_id, c.depth + 1 from chain c
    join recommendations p on p.id = c.cur_id where c.depth < 100
)
select m.id, m.visit_id, d.depth, latest.status
from made m
join (select start_id, max(depth) as depth from chain group by start_id) d on d.start_id = m.id
left join lateral (
    select rv.status from recommendation_reviews rv where rv.recommendation_id = m.id
    order by rv.reviewed_at desc nulls last, rv.server_created_at desc limit 1
) latest on true
""")


def _reviewed() -> Any:
    """The latest review at each visit of each recommendation reviewed there."""
    r, rv = Recommendation.__table__, RecommendationReview.__table__
    return (sa.select(rv.c.visit_id, r.c.addressed_to, rv.c.status)
            .join(r, r.c.id == rv.c.recommendation_id).where(among(rv.c.visit_id))
            .ext(distinct_on(rv.c.visit_id, rv.c.recommendation_id))
            .order_by(rv.c.visit_id, rv.c.recommendation_id,
                      rv.c.reviewed_at.desc().nulls_last(), rv.c.server_created_at.desc()))


_REVIEWED = _reviewed()


def recommendations(session: Session, ids: list[uuid.UUID]) -> dict[Any, dict[str, Any]]:
    """Per visit: recommendations made there (open, repeated, longest chain) and the
    implementation rate per authority of those reviewed there (their latest review at it)."""
    out: dict[Any, dict[str, Any]] = defaultdict(lambda: {
        "made": 0, "open": 0, "repeated": 0, "max_chain": 0, "reviewed": 0,
        "by_authority": {}})
    for _rid, vid, depth, latest in session.execute(MADE, {"ids": ids}):
        acc = out[vid]
        acc["made"] += 1
        acc["open"] += latest not in metrics.CLOSED
        acc["repeated"] += depth > 1
        acc["max_chain"] = max(acc["max_chain"], depth)
    reviewed = session.execute(_REVIEWED, {"ids": ids}).all()
    per_visit: dict[Any, list[tuple[str, str]]] = defaultdict(list)
    for vid, authority, status in reviewed:
        per_visit[vid].append((authority, status))
    for vid, pairs in per_visit.items():
        out[vid]["reviewed"] = len(pairs)
        out[vid]["by_authority"] = metrics.implementation(pairs)
    return out
