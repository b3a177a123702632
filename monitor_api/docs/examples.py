"""Examples and operation ids for every operation of the OpenAPI document.

An example is built from the body's own schema: a value a field declares
(`metadata={"example": ...}`) wins; otherwise its enumeration's first value, its format (uuid,
date-time), a realistic value for well-known names (title, region, sha256, ...) within its
length, range and pattern. So the examples cannot drift from the schemas, and a test
validates each against its schema.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

MAX_DEPTH = 8
EXAMPLE_NS = uuid.UUID("6f0b2d2e-59b8-4a53-9a8c-3f3c8f0e7c11")
HINTS: dict[str, Any] = {
    "username": "m.rahimova", "password": "correct horse battery staple",
    "display_name": "Malika Rahimova", "name": "Pre-trial detention centre No. 1",
    "title": "Cells without natural light", "label": "Cell 12", "code": "sizo-1",
    "description": "Measured with a laser meter; beds counted in the presence of staff.",
    "summary": "Tour of all blocks, 14 private interviews, documents checked.",
    "text": "Is there a register of detainees?", "notes": "Window covered by metal sheets.",
    "reason": "Duplicate of an earlier record.", "comment": "Seen on the follow-up visit.",
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "mime_type": "image/jpeg", "indicator": "occupancy_rate", "district": "Khujand",
    "addressed_to": "ministry_of_justice", "token": "mk_3q2Xh7aE9Lw1VvZr5bTt0nGdYcKf",
    "task": "photos.verify", "lang": "en", "table": "findings", "year": 2026,
    "email": "monitor@example.org", "token_type": "Bearer",
}
STRING_FORMATS = {"date-time": "2026-03-14T09:30:00+00:00", "date": "2026-03-14",
                  "email": "monitor@example.org", "uri": "https://example.org/report.pdf",
                  "url": "https://example.org/report.pdf", "binary": None}


def operation_id(endpoint: str, method: str, path: str) -> str:
    """`listUsers`, `getUser`, `createUser`... for a class-based view (`accounts.Users`),
    `accountsLogin`, `visitsPublish`... for a function view (`accounts.login`)."""
    blueprint, _, view = endpoint.partition(".")
    if view[:1].isupper():  # a MethodView: the verb says what it does
        base = view.removesuffix("Item")
        item = path.rstrip("/").endswith("}")
        if method == "get" and not item and not view.endswith("Item"):
            return f"list{base}"
        verb = {"get": "get", "post": "create", "put": "put", "patch": "update",
                "delete": "delete"}[method]
        return verb + _singular(base)
    words = re.split(r"[-_]", blueprint) + view.split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:] if w)


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


class Examples:
    """Example values for JSON schemas (OpenAPI 3.0 flavour); refs resolved in `components`
    (the document's schemas, which grow as operations are registered)."""

    def __init__(self, components: dict[str, Any]) -> None:
        self.components = components
        # The first value of each enumerated property, by property name, across the schemas:
        # an answer's `region` or `status` (plain strings there) takes a value its input
        # allows. Schemas are read once each, as they appear.
        self.known: dict[str, Any] = {}
        self._read = 0

    def _learn(self) -> None:
        names = list(self.components)
        for name in names[self._read:]:
            for key, prop in (self.components[name].get("properties") or {}).items():
                values = [v for v in prop.get("enum") or () if v is not None]
                if values and key not in self.known:
                    self.known[key] = values[0]
        self._read = len(names)

    def value(self, schema: dict[str, Any], name: str = "", depth: int = 0) -> Any:
        if depth == 0:
            self._learn()
        if "$ref" in schema:
            ref = schema["$ref"].rsplit("/", 1)[-1]
            return self.value(self.components.get(ref, {}), name, depth)
        if "example" in schema:
            return schema["example"]
        for combined in ("allOf", "oneOf", "anyOf"):
            if schema.get(combined):
                return self.value(schema[combined][0], name, depth)
        if schema.get("enum"):
            return next((v for v in schema["enum"] if v is not None), schema["enum"][0])
        kind = schema.get("type") or ("object" if "properties" in schema else None)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            if depth >= MAX_DEPTH:
                return []
            item = self.value(schema.get("items", {}), name, depth + 1)
            return [] if item is None else [item] * max(1, int(schema.get("minItems", 1)))
        if kind == "integer":
            return _number(schema, _int_hint(name), integer=True)
        if kind == "number":
            return _number(schema, -12.5 if name in ("lng", "longitude") else 12.5)
        if kind == "boolean":
            return False
        if kind == "string":
            known = self.known.get(name)
            if isinstance(known, str) and "format" not in schema and "pattern" not in schema:
                return known
            return _string(schema, name)
        return None

    def _object(self, schema: dict[str, Any], depth: int) -> Any:
        if depth >= MAX_DEPTH:
            return {}
        out: dict[str, Any] = {}
        for key, prop in schema.get("properties", {}).items():
            value = self.value(prop, key, depth + 1)
            if value is not None or prop.get("nullable"):
                out[key] = value
        extra = schema.get("additionalProperties")
        if not out and isinstance(extra, dict):
            value = self.value(extra, "", depth + 1)
            if value is not None:
                out["key"] = value
        return out


def _int_hint(name: str) -> int:
    if name.endswith("_at") or name == "timestamp":
        return 1_773_480_600_000  # ms since the epoch: 2026-03-14 09:30 UTC
    value = HINTS.get(name)
    return value if isinstance(value, int) else 3


def _number(schema: dict[str, Any], value: float, *, integer: bool = False) -> Any:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None and value < lo:
        value = lo
    if hi is not None and value > hi:
        value = hi
    return int(value) if integer else value


def _string(schema: dict[str, Any], name: str) -> str | None:
    fmt = schema.get("format")
    if fmt == "uuid" or name == "id" or name.endswith("_id"):
        return str(uuid.uuid5(EXAMPLE_NS, name or "id"))
    if fmt in STRING_FORMATS:
        return STRING_FORMATS[fmt]
    hint = HINTS.get(name)
    candidates = [hint] if isinstance(hint, str) else []
    if name.endswith("_at") or name.endswith("_date"):
        candidates.append(STRING_FORMATS["date-time" if name.endswith("_at") else "date"])
    candidates += [name.replace("_", " ").capitalize() if name else "", "sample", "a1"]
    lo, hi = int(schema.get("minLength", 0)), schema.get("maxLength")
    pattern = schema.get("pattern")
    for value in candidates:
        if not value:
            continue
        if hi is not None:
            value = value[: int(hi)]
        if len(value) >= lo and (pattern is None or re.search(pattern, value)):
            return value
    return None
