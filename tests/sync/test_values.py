"""sync.values: problem() and parse_json_text() decide in their fast paths as in full."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sync.values import MAX_DEPTH, _parse_json_text, parse_json_text, problem

_SURROGATE = re.compile("[\ud800-\udfff]")


def reference(value: Any) -> str | None:
    """The checks written out in full (what problem() did before its fast path)."""
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


HOSTILE = [None, True, False, 0, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) + 1, 10**400,
           float("nan"), float("inf"), -float("inf"), 1e308, "", "\x00", "a\x00", "é\x00",
           "\ud800", "x\udfff", "😀", [], {}, [1], object()]


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(),
                 st.sampled_from(HOSTILE), st.lists(st.integers(), max_size=2)))
def test_problem_matches_the_full_checks(value: Any) -> None:
    assert problem(value) == reference(value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=True, allow_infinity=True),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids,
                                                                 max_size=3), max_leaves=30)
json_texts = (json_values.map(json.dumps) | json_values.map(lambda v: json.dumps(
    v, ensure_ascii=False, indent=1)) | st.text(max_size=40) | st.sampled_from([
        "[" * 32 + "]" * 32, "[" * 33 + "]" * 33, '[{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]',
        '{"a": 1, "a": 2}', '["\\u0000"]', '["\\\\u0000"]', "[1e400]", "[NaN]", "\ufeff[1]",
        "[12345678901234567890]", "[1234567890123456789]", " [1]\n", "[1] x", '["\\ud800"]']))


@given(json_texts)
def test_parse_json_text_decides_as_the_stdlib_parser_does(text: str) -> None:
    """orjson reads JSON text columns first: it accepts and refuses what the stdlib parser
    does, with the same reasons and (where accepted) the same value."""
    got, expected = parse_json_text(text), _parse_json_text(text)
    assert got[1] == expected[1], text
    if expected[1] is None:
        assert json.dumps(got[0], sort_keys=True) == json.dumps(expected[0], sort_keys=True)
