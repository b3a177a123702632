"""Data for the pages' scripts: chart series of a facility history, and map markers."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, json
from flask_babel import gettext as _

SEVERITIES = ("critical_urgent", "serious", "moderate", "minor", "good_practice")


def _ts(day: date | None) -> int | None:
    return None if day is None else (day - date(1970, 1, 1)).days * 86400


def history(data: dict[str, Any]) -> dict[str, Any]:
    """uPlot-ready series over the visits (x = visit day, seconds): occupancy %, m² per
    person (minimum, median) with the threshold lines, compliance by section, findings by
    severity. Visits without a date are left out of charts (they stay in the tables)."""
    visits = [v for v in data["visits"] if v["visit"]["date"] is not None]
    xs = [_ts(v["visit"]["date"]) for v in visits]
    ind = [v["indicators"] for v in visits]

    def pct(value: float | None) -> float | None:
        return None if value is None else round(value * 100, 1)

    thresholds = {}
    for source in ("tj_law", "cpt", "icrc"):
        shared = [i["living_space"]["thresholds"].get(source, {}).get("shared_m2") for i in ind]
        if any(s is not None for s in shared):
            thresholds[source] = shared
    sections = sorted({s for i in ind for s in (i["compliance"].get("sections") or {})})
    return {
        "x": xs,
        "labels": [str(v["visit"]["date"]) for v in visits],
        "published": [v["visit"]["published"] for v in visits],
        "occupancy": [pct(i["occupancy"]["rate"]) for i in ind],
        "space_min": [i["living_space"]["min_m2"] for i in ind],
        "space_median": [i["living_space"]["median_m2"] for i in ind],
        "thresholds": thresholds,
        "compliance": {s: [pct((i["compliance"].get("sections") or {}).get(s, {}).get("rate"))
                           for i in ind] for s in sections},
        "findings": {s: [(i["findings"].get("by_severity") or {}).get(s, 0) for i in ind]
                     for s in SEVERITIES},
        # Series names in the page's language (codes stay the keys).
        "names": {code: _(code) for code in (*sections, *SEVERITIES, *thresholds)},
    }


def markers(items: list[dict[str, Any]], latest: dict[str, dict[str, Any]]) -> Response:
    """The facilities as GeoJSON points with their latest indicators (for the map)."""
    features = []
    for fac in items:
        if fac.get("lat") is None or fac.get("lng") is None:
            continue
        values = latest.get(str(fac["id"]), {})
        features.append({"type": "Feature",
                         "geometry": {"type": "Point", "coordinates": [fac["lng"], fac["lat"]]},
                         "properties": {"id": str(fac["id"]), "name": fac["name"],
                                        "code": fac["code"], "type": fac["facility_type"],
                                        "occupancy_rate": values.get("occupancy_rate"),
                                        "open_recommendations": values.get(
                                            "recommendations_open"),
                                        "url": f"/facilities/{fac['id']}"}})
    return Response(json.dumps({"type": "FeatureCollection", "features": features}),
                    mimetype="application/geo+json")
