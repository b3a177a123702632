"""Schemas of the condition histories: timeline, recommendations, indicators, answers by
standard, annual statistics, redacted photos."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from monitor_api.checklists.models import INSTRUMENTS
from monitor_api.facilities.models import AUTHORITIES, FACILITY_TYPES, HOLDS_KEYS, REGIONS
from monitor_api.histories.metrics import INDICATORS
from schemas.common import PageArgs, PageMeta, StrictSchema
from schemas.facilities import CsvList

COUNTS = {"asked": 12, "answered": 10, "compliant": 7, "rate": 0.7}


class DateRange(StrictSchema):
    date_from = fields.Date(data_key="from", metadata={"description": "Visits on or after."})
    date_to = fields.Date(data_key="to", metadata={"description": "Visits on or before."})

    @validates_schema
    def _order(self, data: dict[str, Any], **kw: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("from must not be after to.", "from")


class FacilityFilters(DateRange):
    region = CsvList(fields.String(validate=validate.OneOf(REGIONS)),
                     metadata={"description": "Repeat or comma-separate for several (OR)."})
    facility_type = CsvList(fields.String(validate=validate.OneOf(FACILITY_TYPES)))
    authority = CsvList(fields.String(validate=validate.OneOf(AUTHORITIES)))


class FacilityRef(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    name_ru = fields.String(allow_none=True)
    name_tg = fields.String(allow_none=True)
    facility_type = fields.String()
    authority = fields.String()
    region = fields.String()
    official_capacity = fields.Integer(allow_none=True)


class VisitRef(Schema):
    id = fields.UUID()
    date = fields.Date(allow_none=True)
    visit_type = fields.String()
    announced = fields.Boolean()
    joint_with_ombudsman = fields.Boolean()
    status = fields.String()
    published = fields.Boolean(metadata={"description": "False: seen by its team and admins "
                                                        "only (flagged)."})
    published_at = fields.DateTime(allow_none=True)


class Occupancy(Schema):
    population_total = fields.Integer(allow_none=True)
    capacity = fields.Integer(allow_none=True)
    capacity_source = fields.String(allow_none=True, metadata={
        "description": "`declared` on the visit, else the facility's `official` capacity."})
    rate = fields.Float(allow_none=True, metadata={"description": "population / capacity"})


class LivingSpace(Schema):
    rooms_measured = fields.Integer(metadata={"description": "Occupied cells, dormitories "
                                                             "and disciplinary cells measured."})
    min_m2 = fields.Float(allow_none=True, metadata={"description": "m² per person"})
    median_m2 = fields.Float(allow_none=True)
    thresholds = fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={
        "description": "Per source: version used, shared_m2, single_m2, title, rooms_below.",
        "example": {"tj_law": {"version": 1, "shared_m2": 4.0, "single_m2": 4.0,
                               "rooms_below": 3}}})


class Indicators(Schema):
    occupancy = fields.Nested(Occupancy)
    living_space = fields.Nested(LivingSpace)
    compliance = fields.Dict(metadata={
        "description": "overall, sections and standards ('instrument:rule'): "
                       "{asked, answered, compliant, rate}.",
        "example": {"overall": COUNTS, "sections": {"treatment": COUNTS},
                    "standards": {"mandela:44": COUNTS}}})
    findings = fields.Dict(metadata={"example": {
        "total": 4, "confirmed": 4, "by_theme": {"material_conditions": 3, "treatment": 1},
        "by_severity": {"serious": 2, "moderate": 2}}})
    access_incidents = fields.Dict(metadata={"example": {
        "total": 1, "minutes_lost": 40, "by_kind": {"delayed": {"count": 1,
                                                                "minutes_lost": 40}}}})
    recommendations = fields.Dict(metadata={"example": {
        "made": 5, "open": 4, "repeated": 2, "max_chain": 3, "reviewed": 3,
        "by_authority": {"ministry_of_justice": {"reviewed": 3, "implemented": 1,
                                                 "partially_implemented": 1,
                                                 "rate": 0.5}}}})


class Change(Schema):
    # "from" is a keyword: the attribute is read by key from the dict.
    from_ = fields.Raw(data_key="from", attribute="from", allow_none=True)
    to = fields.Raw(allow_none=True)
    change = fields.Float(allow_none=True)


class VisitConditions(Schema):
    visit = fields.Nested(VisitRef)
    indicators = fields.Nested(Indicators)
    compared_with = fields.UUID(allow_none=True, metadata={
        "description": "The facility's previous published visit (none: first visit)."})
    changes = fields.Dict(keys=fields.String(), values=fields.Nested(Change), metadata={
        "description": "Indicators that changed since that visit.",
        "example": {"occupancy_rate": {"from": 1.12, "to": 1.31, "change": 0.19}}})


class ConditionsOut(Schema):
    facility = fields.Nested(FacilityRef)
    visits = fields.List(fields.Nested(VisitConditions))


class RecommendationArgs(StrictSchema):
    addressed_to = CsvList(fields.String(validate=validate.OneOf(AUTHORITIES)))
    open = fields.Boolean(metadata={"description": "Latest status not implemented / no "
                                                   "longer relevant."})
    repeated_min = fields.Integer(validate=validate.Range(1, 100), metadata={
        "description": "Chain length at least this (2: repeated at least once)."})


class HistoryReviewOut(Schema):
    id = fields.UUID()
    status = fields.String()
    reviewed_at = fields.DateTime(allow_none=True)
    visit_id = fields.UUID(allow_none=True)
    visit_date = fields.DateTime(allow_none=True)
    evidence = fields.String(allow_none=True, metadata={"description": "Not for analysts."})


class FacilityRecommendation(Schema):
    id = fields.UUID()
    visit_id = fields.UUID(allow_none=True)
    visit_date = fields.DateTime(allow_none=True)
    theme = fields.String()
    text = fields.String()
    addressed_to = fields.String()
    priority = fields.String(allow_none=True)
    due_date = fields.DateTime(allow_none=True)
    repeats_id = fields.UUID(allow_none=True)
    repeats_chain = fields.List(fields.UUID(), metadata={"description": "Earlier ones it "
                                                                        "repeats, newest first."})
    chain_length = fields.Integer()
    latest_status = fields.String(allow_none=True)
    open = fields.Boolean()
    status_history = fields.List(fields.Nested(HistoryReviewOut))


class RecommendationsOut(Schema):
    facility = fields.Nested(FacilityRef)
    items = fields.List(fields.Nested(FacilityRecommendation))


class IndicatorArgs(FacilityFilters):
    indicator = fields.String(required=True, validate=validate.Regexp(
        r"^(" + "|".join(INDICATORS) + r"|(compliance_rate|findings|implementation_rate)"
        r"\.[a-z_]{1,40})$"), metadata={"description": "One of: " + ", ".join(INDICATORS)
                                        + "; or compliance_rate.<section>, findings."
                                        "<severity>, implementation_rate.<authority>."})
    mode = fields.String(load_default="latest", validate=validate.OneOf(("latest", "year")),
                         metadata={"description": "latest visit per facility, or per year"})
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "geojson")))


class IndicatorItem(Schema):
    facility = fields.Dict()
    period = fields.String()
    visit_id = fields.UUID()
    visit_date = fields.Date()
    published = fields.Boolean()
    value = fields.Float(allow_none=True)
    previous = fields.Float(allow_none=True, metadata={
        "description": "Value at the facility's previous published visit."})
    change = fields.Float(allow_none=True)


class IndicatorsOut(Schema):
    indicator = fields.String()
    mode = fields.String()
    items = fields.List(fields.Nested(IndicatorItem))


class AnswerArgs(FacilityFilters, PageArgs):
    standard = fields.String(validate=validate.Regexp(
        r"^(" + "|".join(INSTRUMENTS) + r"):[A-Za-z0-9._()-]{1,40}$"),
        metadata={"description": "instrument:rule, e.g. mandela:44"})
    question_code = fields.String(validate=validate.Length(1, 30))
    compliant = fields.Boolean()
    value = fields.String(validate=validate.Length(1, 200))
    holds = CsvList(fields.String(validate=validate.OneOf(HOLDS_KEYS)), metadata={
        "description": "Facilities holding these groups (e.g. women)."})
    lang = fields.String(load_default="en", validate=validate.OneOf(("en", "ru", "tg")))

    @validates_schema
    def _what(self, data: dict[str, Any], **kw: Any) -> None:
        if not data.get("standard") and not data.get("question_code"):
            raise ValidationError("Give standard=instrument:rule or question_code.", "standard")


class AnswerRow(Schema):
    facility = fields.Dict()
    visit = fields.Dict()
    question = fields.Dict()
    answer = fields.Dict(metadata={"description": "info_source, value, number_value, "
                                                  "compliant (never the comment)."})


class AnswersOut(Schema):
    items = fields.List(fields.Nested(AnswerRow))
    meta = fields.Nested(PageMeta)


class AnnualArgs(StrictSchema):
    year = fields.Integer(required=True, validate=validate.Range(1990, 2100))


class AnnualOut(Schema):
    year = fields.Integer()
    generated_at = fields.DateTime()
    visits = fields.Dict(metadata={"example": {
        "total": 42, "facilities": 17, "by_facility_type": {"penal_colony": 12},
        "by_region": {"TJ-SU": 9}, "by_visit_type": {"in_depth": 30}, "announced": 10,
        "unannounced": 32, "joint_with_ombudsman": 25, "unpublished_included": 0}})
    access_incidents = fields.Dict()
    recommendations = fields.Dict()
    implementation_by_authority = fields.Dict()


class PhotoArgs(StrictSchema):
    visit_id = fields.UUID()


class PhotoItem(Schema):
    id = fields.UUID()
    visit_id = fields.UUID()
    visit_date = fields.DateTime(allow_none=True)
    finding_id = fields.UUID(allow_none=True)
    room_inspection_id = fields.UUID(allow_none=True)
    captured_at = fields.DateTime(allow_none=True)
    consent = fields.String(allow_none=True)
    thumbnail = fields.String()
    display = fields.String()
    caption = fields.String(allow_none=True, metadata={"description": "Field roles only."})
    upload_status = fields.String(metadata={"description": "Field roles only."})
    original = fields.String(metadata={"description": "Field roles only."})


class PhotosOut(Schema):
    facility = fields.Nested(FacilityRef)
    items = fields.List(fields.Nested(PhotoItem))
