"""GET/POST /api/v1/sync: the WatermelonDB-style pull and push (SYNC_PROTOCOL.md)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from monitor_api.auth import current_principal, roles_required
from monitor_api.db import get_session
from monitor_api.sync_api import service
from monitor_api.sync_api.wire import json_response, pull_response, read_json_body

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync",
                description="Offline sync for phones (device token required).")

PULL_PARAMS = [
    {"in": "query", "name": "last_pulled_at", "schema": {"type": "string"},
     "description": "The `timestamp` of your last pull; absent, empty or `null` first."},
    {"in": "query", "name": "schema_version", "schema": {"type": "integer"},
     "description": "Your local schema version; outside the supported range → 426."},
    {"in": "query", "name": "migration", "schema": {"type": "string"},
     "description": "WatermelonDB migration JSON {from, tables, columns}, or null."},
]
PUSH_PARAMS = [
    PULL_PARAMS[0], PULL_PARAMS[1],
    {"in": "header", "name": "Idempotency-Key", "schema": {"type": "string"},
     "description": "Retry a lost push with the same key: the first result comes back."},
    {"in": "header", "name": "Content-Encoding", "schema": {"type": "string",
                                                             "enum": ["gzip", "identity"]}},
]


def ref(name: str) -> dict[str, str]:
    """A body schema of monitor_api.sync_api.openapi (one record schema per synced table)."""
    return {"$ref": f"#/components/schemas/{name}"}


CONFLICT = {"description": "sync-conflict: {conflicts: [{table, id, server_record}]}; "
                           "nothing was written: pull, then push again"}
UPGRADE = {"description": "schema_version outside the supported range (names it)"}


@blp.route("")
class Sync(MethodView):
    @roles_required(device=True)
    @blp.doc(operationId="pullChanges", parameters=PULL_PARAMS, responses={"200": {
        "description": "{changes: {table: {created, updated, deleted}}, timestamp, has_more}",
        "content": {"application/json": {"schema": ref("SyncPull")}}}, "400": {
            "description": "migration is not JSON"}, "426": UPGRADE})
    def get(self) -> Response:
        """Pull the changes since last_pulled_at (one page; has_more says pull again)."""
        body = service.pull_changes(
            get_session(), current_principal(), settings=current_app.config["SETTINGS"],
            last_pulled_at=request.args.get("last_pulled_at"),
            schema_version=request.args.get("schema_version"),
            migration=request.args.get("migration"))
        return pull_response(request, body)

    @roles_required(device=True)
    @blp.doc(operationId="pushChanges", parameters=PUSH_PARAMS, requestBody={
        "description": "The changes object {table: {created, updated, deleted}}, may be gzip.",
        "content": {"application/json": {"schema": ref("SyncPush")}}}, responses={"200": {
            "description": "Accepted; {experimentalRejectedIds, rejected, applied}",
            "content": {"application/json": {"schema": ref("SyncPushResult")}}},
        "409": CONFLICT,
        "413": {"description": "Body (decompressed) or record count over the limit"},
        "426": UPGRADE})
    def post(self) -> Response:
        """Push local changes in one transaction; invalid records are rejected one by one."""
        settings = current_app.config["SETTINGS"]
        changes, raw, plain = read_json_body(request, settings.sync_max_body_bytes)
        body = service.push_changes(
            get_session(), current_principal(), settings=settings,
            last_pulled_at=request.args.get("last_pulled_at"),
            schema_version=request.args.get("schema_version"), changes=changes, body=raw,
            idempotency_key=request.headers.get("Idempotency-Key"), plain=plain)
        return json_response(request, body)


@blp.route("/status")
class SyncStatus(MethodView):
    @roles_required("admin")
    @blp.doc(operationId="getSyncStatus", responses={"200": {
        "description": "horizon, snapshot, oldest transaction age",
        "content": {"application/json": {"schema": ref("SyncStatus")}}}})
    def get(self) -> Any:
        """Sync horizon and its lag: the oldest open transaction holds every pull back."""
        return service.sync_status(get_session())
