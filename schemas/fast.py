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
from marshmallow.decorators import VALIDATES_SCHEMA

# (raw data, partial) -> the loaded dict, or None: "ask marshmallow".
Loader = Callable[[Mapping[str, Any], bool], "dict[str, Any] | None"]
_DEFER = object()


class NotCompilable(Exception):
    """The schema uses a feature the fast path does not reproduce (use marshmallow)."""


def _check_value(v: validate.Validator | Callable[[Any], Any]) -> Callable[[Any], bool]:
    """A predicate true when marshmallow's validator `v` accepts the value (`OneOf`,
    `Range` and `Length(max=…)` are tested inline by `_inline_value` instead)."""
    kind = type(v)
    if kind is validate.Length and v.equal is None:  # type: ignore[union-attr]
        lo, hi = v.min, v.max  # type: ignore[union-attr]
        return lambda x: (lo is None or len(x) >= lo) and (hi is None or len(x) <= hi)
    if kind is validate.Regexp:
        regex = v.regex  # type: ignore[union-attr]
        return lambda x: regex.match(x) is not None

    def other(x: Any) -> bool:  # what marshmallow's And does with any other validator
        try:
            result = v(x)
        except ValidationError:
            return False
        return isinstance(v, validate.Validator) or result is not False
    return other


def _convert(field: fields.Field) -> Callable[[Any, Mapping[str, Any]], Any]:
    """A String subclass's deserialisation (UuidText, JsonText: their own code) of a
    non-null value, or _DEFER when it refuses it. The plain types (String, strict Integer,
    Float without NaN, Boolean) are tested inline by `_inline_value`; any other field type
    is refused."""
    if not isinstance(field, fields.String):
        raise NotCompilable(f"{field.name}: {type(field).__name__} is not compiled")
    name = field.name

    def own(x: Any, data: Mapping[str, Any]) -> Any:
        if type(x) is not str:
            return _DEFER
        try:
            return field._deserialize(x, name, data)
        except ValidationError:
            return _DEFER
    return own


def _refuse_remapped(name: str, field: fields.Field) -> None:
    """NotCompilable for a field read from another key or attribute, or with processors."""
    if field.data_key not in (None, name) or field.attribute not in (None, name) or (
            field.pre_load or field.post_load):
        raise NotCompilable(f"{name}: data_key, attribute or field processors")


def compile_loader(schema: Schema) -> Loader:
    """The fast loader of `schema` (raises NotCompilable when it cannot be exact).

    Compiled to one straight-line Python function per schema (a sync push runs it for every
    record): the usual types and validators are tested inline, the rest through the
    predicates and conversions above (`_check_value`, `_convert`), so each decides as they
    do."""
    hooks = schema._hooks
    if any(hooks[tag] for tag in ("pre_load", "post_load", "validates")):
        raise NotCompilable("load processors or field validators (@validates)")
    fields_ = schema.load_fields
    env: dict[str, Any] = {"names": frozenset(fields_), "_DEFER": _DEFER, "missing": missing}
    body = ["def load(data, partial):",
            "    if not names.issuperset(data):",
            "        return None",  # unknown fields: marshmallow's RAISE
            "    out = {}"]
    for i, (name, f) in enumerate(fields_.items()):
        _refuse_remapped(name, f)  # an unknown field type: `_convert` refuses it below
        env[f"n{i}"] = name
        null = f"out[n{i}] = None" if f.allow_none else "return None"
        body += [f"    if n{i} in data:", f"        v = data[n{i}]", "        if v is None:",
                 f"            {null}", "        else:"]
        body += ["            " + line for line in _inline_value(i, f, env)]
        body.append(f"            out[n{i}] = v")
        default = f.load_default
        if f.required:
            body += ["    elif not partial:", "        return None"]
        elif default is not missing:
            env[f"d{i}"] = default
            body += ["    elif not partial:",
                     f"        out[n{i}] = d{i}()" if callable(default) else
                     f"        out[n{i}] = d{i}"]
    # @validates_schema hooks, called as Schema.load calls them for one record (those of
    # the collection first, then the others; each with the loaded dict, the raw data too if
    # it asks for it); any ValidationError: "ask marshmallow" (it says why).
    for k, (attr, _many, kwargs) in enumerate(sorted(hooks[VALIDATES_SCHEMA],
                                                     key=lambda hook: not hook[1])):
        env[f"h{k}"], env["ValidationError"] = getattr(schema, attr), ValidationError
        env["unknown"] = schema.unknown
        given = "out, data" if kwargs.get("pass_original", False) else "out"
        body += ["    try:",
                 f"        h{k}({given}, partial=partial, many=False, unknown=unknown)",
                 "    except ValidationError:",
                 "        return None"]
    body.append("    return out")
    exec("\n".join(body), env)  # noqa: S102 (our own source, built from the schema above)
    load: Loader = env["load"]
    return load


def _inline_value(i: int, field: fields.Field, env: dict[str, Any]) -> list[str]:
    """Lines turning a non-null `v` into the field's value, or returning None ("ask
    marshmallow"): the type test, then each validator."""
    kind = type(field)
    if kind is fields.String:
        lines = ["if type(v) is not str:", "    return None"]
    elif kind is fields.Integer and field.strict:  # type: ignore[attr-defined]
        lines = ["if type(v) is not int:", "    return None"]
    elif kind is fields.Boolean:
        lines = ["if v is not True and v is not False:", "    return None"]
    elif kind is fields.Float and not field.allow_nan:  # type: ignore[attr-defined]
        env["isfinite"] = math.isfinite
        lines = ["if type(v) is float:", "    if not isfinite(v):", "        return None",
                 "elif type(v) is int and -(2**1023) < v < 2**1023:", "    v = float(v)",
                 "else:", "    return None"]
    elif isinstance(field, fields.String) and getattr(field, "fast_accept", None) is not None:
        # Text that deserializes to itself (e.g. a canonical UUID, tested against the
        # subclass's own code) is taken as it is.
        env[f"a{i}"], env[f"c{i}"] = field.fast_accept.match, _convert(field)
        lines = ["if type(v) is not str:", "    return None", f"if a{i}(v) is None:",
                 f"    v = c{i}(v, data)", "    if v is _DEFER:", "        return None"]
    else:
        env[f"c{i}"] = _convert(field)
        lines = [f"v = c{i}(v, data)", "if v is _DEFER:", "    return None"]
    for j, v in enumerate(field.validators):
        if type(v) is validate.OneOf:
            env[f"k{i}_{j}"] = v.choices
            lines += [f"if v not in k{i}_{j}:", "    return None"]
        elif type(v) is validate.Length and v.equal is None and v.min is None \
                and v.max is not None:
            lines += [f"if len(v) > {int(v.max)}:", "    return None"]
        elif type(v) is validate.Range:
            refused = []  # what puts v out of the range
            if v.min is not None:
                env[f"lo{i}_{j}"] = v.min
                refused.append(f"v {'<' if v.min_inclusive else '<='} lo{i}_{j}")
            if v.max is not None:
                env[f"hi{i}_{j}"] = v.max
                refused.append(f"v {'>' if v.max_inclusive else '>='} hi{i}_{j}")
            if refused:
                lines += [f"if {' or '.join(refused)}:", "    return None"]
        else:
            env[f"k{i}_{j}"] = _check_value(v)
            lines += [f"if not k{i}_{j}(v):", "    return None"]
    return lines
