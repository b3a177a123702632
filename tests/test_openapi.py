"""The OpenAPI document: valid, secured operations marked, errors documented as problem+json,
and a schemathesis run over every operation (in-process, rolled back with the test)."""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import uuid
from dataclasses import replace
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor_api.accounts.models import User
from monitor_api.audit.models import AuditEntry
from monitor_api.config import Settings
from monitor_api.errors import PROBLEM_MIME
from tests.accounts.conftest import open_session

METHODS = ("get", "put", "post", "patch", "delete")
WRITES = ("POST", "PUT", "PATCH", "DELETE")
PUBLIC = {("post", "/api/v1/auth/login")}  # operations anyone may call


@pytest.fixture(scope="module")
def spec(app: Flask) -> dict[str, Any]:
    resp = app.test_client().get("/api/openapi.json")
    assert resp.status_code == 200
    return resp.get_json()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in spec["paths"].items()
            for method, op in item.items() if method in METHODS]


def test_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http",
                                                                   "scheme": "bearer"}


def test_every_operation_has_a_unique_operation_id(spec: dict[str, Any]) -> None:
    ids = [op.get("operationId") for _, _, op in _operations(spec)]
    assert None not in ids
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids  # generator-friendly


def test_every_json_body_has_an_example_its_schema_accepts(spec: dict[str, Any]) -> None:
    checked = 0
    for method, path, op in _operations(spec):
        bodies = [op.get("requestBody")] + [r for code, r in op["responses"].items()
                                            if code.startswith("2")]
        for body in bodies:
            for mime, media in (body or {}).get("content", {}).items():
                if media["schema"].get("format") == "binary":  # a file download
                    assert method == "get", (method, path, mime)
                    continue
                assert "json" in mime, (method, path, mime)
                assert "example" in media, f"{method} {path} {mime}: no example"
                schema = {**media["schema"], "components": spec["components"]}
                errors = list(OAS30Validator(schema).iter_errors(media["example"]))
                assert not errors, f"{method} {path}: {errors[0].message}"
                checked += 1
    assert checked > 80


def test_operations_have_summaries_and_problem_errors(spec: dict[str, Any]) -> None:
    responses = spec["components"].get("responses", {})
    for method, path, op in _operations(spec):
        assert op.get("summary"), f"{method} {path} has no docstring summary"
        for code, response in op["responses"].items():
            if code == "default" or int(code) >= 400:
                if "$ref" in response:
                    response = responses[response["$ref"].rsplit("/", 1)[1]]
                assert PROBLEM_MIME in response.get("content", {}), (method, path, code)


def test_secured_operations_are_marked_and_document_auth_errors(spec: dict[str, Any]) -> None:
    for method, path, op in _operations(spec):
        if (method, path) in PUBLIC:
            assert not op.get("security"), (method, path)
            continue
        assert op.get("security") == [{"bearerAuth": []}], f"{method} {path} is not secured"
        assert {"401", "403"} <= set(op["responses"]), (method, path)
        if "{" in path:
            assert "404" in op["responses"], (method, path)
        if "requestBody" in op:
            assert {"400", "413", "415", "422"} <= set(op["responses"]), (method, path)


def _fill(spec: dict[str, Any], path: str, op: dict[str, Any]) -> str:
    """The path with each parameter set to a plausible value of its documented schema."""
    params = [*spec["paths"][path].get("parameters", []), *op.get("parameters", [])]
    schemas = {p["name"]: p.get("schema", {}) for p in params if p.get("in") == "path"}

    def value(match: re.Match[str]) -> str:
        schema = schemas.get(match.group(1), {})
        if schema.get("enum"):
            return str(schema["enum"][0])
        if schema.get("type") == "integer":
            return "1"
        if schema.get("format") == "uuid" or not schema:
            return str(uuid.uuid4())
        return "x"

    return re.sub(r"\{([^}]+)\}", value, path)


def test_every_secured_operation_refuses_anonymous_callers(spec: dict[str, Any],
                                                           client: Any) -> None:
    """Generic over the whole API, whoever adds endpoints: no token, no access (and 401 comes
    before any validation of the body)."""
    for method, path, op in _operations(spec):
        if (method, path) in PUBLIC:
            continue
        resp = client.open(_fill(spec, path, op), method=method.upper(), json={"unexpected": True}
                           if method in ("post", "put", "patch") else None)
        assert resp.status_code == 401, (method, path, resp.status_code, resp.get_data()[:300])
        assert resp.mimetype == PROBLEM_MIME
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def st_admin(db: Session) -> User:
    user = User(username=f"st-admin-{secrets.token_hex(4)}", display_name="schemathesis",
                role="admin", password_hash="not-used")
    db.add(user)
    db.flush()
    return user


def _schema_app() -> Flask:
    """An app built at collection time only to read the document (it serves no test request).

    schemathesis' lazy `from_fixture` loader does not work with pytest 9 (it sets
    `Function._nodeid`), so the schema is loaded eagerly and every case is sent to the test's
    own `app`, whose sessions join the test's rolled-back transaction.
    """
    from monitor_api.app import create_app

    url = os.environ.get("TEST_DATABASE_URL") or "postgresql://unused@127.0.0.1:1/unused"
    base = Settings.from_env({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    return create_app(replace(base, blob_dir=tempfile.mkdtemp(prefix="monitor-api-spec-")))


# Fuzzing (valid and invalid data) with a small budget per operation keeps the suite fast; the
# coverage phase's exhaustive boundary cases would multiply the run time by several.
ST_CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", _schema_app(), config=ST_CONFIG)


@schema.parametrize()
@hsettings(max_examples=10, deadline=None, derandomize=True,
           suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case: Any, app: Flask, db: Session, settings: Settings,
                                      st_admin: User) -> None:
    # A fresh admin session per case: a generated logout must not starve the cases after it.
    token = open_session(db, settings, st_admin)
    request_id = "st-" + secrets.token_hex(8)

    def write_is_audited(ctx: Any, response: Any, case: Any) -> None:
        """House rule: every successful write through the API leaves an audit entry."""
        if case.method.upper() in WRITES and 200 <= response.status_code < 300:
            entries = db.scalar(select(func.count()).select_from(AuditEntry)
                                .where(AuditEntry.request_id == request_id))
            assert entries, (f"{case.method} {case.path} answered {response.status_code} "
                             "but recorded no audit entry")

    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {token}",
                                             "X-Request-ID": request_id},
                           checks=[not_a_server_error, response_schema_conformance,
                                   write_is_audited])


def test_login_documents_its_throttle(spec: dict[str, Any]) -> None:
    login = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert "Retry-After" in login["429"]["headers"]
    assert PROBLEM_MIME in login["429"]["content"] and PROBLEM_MIME in login["401"]["content"]
