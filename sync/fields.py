"""Raw record fields: how a flat WatermelonDB-style value maps to and from a database column."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
KINDS = ("str", "uuid", "int", "float", "bool", "time", "json", "lat", "lng")


@dataclass(frozen=True)
class Field:
    """One raw column: its name, kind, and the database column it lives in."""

    name: str
    kind: str = "str"
    column: str | None = None  # defaults to `name`; lat/lng name the point column

    @property
    def db(self) -> str:
        return self.column or self.name


def datetime_from_ms(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + int(value) * MS


def json_text(value: Any) -> str | None:
    """Canonical JSON text of a structured value (what raw records carry)."""
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def to_db_value(kind: str, value: Any) -> Any:
    """A validated raw value as the database column takes it, in JSON (the bulk statements
    are fed JSON; PostgreSQL parses each value with its column type's input function): ids
    as canonical text, times as ISO 8601 text (exact to the millisecond). Points are built
    by the codec."""
    if value is None:
        return None
    if kind == "uuid":
        return value if isinstance(value, str) and value == value.lower() else str(
            value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    if kind == "time":
        return datetime_from_ms(value).isoformat()  # type: ignore[union-attr]
    if kind == "json":  # the text as pushed (json columns keep it byte for byte)
        return value if isinstance(value, str) else json_text(value)
    if kind == "float":
        return float(value)
    return value


# `to_db_value` per kind, for the kinds that convert (the others go as they are).
_CONVERT = {kind: functools.partial(to_db_value, kind) for kind in ("uuid", "time", "json",
                                                                   "float")}


def canonical(kind: str, value: Any) -> Any:
    """A comparable form of a raw value (JSON text parsed, numbers as floats)."""
    if value is None:
        return None
    if kind == "json":
        return json.loads(value) if isinstance(value, str) else value
    if kind in ("float", "lat", "lng"):
        return float(value)
    if kind == "uuid":
        return str(value).lower()
    return value


class Codec:
    """Converts whole records between raw form and database rows for one table."""

    def __init__(self, fields: tuple[Field, ...]) -> None:
        self.fields = fields
        self.by_name = {f.name: f for f in fields}
        self.point = next((f.db for f in fields if f.kind in ("lat", "lng")), None)
        # Per raw field (lat/lng aside): its column and how a value is converted (None: as
        # is), looked up once per value by `to_db`.
        self._to_db: dict[str, tuple[str, Any]] = {
            f.name: (f.db, _CONVERT.get(f.kind)) for f in fields if f.kind not in ("lat", "lng")}

    def to_raw(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row selected by `SyncTable.columns()` (already in raw form) as a raw record."""
        return {f.name: row[f.name] for f in self.fields}

    def to_db(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Column values for the fields present in `raw` (lat/lng become one point)."""
        out: dict[str, Any] = {}
        plan = self._to_db
        for name, value in raw.items():
            step = plan.get(name)
            if step is not None:
                db, convert = step
                out[db] = value if convert is None or value is None else convert(value)
        if self.point and ("lat" in raw or "lng" in raw):
            lat, lng = raw.get("lat"), raw.get("lng")
            out[self.point] = (None if lat is None or lng is None
                               else f"SRID=4326;POINT({float(lng)!r} {float(lat)!r})")
        return out

    def same(self, pushed: Mapping[str, Any], server: Mapping[str, Any]) -> bool:
        """Whether every pushed field equals the server's value."""
        for name, value in pushed.items():
            f = self.by_name.get(name)
            if f is None:
                continue
            if canonical(f.kind, value) != canonical(f.kind, server.get(name)):
                return False
        return True
