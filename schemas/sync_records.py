"""Raw sync records (SYNC_PROTOCOL.md "Records"): one strict schema per synced table.

Values are flat: ids as UUID strings, times as integer ms since the epoch, structured values
as JSON text, locations as lat/lng. Server-set fields are stripped before these run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from monitor_api.checklists.models import (
    ANSWER_TYPES,
    INFO_SOURCES,
    INSTRUMENTS,
    SECTIONS,
    TEMPLATE_STATUSES,
)
from monitor_api.facilities.models import (
    AUTHORITIES,
    FACILITY_STATUSES,
    FACILITY_TYPES,
    HOLDS_KEYS,
    REGIONS,
)
from monitor_api.findings.models import FINDING_STATUSES, PRIORITIES, REVIEW_STATUSES, SEVERITIES
from monitor_api.photos.models import CONSENTS, UPLOAD_STATUSES
from monitor_api.restricted.models import (
    AGE_GROUPS,
    CATEGORIES,
    GENDERS,
    ISTANBUL,
    METHODS,
    REPRISAL_RISKS,
)
from monitor_api.visits.models import (
    ADEQUACY,
    INCIDENT_KINDS,
    INCIDENT_TARGETS,
    POPULATION_SOURCES,
    ROOM_KINDS,
    VISIT_STATUSES,
    VISIT_TYPES,
)
from schemas.common import StrictSchema
from sync.values import CANONICAL_UUID, parse_json_text

MAX_MS = 2**53 - 1
# Times (ms since the epoch) the server can keep: years 1 to 9999 (Python's datetime; inside
# PostgreSQL's timestamptz). Past them a record is rejected, never a 500.
FIRST_MS = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z
LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MIME_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic")


class UuidText(fields.String):
    """A UUID in its canonical (lowercase, hyphenated) form."""

    # Text this pattern matches deserializes to itself (schemas/fast.py skips the parse).
    fast_accept = CANONICAL_UUID

    def _deserialize(self, value: Any, attr: Any, data: Any, **kw: Any) -> str:
        text = super()._deserialize(value, attr, data, **kw)
        try:
            canonical = str(uuid.UUID(text))
        except ValueError as exc:
            raise ValidationError("Not a valid UUID.") from exc
        if canonical != text:  # PostgreSQL answers in canonical form: a phone would see twins
            raise ValidationError("Send ids as lowercase canonical UUIDs (8-4-4-4-12).")
        return canonical


class JsonText(fields.String):
    """JSON text whose parsed value `check` accepts; kept as sent (the phone gets it back
    byte for byte). Parsed strictly: no NaN/Infinity, no NUL or lone surrogate, at most
    `sync.values.MAX_DEPTH` levels deep."""

    def __init__(self, check: Callable[[Any], None], **kw: Any) -> None:
        super().__init__(**kw)
        self.check = check

    def _deserialize(self, value: Any, attr: Any, data: Any, **kw: Any) -> str:
        text = super()._deserialize(value, attr, data, **kw)
        parsed, why = parse_json_text(text)
        if why is not None:
            raise ValidationError(why)
        self.check(parsed)  # every check refuses null
        return text


def list_of(values: tuple[str, ...]) -> Callable[[Any], None]:
    def check(v: Any) -> None:
        if not isinstance(v, list) or any(x not in values for x in v):
            raise ValidationError(f"Must be a JSON list of: {', '.join(values)}.")
    return check


def standard_refs(v: Any) -> None:
    ok = isinstance(v, list) and all(
        isinstance(r, dict) and set(r) == {"instrument", "rule"}
        and r["instrument"] in INSTRUMENTS and isinstance(r["rule"], str) and r["rule"]
        for r in v)
    if not ok:
        raise ValidationError('Must be a JSON list of {"instrument", "rule"}; instruments: '
                              + ", ".join(INSTRUMENTS) + ".")


def any_json(v: Any) -> None:
    if not isinstance(v, list | dict):
        raise ValidationError("Must be a JSON list or object.")


def holds(v: Any) -> None:
    if not isinstance(v, dict) or set(v) - set(HOLDS_KEYS) or not all(
            isinstance(x, bool) for x in v.values()):
        raise ValidationError(f"Must be a JSON object of booleans: {', '.join(HOLDS_KEYS)}.")


def ref(required: bool = False) -> fields.Field:
    if required:
        return UuidText(required=True)
    return UuidText(load_default=None, allow_none=True)


def ms() -> fields.Field:
    return fields.Integer(strict=True, load_default=None, allow_none=True,
                          validate=validate.Range(min=FIRST_MS, max=LAST_MS))


def text(max_len: int | None = None, required: bool = False) -> fields.Field:
    v = validate.Length(max=max_len) if max_len else None
    if required:
        return fields.String(required=True, validate=[validate.Length(min=1, max=max_len)])
    return fields.String(load_default=None, allow_none=True, validate=v)


def one_of(values: tuple[str, ...], default: str | None = None,
           required: bool = False) -> fields.Field:
    if required:
        return fields.String(required=True, validate=validate.OneOf(values))
    return fields.String(load_default=default, allow_none=default is None,
                         validate=validate.OneOf(values))


def count(required: bool = False) -> fields.Field:
    rng = validate.Range(min=0, max=2**31 - 1)
    if required:
        return fields.Integer(strict=True, required=True, validate=rng)
    return fields.Integer(strict=True, load_default=None, allow_none=True, validate=rng)


def number(minimum: float | None = None) -> fields.Field:
    return fields.Float(load_default=None, allow_none=True, allow_nan=False,
                        validate=validate.Range(min=minimum) if minimum is not None else None)


def flag(default: bool | None = False) -> fields.Field:
    return fields.Boolean(load_default=default, allow_none=default is None)


class RawRecord(StrictSchema):
    id = UuidText(required=True)


class Located(Schema):
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-90, 90))
    lng = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-180, 180))

    @validates_schema
    def _both(self, data: dict[str, Any], **kw: Any) -> None:
        if (data.get("lat") is None) != (data.get("lng") is None):
            raise ValidationError("Send both lat and lng, or neither.", "lat")


class VisitRaw(RawRecord):
    facility_id = ref(required=True)
    template_id = ref()
    visit_type = one_of(VISIT_TYPES, "in_depth")
    announced = flag()
    joint_with_ombudsman = flag()
    status = one_of(VISIT_STATUSES, "planned")
    planned_for, started_at, ended_at = ms(), ms(), ms()
    declared_capacity, population_total, population_remand = count(), count(), count()
    population_women, population_minors, population_foreigners = count(), count(), count()
    population_source = one_of(POPULATION_SOURCES)
    summary = text()


class AnswerRaw(RawRecord):
    visit_id, question_id = ref(required=True), ref(required=True)
    info_source = one_of(INFO_SOURCES, required=True)
    value, comment = text(), text()
    number_value = number()
    answered_at = ms()


class RoomInspectionRaw(RawRecord):
    visit_id = ref(required=True)
    label = text(200, required=True)
    room_kind = one_of(ROOM_KINDS, required=True)
    floor_area_m2, ceiling_height_m = number(0), number(0)
    occupants, beds = count(), count()
    toilet_partitioned = flag(None)
    natural_light, ventilation = one_of(ADEQUACY), one_of(ADEQUACY)
    temperature_c = number()
    inspected_at = ms()
    notes = text()


class FindingRaw(RawRecord):
    visit_id = ref(required=True)
    theme = one_of(SECTIONS, required=True)
    severity = one_of(SEVERITIES, required=True)
    title = text(300, required=True)
    description = text()
    standard_refs = JsonText(standard_refs, load_default="[]")
    question_id, room_inspection_id = ref(), ref()
    is_systemic = flag()
    sources_count = count()
    status = one_of(FINDING_STATUSES, "draft")


class RecommendationRaw(RawRecord):
    facility_id, visit_id, finding_id, repeats_id = ref(), ref(), ref(), ref()
    theme = one_of(SECTIONS, required=True)
    text = text(required=True)
    addressed_to = one_of(AUTHORITIES, required=True)
    priority = one_of(PRIORITIES)
    due_date = ms()


class RecommendationReviewRaw(RawRecord):
    recommendation_id, visit_id = ref(required=True), ref()
    status = one_of(REVIEW_STATUSES, required=True)
    evidence = text()
    reviewed_at = ms()


class PhotoRaw(RawRecord, Located):
    visit_id = ref(required=True)
    finding_id, room_inspection_id = ref(), ref()
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    byte_size = fields.Integer(strict=True, required=True,
                               validate=validate.Range(min=1, max=MAX_MS))
    mime_type = one_of(MIME_TYPES)
    captured_at = ms()
    caption = text()
    consent = one_of(CONSENTS)


class AccessIncidentRaw(RawRecord):
    visit_id = ref(required=True)
    kind = one_of(INCIDENT_KINDS, required=True)
    target = one_of(INCIDENT_TARGETS, required=True)
    description = text()
    occurred_at = ms()
    minutes_lost = count()


class InterviewRaw(RawRecord):
    visit_id = ref(required=True)
    interviewee_code = text(60, required=True)
    category = one_of(CATEGORIES, required=True)
    gender, age_group = one_of(GENDERS), one_of(AGE_GROUPS)
    is_group = flag()
    consent_to_record, consent_to_refer, consent_to_publish = flag(), flag(), flag()
    notes = text()
    conducted_at = ms()


class AllegationRaw(RawRecord):
    visit_id, interview_id = ref(required=True), ref()
    alleged_when = text(200)
    place_description = text()
    alleged_unit = text(300)
    methods = JsonText(list_of(METHODS), load_default="[]")
    injuries_observed = text()
    medical_exam_requested = flag()
    istanbul_consistency = one_of(ISTANBUL)
    consent_legal_aid, consent_prosecutor, consent_publication = flag(), flag(), flag()
    reprisal_risk = one_of(REPRISAL_RISKS)
    narrative = text()


# Pull-only tables: what phones receive (used to check what the server sends down).
class FacilityRaw(RawRecord, Located):
    code = text(60, required=True)
    name = text(300, required=True)
    name_ru, name_tg, district = text(300), text(300), text(200)
    facility_type = one_of(FACILITY_TYPES, required=True)
    authority = one_of(AUTHORITIES, required=True)
    region = one_of(REGIONS, required=True)
    official_capacity = count()
    holds = JsonText(holds, load_default="{}")
    status = one_of(FACILITY_STATUSES, "active")


class ChecklistTemplateRaw(RawRecord):
    code = text(60, required=True)
    version = count(required=True)
    title = text(300, required=True)
    facility_types = JsonText(list_of(FACILITY_TYPES), load_default="[]")
    status = one_of(TEMPLATE_STATUSES, required=True)
    published_at, retired_at = ms(), ms()


class ChecklistQuestionRaw(RawRecord):
    template_id = ref(required=True)
    section = one_of(SECTIONS, required=True)
    code = text(30, required=True)
    position = count(required=True)
    text_en = text(required=True)
    text_ru, text_tg = text(), text()
    answer_type = one_of(ANSWER_TYPES, required=True)
    options = JsonText(any_json, load_default=None, allow_none=True)
    unit = text(20)
    standard_refs = JsonText(standard_refs, load_default="[]")
    info_sources = JsonText(list_of(INFO_SOURCES), load_default="[]")
    compliance, indicator = text(200), text(80)


RAW_SCHEMAS: dict[str, type[RawRecord]] = {
    "facilities": FacilityRaw, "checklist_templates": ChecklistTemplateRaw,
    "checklist_questions": ChecklistQuestionRaw, "visits": VisitRaw, "answers": AnswerRaw,
    "room_inspections": RoomInspectionRaw, "findings": FindingRaw,
    "recommendations": RecommendationRaw, "recommendation_reviews": RecommendationReviewRaw,
    "photos": PhotoRaw, "access_incidents": AccessIncidentRaw, "interviews": InterviewRaw,
    "allegations": AllegationRaw,
}
UPLOAD_STATUS_VALUES = UPLOAD_STATUSES  # server-set on photos: sent down, ignored when pushed
