"""The answers, room_inspections and indicators datasets (what was measured and computed)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from monitor_api.checklists.compliance import ComplianceError, _codes, parse
from monitor_api.checklists.models import ANSWER_TYPES, INFO_SOURCES, SECTIONS, ChecklistQuestion
from monitor_api.exports.columns import (
    SUPPRESS_BELOW,
    Column,
    Context,
    F,
    Query,
    T,
    V,
    refs_text,
    standard_clause,
    visit_columns,
    visit_order,
    visit_where,
    visits_from,
)
from monitor_api.facilities.models import AUTHORITIES
from monitor_api.findings.models import SEVERITIES
from monitor_api.histories.models import LIVING_ROOMS, THRESHOLD_SOURCES, VisitIndicators
from monitor_api.visits.models import ADEQUACY, INCIDENT_KINDS, ROOM_KINDS, Answer, RoomInspection

# Labels of the yes/no/partial answers (choice options carry their own, per question).
YES_NO_LABELS: dict[str, dict[str, str]] = json.loads(
    resources.files("monitor_api.exports").joinpath("data/answer_labels.json").read_text("utf-8"))
_SMALL_TEXT = rf"^\s*[1-{SUPPRESS_BELOW - 1}](\.0+)?\s*$"


def answers(ctx: Context) -> Query:
    """One row per answer: question (text in `lang`), value with its label, compliance.
    Never the comment; never the value of a free-text question (it may name people)."""
    a, q = Answer.__table__, ChecklistQuestion.__table__
    f, lang = ctx.filters, ctx.filters.lang
    text = q.c.text_en if lang == "en" else sa.func.coalesce(q.c[f"text_{lang}"], q.c.text_en)
    withheld = q.c.answer_type == "text"
    small = sa.and_(q.c.unit == "persons", sa.or_(
        sa.and_(a.c.number_value >= 1, a.c.number_value < SUPPRESS_BELOW),
        sa.and_(a.c.number_value.is_(None), a.c.value.op("~")(_SMALL_TEXT))))
    small = sa.and_(small, sa.not_(ctx.insider(V.c.team_id)))
    hidden = sa.or_(withheld, small)
    cols = [*visit_columns(ctx),
            Column("template_code", "string", "Checklist template of the question.", T.c.code),
            Column("template_version", "integer", "Its version.", T.c.version),
            Column("question_code", "string", "Code of the question (stable across versions).",
                   q.c.code),
            Column("section", "string", "Checklist section.", q.c.section, enum=SECTIONS),
            Column("question_text", "string", f"The question ({lang}, else English).", text,
                   text=True),
            Column("standard_refs", "string", "Standards the question checks, "
                   "'instrument:rule' separated by '; '.", refs_text(q.c.standard_refs)),
            Column("answer_type", "string", "Kind of answer.", q.c.answer_type,
                   enum=ANSWER_TYPES),
            Column("unit", "string", "Unit of a count or measure.", q.c.unit),
            Column("compliance_rule", "string", "What a compliant answer is (e.g. 'yes', "
                   "'>= 4', 'one_of:a|b').", q.c.compliance),
            Column("info_source", "string", "Where the answer comes from.", a.c.info_source,
                   enum=INFO_SOURCES),
            Column("value", "string", "The answer as recorded (option codes for choices).",
                   sa.case((hidden, sa.null()), else_=a.c.value), text=True),
            Column("number_value", "number", "The number of a count or measure (see unit).",
                   sa.case((hidden, sa.null()), else_=a.c.number_value)),
            Column("answered_on", "date", "Day of the answer.", sa.cast(a.c.answered_at,
                                                                        sa.Date)),
            Column("value_withheld", "boolean", "A free-text answer: never exported.",
                   withheld),
            Column("suppressed", "boolean", "A count of people from 1 to 4: withheld.", small),
            Column("value_label", "string", f"The answer's label ({lang}).", derived=True,
                   text=True),
            Column("compliant", "boolean", "Whether the answer meets the rule (empty: no rule "
                   "or the answer does not say).", derived=True)]
    where = visit_where(ctx)
    if f.theme:
        where.append(q.c.section.in_(f.theme))
    if f.standard:
        where.append(standard_clause(q.c.standard_refs, f.standard))
    helpers = [q.c.id, q.c.answer_type, q.c.compliance, q.c.options, q.c.option_labels,
               a.c.value, a.c.number_value, hidden]
    return Query(cols, visits_from().join(a, a.c.visit_id == V.c.id)
                 .join(q, q.c.id == a.c.question_id).outerjoin(T, T.c.id == q.c.template_id),
                 where, [*visit_order(), q.c.position, q.c.code, a.c.info_source, a.c.id],
                 helpers=helpers, derive=_AnswerDerive(lang), location=F.c.location)


class _AnswerDerive:
    """Fills value_label and compliant from the raw answer (checklists/compliance.py)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.rules: dict[Any, Any] = {}

    def __call__(self, out: list[Any], h: Sequence[Any]) -> None:
        qid, answer_type, expr, options, labels, value, number, hidden = h
        if qid not in self.rules:
            try:
                self.rules[qid] = parse(expr, answer_type, options)
            except ComplianceError:  # a rule that no longer parses measures nothing
                self.rules[qid] = None
        rule = self.rules[qid]
        out[-1] = rule.evaluate(value, number) if rule is not None else None
        out[-2] = None if hidden else self.label(answer_type, value, labels or {})

    def label(self, answer_type: str, value: Any, labels: dict[str, Any]) -> str | None:
        if value is None:
            return None
        if answer_type == "yes_no_partial":
            found = YES_NO_LABELS.get(str(value).strip().lower())
            return found[self.lang] if found else None
        if answer_type == "choice":
            return self._one(str(value).strip(), labels)
        if answer_type == "multi_choice":
            return "; ".join(self._one(code, labels) for code in sorted(_codes(value))) or None
        return None

    def _one(self, code: str, labels: dict[str, Any]) -> str:
        names = labels.get(code) or {}
        return names.get(self.lang) or names.get("en") or code


def room_inspections(ctx: Context) -> Query:
    """One row per measured room: m² per person and the thresholds it meets (the versions
    the visit's indicators used). Never the room's notes."""
    ri, i = RoomInspection.__table__, VisitIndicators.__table__
    living = sa.and_(ri.c.room_kind.in_(LIVING_ROOMS), ri.c.floor_area_m2 > 0,
                     ri.c.occupants > 0)
    per_person = ri.c.floor_area_m2 / ri.c.occupants
    cols = [Column("room_ref", "string", "Pseudonym of the room inspection "
                   "(findings.room_ref).", ri.c.id, ref="room"),
            *visit_columns(ctx),
            Column("label", "string", "The room's label (e.g. 'Cell 12').", ri.c.label,
                   text=True),
            Column("room_kind", "string", "Kind of room.", ri.c.room_kind, enum=ROOM_KINDS),
            Column("floor_area_m2", "number", "Floor area without the sanitary annex.",
                   ri.c.floor_area_m2, unit="m2"),
            Column("occupants", "integer", "People held in the room.", ri.c.occupants,
                   unit="persons"),
            Column("beds", "integer", "Beds.", ri.c.beds),
            Column("ceiling_height_m", "number", "Ceiling height.", ri.c.ceiling_height_m,
                   unit="m"),
            Column("toilet_partitioned", "boolean", "Toilet partitioned off.",
                   ri.c.toilet_partitioned),
            Column("natural_light", "string", "Natural light.", ri.c.natural_light,
                   enum=ADEQUACY),
            Column("ventilation", "string", "Ventilation.", ri.c.ventilation, enum=ADEQUACY),
            Column("temperature_c", "number", "Temperature measured.", ri.c.temperature_c,
                   unit="celsius"),
            Column("inspected_on", "date", "Day of the inspection.",
                   sa.cast(ri.c.inspected_at, sa.Date)),
            Column("living_space", "boolean", "Counts towards living space (an occupied cell, "
                   "dormitory or disciplinary cell with a floor area).", living),
            Column("m2_per_person", "number", "Floor area per occupant.", sa.case(
                (living, sa.cast(sa.func.round(sa.cast(per_person, sa.Numeric), 4),
                                 sa.Float)))),
            Column("single_occupancy", "boolean", "A single cell (one occupant): single-cell "
                   "thresholds apply.", sa.case((living, ri.c.occupants == 1)))]
    for source in THRESHOLD_SOURCES:
        t = i.c.space_thresholds[source]
        need = sa.case((ri.c.occupants == 1, t["single_m2"].astext),
                       else_=t["shared_m2"].astext).cast(sa.Float)
        cols += [Column(f"{source}_threshold_m2", "number", f"The {source} threshold that "
                        "applies to this room.", sa.case((living, need)), unit="m2"),
                 Column(f"meets_{source}", "boolean", f"m2_per_person meets the {source} "
                        "threshold.", sa.case((living, per_person >= need))),
                 Column(f"{source}_version", "integer", f"Version of the {source} threshold "
                        "the visit's results use.", t["version"].astext.cast(sa.Integer))]
    return Query(cols, visits_from().join(ri, ri.c.visit_id == V.c.id)
                 .outerjoin(i, i.c.visit_id == V.c.id), visit_where(ctx),
                 [*visit_order(), ri.c.label, ri.c.id], location=F.c.location)


def indicators(ctx: Context) -> Query:
    """One row per visit: the condition-history indicators (histories' definitions)."""
    i = VisitIndicators.__table__

    def path(column: Any, *keys: str, kind: Any = sa.Float, zero: bool = False) -> Any:
        value = (column[keys] if len(keys) > 1 else column[keys[0]]).astext.cast(kind)
        return sa.func.coalesce(value, 0) if zero else value

    cols = [*visit_columns(ctx),
            Column("population_total", "integer", "People held.", i.c.population_total,
                   unit="persons"),
            Column("capacity", "integer", "Capacity: declared at the visit, else official.",
                   i.c.capacity, unit="persons"),
            Column("capacity_source", "string", "Which capacity.", i.c.capacity_source,
                   enum=("declared", "official")),
            Column("occupancy_rate", "number", "population_total / capacity.",
                   i.c.occupancy_rate, unit="ratio"),
            Column("rooms_measured", "integer", "Occupied living rooms measured.",
                   i.c.rooms_measured),
            Column("space_min_m2", "number", "Lowest m² per person.", i.c.space_min_m2,
                   unit="m2"),
            Column("space_median_m2", "number", "Median m² per person.", i.c.space_median_m2,
                   unit="m2")]
    for source in THRESHOLD_SOURCES:
        cols += [Column(f"rooms_below_{source}", "integer", f"Rooms below the {source} "
                        "threshold.", path(i.c.space_thresholds, source, "rooms_below",
                                           kind=sa.Integer)),
                 Column(f"{source}_version", "integer", f"Version of the {source} "
                        "threshold used.", path(i.c.space_thresholds, source, "version",
                                                kind=sa.Integer))]
    for key in ("asked", "answered", "compliant"):
        cols.append(Column(f"compliance_{key}", "integer", f"Questions with a rule {key}.",
                           path(i.c.compliance, "overall", key, kind=sa.Integer)))
    cols.append(Column("compliance_rate", "number", "Share of answered questions that "
                       "comply (every source must comply).",
                       path(i.c.compliance, "overall", "rate"), unit="share"))
    cols += [Column(f"compliance_rate_{s}", "number", f"Compliance rate, section {s}.",
                    path(i.c.compliance, "sections", s, "rate"), unit="share")
             for s in SECTIONS]
    cols.append(Column("compliance_by_standard", "string", "Per standard: 'instrument:rule "
                       "compliant/answered' separated by '; '.", _by_standard(i)))
    cols += [Column("findings_total", "integer", "Findings (withdrawn ones left out).",
                    path(i.c.findings, "total", kind=sa.Integer)),
             Column("findings_confirmed", "integer", "Confirmed findings.",
                    path(i.c.findings, "confirmed", kind=sa.Integer))]
    cols += [Column(f"findings_{s}", "integer", f"Findings of severity {s}.",
                    path(i.c.findings, "by_severity", s, kind=sa.Integer, zero=True))
             for s in SEVERITIES]
    cols += [Column(f"findings_theme_{s}", "integer", f"Findings on {s}.",
                    path(i.c.findings, "by_theme", s, kind=sa.Integer, zero=True))
             for s in SECTIONS]
    cols += [Column("access_incidents_total", "integer", "Access refused, delayed or "
                    "restricted.", path(i.c.access_incidents, "total", kind=sa.Integer)),
             Column("access_minutes_lost", "integer", "Minutes lost to them.",
                    path(i.c.access_incidents, "minutes_lost", kind=sa.Integer),
                    unit="minutes")]
    cols += [Column(f"access_{k}", "integer", f"Access incidents: {k}.",
                    path(i.c.access_incidents, "by_kind", k, "count", kind=sa.Integer,
                         zero=True)) for k in INCIDENT_KINDS]
    cols += [Column(f"recommendations_{k}", "integer", f"Recommendations made at the visit: "
                    f"{k}.", path(i.c.recommendations, k, kind=sa.Integer))
             for k in ("made", "open", "repeated", "max_chain", "reviewed")]
    cols += [Column(f"implementation_rate_{a}", "number", f"Recommendations to {a} reviewed "
                    "at this visit: (implemented + ½ partially) / reviewed.",
                    path(i.c.recommendations, "by_authority", a, "rate"), unit="share")
             for a in AUTHORITIES]
    return Query(cols, visits_from().join(i, i.c.visit_id == V.c.id), visit_where(ctx),
                 visit_order(), location=F.c.location)


def _by_standard(i: Any) -> Any:
    each = sa.func.jsonb_each(i.c.compliance["standards"]).table_valued(
        "key", "value").render_derived()
    item = (each.c.key + " " + each.c.value.op("->>")("compliant") + "/"
            + each.c.value.op("->>")("answered"))
    return (sa.select(sa.func.string_agg(item, aggregate_order_by(
        sa.literal_column("'; '"), each.c.key))).select_from(each).scalar_subquery())
