"""Admin access to the audit log and its chain verification."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from monitor_api.audit.models import AuditEntry
from monitor_api.audit.service import verify_chain
from monitor_api.auth import roles_required
from monitor_api.db import get_session
from schemas.common import StrictSchema

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit",
                description="The append-only, hash-chained audit log (admin).")


class AuditArgs(StrictSchema):
    action = fields.String(validate=validate.Length(max=80))
    target_id = fields.String(validate=validate.Length(max=100))
    actor_user_id = fields.UUID()
    after_id = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**63 - 1))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class AuditOut(Schema):
    id = fields.Integer()
    occurred_at = fields.DateTime()
    actor_user_id = fields.UUID(allow_none=True)
    actor_device_id = fields.UUID(allow_none=True)
    request_id = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    action = fields.String()
    target_type = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    details = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditOut))
    next_after_id = fields.Integer(allow_none=True)


class VerifyOut(Schema):
    ok = fields.Boolean()
    checked = fields.Integer()
    broken_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)


@blp.route("", methods=["GET"])
@blp.arguments(AuditArgs, location="query")
@blp.response(200, AuditPage)
@roles_required("admin")
def list_entries(args: dict[str, Any]) -> dict[str, Any]:
    """Page through audit entries (keyset pagination by id)."""
    query = select(AuditEntry).where(AuditEntry.id > args["after_id"])
    for key in ("action", "target_id", "actor_user_id"):
        if key in args:
            query = query.where(getattr(AuditEntry, key) == args[key])
    rows = list(get_session().scalars(query.order_by(AuditEntry.id).limit(args["limit"])))
    return {"items": rows,
            "next_after_id": rows[-1].id if len(rows) == args["limit"] else None}


@blp.route("/verify", methods=["GET"])
@blp.response(200, VerifyOut)
@roles_required("admin")
def verify() -> dict[str, Any]:
    """Recompute the hash chain and name the first broken row."""
    result = verify_chain(get_session())
    return {"ok": result.ok, "checked": result.checked, "broken_id": result.broken_id,
            "reason": result.reason}
