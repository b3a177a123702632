"""Every error is RFC 9457 problem+json: bad JSON, wrong types, unknown fields, sizes, media
types, methods, unexpected exceptions; never a 500 for client input."""

from __future__ import annotations

import io
import json
import secrets
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from monitor_api.accounts.models import User
from monitor_api.app import create_app
from monitor_api.config import Settings
from tests.accounts.conftest import open_session
from tests.conftest import Api

V = "/api/v1"
USER = {"username": "some-one", "display_name": "Some One", "role": "monitor",
        "password": "a long enough password"}


def problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/")
    assert body["title"] and body["detail"]
    assert body["request_id"] == resp.headers["X-Request-ID"]
    return body


@pytest.fixture
def admin(db: Session, client: Any, settings: Settings) -> Api:
    """An admin with a session token (made in the db: no argon2 per test)."""
    user = User(username=f"err-admin-{secrets.token_hex(4)}", display_name="admin",
                role="admin", password_hash="not-used")
    db.add(user)
    db.flush()
    return Api(client, open_session(db, settings, user))


@pytest.mark.parametrize("raw", [b"{", b"{'a': 1}", b'{"username": }', b"\xff\xfe{}",
                                 b"nul\x00l"])
def test_malformed_json_is_400(admin: Any, raw: bytes) -> None:
    resp = admin.client.post(f"{V}/users", data=raw, content_type="application/json",
                             headers={"Authorization": f"Bearer {admin.token}"})
    body = problem(resp, 400)
    assert body["type"] == "/problems/bad-request"
    assert "JSON" in body["detail"]


@pytest.mark.parametrize(("payload", "field"), [
    ({**USER, "username": 5}, "username"),
    ({**USER, "role": "superuser"}, "role"),
    ({**USER, "email": "not-an-email"}, "email"),
    ({**USER, "password": "short"}, "password"),
    ({k: v for k, v in USER.items() if k != "role"}, "role"),
    ({**USER, "is_admin": True}, "is_admin"),  # unknown field: no mass assignment
    ({**USER, "display_name": None}, "display_name"),
])
def test_invalid_fields_are_422_per_field(admin: Any, payload: dict[str, Any],
                                          field: str) -> None:
    body = problem(admin.post(f"{V}/users", json=payload), 422)
    assert body["type"] == "/problems/validation-error"
    assert field in body["errors"], body
    assert isinstance(body["errors"][field], list)


@pytest.mark.parametrize("payload", [[], [USER], "text", 42, None])
def test_non_object_bodies_are_422(admin: Any, payload: Any) -> None:
    resp = admin.client.post(f"{V}/users", data=json.dumps(payload),
                             content_type="application/json",
                             headers={"Authorization": f"Bearer {admin.token}"})
    body = problem(resp, 422)
    assert body["errors"]


def test_empty_json_body_is_422(admin: Any) -> None:
    resp = admin.client.post(f"{V}/users", data=b"", content_type="application/json",
                             headers={"Authorization": f"Bearer {admin.token}"})
    body = problem(resp, 422)
    assert {"username", "role", "password"} <= set(body["errors"])


def test_invalid_query_parameters_are_422(admin: Any) -> None:
    assert "page" in problem(admin.get(f"{V}/users?page=abc"), 422)["errors"]
    assert "per_page" in problem(admin.get(f"{V}/users?per_page=100000"), 422)["errors"]
    assert "after_id" in problem(admin.get(f"{V}/audit?after_id=99999999999999999999"),
                                 422)["errors"]


def test_oversized_body_is_413(admin: Any, settings: Settings) -> None:
    big = b'{"username": "' + b"a" * (settings.max_body_bytes + 10) + b'"}'
    body = problem(admin.post(f"{V}/users", data=big, content_type="application/json"), 413)
    assert body["type"] == "/problems/payload-too-large"
    assert str(settings.max_body_bytes) in body["detail"]


def test_oversized_chunked_body_is_413(admin: Any, settings: Settings) -> None:
    big = b'{"username": "' + b"a" * (settings.max_body_bytes + 10) + b'"}'
    resp = admin.client.post(
        f"{V}/users", input_stream=io.BytesIO(big), content_type="application/json",
        headers={"Authorization": f"Bearer {admin.token}", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True})
    problem(resp, 413)


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x", "application/xml", None])
def test_wrong_content_type_is_415(admin: Any, ctype: str | None) -> None:
    headers = {"Authorization": f"Bearer {admin.token}"}
    if ctype:
        headers["Content-Type"] = ctype
    resp = admin.client.post(f"{V}/users", data=b'{"username": "x"}', headers=headers)
    assert problem(resp, 415)["type"] == "/problems/unsupported-media-type"


def test_json_suffix_types_are_accepted(admin: Any) -> None:
    resp = admin.client.post(f"{V}/teams", data=b'{"name": "suffix team"}',
                             content_type="application/merge-patch+json",
                             headers={"Authorization": f"Bearer {admin.token}"})
    assert resp.status_code in (201, 415, 422)  # never 500; json suffix passes the gate
    assert resp.status_code != 415


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("DELETE", "/auth/login", {"POST", "OPTIONS"}),
    ("GET", "/auth/logout", {"POST", "OPTIONS"}),
    ("PUT", "/users", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("POST", "/audit/verify", {"GET", "HEAD", "OPTIONS"}),
])
def test_wrong_method_is_405_with_allow(client: Any, method: str, path: str,
                                        allowed: set[str]) -> None:
    resp = client.open(f"{V}{path}", method=method)
    body = problem(resp, 405)
    assert body["type"] == "/problems/method-not-allowed"
    assert {m.strip() for m in resp.headers["Allow"].split(",")} == allowed


def test_unknown_paths_and_bad_ids_are_404(admin: Any) -> None:
    problem(admin.get("/api/v1/nothing-here"), 404)
    problem(admin.get(f"{V}/users/not-a-uuid"), 404)
    problem(admin.get(f"{V}/teams/00000000-0000-0000-0000-000000000000"), 404)


def test_problem_types_are_described(client: Any) -> None:
    resp = client.get("/problems/device-revoked")
    assert resp.status_code == 200
    assert resp.get_json()["title"] == "Device revoked"
    problem(client.get("/problems/no-such-type"), 404)


@pytest.fixture
def broken_app(settings: Settings, app: Flask, db: Session) -> Flask:
    """An app with routes that fail the ways the handlers must cover."""
    other = create_app(replace(settings))
    other.extensions["db_sessionmaker"] = app.extensions["db_sessionmaker"]

    @other.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    @other.get("/db-range")
    def db_range() -> str:
        from monitor_api.db import get_session

        get_session().execute(text("select 99999999999::int"))
        return "unreachable"

    @other.get("/db-unique")
    def db_unique() -> str:
        from monitor_api.db import get_session

        s = get_session()
        s.execute(text("create temporary table qa_u (x int unique) on commit drop"))
        s.execute(text("insert into qa_u values (1), (1)"))
        return "unreachable"

    yield other
    other.extensions["db_engine"].dispose()


def test_unexpected_exception_is_500_problem_without_internals(broken_app: Flask) -> None:
    resp = broken_app.test_client().get("/boom", headers={"X-Request-ID": "boom-1"})
    body = problem(resp, 500)
    assert body["type"] == "/problems/internal-error"
    assert body["request_id"] == "boom-1"
    assert "secret" not in resp.get_data(as_text=True)


def test_database_refusals_of_client_values_are_not_500(broken_app: Flask) -> None:
    client = broken_app.test_client()
    assert problem(client.get("/db-range"), 422)["type"] == "/problems/validation-error"
    assert problem(client.get("/db-unique"), 409)["type"] == "/problems/conflict"


def test_options_needs_no_token(client: Any) -> None:
    for path in ("/api/v1/auth/logout", "/api/v1/users"):
        resp = client.options(path)
        assert resp.status_code == 200, path
        assert "OPTIONS" in resp.headers["Allow"]
