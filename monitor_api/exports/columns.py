"""Columns of the exported datasets, the visit and facility block every dataset starts with,
and the filters and rules they share (who sees which visits, small-count suppression)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by

from monitor_api.auth import Principal
from monitor_api.checklists.models import ChecklistTemplate
from monitor_api.facilities.models import AUTHORITIES, FACILITY_TYPES, REGIONS, Facility
from monitor_api.histories.access import OUTSIDE_ROLES, visit_clause
from monitor_api.scope import user_team_ids
from monitor_api.visits.models import Visit

SUPPRESS_BELOW = 5  # counts of people from 1 to 4 are withheld (null, flagged)
LANGS = ("en", "ru", "tg")


@dataclass(frozen=True)
class Column:
    """One exported column: name, Table Schema type, meaning, and where its value comes from."""

    name: str
    type: str  # Frictionless Table Schema: string, integer, number, boolean, date
    description: str
    expr: Any = None  # SQL; for a pseudonym, the raw id
    ref: str | None = None  # pseudonym kind: the id is replaced by its keyed HMAC
    text: bool = False  # free text: formula-neutralised in CSV and XLSX
    unit: str | None = None
    enum: tuple[str, ...] | None = None
    derived: bool = False  # computed in Python from the row (see Query.derive)


@dataclass(frozen=True)
class Filters:
    """Validated export filters (each list: any of its values)."""

    date_from: date | None = None
    date_to: date | None = None
    region: tuple[str, ...] = ()
    facility_type: tuple[str, ...] = ()
    authority: tuple[str, ...] = ()
    facility: tuple[Any, ...] = ()
    theme: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    standard: tuple[str, ...] = ()
    recommendation_status: tuple[str, ...] = ()
    published_only: bool = False
    lang: str = "en"

    def given(self) -> dict[str, Any]:
        """The filters set, as JSON-ready values (for the audit log and datapackage.json)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value in ((), None, False) or (name == "lang" and value == "en"):
                continue
            if isinstance(value, tuple):
                value = [str(v) for v in value]
            elif isinstance(value, date):
                value = value.isoformat()
            out[name] = value
        return out


@dataclass(frozen=True)
class Context:
    """Who exports, with which filters."""

    principal: Principal
    filters: Filters

    def insider(self, visit_team: Any) -> Any:
        """SQL: whether the caller works on the visit (admins: every visit; coordinators:
        their teams' visits). Everyone else gets what partners and analysts get: confirmed
        findings, small counts of people suppressed."""
        if self.principal.is_admin:
            return sa.true()
        if self.principal.role in OUTSIDE_ROLES:
            return sa.false()
        return visit_team.in_(user_team_ids(self.principal.user_id))


@dataclass
class Query:
    """A dataset's rows for one context: output columns (pseudonyms first, derived last),
    the FROM clause, conditions, order, and what derive() needs."""

    columns: list[Column]
    select_from: Any
    where: list[Any]
    order_by: list[Any]
    helpers: list[Any] = field(default_factory=list)
    derive: Callable[[list[Any], Sequence[Any]], None] | None = None
    location: Any = None  # the facility's geography column, for GeoJSON

    @property
    def refs(self) -> list[Column]:
        return [c for c in self.columns if c.ref]

    @property
    def sql_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.ref and not c.derived]

    def select(self, *, raw_refs: bool = True) -> sa.Select[Any]:
        """refs (as text), SQL columns, helpers, then lng/lat of the facility."""
        parts = [sa.cast(c.expr, sa.Text).label(c.name) for c in self.refs]
        parts += [c.expr.label(c.name) for c in self.sql_columns]
        parts += [h.label(f"_h{i}") for i, h in enumerate(self.helpers)]
        if self.location is not None:
            point = sa.cast(self.location, Geometry)
            parts += [sa.func.ST_X(point).label("_lng"), sa.func.ST_Y(point).label("_lat")]
        return (sa.select(*parts).select_from(self.select_from).where(*self.where)
                .order_by(*self.order_by))


V, F, T = Visit.__table__, Facility.__table__, ChecklistTemplate.__table__
visit_day = sa.cast(sa.func.coalesce(V.c.started_at, V.c.planned_for), sa.Date)


def visit_columns(ctx: Context) -> list[Column]:
    """The pseudonymised visit and its facility (public registry data), first in every row."""
    lang = ctx.filters.lang
    name = F.c.name if lang == "en" else sa.func.coalesce(F.c[f"name_{lang}"], F.c.name)
    return [
        Column("visit_ref", "string", "Pseudonym of the visit (stable across downloads).",
               V.c.id, ref="visit"),
        Column("team_ref", "string", "Pseudonym of the monitoring team that made the visit.",
               V.c.team_id, ref="team"),
        Column("published", "boolean", "Whether the visit is published; false only in a "
               "coordinator's or admin's export (their teams' visits under review).",
               V.c.published_at.is_not(None)),
        Column("visit_date", "date", "Day of the visit (started, else planned).", visit_day),
        Column("facility_id", "string", "Facility registry id (public reference data).",
               sa.cast(F.c.id, sa.Text)),
        Column("facility_code", "string", "Official code of the facility.", F.c.code,
               text=True),
        Column("facility_name", "string", f"Name of the facility ({lang}, else the registry "
               "name).", name, text=True),
        Column("region", "string", "ISO 3166-2:TJ region.", F.c.region, enum=REGIONS),
        Column("facility_type", "string", "Kind of place of detention.", F.c.facility_type,
               enum=FACILITY_TYPES),
        Column("authority", "string", "Authority in charge of the facility.", F.c.authority,
               enum=AUTHORITIES),
    ]


def visits_from() -> Any:
    """visits joined with their facility."""
    return V.join(F, F.c.id == V.c.facility_id)


def visit_where(ctx: Context) -> list[Any]:
    """The visits the caller sees (histories' one rule) within the common filters."""
    f = ctx.filters
    cond = [visit_clause(ctx.principal, V), F.c.deleted_at.is_(None)]
    if f.published_only:
        cond.append(V.c.published_at.is_not(None))
    if f.date_from:
        cond.append(visit_day >= f.date_from)
    if f.date_to:
        cond.append(visit_day <= f.date_to)
    for name in ("region", "facility_type", "authority"):
        if getattr(f, name):
            cond.append(F.c[name].in_(getattr(f, name)))
    if f.facility:
        cond.append(F.c.id.in_(f.facility))
    return cond


def visit_order() -> list[Any]:
    return [F.c.code, visit_day, V.c.id]


def suppressed(value: Any, unless: Any = None) -> tuple[Any, Any]:
    """(value withheld when it is 1 to 4, whether it was): small counts of people; not
    withheld where `unless` holds."""
    small = sa.and_(value >= 1, value < SUPPRESS_BELOW)
    if unless is not None:
        small = sa.and_(small, sa.not_(unless))
    return (sa.case((small, sa.null()), else_=value),
            sa.func.coalesce(small, sa.false()))


def refs_text(column: Any) -> Any:
    """A JSON array of {instrument, rule} as 'mandela:44; cpt:space' (in its order)."""
    elem = sa.func.jsonb_array_elements(sa.cast(column, JSONB)).table_valued(
        "value", with_ordinality="n").render_derived()
    ref = elem.c.value.op("->>")("instrument") + ":" + elem.c.value.op("->>")("rule")
    return (sa.select(sa.func.string_agg(ref, aggregate_order_by(sa.literal_column("'; '"),
                                                                 elem.c.n)))
            .select_from(elem).scalar_subquery())


def standard_clause(column: Any, standards: Sequence[str]) -> Any:
    """Any of the standards ('mandela' or 'mandela:44') among a JSON array of references."""
    doc = sa.cast(column, JSONB)
    parts = []
    for item in standards:
        instrument, _, rule = item.partition(":")
        ref = {"instrument": instrument, **({"rule": rule} if rule else {})}
        parts.append(doc.contains([ref]))
    return sa.or_(*parts)
