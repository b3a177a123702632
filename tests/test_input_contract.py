"""One input contract (issue 7, items 10 and 15): undocumented query parameters → 422 on every
operation of the OpenAPI document; JSON bodies nested too deeply → 400 naming the limit; lone
UTF-16 surrogates and NULs in any key or string → 422 naming the field; never a 5xx, and every
problem answer encodable; tus OPTIONS without a body or an HTML content type."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from monitor_api.accounts.devices import register_device
from monitor_api.accounts.models import User
from monitor_api.auth import Principal
from monitor_api.config import Settings
from monitor_api.jsonsafe import MAX_DEPTH
from tests.accounts.conftest import open_session
from tests.facilities.conftest import payload

PROBLEM = "application/problem+json"
DEEP = "[" * 5000 + "]" * 5000  # the depth at which json.loads used to raise RecursionError
WRITES = ("post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def spec(app: Flask) -> dict[str, Any]:
    return app.test_client().get("/api/openapi.json").get_json()


@pytest.fixture
def tokens(db: Session, settings: Settings) -> dict[str, str]:
    """An admin's session token and device token (sync endpoints take only the latter)."""
    user = User(username=f"contract-{secrets.token_hex(4)}", display_name="admin",
                role="admin", password_hash="not-used")
    db.add(user)
    db.flush()
    _, device = register_device(db, Principal(user.id, user.role, user.username),
                                name="phone", platform="android", lifetime_days=1)
    db.flush()
    return {"session": open_session(db, settings, user), "device": device}


def _url(path: str, params: list[dict[str, Any]]) -> str:
    """The path with every {param} filled: a UUID, 1, or the first value of its enum."""
    def value(match: re.Match[str]) -> str:
        schema = next((p.get("schema", {}) for p in params if p.get("name") == match[1]), {})
        if "enum" in schema:
            return str(schema["enum"][0])
        if schema.get("type") == "integer":
            return "1"
        return str(uuid.uuid4()) if schema.get("format") == "uuid" else "visits"
    return re.sub(r"\{(\w+)\}", value, path)


def _operations(spec: dict[str, Any], methods: tuple[str, ...]) -> list[tuple[str, str, Any]]:
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in methods:
                params = item.get("parameters", []) + op.get("parameters", [])
                ops.append((method, _url(path, params), op))
    return ops


def _problem(resp: Any, *statuses: int) -> dict[str, Any]:
    assert resp.status_code in statuses, (resp.status_code, resp.get_data(as_text=True))
    assert resp.mimetype == PROBLEM
    body = json.loads(resp.get_data())  # the bytes decode as UTF-8 JSON: nothing unencodable
    assert body["status"] == resp.status_code and body["type"].startswith("/problems/")
    return body


def _call(client: Any, method: str, url: str, tokens: dict[str, str], **kw: Any) -> Any:
    """As the admin's session; endpoints that take only a device token get that one."""
    for kind in ("session", "device"):
        resp = client.open(url, method=method.upper(), **kw,
                           headers={"Authorization": f"Bearer {tokens[kind]}"})
        if resp.status_code != 403:
            return resp
    return resp


def test_every_get_refuses_an_undocumented_query_parameter(
        client: Any, spec: dict[str, Any], tokens: dict[str, str]) -> None:
    gets = _operations(spec, ("get",))
    assert len(gets) > 30
    assert {"/api/v1/audit", "/api/v1/teams", "/api/v1/devices",
            "/api/v1/users", "/api/v1/sync"} <= {url for _, url, _ in gets}
    for _, url, _ in gets:
        resp = _call(client, "get", url + "?no_such_filter=1", tokens)
        body = _problem(resp, 422)
        assert body["errors"] == {"no_such_filter": ["Unknown query parameter."]}, url
        assert "Query parameters this operation takes" in body["detail"]


def test_writes_refuse_undocumented_query_parameters_too(
        client: Any, spec: dict[str, Any], tokens: dict[str, str]) -> None:
    for method, url, _ in _operations(spec, WRITES):
        resp = _call(client, method, url + "?dry_run=1", tokens, json={})
        assert _problem(resp, 422)["errors"] == {"dry_run": ["Unknown query parameter."]}, url


def test_documented_parameters_still_work_and_nul_in_a_value_is_named(
        client: Any, tokens: dict[str, str]) -> None:
    ok = _call(client, "get", "/api/v1/users?page=1&per_page=5", tokens)
    assert ok.status_code == 200, ok.get_json()
    audit = _call(client, "get", "/api/v1/audit?limit=5", tokens)
    assert audit.status_code == 200, audit.get_json()
    body = _problem(_call(client, "get", "/api/v1/facilities?q=a%00b", tokens), 422)
    assert body["errors"] == {"q": ["Must not contain NUL characters."]}


def test_probes_and_docs_are_outside_the_contract(client: Any) -> None:
    assert client.get("/healthz?probe=lb").status_code == 200  # load balancers add params


@pytest.mark.parametrize("path", ["/api/v1/uploads", f"/api/v1/uploads/{uuid.uuid4()}"])
def test_tus_options_has_headers_and_no_body(client: Any, path: str) -> None:
    resp = client.options(path)
    assert resp.status_code == 204
    assert resp.get_data() == b""
    assert "Content-Type" not in resp.headers
    assert resp.headers["Tus-Version"] == "1.0.0" and resp.headers["Tus-Resumable"] == "1.0.0"
    assert "creation" in resp.headers["Tus-Extension"]


def test_automatic_options_answers_carry_no_html_type(client: Any) -> None:
    resp = client.options("/api/v1/facilities")
    assert resp.status_code == 200 and resp.get_data() == b""
    assert "text/html" not in resp.headers.get("Content-Type", "")


def _string_fields(spec: dict[str, Any], op: dict[str, Any]) -> list[str]:
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return sorted(name for name, prop in schema.get("properties", {}).items()
                  if prop.get("type") == "string" or "string" in (prop.get("type") or []))


def _json_writes(spec: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """REST writes with a JSON body (the sync push rejects bad records one by one instead)."""
    return [(m, url, op) for m, url, op in _operations(spec, WRITES)
            if "application/json" in op.get("requestBody", {}).get("content", {})
            and url != "/api/v1/sync"]


@pytest.mark.parametrize("bad", ["\ud800", "nul\x00here", "\udfff tail"])
def test_every_rest_write_names_fields_holding_surrogates_or_nul(
        client: Any, spec: dict[str, Any], tokens: dict[str, str], bad: str) -> None:
    writes = _json_writes(spec)
    assert len(writes) > 20
    for method, url, op in writes:
        fields = _string_fields(spec, op) or ["note"]
        raw = json.dumps({name: bad for name in fields})  # \ud800 escapes, as phones send them
        resp = _call(client, method, url, tokens, data=raw, content_type="application/json")
        body = _problem(resp, 422)
        assert sorted(body["errors"]) == fields, (url, body)


def test_every_rest_write_refuses_surrogate_keys_and_deep_nesting(
        client: Any, spec: dict[str, Any], tokens: dict[str, str]) -> None:
    for method, url, _ in _json_writes(spec):
        resp = _call(client, method, url, tokens, data='{"\\ud800": 1, "ok\\u0000": [1]}',
                     content_type="application/json")
        body = _problem(resp, 422)
        assert sorted(body["errors"]) == ["\\ud800", "ok\x00"], (url, body)
        for doc in (DEEP, '{"a": ' + "[" * 70 + "]" * 70 + "}"):
            resp = _call(client, method, url, tokens, data=doc, content_type="application/json")
            body = _problem(resp, 400)
            assert body["type"] == "/problems/too-deep" and body["limit"] == MAX_DEPTH, url
            assert str(MAX_DEPTH) in body["detail"]


def test_nesting_at_the_limit_is_parsed_as_usual(client: Any, tokens: dict[str, str]) -> None:
    at_limit = {"name": "x", "holds": json.loads("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))}
    resp = _call(client, "post", "/api/v1/teams", tokens, json=at_limit)
    assert _problem(resp, 422)["errors"].keys() == {"holds"}  # unknown field, not too deep


def test_a_lone_surrogate_never_reaches_the_database(client: Any, tokens: dict[str, str]
                                                     ) -> None:
    # Used to be UnicodeEncodeError → 500 when psycopg encoded the name.
    raw = json.dumps(payload(name="SIZO \ud800"))
    resp = _call(client, "post", "/api/v1/facilities", tokens, data=raw,
                 content_type="application/json")
    assert _problem(resp, 422)["errors"] == {
        "name": ["Contains a lone UTF-16 surrogate (e.g. \\ud800), which is not text."]}
    raw = json.dumps(payload(holds={"men": True, "\udc00": False}))
    body = _problem(_call(client, "post", "/api/v1/facilities", tokens, data=raw,
                          content_type="application/json"), 422)
    assert list(body["errors"]["holds"]) == ["\\udc00"]


def test_a_surrogate_field_name_gets_an_encodable_answer(client: Any, tokens: dict[str, str]
                                                         ) -> None:
    # Used to be a 500: the 422 naming the unknown field "\ud800" could not be encoded.
    resp = _call(client, "post", "/api/v1/users", tokens, data='{"\\ud800": 1}',
                 content_type="application/json")
    body = _problem(resp, 422)
    assert resp.get_data().decode("utf-8")  # strict UTF-8
    assert list(body["errors"]) == ["\\ud800"]


def test_sync_review_fix_bodies_are_checked_like_any_rest_body(
        client: Any, tokens: dict[str, str]) -> None:
    url = f"/api/v1/sync/quarantine/{uuid.uuid4()}/fix"
    body = _problem(_call(client, "post", url, tokens, data='{"raw": ' + DEEP + "}",
                          content_type="application/json"), 400)
    assert body["type"] == "/problems/too-deep"
    resp = _call(client, "post", url, tokens, data="raw", content_type="text/plain")
    _problem(resp, 415)


def test_a_json_query_parameter_nested_too_deeply_is_400(client: Any, tokens: dict[str, str]
                                                          ) -> None:
    # The sync pull's `migration` parameter is JSON: json.loads used to raise RecursionError.
    url = "/api/v1/sync?last_pulled_at=null&migration=" + "%5B" * 5000 + "%5D" * 5000
    body = _problem(_call(client, "get", url, tokens), 400)
    assert body["type"] == "/problems/too-deep" and body["limit"] == MAX_DEPTH
