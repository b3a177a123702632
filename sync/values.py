"""Values PostgreSQL cannot store, and how to keep them (visibly) where they must be kept.

Phones send what their JavaScript engine produced: text cut in the middle of an emoji leaves
a lone UTF-16 surrogate, a failed computation leaves NaN or Infinity, a bug leaves a NUL
character or absurdly deep JSON. Such a value makes its record invalid (rejected into the
quarantine) but must never make the whole push fail, and the quarantine must still be able
to store the record as sent.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

# Structured values (JSON text columns, quarantined records) nest at most this deep.
MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")
# A UUID in its canonical form (lowercase, 8-4-4-4-12): the only form ids are accepted in, as
# the server answers in it (an id sent otherwise would give the phone a twin).
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
# The types JSON parsers make of scalars (a flat raw record's values).
JSON_SCALARS = frozenset({str, int, float, bool, type(None)})

# Bytes as "1" where a digit is, "2" where a number may start after (JSON whitespace, "[",
# ",", ":", and "-"), "0" elsewhere: an integer of 19 digits or more is a number orjson
# might not read as json.loads does (past 64 bits it reads a float; json.loads keeps it
# whole). Digits inside text (a sha256 in hex) follow a letter or a quote: passed over.
_DIGIT_MAP = bytes(49 if 48 <= b <= 57 else 50 if b in b" \t\n\r[,:-" else 48
                   for b in range(256))
_LONG_DIGITS = b"1" * 19
_LONG_NUMBER = b"2" + _LONG_DIGITS


def long_integer(raw: bytes) -> bool:
    """Whether the JSON `raw` may hold an integer of 19 digits or more (where numbers are;
    a run of digits after a space inside text counts too: safe, only slower): orjson may
    read it otherwise than json.loads, which must then decide."""
    marks = raw.translate(_DIGIT_MAP)
    return _LONG_NUMBER in marks or marks.startswith(_LONG_DIGITS)


def problem(value: Any) -> str | None:
    """Why a flat raw value cannot be stored (None when it can)."""
    kind = type(value)  # the usual JSON types first, without the checks they cannot fail
    if kind is str and value.isascii():
        return "NUL characters are not allowed." if "\x00" in value else None
    if value is None or kind is bool or (kind is int and -(2**63) < value < 2**63):
        return None
    if kind is float and math.isfinite(value):
        return None
    if isinstance(value, str):
        if "\x00" in value:
            return "NUL characters are not allowed."
        if _SURROGATE.search(value):
            return ("Contains a lone UTF-16 surrogate (text cut inside an emoji?); "
                    "send valid Unicode.")
    elif isinstance(value, float) and not math.isfinite(value):
        return "NaN and infinite numbers are not allowed."
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63 - 1:
        return "The number is out of range."
    elif isinstance(value, dict | list):
        return "Raw records are flat: send a string, number, boolean or null."
    elif not (value is None or isinstance(value, bool | int | float)):
        return f"Nested deeper than {MAX_DEPTH} levels."
    return None


def parse_json_text(text: str) -> tuple[Any, str | None]:
    """Parse a JSON text column strictly: (value, None) or (None, why it is refused).

    orjson reads it first (a push carries hundreds of such texts): it refuses NaN,
    Infinity, lone surrogates and numbers out of range itself; a text it refuses, or might
    read otherwise (an escaped NUL, an integer of 19 digits), goes to the stdlib parser, which
    decides and says why. The value is only checked, never stored: the text is kept."""
    if "\\u0000" not in text and not long_integer(text.encode("utf-8", "surrogatepass")):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:  # as deep as its brackets at most
            if text.count("[") + text.count("{") <= MAX_DEPTH:
                return value, None
            why = _deep_problem(value, 1)
            return (None, why) if why else (value, None)
    return _parse_json_text(text)



def _parse_json_text(text: str) -> tuple[Any, str | None]:
    """parse_json_text by the stdlib parser alone."""
    if text.startswith("\ufeff"):  # what json.loads refuses before decoding
        return None, "Not valid JSON text."
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        return None, f"Nested deeper than {MAX_DEPTH} levels."
    except ValueError as exc:
        return None, "Not valid JSON text." if "constant" not in str(exc) else str(exc)
    why = _deep_problem(value, 1)
    return (None, why) if why else (value, None)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (no NaN or Infinity constant).")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)  # json.loads builds one per call


def _deep_problem(value: Any, depth: int) -> str | None:
    if depth > MAX_DEPTH:
        return f"Nested deeper than {MAX_DEPTH} levels."
    if isinstance(value, dict):
        for key, item in value.items():
            why = problem(key) or _deep_problem(item, depth + 1)
            if why:
                return why
        return None
    if isinstance(value, list):
        for item in value:
            why = _deep_problem(item, depth + 1)
            if why:
                return why
        return None
    return problem(value)


def storable(value: Any, depth: int = 0) -> Any:
    """`value` as JSON that PostgreSQL's jsonb can hold, with every change visible:
    NUL → the text "\\u0000", a lone surrogate → "\\udXXX", NaN/Infinity → their names as
    strings, too-deep nesting → a note. Used for what must be kept as sent."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\\u0000")
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, int):
        return value
    if depth >= MAX_DEPTH:
        return f"[nested deeper than {MAX_DEPTH} levels: not kept]"
    if isinstance(value, dict):
        return {storable(str(k)): storable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v, depth + 1) for v in value]
    return storable(repr(value))
