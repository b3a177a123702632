"""The codec's compiled `to_db` (sync/fields.py) against the per-value rule it inlines.

`to_db` is generated per table as straight-line code; it must give, for every raw record,
what applying `to_db_value` to each present field (and building the point from lat/lng)
gives, nulls left out; `columns_of` names every column that rule fills, nulls included.
The reference below is that rule written as a plain loop.
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor_api.sync_api.registry import registry
from sync.fields import Codec, Field, to_db_value

TABLES = {t.name: t.codec for t in registry().tables}


def reference(codec: Codec, raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in raw.items():
        f = codec.by_name.get(name)
        if f is not None and f.kind not in ("lat", "lng"):
            out[f.db] = to_db_value(f.kind, value)
    if codec.point and ("lat" in raw or "lng" in raw):
        lat, lng = raw.get("lat"), raw.get("lng")
        out[codec.point] = (None if lat is None or lng is None
                            else f"SRID=4326;POINT({float(lng)!r} {float(lat)!r})")
    return out


def _value(f: Field) -> st.SearchStrategy[Any]:
    ids = st.uuids().flatmap(lambda u: st.sampled_from([str(u), str(u).upper(), u]))
    kinds: dict[str, st.SearchStrategy[Any]] = {
        "uuid": ids,
        "time": st.integers(-(10**13), 10**14),
        "json": st.one_of(st.text(max_size=20), st.lists(st.integers(), max_size=3),
                          st.dictionaries(st.text(max_size=5), st.booleans(), max_size=3)),
        "float": st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=False,
                                                                    allow_infinity=False)),
        "lat": st.floats(-90, 90), "lng": st.floats(-180, 180),
    }
    return st.one_of(st.none(), kinds.get(f.kind, st.one_of(st.text(max_size=10),
                                                            st.integers(), st.booleans())))


@st.composite
def records(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    table = draw(st.sampled_from(sorted(TABLES)))
    codec = TABLES[table]
    chosen = draw(st.lists(st.sampled_from(codec.fields), unique=True))
    raw = {f.name: draw(_value(f)) for f in chosen}
    raw.update(draw(st.dictionaries(st.sampled_from(["_status", "unknown", "x"]),
                                    st.integers(), max_size=2)))
    return table, raw


@settings(max_examples=400, deadline=None)
@given(records())
def test_compiled_to_db_is_the_per_value_rule(case: tuple[str, dict[str, Any]]) -> None:
    table, raw = case
    codec = TABLES[table]
    expected = reference(codec, raw)
    assert _typed(codec.to_db(raw)) == _typed({k: v for k, v in expected.items()
                                               if v is not None})
    assert codec.columns_of(tuple(raw)) == set(expected)


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """A comparable form that tells 1, 1.0 and True apart."""
    return {k: (type(v).__name__, v) for k, v in row.items()}


def test_every_kind_is_covered_and_converted() -> None:
    codec = Codec((Field("id", "uuid"), Field("at", "time"), Field("doc", "json"),
                   Field("n", "float"), Field("s"), Field("lat", "lat", "where"),
                   Field("lng", "lng", "where")))
    uid = uuid.uuid4()
    raw = {"id": str(uid).upper(), "at": 1_732_000_000_165, "doc": {"b": 1, "a": [2]},
           "n": 3, "s": "x", "lat": 38.5, "lng": 68.75, "other": 1}
    assert _typed(codec.to_db(raw)) == _typed({
        "id": str(uid), "at": "2024-11-19T07:06:40.165000+00:00", "doc": '{"a":[2],"b":1}',
        "n": 3.0, "s": "x", "where": "SRID=4326;POINT(68.75 38.5)"})
    assert codec.to_db({"lat": 1.0, "id": None}) == {}
    assert codec.columns_of(("lat", "id", "other")) == {"where", "id"}
    assert codec.to_db({}) == {}
