"""The pre-rendered indicator documents are written by orjson where it writes exactly what
the app's JSON provider writes, and by the standard encoder otherwise: the text is the
same either way, whatever the values (floats of every size, Unicode, keys to sort)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor_api.histories.render import _ENCODER, dumps

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.floats(min_value=-1e-3, max_value=1e-3) | st.text(max_size=12))
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                         max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_same_text_as_the_standard_encoder(doc: Any) -> None:
    assert dumps(doc) == _ENCODER.encode(doc)


def test_the_cases_orjson_writes_otherwise() -> None:
    for doc in ({"rate": 1e-05}, [1.5e-07], {"k": 2**64}, {1: "x"}, {"s": "\ud800"}):
        assert dumps(doc) == _ENCODER.encode(doc)
