"""Bytes on the wire: bounded gzip request bodies and gzip responses."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

import orjson
from flask import Request, Response
from isal import isal_zlib
from werkzeug.exceptions import RequestEntityTooLarge

from monitor_api import jsonsafe
from monitor_api.errors import ApiError, PayloadTooLarge, UnsupportedMediaType

GZIP_MIN_BYTES = 1024
# Level 1: a pull page compresses about as well as at 5 (JSON records repeat their keys) in a
# third of the time, and compressing is a large share of a first sync's cost.
GZIP_LEVEL = 1


def read_json_body(request: Request, limit: int) -> tuple[Any, bytes, bool]:
    """The decoded JSON body, its decompressed bytes and whether its strings and numbers are
    plain (`jsonsafe.loads_plain`); 413 past `limit` decompressed bytes.

    Values nested deeper than jsonsafe.MAX_DEPTH come back as jsonsafe.TOO_DEEP (for the
    record validator to reject that one record), never as a RecursionError.
    """
    request.max_content_length = limit  # Flask 3.1: per request; also caps compressed bytes
    raw_input = request.environ.get("wsgi.input")
    if request.content_length is None and request.environ.get("wsgi.input_terminated") \
            and raw_input is not None:
        # Chunked: Werkzeug would silently truncate at the cap; read one byte past it instead.
        data = raw_input.read(limit + 1)
    else:
        try:
            data = request.get_data(cache=False)
        except RequestEntityTooLarge:
            raise _too_large(limit) from None
    if len(data) > limit:
        raise _too_large(limit)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "gzip":
        data = _gunzip(data, limit)
    elif encoding not in ("identity", ""):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported; use gzip.")
    try:
        doc, plain = jsonsafe.loads_plain(data)
        return doc, data, plain
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("The request body is not valid JSON.", status=400) from exc


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The body exceeds the limit of {limit} bytes.",
                           extra={"limit": limit})


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress at most limit+1 bytes: a gzip bomb stops here, never in memory. ISA-L's
    inflate (zlib's interface) takes half zlib's time: a push body is ~400 kB of JSON."""
    inflater = isal_zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, limit + 1)
    except isal_zlib.error as exc:
        raise ApiError("The body is not valid gzip.", status=400) from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"The decompressed body exceeds the limit of {limit} bytes.",
                              extra={"limit": limit})
    return out


def json_response(request: Request, body: Any, status: int = 200,
                  encode: Callable[[Any], bytes] = jsonsafe.dumps_bytes) -> Response:
    """A JSON response, gzip-encoded when the client accepts it and it is worth it."""
    data = encode(body)  # jsonsafe: a lone surrogate a phone sent is echoed escaped
    resp = Response(data, status=status, mimetype="application/json")
    resp.headers["Vary"] = "Accept-Encoding"
    if len(data) >= GZIP_MIN_BYTES and request.accept_encodings["gzip"] > 0:
        resp.set_data(gzip.compress(data, compresslevel=GZIP_LEVEL))
        resp.headers["Content-Encoding"] = "gzip"
    return resp


def pull_response(request: Request, body: Any) -> Response:
    """A pull page: its records are JSON fragments made by PostgreSQL (orjson embeds them;
    database text holds no lone surrogate)."""
    return json_response(request, body, encode=orjson.dumps)
