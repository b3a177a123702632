"""The sync bodies in the OpenAPI document: one record schema per synced table, so that phone
developers can generate their types (SYNC_PROTOCOL.md "Records").

Derived from what the server runs, never written twice: the pulled shape from the table's
raw fields (sync registry), the pushed shape from its raw marshmallow schema
(`schemas.sync_records.RAW_SCHEMAS`, the validator of pushes) with its enumerations, lengths
and ranges.
"""

from __future__ import annotations

import copy
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from monitor_api.sync_api.registry import registry
from schemas.sync_records import RAW_SCHEMAS
from sync import SyncTable

# The JSON shape of each raw field kind (sync.fields).
KINDS: dict[str, dict[str, Any]] = {
    "uuid": {"type": "string", "format": "uuid"},
    "time": {"type": "integer", "format": "int64",
             "description": "Milliseconds since the Unix epoch (UTC)."},
    "json": {"type": "string", "description": "JSON text, sent back byte for byte."},
    "bool": {"type": "boolean"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "str": {"type": "string"},
    "lat": {"type": "number", "minimum": -90, "maximum": 90,
            "description": "Latitude (WGS 84) of the point; with lng, or both null."},
    "lng": {"type": "number", "minimum": -180, "maximum": 180,
            "description": "Longitude (WGS 84) of the point; with lat, or both null."},
}
SERVER_SET = "Set by the server: sent down, ignored when pushed."


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _converter(spec: APISpec) -> Any:
    plugin = next(p for p in spec.plugins if isinstance(p, MarshmallowPlugin))
    return plugin.converter


def raw_schema(spec: APISpec, st: SyncTable) -> dict[str, Any]:
    """The table's raw marshmallow schema (the push validator's) as JSON Schema."""
    return _converter(spec).schema2jsonschema(RAW_SCHEMAS[st.name])


def pushed_schema(st: SyncTable, raw: dict[str, Any]) -> dict[str, Any]:
    """A record as a phone pushes it: the raw schema's fields."""
    schema = copy.deepcopy(raw)
    schema["required"] = sorted(set(schema.get("required", [])) | {"id"})
    schema["additionalProperties"] = True
    schema["description"] = (
        f"A `{st.name}` record as a phone pushes it. `id` is the phone's UUID. A column left "
        "out keeps the server's value (on create: its default); `null` and `''` mean unset. "
        "Unknown columns are accepted, kept in the revision history and listed in the "
        "answer's `ignored_columns`. `_status` and `_changed` (WatermelonDB's) are read "
        "only as described in SYNC_PROTOCOL.md.")
    return schema


def pulled_schema(st: SyncTable, converted: dict[str, Any]) -> dict[str, Any]:
    """A record as the server sends it: every raw field, each with its value or null."""
    raw = converted["properties"]
    properties: dict[str, Any] = {}
    for f in st.fields:
        prop = copy.deepcopy(raw.get(f.name) or KINDS[f.kind])
        prop.pop("default", None)
        if f.kind in ("lat", "lng") and "description" not in prop:
            prop["description"] = KINDS[f.kind]["description"]
        if f.name in st.server_set or f.name not in raw:
            prop["description"] = f"{prop.get('description', '')} {SERVER_SET}".strip()
        if f.name != "id":
            prop["nullable"] = True
        properties[f.name] = prop
    return {"type": "object", "properties": properties, "required": [f.name for f in st.fields],
            "description": f"A `{st.name}` record as the server sends it (its whole state)."}


def _changes(record_ref: str, direction: str) -> dict[str, Any]:
    ref = {"$ref": record_ref}
    return {"type": "object", "properties": {
        "created": {"type": "array", "items": ref},
        "updated": {"type": "array", "items": ref},
        "deleted": {"type": "array", "items": {"type": "string", "format": "uuid"},
                    "description": f"Ids of records {direction}."}}}


def register(spec: APISpec) -> None:
    """Add the record schemas and the pull and push bodies to the document's components."""
    tables = registry().tables
    pulled: dict[str, Any] = {}
    pushed: dict[str, Any] = {}
    for st in tables:
        name, raw = pascal(st.name), raw_schema(spec, st)
        if st.pull:
            spec.components.schema(f"{name}Record", component=pulled_schema(st, raw))
            spec.components.schema(f"{name}PullChanges", component=_changes(
                f"#/components/schemas/{name}Record", "deleted or no longer visible to you"))
            pulled[st.name] = {"$ref": f"#/components/schemas/{name}PullChanges"}
        else:  # push-only: listed on every pull (the protocol names every table), empty
            pulled[st.name] = {"$ref": "#/components/schemas/PushOnlyPullChanges"}
        if st.push:
            spec.components.schema(f"{name}PushRecord", component=pushed_schema(st, raw))
            spec.components.schema(f"{name}PushChanges", component=_changes(
                f"#/components/schemas/{name}PushRecord", "deleted on the phone"))
            pushed[st.name] = {"$ref": f"#/components/schemas/{name}PushChanges"}
    empty = {"type": "array", "maxItems": 0, "items": {}}
    spec.components.schema("PushOnlyPullChanges", component={
        "type": "object", "properties": {"created": empty, "updated": empty, "deleted": empty},
        "description": "A push-only table (material that must not live on a phone): "
                       "always empty on pulls."})
    spec.components.schema("SyncPull", component={
        "type": "object", "required": ["changes", "timestamp", "has_more"],
        "properties": {
            "changes": {"type": "object", "properties": pulled, "required": sorted(pulled),
                        "additionalProperties": False},
            "timestamp": {"type": "integer", "format": "int64", "minimum": 0,
                          "maximum": 2**53 - 1,
                          "description": "The next cursor: send it back as last_pulled_at."},
            "has_more": {"type": "boolean",
                         "description": "The page was cut: pull again at once with timestamp."},
            "experimentalStrategy": {
                "type": "string", "enum": ["replacement"],
                "description": "Your cursor cannot be served incrementally (older than the "
                               "retention of deletes, or from before a restore): this page "
                               "starts a full resend; drop local records not sent."}}})
    spec.components.schema("SyncPush", component={
        "type": "object", "properties": pushed, "additionalProperties": False,
        "description": "The changes object of WatermelonDB's pushChanges. Pull-only tables "
                       "are not accepted; every table may be left out."})
    spec.components.schema("SyncPushResult", component={
        "type": "object", "required": ["experimentalRejectedIds", "rejected", "applied"],
        "properties": {
            "experimentalRejectedIds": {
                "type": "object", "additionalProperties": {
                    "type": "array", "items": {"type": "string", "format": "uuid"}},
                "description": "Ids refused, per table (WatermelonDB marks them for retry)."},
            "rejected": {"type": "array", "items": {
                "type": "object", "required": ["table", "id", "errors"], "properties": {
                    "table": {"type": "string"}, "id": {"type": "string"},
                    "errors": {"type": "object", "additionalProperties": True},
                    "quarantine": {"type": "string", "description":
                                   "Kept for a coordinator to fix or accept (its id)."}}}},
            "applied": {"type": "object", "additionalProperties": {
                "type": "object", "additionalProperties": {"type": "integer"}},
                "description": "Records written, per table and kind."},
            "ignored_columns": {"type": "object", "additionalProperties": {
                "type": "array", "items": {"type": "string"}},
                "description": "Columns this server does not know, per table: kept in the "
                               "revision history, not stored in the table."}}})
    nullable_int = {"type": "integer", "nullable": True}
    spec.components.schema("SyncStatus", component={
        "type": "object", "properties": {
            "horizon": {"type": "integer", "format": "int64",
                        "description": "Pulls answer changes below this transaction id."},
            "lag_xids": {"type": "integer", "description": "Transactions held back."},
            "open_writing_transactions": {"type": "integer"},
            "oldest_transaction_age_seconds": {"type": "number", "nullable": True},
            "oldest_transaction_pid": nullable_int}})
