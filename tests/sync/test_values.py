"""sync.values.problem: its fast path for plain JSON types decides as the full checks do."""

from __future__ import annotations

import math
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sync.values import MAX_DEPTH, problem

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
