"""The fast loader of raw records (schemas/fast.py) against marshmallow, the definition.

The fast path may only accept what `Schema.load` accepts, giving back the very same dict;
the sync validator (fast path, then marshmallow) must accept and reject exactly the records
marshmallow alone does, with the same messages. Hostile values included.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError, fields, missing, validate

from monitor_api.sync_api.registry import validator
from schemas.fast import compile_loader
from schemas.sync_records import RAW_SCHEMAS

UID = "0b7a3c2e-5f1d-4e8a-9c6b-2d4f6a8b0c1e"
HOSTILE: list[Any] = [
    None, "", " ", "\ud800", "a\udfffb", "\x00", "nul\x00inside", float("nan"), float("inf"),
    float("-inf"), 1e400, -1e400, 10**400, 2**63, -(2**63) - 1, 2**53, 2**31, -1, 0, 1, 1.0,
    1.5, -0.0, True, False, "true", "1", "1.5", "nan", "Infinity", "x" * 70_000, [], {},
    [1], {"a": 1}, "[]", "{}", "null", "[NaN]", '[{"instrument":"cpt","rule":"x"}]',
    '{"men": true}', '[{"instrument":"nope","rule":"x"}]', "[" * 40 + "]" * 40, UID,
    UID.upper(), "{" + UID + "}", UID.replace("-", ""), "not-a-uuid", "a" * 64, "A" * 64,
    "0" * 64 + "\n", "image/jpeg", "wrong_enum", "é" * 61, "😀" * 100,
]


def _typed(value: Any) -> Any:
    """A comparable form that tells 1, 1.0 and True apart."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    return (type(value).__name__, value)


def _candidates(field: fields.Field) -> list[Any]:
    """Values at and around the field's own limits, then every hostile value."""
    out: list[Any] = []
    for v in field.validators:
        if isinstance(v, validate.OneOf):
            choices = list(v.choices)
            out += [*choices[:3], str(choices[0]).upper()]
        if isinstance(v, validate.Length) and v.max is not None:
            out += ["a" * v.max, "a" * (v.max + 1)]
        if isinstance(v, validate.Range):
            for bound in (v.min, v.max):
                if bound is not None:
                    out += [bound, bound - 1, bound + 1, float(bound)]
    return out + HOSTILE


def _record(draw: Any, name: str, partial_ok: bool = True) -> dict[str, Any]:
    schema = RAW_SCHEMAS[name]()
    data: dict[str, Any] = {}
    for fname, field in schema.load_fields.items():
        if draw(st.integers(0, 3)) == 0:
            continue  # missing
        data[fname] = draw(st.sampled_from(_candidates(field)))
    if draw(st.integers(0, 9)) == 0:
        data[draw(st.sampled_from(["unknown_col", "_status", "server_updated_at"]))] = 1
    return data


@st.composite
def records(draw: Any) -> tuple[str, dict[str, Any], bool]:
    name = draw(st.sampled_from(sorted(RAW_SCHEMAS)))
    return name, _record(draw, name), draw(st.booleans())


def _marshmallow(name: str, data: dict[str, Any], partial: bool) -> tuple[Any, Any]:
    try:
        return RAW_SCHEMAS[name]().load(data, partial=partial), None
    except ValidationError as exc:
        return None, exc.normalized_messages()


@given(st.uuids().map(str) | st.text("0123456789abcdefABCDEF-{}", max_size=40))
def test_uuid_text_fast_accept_is_its_own_deserialization(text: str) -> None:
    field = RAW_SCHEMAS["visits"]().fields["facility_id"]
    if field.fast_accept.match(text):
        assert field.deserialize(text) == text


@pytest.mark.parametrize("name", sorted(RAW_SCHEMAS))
def test_every_raw_schema_compiles(name: str) -> None:
    compile_loader(RAW_SCHEMAS[name]())


@settings(max_examples=1500, deadline=None)
@given(records())
def test_fast_path_never_accepts_what_marshmallow_refuses(case: tuple[str, dict, bool]) -> None:
    name, data, partial = case
    fast = compile_loader(RAW_SCHEMAS[name]())(data, partial)
    loaded, errors = _marshmallow(name, data, partial)
    if fast is not None:
        assert errors is None, (data, errors)
        assert _typed(fast) == _typed(loaded)
        assert list(fast) == list(loaded)


@settings(max_examples=1000, deadline=None)
@given(records())
def test_sync_validator_decides_as_marshmallow(case: tuple[str, dict, bool]) -> None:
    """The validator the push uses (unset values resolved, fast path, then marshmallow)
    against the same resolution followed by marshmallow alone."""
    name, data, partial = case
    if name not in ("facilities", "checklist_templates", "checklist_questions"):
        got = validator(name)(data, partial)
        schema = RAW_SCHEMAS[name]()
        resolved = {}
        for k, v in data.items():
            f = schema.fields.get(k)
            if f is not None and (v is None or (v == "" and isinstance(f, fields.String))):
                if f.required or f.load_default not in (None, missing):
                    continue
                v = None
            resolved[k] = v
        want = _marshmallow(name, resolved, partial)
        assert (_typed(got[0]) if got[0] is not None else None, got[1]) == (
            _typed(want[0]) if want[0] is not None else None, want[1])


def _valid(name: str) -> dict[str, Any]:
    vid = str(uuid.uuid4())
    return {
        "visits": {"id": vid, "facility_id": UID, "visit_type": "in_depth", "announced": False,
                   "status": "in_progress", "started_at": 1_732_000_000_000,
                   "population_total": 120, "summary": "Tour."},
        "room_inspections": {"id": vid, "visit_id": UID, "label": "Cell 1", "room_kind": "cell",
                             "floor_area_m2": 12.5, "occupants": 4, "beds": 4,
                             "natural_light": "insufficient", "inspected_at": 1},
        "findings": {"id": vid, "visit_id": UID, "theme": "material_conditions",
                     "severity": "serious", "title": "Space",
                     "standard_refs": '[{"instrument":"cpt","rule":"space"}]',
                     "is_systemic": False, "sources_count": 2},
        "photos": {"id": vid, "visit_id": UID, "sha256": "ab" * 32, "byte_size": 2_000_000,
                   "mime_type": "image/jpeg", "captured_at": 1, "lat": 38.56, "lng": 68,
                   "consent": "not_needed"},
    }[name]


@pytest.mark.parametrize("name", ["visits", "room_inspections", "findings", "photos"])
@pytest.mark.parametrize("partial", [False, True])
def test_fast_path_takes_ordinary_records(name: str, partial: bool) -> None:
    """The fast path is not a no-op: valid records of the usual shape never reach
    marshmallow, and come out as marshmallow loads them (ints as floats for Float...)."""
    data = _valid(name)
    fast = compile_loader(RAW_SCHEMAS[name]())(data, partial)
    assert fast is not None
    assert _typed(fast) == _typed(RAW_SCHEMAS[name]().load(data, partial=partial))


@pytest.mark.parametrize(("field", "value"), [
    ("summary", "\ud800"), ("summary", "x\x00"), ("population_total", float("nan")),
    ("population_total", 1e400), ("population_total", True), ("population_total", "5"),
    ("population_total", -1), ("status", "wrong"), ("started_at", 2**53), ("announced", "yes"),
    ("facility_id", UID.upper()), ("summary", 5), ("visit_type", None), ("status", ""),
])
def test_hostile_values_reach_marshmallow(field: str, value: Any) -> None:
    data = {**_valid("visits"), field: value}
    fast = compile_loader(RAW_SCHEMAS["visits"]())(data, False)
    loaded, errors = _marshmallow("visits", data, False)
    assert fast is None or (errors is None and _typed(fast) == _typed(loaded))
    if field != "summary" or value == 5:
        assert fast is None  # wrong type, range, enum or form: only marshmallow answers
