"""Across facilities: one indicator on a map or per period, answers by standard (scenario
7) and the annual statistics (scenario 8), all over the visits the caller may see."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from monitor_api.auth import Principal
from monitor_api.checklists.compliance import ComplianceError, parse
from monitor_api.checklists.models import ChecklistQuestion
from monitor_api.facilities.models import Facility
from monitor_api.histories import due, render
from monitor_api.histories.access import audit_read, visit_clause
from monitor_api.histories.models import VisitIndicators
from monitor_api.visits.models import Answer, Visit

FACILITY_KEYS = ("id", "code", "name", "region", "facility_type", "authority")


def _facility_filters(f: Any, *, region: list[str] | None, facility_type: list[str] | None,
                      authority: list[str] | None, holds: list[str] | None = None) -> list[Any]:
    cond = [f.c.deleted_at.is_(None)]
    if region:
        cond.append(f.c.region.in_(region))
    if facility_type:
        cond.append(f.c.facility_type.in_(facility_type))
    if authority:
        cond.append(f.c.authority.in_(authority))
    for group in holds or ():
        cond.append(f.c.holds[group].astext == "true")
    return cond


def _days(column: Any, date_from: date | None, date_to: date | None) -> list[Any]:
    return ([column >= date_from] if date_from else []) + ([column <= date_to] if date_to else [])


def indicators(session: Session, principal: Principal, *, indicator: str, mode: str,
               region: list[str] | None = None, facility_type: list[str] | None = None,
               authority: list[str] | None = None, date_from: date | None = None,
               date_to: date | None = None) -> list[dict[str, Any]]:
    """One indicator per facility: its latest visit's value (mode latest, with the change
    since the visit before), or the latest value of each year (mode year)."""
    due.settle(session)
    i, v, f = VisitIndicators.__table__, Visit.__table__, Facility.__table__
    rows = session.execute(
        sa.select(i.c.visit_id, i.c.facility_id, i.c.visit_date, i.c.published_at, i.c.scalars,
                  i.c.rendered.is_(None).label("stale"), f.c.code, f.c.name, f.c.region,
                  f.c.facility_type, f.c.authority,
                  sa.func.ST_Y(sa.cast(f.c.location, Geometry)).label("lat"),
                  sa.func.ST_X(sa.cast(f.c.location, Geometry)).label("lng"))
        .join(v, v.c.id == i.c.visit_id).join(f, f.c.id == i.c.facility_id)
        .where(visit_clause(principal, v), i.c.visit_date.is_not(None),
               *_facility_filters(f, region=region, facility_type=facility_type,
                                  authority=authority), *_days(i.c.visit_date, date_from, date_to))
        .order_by(i.c.facility_id, i.c.visit_date, i.c.visit_id)).all()
    stale = render.complete(session, [r.visit_id for r in rows if r.stale])
    out: dict[Any, dict[str, Any]] = {}
    previous: dict[Any, Any] = {}
    for row in rows:
        value = (stale[row.visit_id][1] if row.stale else row.scalars).get(indicator)
        key = row.facility_id if mode == "latest" else (row.facility_id, row.visit_date.year)
        before = previous.get(row.facility_id)
        item = {"facility": {"id": row.facility_id, "code": row.code, "name": row.name,
                             "region": row.region, "facility_type": row.facility_type,
                             "authority": row.authority, "lat": row.lat, "lng": row.lng},
                "visit_id": row.visit_id, "visit_date": row.visit_date,
                "published": row.published_at is not None, "value": value,
                "previous": before, "change": _change(value, before)}
        if mode != "latest":
            item["period"] = str(row.visit_date.year)
        out[key] = item
        if row.published_at is not None:
            previous[row.facility_id] = value
    audit_read(session, principal, "indicators", details={"indicator": indicator,
                                                          "mode": mode, "items": len(out)})
    return list(out.values())


def _change(now: Any, before: Any) -> float | None:
    if isinstance(now, int | float) and isinstance(before, int | float):
        return round(now - before, 4)
    return None


def geojson(items: list[dict[str, Any]], indicator: str) -> dict[str, Any]:
    """The indicator items as a GeoJSON FeatureCollection (unlocated: null geometry)."""
    features = []
    for item in items:
        fac = item["facility"]
        geometry = (None if fac["lat"] is None else
                    {"type": "Point", "coordinates": [fac["lng"], fac["lat"]]})
        props = {k: _jsonable(v) for k, v in item.items() if k != "facility"}
        props.update({f"facility_{k}": _jsonable(fac[k]) for k in FACILITY_KEYS})
        features.append({"type": "Feature", "id": str(fac["id"]), "geometry": geometry,
                         "properties": {**props, "indicator": indicator}})
    return {"type": "FeatureCollection", "features": features}


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else (
        str(value) if value is not None and not isinstance(value, int | float | str | bool)
        else value)


def answers(session: Session, principal: Principal, *, standard: str | None = None,
            question_code: str | None = None, compliant: bool | None = None,
            value: str | None = None, region: list[str] | None = None,
            facility_type: list[str] | None = None, authority: list[str] | None = None,
            holds: list[str] | None = None, date_from: date | None = None,
            date_to: date | None = None, lang: str = "en") -> list[dict[str, Any]]:
    """Answers across facilities to questions citing a standard (instrument:rule) or with a
    code: facility, visit date, question, source, value and whether it complies. Never the
    answer's comment (free text may name people)."""
    a, q, v, f = (Answer.__table__, ChecklistQuestion.__table__, Visit.__table__,
                  Facility.__table__)
    cond = [visit_clause(principal, v), *_facility_filters(
        f, region=region, facility_type=facility_type, authority=authority, holds=holds)]
    day = sa.cast(sa.func.coalesce(v.c.started_at, v.c.planned_for), sa.Date)
    cond += _days(day, date_from, date_to)
    if standard:
        instrument, _, rule = standard.partition(":")
        cond.append(q.c.standard_refs.contains([{"instrument": instrument, "rule": rule}]))
    if question_code:
        cond.append(q.c.code == question_code)
    if value is not None:
        cond.append(sa.func.lower(a.c.value) == value.lower())
    text = q.c[f"text_{lang}"] if lang != "en" else q.c.text_en
    rows = session.execute(
        sa.select(a.c.id, a.c.info_source, a.c.value, a.c.number_value, q.c.id.label("qid"),
                  q.c.code, q.c.section, sa.func.coalesce(text, q.c.text_en).label("text"),
                  q.c.standard_refs, q.c.compliance, q.c.answer_type, q.c.options,
                  v.c.id.label("visit_id"), day.label("visit_date"),
                  v.c.published_at, *(f.c[k].label(f"f_{k}") for k in FACILITY_KEYS))
        .join(q, q.c.id == a.c.question_id).join(v, v.c.id == a.c.visit_id)
        .join(f, f.c.id == v.c.facility_id).where(*cond)
        .order_by(f.c.code, day, q.c.code, a.c.info_source, a.c.id)).all()
    rules: dict[Any, Any] = {}
    out = []
    for row in rows:
        if row.qid not in rules:
            try:
                rules[row.qid] = parse(row.compliance, row.answer_type, row.options)
            except ComplianceError:
                rules[row.qid] = None
        rule = rules[row.qid]
        verdict = rule.evaluate(row.value, row.number_value) if rule is not None else None
        if compliant is not None and verdict is not compliant:
            continue
        out.append({
            "facility": {k: getattr(row, f"f_{k}") for k in FACILITY_KEYS},
            "visit": {"id": str(row.visit_id), "date": _jsonable(row.visit_date),
                      "published": row.published_at is not None},
            "question": {"id": row.qid, "code": row.code, "section": row.section,
                         "text": row.text, "standard_refs": row.standard_refs,
                         "compliance": row.compliance},
            "answer": {"id": row.id, "info_source": row.info_source, "value": row.value,
                       "number_value": row.number_value, "compliant": verdict}})
    audit_read(session, principal, "answers", details={
        "standard": standard, "question_code": question_code, "compliant": compliant,
        "items": len(out)})
    return out


def annual(session: Session, principal: Principal, *, year: int) -> dict[str, Any]:
    """Scenario 8: visits by facility type and region, announced or not, joint with the
    Ombudsman, by visit type; access incidents by kind; recommendations made; follow-up
    implementation rates per authority (reviews made at that year's visits). Summed in
    the database: one round trip, a few dozen rows back."""
    visits: dict[str, Any] = {"total": 0, "facilities": 0, "by_facility_type": {},
                              "by_region": {}, "by_visit_type": {}, "announced": 0,
                              "unannounced": 0, "joint_with_ombudsman": 0,
                              "unpublished_included": 0}
    incidents: dict[str, dict[str, int]] = {}
    made = {"total": 0, "open": 0, "repeated": 0}
    rates: dict[str, Any] = {}
    due.settle(session)
    for kind, key, a, b, c, d, e in session.execute(_annual_sums(principal, year)):
        if kind == "total":
            visits.update(total=a, facilities=b, announced=c, unannounced=a - c,
                          joint_with_ombudsman=d, unpublished_included=e)
        elif kind in ("by_facility_type", "by_region", "by_visit_type"):
            visits[kind][key] = a
        elif kind == "recommendations":
            made = {"total": a, "open": b, "repeated": c}
        elif kind == "incident":
            incidents[key] = {"count": a, "minutes_lost": b}
        else:
            rates[key] = {"reviewed": a, "implemented": b, "partially_implemented": c,
                          "rate": round((b + c / 2) / a, 4) if a else None}
    audit_read(session, principal, "statistics", details={"year": year})
    return {"year": year, "generated_at": datetime.now(UTC), "visits": visits,
            "access_incidents": dict(sorted(incidents.items())), "recommendations": made,
            "implementation_by_authority": dict(sorted(rates.items()))}


def _annual_sums(principal: Principal, year: int) -> Any:
    """Rows of (kind, key, up to five sums) over the year's visits the caller sees."""
    i, v, f = VisitIndicators.__table__, Visit.__table__, Facility.__table__
    y = (sa.select(v.c.visit_type, v.c.announced, v.c.joint_with_ombudsman, v.c.published_at,
                   f.c.facility_type, f.c.region, i.c.access_incidents, i.c.recommendations,
                   i.c.facility_id)
         .join(i, i.c.visit_id == v.c.id).join(f, f.c.id == v.c.facility_id)
         .where(visit_clause(principal, v), i.c.visit_date >= date(year, 1, 1),
                i.c.visit_date <= date(year, 12, 31))).cte("year_visits")
    count, zero = sa.func.count, sa.literal(0, sa.BigInteger)

    def num(doc: Any, key: str) -> Any:
        total = sa.func.sum(doc[key].astext.cast(sa.BigInteger))  # numeric: back to bigint
        return sa.cast(sa.func.coalesce(total, 0), sa.BigInteger)

    def part(kind: str, key: Any, *sums: Any) -> Any:
        return sa.select(sa.literal(kind, sa.Text), sa.cast(key, sa.Text),
                         *sums, *[zero] * (5 - len(sums))).select_from(y)

    parts = [part("total", sa.null(), count(), count(sa.distinct(y.c.facility_id)),
                  count().filter(y.c.announced), count().filter(y.c.joint_with_ombudsman),
                  count().filter(y.c.published_at.is_(None))),
             part("recommendations", sa.null(), num(y.c.recommendations, "made"),
                  num(y.c.recommendations, "open"), num(y.c.recommendations, "repeated"))]
    for column in ("facility_type", "region", "visit_type"):
        parts.append(part(f"by_{column}", y.c[column], count()).group_by(y.c[column]))
    for kind, doc, group, keys in (
            ("incident", y.c.access_incidents, "by_kind", ("count", "minutes_lost")),
            ("authority", y.c.recommendations, "by_authority",
             ("reviewed", "implemented", "partially_implemented"))):
        each = sa.func.jsonb_each(sa.func.coalesce(
            doc[group], sa.cast(sa.literal("{}"), JSONB))).table_valued(
            sa.column("key", sa.Text), sa.column("value", JSONB))
        parts.append(part(kind, each.c.key, *(num(each.c.value, k) for k in keys))
                     .join(each, sa.true()).group_by(each.c.key))
    return sa.union_all(*parts)
