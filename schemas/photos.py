"""Photo detail, processing results, derivatives and the custody log (responses only)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from marshmallow.fields import Method


class CustodyEventSchema(Schema):
    id = fields.Integer()
    event = fields.String(metadata={"description": "captured, upload_started, verified, "
                                    "hash_mismatch, rejected, derivative_made, viewed, exported"})
    occurred_at = fields.DateTime()
    actor_user_id = fields.UUID(allow_none=True)
    actor_device_id = fields.UUID(allow_none=True)
    upload_id = fields.UUID(allow_none=True)
    sha256 = fields.String(allow_none=True)
    details = fields.Dict()


class UploadSummarySchema(Schema):
    id = fields.UUID()
    state = fields.String()
    offset = fields.Integer()
    length = fields.Integer()
    declared_sha256 = fields.String()
    actual_sha256 = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    deduplicated = fields.Boolean()
    quarantine_key = fields.String(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)


class DerivativeSchema(Schema):
    kind = fields.String()
    mime_type = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    byte_size = fields.Integer()


class ProcessingSchema(Schema):
    status = fields.String(metadata={"description": "ok or rejected"})
    reason = fields.String(allow_none=True)
    mime_type = fields.String(allow_none=True)
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    byte_size = fields.Integer()
    exif = fields.Dict(metadata={"description": "capture time, lat/lng, make, model, "
                                 "orientation as read from EXIF"})
    exif_captured_at = fields.DateTime(allow_none=True)
    retained_until = fields.DateTime(allow_none=True)


class PhotoDetailSchema(Schema):
    id = Method("_id")
    visit_id = Method("_visit")
    sha256 = Method("_sha")
    byte_size = Method("_size")
    captured_at = Method("_captured")
    upload_status = Method("_status")
    processing = fields.Nested(ProcessingSchema, attribute="blob", allow_none=True)
    exif_distance_m = fields.Float(allow_none=True, metadata={
        "description": "Metres from the facility to the EXIF GPS position (PostGIS)"})
    record_distance_m = fields.Float(allow_none=True, metadata={
        "description": "Metres from the facility to the location the phone recorded"})
    derivatives = fields.List(fields.Nested(DerivativeSchema))
    uploads = fields.List(fields.Nested(UploadSummarySchema))
    custody = fields.List(fields.Nested(CustodyEventSchema))

    def _id(self, obj: dict[str, Any]) -> str:
        return str(obj["photo"].id)

    def _visit(self, obj: dict[str, Any]) -> str:
        return str(obj["photo"].visit_id)

    def _sha(self, obj: dict[str, Any]) -> str:
        return str(obj["photo"].sha256)

    def _size(self, obj: dict[str, Any]) -> int:
        return int(obj["photo"].byte_size)

    def _captured(self, obj: dict[str, Any]) -> str | None:
        value = obj["photo"].captured_at
        return value.isoformat() if value else None

    def _status(self, obj: dict[str, Any]) -> str:
        return str(obj["photo"].upload_status)
