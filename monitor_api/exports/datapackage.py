"""datapackage.json (Frictionless Data Package with a Table Schema per resource) and the
same metadata for the single-file formats (XLSX "about" sheet, Parquet and GeoJSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor_api.config import Settings
from monitor_api.exports.columns import Column, Filters
from monitor_api.exports.datasets import Dataset

LICENCES = {  # SPDX id -> (title, URL)
    "CC-BY-4.0": ("Creative Commons Attribution 4.0 International",
                  "https://creativecommons.org/licenses/by/4.0/"),
    "CC-BY-SA-4.0": ("Creative Commons Attribution-ShareAlike 4.0 International",
                     "https://creativecommons.org/licenses/by-sa/4.0/"),
    "CC-BY-NC-4.0": ("Creative Commons Attribution-NonCommercial 4.0 International",
                     "https://creativecommons.org/licenses/by-nc/4.0/"),
    "CC0-1.0": ("Creative Commons Zero 1.0 Universal",
                "https://creativecommons.org/publicdomain/zero/1.0/"),
    "ODbL-1.0": ("Open Data Commons Open Database License 1.0",
                 "https://opendatacommons.org/licenses/odbl/1-0/"),
    "ODC-By-1.0": ("Open Data Commons Attribution License 1.0",
                   "https://opendatacommons.org/licenses/by/1-0/"),
    "PDDL-1.0": ("Open Data Commons Public Domain Dedication and License 1.0",
                 "https://opendatacommons.org/licenses/pddl/1-0/"),
}
PSEUDONYMS = ("Identifiers ending in _ref are pseudonyms: a keyed HMAC-SHA256 of the internal "
              "id under this deployment's secret, stable across downloads. No names or ids of "
              "people, no interview text, answer comments, room notes, review evidence or "
              "free-text answers are exported.")


def licence(settings: Settings) -> dict[str, Any]:
    """The Data Package `licenses` entry and the licence line."""
    title, path = LICENCES.get(settings.export_licence, (settings.export_licence, None))
    line = f"{settings.export_licence} ({title}{', ' + path if path else ''})"
    if settings.export_attribution:
        line += f"; attribute to {settings.export_attribution}"
    entry = {"name": settings.export_licence, "title": title, **({"path": path} if path else {})}
    return {"entry": entry, "line": line}


def field(col: Column) -> dict[str, Any]:
    """A Table Schema field descriptor (with the unit, where there is one)."""
    out: dict[str, Any] = {"name": col.name, "type": col.type,
                           "description": col.description}
    if col.unit:
        out["unit"] = col.unit
    if col.type == "boolean":
        out.update(trueValues=["true"], falseValues=["false"])
    if col.enum:
        out["constraints"] = {"enum": list(col.enum)}
    return out


def schema(dataset: Dataset, columns: list[Column]) -> dict[str, Any]:
    out: dict[str, Any] = {"fields": [field(c) for c in columns], "missingValues": [""]}
    if dataset.key:
        out["primaryKey"] = [dataset.key]
    return out


def resource(dataset: Dataset, columns: list[Column], *, rows: int, size: int,
             sha256: str, filters: Filters) -> dict[str, Any]:
    """A CSV resource of the bundle, with its size, hash and the filters that narrowed it."""
    return {
        "name": dataset.name, "path": f"{dataset.name}.csv", "title": dataset.title,
        "description": dataset.description, "profile": "tabular-data-resource",
        "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
        "dialect": {"delimiter": ",", "lineTerminator": "\r\n", "quoteChar": '"',
                    "doubleQuote": True, "header": True},
        "bytes": size, "hash": f"sha256:{sha256}", "rows": rows,
        "filters_applied": {k: v for k, v in filters.given().items() if dataset.applies(k)},
        "schema": schema(dataset, columns)}


def about(settings: Settings, *, role: str, filters: Filters,
          exported_at: datetime) -> dict[str, Any]:
    """What every export records besides its rows: time, filters, licence, role."""
    lic = licence(settings)
    return {"created": exported_at.isoformat(timespec="seconds"), "filters": filters.given(),
            "licence": lic["line"], "licenses": [lic["entry"]], "exported_for_role": role,
            "pseudonyms": PSEUDONYMS}


def package(name: str, resources: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """The bundle's datapackage.json."""
    return {"profile": "tabular-data-package", "name": name,
            "title": "Detention monitoring export (monitor-api)", **meta,
            "resources": resources}
