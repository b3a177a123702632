"""The conditions timeline as JSON bytes, exactly as its schema (`schemas.histories.
ConditionsOut`) and the app's JSON provider would render it (sorted keys, compact, UTF-8),
but assembled from each visit's indicators pre-rendered by the refresh: a read of a
facility's history parses and re-encodes no indicator document (they are most of its
bytes). tests/histories check the bytes against the schema's own rendering."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitor_api.histories import metrics
from monitor_api.histories.models import VisitIndicators

DOCUMENTS = ("space_thresholds", "compliance", "findings", "access_incidents",
             "recommendations")
FLAT = ("population_total", "occupancy_rate", "space_min_m2", "space_median_m2", *DOCUMENTS)


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
# Where orjson writes a float as the standard encoder would not: below 1e-4 ("0.00001",
# "1.5e-7" for "1e-05", "1.5e-07"). A match (even inside a string) sends the document the
# standard way.
_OTHER_FLOAT = re.compile(r"0\.0000|e-\d(?!\d)")


def dumps(obj: Any) -> str:
    """The app's JSON provider's rendering (flask sort_keys, jsonsafe separators), written by
    orjson (8x faster; identical text for all 20,000 documents of the history benchmark)
    unless it cannot write the same text: then by the standard encoder."""
    try:
        out = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # a key that is not a string, an int past 64 bits, a lone surrogate
        return _ENCODER.encode(obj)
    return _ENCODER.encode(obj) if _OTHER_FLOAT.search(out) else out


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def _i(value: Any) -> int | None:
    return None if value is None else int(value)


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def indicators(row: Any) -> dict[str, Any]:
    """A visit's indicators (attributes of a visit_indicators row) as the API shows them,
    typed as the `Indicators` schema dumps them (Float fields as floats)."""
    thresholds = row.space_thresholds
    return {
        "occupancy": {"population_total": _i(row.population_total), "capacity": _i(row.capacity),
                      "capacity_source": _s(row.capacity_source), "rate": _f(row.occupancy_rate)},
        "living_space": {
            "rooms_measured": _i(row.rooms_measured), "min_m2": _f(row.space_min_m2),
            "median_m2": _f(row.space_median_m2),
            "thresholds": None if thresholds is None else {
                str(k): None if v is None else dict(v) for k, v in thresholds.items()}},
        "compliance": _dict(row.compliance), "findings": _dict(row.findings),
        "access_incidents": _dict(row.access_incidents),
        "recommendations": _dict(row.recommendations),
    }


def _dict(value: Any) -> dict[str, Any] | None:
    return None if value is None else dict(value)


def flat(row: Any) -> dict[str, Any]:
    """The shape metrics.scalars reads."""
    return {k: getattr(row, k) for k in FLAT}


def documents(row: Any) -> tuple[str, dict[str, Any]]:
    """(rendered indicators, scalars) of a visit_indicators row or row-like."""
    return dumps(indicators(row)), metrics.scalars(flat(row))


def complete(session: Session, visit_ids: Iterable[uuid.UUID]) -> dict[Any, tuple[str, Any]]:
    """`documents` of rows not yet rendered (computed before rendering existed, until
    `monitor-api migrate` or `rebuild-indicators --missing` recomputes them)."""
    ids = list(visit_ids)
    if not ids:
        return {}
    rows = session.execute(sa.select(VisitIndicators.__table__).where(
        VisitIndicators.visit_id.in_(ids))).all()
    return {row.visit_id: documents(row) for row in rows}


def visit(row: Any, columns: Iterable[str], indicators_json: str, compared_with: Any,
          changes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One timeline entry (`VisitConditions`) as parts of its JSON text, keys in order."""
    ref = {"id": str(row.visit_id), "date": _iso(row.visit_date),
           "published": row.published_at is not None}
    for c in columns:
        value = getattr(row, c)
        ref[c] = _iso(value) if isinstance(value, date) else value
    typed = {k: {"from": c["from"], "to": c["to"], "change": _f(c["change"])}
             for k, c in changes.items()}
    return ['{"changes":', dumps(typed), ',"compared_with":', dumps(_s(compared_with)),
            ',"indicators":', indicators_json, ',"visit":', dumps(ref), "}"]


def facility(fac: Mapping[str, Any]) -> dict[str, Any]:
    """`FacilityRef` typed."""
    return {k: (_i(v) if k == "official_capacity" else _s(v)) for k, v in fac.items()}


def conditions(fac: Mapping[str, Any], visits: list[list[str]]) -> bytes:
    """The whole `ConditionsOut` body (joined once: the entries are most of its bytes)."""
    parts = ['{"facility":', dumps(facility(fac)), ',"visits":[']
    for n, entry in enumerate(visits):
        if n:
            parts.append(",")
        parts += entry
    parts.append("]}")
    return "".join(parts).encode()
