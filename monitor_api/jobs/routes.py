"""GET /api/v1/jobs: background jobs for admins (failed ones with their errors), and retry."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from monitor_api.auth import roles_required
from monitor_api.db import get_session
from monitor_api.jobs import admin
from schemas.common import StrictSchema

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs",
                description="Background jobs on the PostgreSQL queue (admin).")


class JobArgs(StrictSchema):
    status = fields.String(load_default="failed", validate=validate.OneOf(admin.STATUSES),
                           metadata={"description": "Default: failed."})
    task = fields.String(validate=validate.Length(max=128),
                         metadata={"example": "photos.verify"})
    after_id = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**63 - 1))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class FailureOut(Schema):
    attempt = fields.Integer()
    error = fields.String(metadata={"example": "EndpointConnectionError: Could not connect"})
    traceback = fields.String()
    will_retry = fields.Boolean()
    worker = fields.String(allow_none=True)
    failed_at = fields.DateTime()


class JobOut(Schema):
    id = fields.Integer()
    task = fields.String(metadata={"example": "photos.verify"})
    queue = fields.String(metadata={"example": "photos"})
    status = fields.String(metadata={"example": "failed"})
    attempts = fields.Integer()
    args = fields.Dict(metadata={"example": {"upload_id": "0b9f…"}})
    lock = fields.String(allow_none=True)
    scheduled_at = fields.DateTime(allow_none=True)
    deferred_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "The last failure's."})
    failures = fields.List(fields.Nested(FailureOut))


class JobPage(Schema):
    items = fields.List(fields.Nested(JobOut))
    next_after_id = fields.Integer(allow_none=True)


class RetryOut(Schema):
    id = fields.Integer()
    status = fields.String()


@blp.route("", methods=["GET"])
@blp.arguments(JobArgs, location="query")
@blp.response(200, JobPage)
@roles_required("admin")
def list_jobs(args: dict[str, Any]) -> dict[str, Any]:
    """List jobs by status (default: failed), newest first, with each failed attempt's error."""
    return admin.list_jobs(get_session(), status=args["status"], task=args.get("task"),
                           after_id=args["after_id"], limit=args["limit"])


@blp.route("/<int:job_id>/retry", methods=["POST"])
@blp.response(200, RetryOut)
@roles_required("admin")
def retry_job(job_id: int) -> dict[str, Any]:
    """Run a failed job again now (409 unless it failed)."""
    return admin.retry_job(get_session(), job_id)
