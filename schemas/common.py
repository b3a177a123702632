"""Shared schema pieces: the problem document, pagination, strict input base."""

from __future__ import annotations

from marshmallow import INCLUDE, RAISE, Schema, fields, validate


class StrictSchema(Schema):
    """Input schema rejecting unknown fields (no mass assignment)."""

    class Meta:
        unknown = RAISE


class ProblemSchema(Schema):
    """RFC 9457 problem details (extension members allowed)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), metadata={"description": "Messages per field."})
    request_id = fields.String()


class PageArgs(StrictSchema):
    """Page of a list."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class PageMeta(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
