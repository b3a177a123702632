"""JSON that clients send and we answer: bounded nesting, text checks, always-encodable output.

`loads` never raises RecursionError: values nested deeper than `MAX_DEPTH` come back as the
`TOO_DEEP` sentinel, which validators recognise with `is_too_deep` and which serialises as
`{"$nested_deeper_than": 64}` (so a quarantined raw record stays storable). orjson, then the
stdlib parser (C, fast) do the work; only a document neither can parse for depth is re-read
by a small iterative parser that skips the too-deep parts without building them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Final

import orjson

from sync.values import JSON_SCALARS, long_integer

MAX_DEPTH: Final = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


class _TooDeep(dict[str, int]):
    """The sentinel's type: a read-only dict, so json.dumps and JSONB columns take it."""

    def __setitem__(self, key: str, value: int) -> None:
        raise TypeError("TOO_DEEP is read-only")

    def __repr__(self) -> str:
        return "TOO_DEEP"


TOO_DEEP: Final = _TooDeep({"$nested_deeper_than": MAX_DEPTH})


def is_too_deep(value: Any) -> bool:
    """True for the sentinel that `loads` puts where a value nested deeper than the limit was."""
    return isinstance(value, _TooDeep)


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON like json.loads; values nested deeper than max_depth become TOO_DEEP.

    orjson parses first (3x faster: a sync push is thousands of records); what it refuses
    or might read differently — NaN/Infinity, lone surrogates, a byte-order mark, UTF-16,
    invalid UTF-8, nesting past 1024, an integer of 19 digits or more — goes to json.loads,
    so the result (or the ValueError) is always json.loads's."""
    return loads_plain(data, max_depth=max_depth)[0]


def loads_plain(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> tuple[Any, bool]:
    """`loads`, and whether the document's strings and numbers are plain: no string holds a
    NUL or a lone surrogate, no number is NaN, infinite or an integer of 19 digits or more.
    True only when orjson read it (it refuses all but the NUL, escaped as \\u0000, which
    is looked for in the bytes); False says nothing either way."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if not long_integer(raw):
        try:
            return cap_depth(orjson.loads(raw), max_depth), b"\\u0000" not in raw
        except orjson.JSONDecodeError:
            pass  # json.loads decides, and says why
    try:
        doc = json.loads(data)
    except RecursionError:
        text = data if isinstance(data, str) else data.decode(
            json.detect_encoding(data), "surrogatepass")
        return _Parser(text, max_depth).document(), False
    return cap_depth(doc, max_depth), False




def cap_depth(doc: Any, max_depth: int = MAX_DEPTH) -> Any:
    """Replace (in place) every container nested deeper than max_depth by TOO_DEEP."""
    if not isinstance(doc, (list, dict)):
        return doc
    if max_depth < 1:
        return TOO_DEEP
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        values = node if isinstance(node, list) else node.values()
        # A sync push is thousands of flat records: a node holding only plain scalars is
        # passed over by one C-level scan of its values' types.
        if JSON_SCALARS.issuperset(map(type, values)):
            continue
        kids = [c for c in values if isinstance(c, (list, dict)) and c.__class__ is not _TooDeep]
        if not kids:
            continue
        if depth < max_depth:
            stack.extend((c, depth + 1) for c in kids)
            continue
        keys: Iterator[Any] = iter(range(len(node)) if isinstance(node, list) else list(node))
        for key in keys:
            child = node[key]
            if isinstance(child, (list, dict)) and child.__class__ is not _TooDeep:
                node[key] = TOO_DEEP
    return doc


def depth_exceeds(doc: Any, max_depth: int = MAX_DEPTH) -> bool:
    """Whether any container in doc sits deeper than max_depth (iterative, no recursion)."""
    stack: list[tuple[Any, int]] = [(doc, 1)] if isinstance(doc, (list, dict)) else []
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return True
        children = node if isinstance(node, list) else node.values()
        stack.extend((c, depth + 1) for c in children if isinstance(c, (list, dict)))
    return False


def text_problems(doc: Any) -> list[tuple[tuple[str, ...], str]]:
    """(path, message) for every key or string holding a lone surrogate or NUL (iterative)."""
    problems: list[tuple[tuple[str, ...], str]] = []
    stack: list[tuple[Any, tuple[str, ...]]] = [(doc, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            message = _text_problem(node)
            if message:
                problems.append((path, message))
        elif isinstance(node, list):
            stack.extend((v, (*path, str(i))) for i, v in enumerate(node))
        elif isinstance(node, dict):
            for key, value in node.items():
                message = _text_problem(key)
                if message:
                    problems.append(((*path, escape(key)), "Field name: " + message))
                else:
                    stack.append((value, (*path, key)))
    return sorted(problems)


def _text_problem(text: str) -> str | None:
    if _SURROGATE.search(text):
        return "Contains a lone UTF-16 surrogate (e.g. \\ud800), which is not text."
    if "\x00" in text:
        return "Must not contain NUL characters."
    return None


def escape(text: str) -> str:
    """`text` with lone surrogates written as \\udXXX escapes, so it can be encoded."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dumps_bytes(obj: Any, **kwargs: Any) -> bytes:
    """UTF-8 JSON; when a string holds a lone surrogate, ASCII JSON (\\udXXX escapes) instead."""
    kwargs.setdefault("separators", (",", ":"))
    try:
        return json.dumps(obj, ensure_ascii=False, **kwargs).encode()
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, **kwargs).encode()


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?")
_CONSTANTS = {"true": True, "false": False, "null": None, "NaN": float("nan"),
              "Infinity": float("inf"), "-Infinity": float("-inf")}
# A skipped (too deep) container is read between strings, brackets only, in runs.
_NOT_BRACKET_BYTES = bytes(b for b in range(256) if b not in b"[]{}")
_RUNS = re.compile(rb"[\[{]+|[\]}]+")
_CLOSER = bytes.maketrans(b"[{", b"]}")
_BRACKET = re.compile(r"[\[\]{}]")
_BLOCK = 65536


def _after_bracket(s: str, pos: int, n: int) -> int:
    """The position just after the n-th bracket (n >= 1) of s from pos (no strings between)."""
    while True:
        block = s[pos:pos + _BLOCK]
        count = len(block.encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKET_BYTES))
        if count >= n:
            break
        n, pos = n - count, pos + len(block)
    if count == len(block):  # brackets only
        return pos + n
    found = _BRACKET.finditer(s, pos)
    for _ in range(n - 1):
        next(found)
    return next(found).end()


class _Parser:
    """An explicit-stack JSON parser (json.loads' grammar) that skips too-deep containers."""

    def __init__(self, text: str, max_depth: int) -> None:
        self.s, self.max_depth = text, max_depth

    def fail(self, msg: str, pos: int) -> json.JSONDecodeError:
        return json.JSONDecodeError(msg, self.s, pos)

    def ws(self, pos: int) -> int:
        match = _WS.match(self.s, pos)
        return match.end() if match else pos

    def key(self, pos: int) -> tuple[str, int]:
        if self.s[pos:pos + 1] != '"':
            raise self.fail("Expecting property name enclosed in double quotes", pos)
        key, pos = json.decoder.scanstring(self.s, pos + 1)
        pos = self.ws(pos)
        if self.s[pos:pos + 1] != ":":
            raise self.fail("Expecting ':' delimiter", pos)
        return key, self.ws(pos + 1)

    def scalar(self, pos: int) -> tuple[Any, int]:
        s = self.s
        if s[pos:pos + 1] == '"':
            return json.decoder.scanstring(s, pos + 1)
        match = _NUMBER.match(s, pos)
        if match:
            integer, frac, exp = match.groups()
            value = float(integer + (frac or "") + (exp or "")) if frac or exp else int(integer)
            return value, match.end()
        for word, value in _CONSTANTS.items():
            if s.startswith(word, pos):
                return value, pos + len(word)
        raise self.fail("Expecting value", pos)

    def skip(self, pos: int) -> int:
        """The position after the container opening at pos (validated bracket matching only)."""
        s, expected = self.s, bytearray()  # the closers still owed, innermost last
        while True:
            quote = s.find('"', pos)
            end = len(s) if quote < 0 else quote
            brackets = s[pos:end].encode("utf-8", "surrogatepass").translate(
                None, _NOT_BRACKET_BYTES)
            done = 0  # brackets of this segment consumed
            for run in _RUNS.finditer(brackets):
                chunk = run.group()
                if chunk[0] in b"[{":
                    expected += chunk.translate(_CLOSER)
                    done += len(chunk)
                    continue
                n = min(len(chunk), len(expected))
                if bytes(reversed(expected[-n:])) != chunk[:n]:
                    raise self.fail("Mismatched bracket", pos)
                del expected[-n:]
                done += n
                if not expected:  # the done-th bracket of this segment closes the container
                    return _after_bracket(s, pos, done)
            if quote < 0:
                raise self.fail("Unterminated array or object", len(s))
            pos = json.decoder.scanstring(s, quote + 1)[1]

    def document(self) -> Any:
        s, pos = self.s, self.ws(0)
        stack: list[Any] = []
        keys: list[str] = []
        while True:
            char = s[pos:pos + 1]
            if char in ("[", "{"):
                if len(stack) >= self.max_depth:
                    value, pos = TOO_DEEP, self.skip(pos)
                else:
                    container: Any = [] if char == "[" else {}
                    pos = self.ws(pos + 1)
                    if s[pos:pos + 1] == ("]" if char == "[" else "}"):
                        value, pos = container, pos + 1
                    else:
                        stack.append(container)
                        if char == "{":
                            key, pos = self.key(pos)
                            keys.append(key)
                        continue
            else:
                value, pos = self.scalar(pos)
            while True:  # attach the value, then read a separator or close containers
                if not stack:
                    pos = self.ws(pos)
                    if pos != len(s):
                        raise self.fail("Extra data", pos)
                    return value
                top = stack[-1]
                if isinstance(top, list):
                    top.append(value)
                else:
                    top[keys[-1]] = value
                pos = self.ws(pos)
                char = s[pos:pos + 1]
                if char == ",":
                    pos = self.ws(pos + 1)
                    if isinstance(top, dict):
                        keys[-1], pos = self.key(pos)
                    break
                if char == ("]" if isinstance(top, list) else "}"):
                    value, pos = stack.pop(), pos + 1
                    if isinstance(value, dict):
                        keys.pop()
                    continue
                raise self.fail("Expecting ',' delimiter", pos)
