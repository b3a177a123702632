"""The visits, findings and recommendations datasets (rows of the published record)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from monitor_api.checklists.models import SECTIONS, ChecklistQuestion
from monitor_api.exports.columns import (
    Column,
    Context,
    F,
    Query,
    T,
    V,
    refs_text,
    standard_clause,
    suppressed,
    visit_columns,
    visit_order,
    visit_where,
    visits_from,
)
from monitor_api.facilities.models import AUTHORITIES
from monitor_api.findings.models import (
    FINDING_STATUSES,
    PRIORITIES,
    REVIEW_STATUSES,
    SEVERITIES,
    Finding,
    Recommendation,
    RecommendationReview,
)
from monitor_api.histories.access import visit_clause
from monitor_api.histories.metrics import CLOSED
from monitor_api.restricted.models import Allegation
from monitor_api.visits.models import POPULATION_SOURCES, VISIT_STATUSES, VISIT_TYPES

SUB_POPULATIONS = ("remand", "women", "minors", "foreigners")
NOT_REVIEWED = "not_reviewed"


def _day(column: Any) -> Any:
    return sa.cast(column, sa.Date)


def _counted(ctx: Context, name: str, value: Any, what: str, always: bool = False) -> list[Column]:
    """A count of people and its suppression flag (outside the caller's own visits, or
    always)."""
    shown, flag = suppressed(value, None if always else ctx.insider(V.c.team_id))
    return [Column(name, "integer", f"{what} Withheld (null) when from 1 to 4.", shown,
                   unit="persons"),
            Column(f"{name}_suppressed", "boolean", f"Whether {name} was withheld.", flag)]


def visits(ctx: Context) -> Query:
    """One row per visit."""
    cols = [*visit_columns(ctx),
            Column("visit_type", "string", "Kind of visit.", V.c.visit_type, enum=VISIT_TYPES),
            Column("announced", "boolean", "Announced to the administration in advance.",
                   V.c.announced),
            Column("joint_with_ombudsman", "boolean", "Made jointly with the Ombudsman.",
                   V.c.joint_with_ombudsman),
            Column("status", "string", "Workflow status (reported = published).", V.c.status,
                   enum=VISIT_STATUSES),
            Column("started_on", "date", "Day the visit started.", _day(V.c.started_at)),
            Column("ended_on", "date", "Day the visit ended.", _day(V.c.ended_at)),
            Column("template_code", "string", "Checklist template used.", T.c.code),
            Column("template_version", "integer", "Version of that template.", T.c.version),
            Column("official_capacity", "integer", "Official capacity of the facility.",
                   F.c.official_capacity, unit="persons"),
            Column("declared_capacity", "integer", "Capacity the administration declared at "
                   "the visit.", V.c.declared_capacity, unit="persons"),
            Column("population_total", "integer", "People held on the day of the visit.",
                   V.c.population_total, unit="persons")]
    for group in SUB_POPULATIONS:
        cols += _counted(ctx, f"population_{group}", V.c[f"population_{group}"],
                         f"People held on the day: {group}.")
    cols.append(Column("population_source", "string", "Where the population figures come "
                       "from.", V.c.population_source, enum=POPULATION_SOURCES))
    if ctx.principal.role != "partner":  # partners get nothing about allegations
        al = Allegation.__table__
        count = (sa.select(sa.func.count()).select_from(al)
                 .where(al.c.visit_id == V.c.id, al.c.consent_publication).scalar_subquery())
        cols += _counted(ctx, "allegations_published", count, "Allegations of ill-treatment "
                         "recorded at the visit whose author consented to publication; no "
                         "other allegation is counted or exported.", always=True)
    return Query(cols, visits_from().outerjoin(T, T.c.id == V.c.template_id),
                 visit_where(ctx), visit_order(), location=F.c.location)


def _finding_visible(ctx: Context, fi: Any) -> Any:
    """Confirmed findings; drafts too for those who work on the finding's visit."""
    at = V.alias("finding_visit")
    own = sa.select(at.c.id).where(at.c.id == fi.c.visit_id, ctx.insider(at.c.team_id))
    return sa.or_(fi.c.status == "confirmed",
                  sa.and_(fi.c.status == "draft", own.exists()))


def findings(ctx: Context) -> Query:
    """One row per finding: confirmed ones, and drafts for the visit's own team and admins
    (withdrawn ones never)."""
    fi, q = Finding.__table__, ChecklistQuestion.__table__
    f = ctx.filters
    cols = [Column("finding_ref", "string", "Pseudonym of the finding (recommendations refer "
                   "to it).", fi.c.id, ref="finding"),
            *visit_columns(ctx)[:2],
            Column("room_ref", "string", "Pseudonym of the room inspection it concerns "
                   "(room_inspections.room_ref).", fi.c.room_inspection_id, ref="room"),
            *visit_columns(ctx)[2:],
            Column("theme", "string", "Checklist section the finding concerns.", fi.c.theme,
                   enum=SECTIONS),
            Column("severity", "string", "Severity.", fi.c.severity, enum=SEVERITIES),
            Column("status", "string", "confirmed, or draft (only for those who work on "
                   "the visit).", fi.c.status, enum=FINDING_STATUSES),
            Column("title", "string", "The finding's title.", fi.c.title, text=True),
            Column("standard_refs", "string", "Standards cited, 'instrument:rule' separated "
                   "by '; ' (e.g. mandela:44).", refs_text(fi.c.standard_refs)),
            Column("question_code", "string", "Checklist question it derives from.", q.c.code),
            Column("is_systemic", "boolean", "A systemic problem (beyond this facility).",
                   fi.c.is_systemic),
            Column("sources_count", "integer", "Independent sources that support it.",
                   fi.c.sources_count),
            Column("confirmed_on", "date", "Day a coordinator confirmed it.",
                   _day(fi.c.confirmed_at))]
    where = [*visit_where(ctx), _finding_visible(ctx, fi)]
    if f.theme:
        where.append(fi.c.theme.in_(f.theme))
    if f.severity:
        where.append(fi.c.severity.in_(f.severity))
    if f.standard:
        where.append(standard_clause(fi.c.standard_refs, f.standard))
    return Query(cols, visits_from().join(fi, fi.c.visit_id == V.c.id)
                 .outerjoin(q, q.c.id == fi.c.question_id), where,
                 [*visit_order(), fi.c.id], location=F.c.location)


def recommendations(ctx: Context) -> Query:
    """One row per recommendation made at a visible visit, with its repeats chain and the
    status history of its reviews (made at visible visits, or at none)."""
    r, rv, fi = Recommendation.__table__, RecommendationReview.__table__, Finding.__table__
    f = ctx.filters
    seen = (sa.select(r.c.id, r.c.repeats_id).select_from(r.join(V, V.c.id == r.c.visit_id))
            .where(visit_clause(ctx.principal, V)).cte("seen_recs"))
    step = sa.select(seen.c.id.label("start"), seen.c.repeats_id.label("cur"),
                     sa.literal(1).label("depth")).cte("chain", recursive=True)
    step = step.union_all(sa.select(step.c.start, seen.c.repeats_id, step.c.depth + 1)
                          .join(seen, seen.c.id == step.c.cur).where(step.c.depth < 100))
    chains = (sa.select(step.c.start, sa.func.max(step.c.depth).label("n"))
              .group_by(step.c.start).subquery("chains"))
    rev = _reviews(ctx, r, rv)
    repeated, finding = seen.alias("repeated"), fi.alias("finding")
    latest_open = sa.or_(rev.c.latest.is_(None), rev.c.latest.not_in(CLOSED))
    cols = [Column("recommendation_ref", "string", "Pseudonym of the recommendation.", r.c.id,
                   ref="recommendation"),
            Column("finding_ref", "string", "The finding it answers (findings.finding_ref).",
                   finding.c.id, ref="finding"),
            Column("repeats_ref", "string", "The earlier recommendation it repeats.",
                   repeated.c.id, ref="recommendation"),
            *visit_columns(ctx),
            Column("theme", "string", "Checklist section.", r.c.theme, enum=SECTIONS),
            Column("text", "string", "The recommendation.", r.c.text, text=True),
            Column("addressed_to", "string", "Authority it is addressed to.", r.c.addressed_to,
                   enum=AUTHORITIES),
            Column("priority", "string", "Priority.", r.c.priority, enum=PRIORITIES),
            Column("due_date", "date", "Day it is due.", _day(r.c.due_date)),
            Column("chain_length", "integer", "Visits at which it was made, counting the "
                   "recommendations it repeats (1: not a repeat).",
                   sa.func.coalesce(chains.c.n, 1)),
            Column("reviews", "integer", "Follow-up reviews.", sa.func.coalesce(rev.c.n, 0)),
            Column("latest_status", "string", "Status at the latest review (empty: never "
                   "reviewed).", rev.c.latest, enum=REVIEW_STATUSES),
            Column("latest_reviewed_on", "date", "Day of the latest review.", rev.c.latest_on),
            Column("open", "boolean", "Not implemented and still relevant.", latest_open),
            Column("status_history", "string", "Every review, oldest first: 'YYYY-MM-DD "
                   "status' separated by '; ' (review evidence is never exported).",
                   rev.c.history)]
    where = visit_where(ctx)
    if f.theme:
        where.append(r.c.theme.in_(f.theme))
    if f.recommendation_status:
        wanted = [s for s in f.recommendation_status if s != NOT_REVIEWED]
        where.append(sa.or_(rev.c.latest.in_(wanted),
                            *([rev.c.latest.is_(None)] if NOT_REVIEWED in
                              f.recommendation_status else [])))
    joins = (visits_from().join(r, r.c.visit_id == V.c.id)
             .outerjoin(chains, chains.c.start == r.c.id)
             .outerjoin(repeated, repeated.c.id == r.c.repeats_id)
             .outerjoin(finding, sa.and_(finding.c.id == r.c.finding_id,
                                         _finding_visible(ctx, finding)))
             .outerjoin(rev, sa.true()))
    return Query(cols, joins, where, [*visit_order(), r.c.id], location=F.c.location)


def _reviews(ctx: Context, r: Any, rv: Any) -> Any:
    """LATERAL: the count, history text and latest status of one recommendation's reviews."""
    at = V.alias("review_visit")
    oldest_first = (rv.c.reviewed_at.asc().nulls_first(), rv.c.server_created_at.asc())
    newest_first = (rv.c.reviewed_at.desc().nulls_last(), rv.c.server_created_at.desc())
    when = sa.func.coalesce(sa.cast(_day(rv.c.reviewed_at), sa.Text), "undated")
    return (sa.select(
        sa.func.count().label("n"),
        sa.func.string_agg(when + " " + rv.c.status,
                           aggregate_order_by(sa.literal_column("'; '"), *oldest_first))
        .label("history"),
        sa.func.array_agg(aggregate_order_by(rv.c.status, *newest_first))[1].label("latest"),
        sa.func.array_agg(aggregate_order_by(_day(rv.c.reviewed_at), *newest_first))[1]
        .label("latest_on"))
        .select_from(rv.outerjoin(at, at.c.id == rv.c.visit_id))
        .where(rv.c.recommendation_id == r.c.id,
               sa.or_(rv.c.visit_id.is_(None), visit_clause(ctx.principal, at)))
        .lateral("reviews"))



