"""Visits: planning input, updates, list filters, and the records a team synced on a visit."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from monitor_api.visits.models import POPULATION_SOURCES, VISIT_STATUSES, VISIT_TYPES
from schemas.checklists import StrictBool
from schemas.common import PageArgs, PageMeta, StrictSchema

POPULATION_PARTS = ("population_remand", "population_women", "population_minors",
                    "population_foreigners")
_COUNT = validate.Range(0, 1_000_000)


def when(**kw: Any) -> fields.AwareDateTime:
    """An ISO 8601 date-time; without an offset it is taken as UTC."""
    return fields.AwareDateTime(allow_none=True, default_timezone=UTC, **kw)


def _count(**kw: Any) -> fields.Integer:
    return fields.Integer(strict=True, allow_none=True, validate=_COUNT, **kw)


class VisitFields(StrictSchema):
    template_id = fields.UUID(allow_none=True)
    visit_type = fields.String(validate=validate.OneOf(VISIT_TYPES))
    announced = StrictBool()
    joint_with_ombudsman = StrictBool()
    planned_for = when()
    declared_capacity = _count()
    population_total = _count()
    population_remand = _count()
    population_women = _count()
    population_minors = _count()
    population_foreigners = _count()
    population_source = fields.String(allow_none=True,
                                      validate=validate.OneOf(POPULATION_SOURCES))
    summary = fields.String(allow_none=True, validate=validate.Length(max=50_000))


class VisitCreate(VisitFields):
    facility_id = fields.UUID(required=True)
    team_id = fields.UUID(required=True)


class VisitPatch(VisitFields):
    team_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(VISIT_STATUSES))
    started_at = when()
    ended_at = when()


class VisitListArgs(PageArgs):
    facility_id = fields.UUID()
    team_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(VISIT_STATUSES))
    date_from = fields.Date(data_key="from", metadata={
        "description": "Visits started (else planned) on or after this date."})
    date_to = fields.Date(data_key="to", metadata={
        "description": "Visits started (else planned) on or before this date."})

    @validates_schema(skip_on_field_errors=True)
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError({"to": ["Must not be before `from`."]})


class VisitOut(Schema):
    id = fields.UUID()
    facility_id = fields.UUID()
    template_id = fields.UUID(allow_none=True)
    team_id = fields.UUID(allow_none=True)
    visit_type = fields.String()
    announced = fields.Boolean()
    joint_with_ombudsman = fields.Boolean()
    status = fields.String()
    planned_for = fields.DateTime(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    declared_capacity = fields.Integer(allow_none=True)
    population_total = fields.Integer(allow_none=True)
    population_remand = fields.Integer(allow_none=True)
    population_women = fields.Integer(allow_none=True)
    population_minors = fields.Integer(allow_none=True)
    population_foreigners = fields.Integer(allow_none=True)
    population_source = fields.String(allow_none=True)
    summary = fields.String(allow_none=True)
    created_by_id = fields.UUID(allow_none=True)
    published_at = fields.DateTime(allow_none=True, metadata={
        "description": "When a coordinator published it (partners and analysts see it)."})
    server_created_at = fields.DateTime()
    server_updated_at = fields.DateTime()


class VisitList(Schema):
    items = fields.List(fields.Nested(VisitOut))
    meta = fields.Nested(PageMeta)


class _Synced(Schema):
    id = fields.UUID()
    visit_id = fields.UUID()
    server_created_at = fields.DateTime()
    server_updated_at = fields.DateTime()


class AnswerOut(_Synced):
    question_id = fields.UUID()
    info_source = fields.String()
    value = fields.String(allow_none=True)
    number_value = fields.Float(allow_none=True)
    comment = fields.String(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)


class RoomInspectionOut(_Synced):
    label = fields.String()
    room_kind = fields.String()
    floor_area_m2 = fields.Float(allow_none=True)
    occupants = fields.Integer(allow_none=True)
    beds = fields.Integer(allow_none=True)
    ceiling_height_m = fields.Float(allow_none=True)
    toilet_partitioned = fields.Boolean(allow_none=True)
    natural_light = fields.String(allow_none=True)
    ventilation = fields.String(allow_none=True)
    temperature_c = fields.Float(allow_none=True)
    inspected_at = fields.DateTime(allow_none=True)
    notes = fields.String(allow_none=True)


class AccessIncidentOut(_Synced):
    kind = fields.String()
    target = fields.String()
    description = fields.String(allow_none=True)
    occurred_at = fields.DateTime(allow_none=True)
    minutes_lost = fields.Integer(allow_none=True)


class PhotoOut(_Synced):
    """Photo metadata only; the bytes (and derivatives) come from the photo endpoints."""

    finding_id = fields.UUID(allow_none=True)
    room_inspection_id = fields.UUID(allow_none=True)
    sha256 = fields.String()
    byte_size = fields.Integer()
    mime_type = fields.String(allow_none=True)
    captured_at = fields.DateTime(allow_none=True)
    lat = fields.Float(allow_none=True)
    lng = fields.Float(allow_none=True)
    caption = fields.String(allow_none=True)
    consent = fields.String(allow_none=True)
    upload_status = fields.String()


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """A `{items, meta}` list schema of `item`."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item)),
                             "meta": fields.Nested(PageMeta)}, name=name)


AnswerList = page_of(AnswerOut, "AnswerList")
RoomInspectionList = page_of(RoomInspectionOut, "RoomInspectionList")
AccessIncidentList = page_of(AccessIncidentOut, "AccessIncidentList")
PhotoList = page_of(PhotoOut, "PhotoList")
