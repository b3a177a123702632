"""Schemas of the quarantine review API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import PageArgs, PageMeta, StrictSchema

STATUSES = ("pending", "accepted", "fixed", "discarded", "superseded")


class QuarantineArgs(PageArgs):
    status = fields.String(load_default="pending", validate=validate.OneOf(STATUSES))


class QuarantineOut(Schema):
    id = fields.UUID()
    table_name = fields.String()
    record_id = fields.String()
    visit_id = fields.UUID(allow_none=True)
    op = fields.String()
    raw = fields.Raw(metadata={"description": "The record exactly as the phone sent it."})
    errors = fields.Raw()
    user_id = fields.UUID()
    device_id = fields.UUID(allow_none=True)
    received_at = fields.DateTime()
    last_received_at = fields.DateTime(metadata={"description": "The latest resend."})
    times_received = fields.Integer(metadata={
        "description": "How often the phone sent this content (apps resend rejected records)."})
    team_id = fields.UUID(allow_none=True, attribute="scope_group_id", metadata={
        "description": "The team whose coordinators review it."})
    status = fields.String()
    resolved_by_id = fields.UUID(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolution = fields.Raw(allow_none=True)


class QuarantineList(Schema):
    items = fields.List(fields.Nested(QuarantineOut))
    meta = fields.Nested(PageMeta)


class QuarantineFixIn(StrictSchema):
    raw = fields.Dict(required=True, metadata={"description": "The corrected raw record."})
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class QuarantineDiscardIn(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class QuarantineAcceptIn(StrictSchema):
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class SyncRevisionOut(Schema):
    id = fields.Integer()
    op = fields.String()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    user_id = fields.UUID(allow_none=True)
    device_id = fields.UUID(allow_none=True)
    source = fields.String()
    quarantine_id = fields.UUID(allow_none=True)
    ignored = fields.Raw(allow_none=True, metadata={
        "description": "Columns the phone sent that the server does not know, verbatim."})
    at = fields.DateTime()


class SyncHistoryOut(Schema):
    table = fields.String()
    id = fields.UUID()
    current = fields.Raw(allow_none=True, metadata={"description": "As a pull sends it."})
    deleted = fields.Boolean()
    revisions = fields.List(fields.Nested(SyncRevisionOut))
