"""Checklist templates and questions: strict input, output, list filters."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from monitor_api.checklists.compliance import OPTION_CODE, question_errors
from monitor_api.checklists.models import (
    ANSWER_TYPES,
    INFO_SOURCES,
    INSTRUMENTS,
    SECTIONS,
    TEMPLATE_STATUSES,
)
from monitor_api.facilities.models import FACILITY_TYPES
from schemas.common import PageArgs, PageMeta, StrictSchema

NOT_BLANK = validate.Regexp(r"\S", error="Must not be blank.")
TEMPLATE_CODE = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,59}$",
                                error="Lower-case letters, digits, '_' and '-' (max 60).")
QUESTION_CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$",
                                error="Letters, digits, '_', '.' and '-' (max 30).")
INDICATOR = validate.Regexp(r"^[a-z][a-z0-9_]{0,79}$",
                            error="Lower-case snake_case code (max 80).")


class StrictBool(fields.Boolean):
    """Only JSON true/false: no 1, "yes" or "true" strings."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def unique(values: list[Any]) -> None:
    """A list validator: no duplicates."""
    if len(set(values)) != len(values):
        raise ValidationError("Items must be distinct.")


class StandardRef(StrictSchema):
    """A standard a question or finding checks: {"instrument": "mandela", "rule": "44"}."""

    instrument = fields.String(required=True, validate=validate.OneOf(INSTRUMENTS))
    rule = fields.String(required=True, validate=[validate.Length(1, 200), NOT_BLANK])


class OptionLabel(StrictSchema):
    """An option's label in the three languages (exports and forms show these)."""

    en = fields.String(required=True, validate=[validate.Length(1, 300), NOT_BLANK])
    ru = fields.String(validate=validate.Length(1, 300))
    tg = fields.String(validate=validate.Length(1, 300))


class QuestionPatch(StrictSchema):
    """Fields of a question; cross-field rules are checked on the merged question."""

    section = fields.String(validate=validate.OneOf(SECTIONS))
    code = fields.String(validate=QUESTION_CODE)
    position = fields.Integer(strict=True, validate=validate.Range(1, 100_000))
    text_en = fields.String(validate=[validate.Length(1, 5000), NOT_BLANK])
    text_ru = fields.String(allow_none=True, validate=validate.Length(max=5000))
    text_tg = fields.String(allow_none=True, validate=validate.Length(max=5000))
    answer_type = fields.String(validate=validate.OneOf(ANSWER_TYPES))
    options = fields.List(fields.String(validate=validate.Regexp(OPTION_CODE)),
                          allow_none=True, validate=[validate.Length(1, 100), unique])
    option_labels = fields.Dict(keys=fields.String(validate=validate.Regexp(OPTION_CODE)),
                                values=fields.Nested(OptionLabel), allow_none=True,
                                metadata={"description": "Labels of the options by code: "
                                          '{"adequate": {"en": "Adequate", "ru": …, "tg": …}}'})
    unit = fields.String(allow_none=True, validate=[validate.Length(1, 20), NOT_BLANK])
    standard_refs = fields.List(fields.Nested(StandardRef), validate=validate.Length(max=30))
    info_sources = fields.List(fields.String(validate=validate.OneOf(INFO_SOURCES)),
                               validate=[validate.Length(min=1), unique])
    compliance = fields.String(allow_none=True, validate=validate.Length(1, 200))
    indicator = fields.String(allow_none=True, validate=INDICATOR)


class QuestionCreate(QuestionPatch):
    section = fields.String(required=True, validate=validate.OneOf(SECTIONS))
    code = fields.String(required=True, validate=QUESTION_CODE)
    text_en = fields.String(required=True, validate=[validate.Length(1, 5000), NOT_BLANK])
    answer_type = fields.String(required=True, validate=validate.OneOf(ANSWER_TYPES))
    info_sources = fields.List(fields.String(validate=validate.OneOf(INFO_SOURCES)),
                               required=True, validate=[validate.Length(min=1), unique])

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = question_errors(data)
        if errors:
            raise ValidationError(errors)  # type: ignore[arg-type]


class TemplatePatch(StrictSchema):
    title = fields.String(validate=[validate.Length(1, 300), NOT_BLANK])
    facility_types = fields.List(fields.String(validate=validate.OneOf(FACILITY_TYPES)),
                                 validate=unique)


class TemplateCreate(TemplatePatch):
    code = fields.String(required=True, validate=TEMPLATE_CODE)
    title = fields.String(required=True, validate=[validate.Length(1, 300), NOT_BLANK])
    questions = fields.List(fields.Nested(QuestionCreate), validate=validate.Length(max=1000))

    @validates_schema(skip_on_field_errors=True)
    def _distinct_codes(self, data: dict[str, Any], **kwargs: Any) -> None:
        codes = [q["code"] for q in data.get("questions") or []]
        if len(set(codes)) != len(codes):
            raise ValidationError({"questions": ["Question codes must be distinct."]})


class TemplateFile(TemplateCreate):
    """The shipped JSON file of a template (the starter checklist)."""

    version = fields.Integer(required=True, strict=True, validate=validate.Range(1, 10_000))
    questions = fields.List(fields.Nested(QuestionCreate), required=True,
                            validate=validate.Length(1, 1000))


class TemplateListArgs(PageArgs):
    code = fields.String(validate=validate.Length(1, 60))
    status = fields.String(validate=validate.OneOf(TEMPLATE_STATUSES))


class QuestionOut(Schema):
    id = fields.UUID()
    template_id = fields.UUID()
    section = fields.String()
    code = fields.String()
    position = fields.Integer()
    text_en = fields.String()
    text_ru = fields.String(allow_none=True)
    text_tg = fields.String(allow_none=True)
    answer_type = fields.String()
    options = fields.List(fields.String(), allow_none=True)
    option_labels = fields.Dict(keys=fields.String(), values=fields.Dict(), allow_none=True)
    unit = fields.String(allow_none=True)
    standard_refs = fields.List(fields.Dict(), allow_none=True)
    info_sources = fields.List(fields.String(), allow_none=True)
    compliance = fields.String(allow_none=True)
    indicator = fields.String(allow_none=True)


class TemplateSummary(Schema):
    id = fields.UUID()
    code = fields.String()
    version = fields.Integer()
    title = fields.String()
    facility_types = fields.List(fields.String())
    status = fields.String()
    published_at = fields.DateTime(allow_none=True)
    retired_at = fields.DateTime(allow_none=True)
    created_by_id = fields.UUID(allow_none=True)
    server_created_at = fields.DateTime()
    server_updated_at = fields.DateTime()


class TemplateOut(TemplateSummary):
    questions = fields.List(fields.Nested(QuestionOut))


class TemplateList(Schema):
    items = fields.List(fields.Nested(TemplateSummary))
    meta = fields.Nested(PageMeta)
