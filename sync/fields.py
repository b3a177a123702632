"""Raw record fields: how a flat WatermelonDB-style value maps to and from a database column."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
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


# `to_db_value` of a non-null value, inline, per kind that converts (the others go as they
# are); `v` is the value.
_INLINE = {
    "uuid": "v if isinstance(v, str) and v == v.lower() else _to_db_value('uuid', v)",
    "time": "(EPOCH + int(v) * MS).isoformat()",
    "json": "v if isinstance(v, str) else json_text(v)",
    "float": "float(v)",
}


def _compile_to_db(fields: tuple[Field, ...], point: str | None
                   ) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """`to_db` for these fields as one straight-line function (a push converts thousands of
    records): column values for the fields present in the raw record and not null, each as
    `to_db_value` gives it; lat/lng become one point (EWKT) when both are given. A null is
    left out: the bulk write still names its column (`Codec.columns_of`) and reads a
    missing key as NULL."""
    lines = ["def to_db(raw):", "    out = {}"]
    for f in fields:
        if f.kind in ("lat", "lng"):
            continue
        inline = _INLINE.get(f.kind)
        lines += [f"    v = raw.get({f.name!r})", "    if v is not None:",
                  f"        out[{f.db!r}] = {'v' if inline is None else inline}"]
    if point:
        lines += ["    lat, lng = raw.get('lat'), raw.get('lng')",
                  "    if lat is not None and lng is not None:",
                  f"        out[{point!r}] = f'SRID=4326;POINT({{float(lng)!r}} {{float(lat)!r}})'"]
    lines.append("    return out")
    scope = {"EPOCH": EPOCH, "MS": MS, "json_text": json_text, "_to_db_value": to_db_value}
    exec("\n".join(lines), scope)  # noqa: S102 (field names come from the registry's columns)
    return scope["to_db"]  # type: ignore[no-any-return]


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
        self.to_db = _compile_to_db(fields, self.point)
        self._columns: dict[tuple[str, ...], frozenset[str]] = {}

    def columns_of(self, names: tuple[str, ...]) -> frozenset[str]:
        """The columns a raw record with these fields writes, null or not (cached)."""
        cols = self._columns.get(names)
        if cols is None:
            cols = self._columns[names] = frozenset(  # lat and lng: their point column
                f.db for name in names if (f := self.by_name.get(name)) is not None)
        return cols

    def to_raw(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row selected by `SyncTable.columns()` (already in raw form) as a raw record."""
        return {f.name: row[f.name] for f in self.fields}

    def same(self, pushed: Mapping[str, Any], server: Mapping[str, Any]) -> bool:
        """Whether every pushed field equals the server's value."""
        for name, value in pushed.items():
            f = self.by_name.get(name)
            if f is None:
                continue
            if canonical(f.kind, value) != canonical(f.kind, server.get(name)):
                return False
        return True
