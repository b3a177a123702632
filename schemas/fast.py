"""A fast path for loading raw sync records, compiled from the marshmallow schemas themselves.

marshmallow stays the one definition of a record's shape (and the one source of error
messages): the compiled loader only *accepts* what it can decide exactly like
`Schema.load` — plain JSON types (a string for a String, an int for a strict Integer, a
finite number for a Float, a bool for a Boolean) with the field's own validators — and
gives back the same dict. Anything else (a wrong type, a value marshmallow would coerce,
a failing validator, a missing required field) returns None: the caller then runs
`Schema.load`, which rejects or coerces it with its usual messages. So the fast path can
never accept a record marshmallow refuses (tests/sync/test_fast_loader.py checks that on
hostile records) — it only skips marshmallow's per-field machinery for the records it
would accept anyway (≈30 µs → a few µs per record).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, missing, validate
from marshmallow.error_store import ErrorStore

# (raw data, partial) -> the loaded dict, or None: "ask marshmallow".
Loader = Callable[[Mapping[str, Any], bool], "dict[str, Any] | None"]
_DEFER = object()


class NotCompilable(Exception):
    """The schema uses a feature the fast path does not reproduce (use marshmallow)."""


def _check_value(v: validate.Validator | Callable[[Any], Any]) -> Callable[[Any], bool]:
    """A predicate true when marshmallow's validator `v` accepts the value."""
    kind = type(v)
    if kind is validate.Length and v.equal is None:  # type: ignore[union-attr]
        lo, hi = v.min, v.max  # type: ignore[union-attr]
        return lambda x: (lo is None or len(x) >= lo) and (hi is None or len(x) <= hi)
    if kind is validate.OneOf:
        choices = v.choices  # type: ignore[union-attr]
        return lambda x: x in choices
    if kind is validate.Regexp:
        regex = v.regex  # type: ignore[union-attr]
        return lambda x: regex.match(x) is not None
    if kind is validate.Range:
        r: validate.Range = v  # type: ignore[assignment]
        lo, hi, lo_in, hi_in = r.min, r.max, r.min_inclusive, r.max_inclusive
        return lambda x: ((lo is None or (x >= lo if lo_in else x > lo))
                          and (hi is None or (x <= hi if hi_in else x < hi)))

    def other(x: Any) -> bool:  # what marshmallow's And does with any other validator
        try:
            result = v(x)
        except ValidationError:
            return False
        return isinstance(v, validate.Validator) or result is not False
    return other


def _convert(field: fields.Field) -> Callable[[Any, Mapping[str, Any]], Any]:
    """The field's deserialisation of a non-null value, or _DEFER when marshmallow would
    coerce or refuse it."""
    kind = type(field)
    if kind is fields.String:
        return lambda x, data: x if type(x) is str else _DEFER
    if kind is fields.Integer and field.strict:  # type: ignore[attr-defined]
        return lambda x, data: x if type(x) is int else _DEFER
    if kind is fields.Float and not field.allow_nan:  # type: ignore[attr-defined]
        def to_float(x: Any, data: Mapping[str, Any]) -> Any:
            if type(x) is float:
                return x if math.isfinite(x) else _DEFER
            if type(x) is int and -(2**1023) < x < 2**1023:
                return float(x)
            return _DEFER
        return to_float
    if kind is fields.Boolean:
        return lambda x, data: x if x is True or x is False else _DEFER
    if isinstance(field, fields.String):  # subclasses (UuidText, JsonText): their own code
        name = field.name
        # A subclass may declare the text that deserializes to itself (tested against it).
        same = getattr(field, "fast_accept", None)

        def own(x: Any, data: Mapping[str, Any]) -> Any:
            if type(x) is not str:
                return _DEFER
            if same is not None and same.match(x):
                return x
            try:
                return field._deserialize(x, name, data)
            except ValidationError:
                return _DEFER
        return own
    raise NotCompilable(f"{field.name}: {kind.__name__} is not compiled")


def _field_step(name: str, field: fields.Field) -> tuple[Any, ...]:
    if field.data_key not in (None, name) or field.attribute not in (None, name) or (
            field.pre_load or field.post_load):
        raise NotCompilable(f"{name}: data_key, attribute or field processors")
    checks = tuple(_check_value(v) for v in field.validators)
    default = field.load_default
    return (name, field.required, field.allow_none, default, _convert(field), checks)


def compile_loader(schema: Schema) -> Loader:
    """The fast loader of `schema` (raises NotCompilable when it cannot be exact)."""
    hooks = schema._hooks
    if any(hooks[tag] for tag in ("pre_load", "post_load", "validates")):
        raise NotCompilable("load processors or field validators (@validates)")
    steps = tuple(_field_step(name, f) for name, f in schema.load_fields.items())
    names = frozenset(schema.load_fields)
    whole = bool(hooks["validates_schema"])

    def load(data: Mapping[str, Any], partial: bool) -> dict[str, Any] | None:
        if not names.issuperset(data):
            return None  # unknown fields: marshmallow's RAISE
        out: dict[str, Any] = {}
        for name, required, allow_none, default, convert, checks in steps:
            if name not in data:
                if partial:
                    continue
                if required:
                    return None
                if default is not missing:
                    out[name] = default() if callable(default) else default
                continue
            value = data[name]
            if value is None:
                if not allow_none:
                    return None
                out[name] = None
                continue
            value = convert(value, data)
            if value is _DEFER:
                return None
            for ok in checks:
                if not ok(value):
                    return None
            out[name] = value
        if whole:  # @validates_schema hooks, run as Schema.load runs them
            store = ErrorStore()
            for collection in (True, False):
                schema._invoke_schema_validators(
                    error_store=store, pass_collection=collection, data=out,
                    original_data=data, many=False, partial=partial, unknown=schema.unknown)
            if store.errors:
                return None
        return out

    return load
