"""Findings (coordinator edits, confirm/withdraw), recommendations and their reviews."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, validate

from monitor_api.checklists.models import SECTIONS
from monitor_api.facilities.models import AUTHORITIES
from monitor_api.findings.models import PRIORITIES, REVIEW_STATUSES, SEVERITIES
from schemas.checklists import NOT_BLANK, StandardRef, StrictBool
from schemas.common import PageArgs, PageMeta, StrictSchema
from schemas.visits import when


class FindingPatch(StrictSchema):
    title = fields.String(validate=[validate.Length(1, 300), NOT_BLANK])
    description = fields.String(allow_none=True, validate=validate.Length(max=50_000))
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    theme = fields.String(validate=validate.OneOf(SECTIONS))
    standard_refs = fields.List(fields.Nested(StandardRef), validate=validate.Length(max=30))
    is_systemic = StrictBool()


class WithdrawIn(StrictSchema):
    reason = fields.String(validate=[validate.Length(1, 2000), NOT_BLANK])


class FindingOut(Schema):
    id = fields.UUID()
    visit_id = fields.UUID()
    theme = fields.String()
    severity = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    standard_refs = fields.List(fields.Dict(), allow_none=True)
    question_id = fields.UUID(allow_none=True)
    room_inspection_id = fields.UUID(allow_none=True)
    is_systemic = fields.Boolean()
    sources_count = fields.Integer(allow_none=True)
    status = fields.String()
    confirmed_by_id = fields.UUID(allow_none=True)
    confirmed_at = fields.DateTime(allow_none=True)
    server_created_at = fields.DateTime()
    server_updated_at = fields.DateTime()


class RecommendationPatch(StrictSchema):
    finding_id = fields.UUID(allow_none=True)
    theme = fields.String(validate=validate.OneOf(SECTIONS))
    text = fields.String(validate=[validate.Length(1, 20_000), NOT_BLANK])
    addressed_to = fields.String(validate=validate.OneOf(AUTHORITIES))
    priority = fields.String(allow_none=True, validate=validate.OneOf(PRIORITIES))
    due_date = fields.Date(allow_none=True)
    repeats_id = fields.UUID(allow_none=True)


class RecommendationCreate(RecommendationPatch):
    facility_id = fields.UUID(allow_none=True, metadata={
        "description": "Empty for a systemic recommendation; defaults to the visit's facility."})
    visit_id = fields.UUID(allow_none=True)
    theme = fields.String(required=True, validate=validate.OneOf(SECTIONS))
    text = fields.String(required=True, validate=[validate.Length(1, 20_000), NOT_BLANK])
    addressed_to = fields.String(required=True, validate=validate.OneOf(AUTHORITIES))


class RecommendationListArgs(PageArgs):
    facility_id = fields.UUID()
    visit_id = fields.UUID()
    addressed_to = fields.String(validate=validate.OneOf(AUTHORITIES))
    open = fields.Boolean(metadata={
        "description": "true: only those not implemented or no longer relevant per the "
                       "latest review."})
    repeated = fields.Boolean(metadata={
        "description": "true: only those repeating an earlier recommendation."})


def _date(value: datetime | None) -> str | None:
    return value.date().isoformat() if value is not None else None


class RecommendationOut(Schema):
    id = fields.UUID()
    facility_id = fields.UUID(allow_none=True)
    visit_id = fields.UUID(allow_none=True)
    finding_id = fields.UUID(allow_none=True)
    theme = fields.String()
    text = fields.String()
    addressed_to = fields.String()
    priority = fields.String(allow_none=True)
    due_date = fields.Function(lambda obj: _date(_get(obj, "due_date")), allow_none=True,
                               metadata={"type": "string", "format": "date"})
    repeats_id = fields.UUID(allow_none=True)
    latest_review_status = fields.Function(lambda obj: _get(obj, "latest_review_status"),
                                           allow_none=True, metadata={"type": "string"})
    server_created_at = fields.DateTime()
    server_updated_at = fields.DateTime()


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


class ReviewCreate(StrictSchema):
    status = fields.String(required=True, validate=validate.OneOf(REVIEW_STATUSES))
    evidence = fields.String(allow_none=True, validate=validate.Length(max=50_000))
    visit_id = fields.UUID(allow_none=True, metadata={
        "description": "The follow-up visit on which the status was observed."})
    reviewed_at = when(metadata={"description": "Default: now."})


class ReviewOut(Schema):
    id = fields.UUID()
    recommendation_id = fields.UUID()
    visit_id = fields.UUID(allow_none=True)
    status = fields.String()
    evidence = fields.String(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    server_created_at = fields.DateTime()


def _page(item: type[Schema], name: str) -> type[Schema]:
    return Schema.from_dict({"items": fields.List(fields.Nested(item)),
                             "meta": fields.Nested(PageMeta)}, name=name)


FindingList = _page(FindingOut, "FindingList")
RecommendationList = _page(RecommendationOut, "RecommendationList")
ReviewList = _page(ReviewOut, "ReviewList")
ChainOut = Schema.from_dict({"items": fields.List(fields.Nested(RecommendationOut))},
                            name="RecommendationChain")
