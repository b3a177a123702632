"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from monitor_api.migrate import alembic_config

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Database reachable, migrations at head, blob store reachable."""
    checks: dict[str, Any] = {}
    ok = True
    try:
        with current_app.extensions["db_engine"].connect() as conn:
            conn.execute(text("select 1"))
            current = MigrationContext.configure(conn).get_current_heads()
        heads = ScriptDirectory.from_config(alembic_config()).get_heads()
        at_head = set(current) == set(heads)
        checks["database"] = "ok"
        checks["migrations"] = "ok" if at_head else f"at {current}, head is {heads}"
        ok = ok and at_head
    except Exception as exc:  # any failure means not ready
        checks["database"] = f"error: {type(exc).__name__}"
        ok = False
    blobs = current_app.extensions.get("blob_store")
    if blobs is not None:
        try:
            blobs.check()
            checks["blob_store"] = "ok"
        except Exception as exc:
            checks["blob_store"] = f"error: {type(exc).__name__}"
            ok = False
    return jsonify(status="ok" if ok else "unavailable", checks=checks), 200 if ok else 503
