"""monitor_api.jsonsafe: parsing never raises RecursionError, deep values become a sentinel at
exactly the limit, the fallback parser agrees with json.loads, output is always encodable."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor_api import jsonsafe
from monitor_api.jsonsafe import MAX_DEPTH, TOO_DEEP, _Parser, cap_depth, is_too_deep

scalars = st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False)
documents = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4)
                         | st.dictionaries(st.text(max_size=5), kids, max_size=4), max_leaves=40)


def _depth_of_sentinel(doc: Any) -> int:
    depth = 1
    while not is_too_deep(doc):
        doc = doc[0] if isinstance(doc, list) else next(iter(doc.values()))
        depth += 1
    return depth


@given(documents, st.integers(min_value=1, max_value=4), st.booleans())
def test_the_iterative_parser_agrees_with_json_loads(doc: Any, limit: int, pretty: bool) -> None:
    text = json.dumps(doc, indent=2 if pretty else None, ensure_ascii=not pretty)
    assert _Parser(text, 10_000).document() == json.loads(text)
    assert _Parser(text, limit).document() == cap_depth(json.loads(text), limit)


@given(documents, st.booleans(), st.sampled_from([(", ", ": "), (",", ":"), ("\n,\t", "\r:")]))
def test_loads_reads_what_json_loads_reads(doc: Any, ascii_only: bool,
                                           separators: tuple[str, str]) -> None:
    """orjson parses first: same values, same types (1 is not 1.0), same order, for any
    document, as text or as UTF-8 bytes, however compact (integers of any size follow
    every character a number may follow)."""
    text = json.dumps(doc, ensure_ascii=ascii_only, separators=separators)
    expected = json.dumps(json.loads(text))
    assert json.dumps(jsonsafe.loads(text)) == expected
    assert json.dumps(jsonsafe.loads(text.encode("utf-8", "surrogatepass"))) == expected


@pytest.mark.parametrize("data", [
    b"18446744073709551616", b"-9223372036854775809", b"123456789012345678901234567890",
    b"18446744073709551615", b"[1e400, -1e400, 1.7976931348623157e309]", b"NaN", b"[Infinity]",
    b'"\\ud800"', b'"\\udc00x"', b'"\xed\xa0\x80"', b'\xef\xbb\xbf{"a": 1}',
    '{"a": "\u00e9"}'.encode("utf-16"), '{"a": "\u00e9"}'.encode("utf-32"), b'"\xff"',
    b'{"a": 1, "b": 2, "a": 3}', b'"a\tb"', b'"a\x7fb"', b"[-0, -0.0, 1.0, 1E2, 5e-324]",
    b"[01]", b"[1.]", b"[+1]", b'{"a": 1} x', b"[1]\x00", b"[" * 2000 + b"]" * 2000])
def test_loads_falls_back_to_json_loads_where_orjson_differs(data: bytes) -> None:
    try:
        expected: Any = json.dumps(cap_depth(json.loads(data)))
    except RecursionError:
        expected = json.dumps(_Parser(data.decode(), MAX_DEPTH).document())
    except ValueError as exc:
        expected = type(exc)
    try:
        got: Any = json.dumps(jsonsafe.loads(data))
    except ValueError as exc:
        got = type(exc)
    assert got == expected


@pytest.mark.parametrize("text", ["", "[", "[1,]", '{"a" 1}', "[1 2]", "{1: 2}", "[1]x", "tru",
                                  '["a]', '{"a": 1,}', "]", "[}", "[" * 3000 + "]" * 2999,
                                  "[" * 3000 + "}" * 3000, "[" * 3000 + '"'])
def test_invalid_documents_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError):
        jsonsafe.loads(text)


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 100, 5000, 200_000])
def test_deep_arrays_become_the_sentinel_at_the_limit(levels: int) -> None:
    doc = jsonsafe.loads(b"[" * levels + b'"]\\"[{"' + b"]" * levels)
    assert _depth_of_sentinel(doc) == MAX_DEPTH + 1
    assert json.loads(json.dumps(doc)) == doc  # storable as JSONB, as is


def test_deep_values_inside_records_leave_their_neighbours_alone() -> None:
    body = ('{"visits": {"created": [{"id": "a", "notes": ' + '[{"x": ' * 3000 + "1"
            + "}]" * 3000 + '}, {"id": "b", "notes": "fine"}]}}')
    doc = jsonsafe.loads(body.encode())
    first, second = doc["visits"]["created"]
    assert second == {"id": "b", "notes": "fine"}
    assert _depth_of_sentinel(first["notes"]) == MAX_DEPTH + 1 - 4
    assert TOO_DEEP == {"$nested_deeper_than": MAX_DEPTH}
    with pytest.raises(TypeError):
        TOO_DEEP["x"] = 1


def test_depth_exceeds_and_text_problems() -> None:
    assert not jsonsafe.depth_exceeds(json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH))
    assert jsonsafe.depth_exceeds(json.loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)))
    problems = dict(jsonsafe.text_problems({"a": ["ok", "x\x00"], "\ud800": 1, "b": "\udfff"}))
    assert set(problems) == {("a", "1"), ("\\ud800",), ("b",)}


def test_dumps_bytes_escapes_lone_surrogates_and_keeps_utf8_otherwise() -> None:
    assert jsonsafe.dumps_bytes({"name": "Худжанд"}).decode() == '{"name":"Худжанд"}'
    out = jsonsafe.dumps_bytes({"\ud800": "é"})
    assert out == b'{"\\ud800":"\\u00e9"}' and json.loads(out) == {"\ud800": "é"}


wild_scalars = (st.none() | st.booleans() | st.integers() | st.text()
                | st.floats(allow_nan=True, allow_infinity=True))
wild_documents = st.recursive(wild_scalars, lambda kids: st.lists(kids, max_size=4)
                              | st.dictionaries(st.text(max_size=5), kids, max_size=4),
                              max_leaves=40)


def _leaves(doc: Any) -> list[Any]:
    if isinstance(doc, dict):
        return [*doc, *(x for v in doc.values() for x in _leaves(v))]
    if isinstance(doc, list):
        return [x for v in doc for x in _leaves(v)]
    return [doc]


def _plain(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" not in value and not jsonsafe._SURROGATE.search(value)
    if isinstance(value, float):
        return value == value and abs(value) != float("inf")
    if isinstance(value, int):
        return -(2**63) < value < 2**63
    return True


@given(wild_documents, st.booleans())
def test_a_plain_document_holds_no_value_a_push_must_refuse(doc: Any, ascii_only: bool) -> None:
    """`loads_plain` says plain only when no string holds a NUL or a lone surrogate and no
    number is NaN, infinite or past 64 bits (the push then checks values for nesting only);
    what it reads is always what `loads` reads. (Not plain says nothing: a run of 19
    digits, even in a string, sends a document to the stdlib parser.)"""
    text = json.dumps(doc, ensure_ascii=ascii_only)
    for data in (text, text.encode("utf-8", "surrogatepass")):
        got, plain = jsonsafe.loads_plain(data)
        assert json.dumps(got) == json.dumps(jsonsafe.loads(data))
        if plain:
            assert all(map(_plain, _leaves(got))), text


@pytest.mark.parametrize(("data", "plain"), [
    (b'{"a": "caf\xc3\xa9 \\u00e9 \\ud83d\\ude00", "b": [1, 2.5, -1e308, true, null]}', True),
    (b'{"a": "x\\u0000"}', False), (b'{"a": "\\\\u0000"}', False), (b'{"a": NaN}', False),
    (b'{"a": 1e400}', False), (b'{"a": "\\ud83d"}', False), (b'{"a": 1000000000000000000}', False),
    (b'{"a": 999999999999999999}', True), (b'\xef\xbb\xbf{"a": 1}', False),
    (b'{"sha256": "ab1234567890123456789012345cd", "n": "1234567890123456789012"}', True),
    (b'[-12345678901234567890]', False), (b'{"a":12345678901234567890}', False),
    (b'[1,12345678901234567890]', False), (b'\t12345678901234567890', False),
    (b'12345678901234567890', False), (b'["x 1234567890123456789012"]', False)])
def test_loads_plain_examples(data: bytes, plain: bool) -> None:
    assert jsonsafe.loads_plain(data)[1] is plain
