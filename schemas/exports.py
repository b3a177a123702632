"""Export query parameters and the list of datasets a caller may export."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from monitor_api.checklists.models import INSTRUMENTS, SECTIONS
from monitor_api.exports.columns import LANGS, Filters
from monitor_api.exports.records import NOT_REVIEWED
from monitor_api.exports.service import FORMATS
from monitor_api.facilities.models import AUTHORITIES, FACILITY_TYPES, REGIONS
from monitor_api.findings.models import REVIEW_STATUSES, SEVERITIES
from schemas.common import StrictSchema
from schemas.facilities import CsvList

STANDARD = re.compile(rf"^({'|'.join(INSTRUMENTS)})(:[^,\x00]{{1,200}})?$")
LIST = "Repeat the parameter or comma-separate values (any of them)."


class ExportArgs(StrictSchema):
    format = fields.String(load_default="csv", validate=validate.OneOf(FORMATS), metadata={
        "description": "csv, xlsx, geojson, parquet, or zip (a CSV per dataset and "
                       "datapackage.json)."})
    date_from = fields.Date(data_key="from", metadata={"description": "Visits on or after."})
    date_to = fields.Date(data_key="to", metadata={"description": "Visits on or before."})
    region = CsvList(fields.String(validate=validate.OneOf(REGIONS)),
                     metadata={"description": LIST})
    facility_type = CsvList(fields.String(validate=validate.OneOf(FACILITY_TYPES)))
    authority = CsvList(fields.String(validate=validate.OneOf(AUTHORITIES)))
    facility = CsvList(fields.UUID(), metadata={"description": "Facility ids."})
    theme = CsvList(fields.String(validate=validate.OneOf(SECTIONS)), metadata={
        "description": "Section: findings and recommendations by theme, answers by section."})
    severity = CsvList(fields.String(validate=validate.OneOf(SEVERITIES)),
                       metadata={"description": "Findings only."})
    standard = CsvList(fields.String(validate=validate.Regexp(
        STANDARD, error="An instrument (e.g. mandela) or instrument:rule (e.g. mandela:44).")),
        metadata={"description": "Findings and answers citing any of these standards: "
                                 "`mandela` or `mandela:44`."})
    recommendation_status = CsvList(fields.String(validate=validate.OneOf(
        (*REVIEW_STATUSES, NOT_REVIEWED))), metadata={
        "description": "Recommendations whose latest review has this status."})
    published_only = fields.Boolean(load_default=False, metadata={
        "description": "Coordinators and admins: leave out visits under review."})
    lang = fields.String(load_default="en", validate=validate.OneOf(LANGS), metadata={
        "description": "Language of question texts, option labels and facility names."})

    @validates_schema
    def _order(self, data: dict[str, Any], **kw: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("from must not be after to.", "from")


def to_filters(args: dict[str, Any]) -> Filters:
    """Loaded arguments (without `format`) as the exporter's filters."""
    return Filters(**{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()})


class DatasetOut(Schema):
    name = fields.String()
    title = fields.String()
    description = fields.String()
    filters = fields.List(fields.String(), metadata={"description": "Filters that apply."})
    columns = fields.List(fields.Dict(), metadata={"description": "Table Schema fields."})


class DatasetsOut(Schema):
    formats = fields.List(fields.String())
    datasets = fields.List(fields.Nested(DatasetOut))
