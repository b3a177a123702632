"""Schemas for the facility registry: input (strict), output, list filters and GeoJSON."""

from __future__ import annotations

import math
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from monitor_api.facilities.models import (
    AUTHORITIES,
    FACILITY_STATUSES,
    FACILITY_TYPES,
    HOLDS_KEYS,
    REGIONS,
)
from schemas.common import PageArgs, PageMeta, StrictSchema

SORTS = ("name", "-name", "code", "-code", "region", "-region", "created_at", "-created_at",
         "updated_at", "-updated_at", "distance")
NOT_BLANK = validate.Regexp(r"\S", error="Must not be blank.")


class Text(fields.String):
    """A string without NUL characters (PostgreSQL text cannot hold them)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("Must not contain NUL characters.")
        return text


class StrictBool(fields.Boolean):
    """Only JSON true/false: no 1, "yes" or "true" strings."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Coordinate(fields.Float):
    """A JSON number (not a string, not a boolean), finite, within [lo, hi]."""

    def __init__(self, lo: float, hi: float, **kwargs: Any) -> None:
        super().__init__(validate=validate.Range(lo, hi), **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class HoldsSchema(StrictSchema):
    """Who the facility holds: exactly these four booleans."""

    men = StrictBool(required=True)
    women = StrictBool(required=True)
    minors = StrictBool(required=True)
    foreigners = StrictBool(required=True)


assert tuple(HoldsSchema().fields) == HOLDS_KEYS


def _check_lat_lng(data: dict[str, Any]) -> None:
    if ("lat" in data) != ("lng" in data) or (
            "lat" in data and (data["lat"] is None) != (data["lng"] is None)):
        missing = "lng" if data.get("lat") is not None else "lat"
        raise ValidationError({missing: ["Give lat and lng together, or neither."]})


class FacilityCreate(StrictSchema):
    code = Text(required=True, validate=[validate.Length(1, 60), NOT_BLANK])
    name = Text(required=True, validate=[validate.Length(1, 300), NOT_BLANK])
    name_ru = Text(allow_none=True, validate=validate.Length(max=300))
    name_tg = Text(allow_none=True, validate=validate.Length(max=300))
    facility_type = Text(required=True, validate=validate.OneOf(FACILITY_TYPES))
    authority = Text(required=True, validate=validate.OneOf(AUTHORITIES))
    region = Text(required=True, validate=validate.OneOf(REGIONS))
    district = Text(allow_none=True, validate=validate.Length(max=200))
    lat = Coordinate(-90, 90, allow_none=True, metadata={"description": "WGS84 latitude"})
    lng = Coordinate(-180, 180, allow_none=True, metadata={"description": "WGS84 longitude"})
    official_capacity = fields.Integer(strict=True, allow_none=True,
                                       validate=validate.Range(0, 1_000_000))
    holds = fields.Nested(HoldsSchema)
    status = Text(validate=validate.OneOf(FACILITY_STATUSES))
    notes = Text(allow_none=True, validate=validate.Length(max=10_000))

    @validates_schema
    def _lat_lng(self, data: dict[str, Any], **kwargs: Any) -> None:
        _check_lat_lng(data)


class FacilityUpdate(FacilityCreate):
    """Every field optional; lat and lng still travel together (both null clears the point)."""

    code = Text(validate=[validate.Length(1, 60), NOT_BLANK])
    name = Text(validate=[validate.Length(1, 300), NOT_BLANK])
    facility_type = Text(validate=validate.OneOf(FACILITY_TYPES))
    authority = Text(validate=validate.OneOf(AUTHORITIES))
    region = Text(validate=validate.OneOf(REGIONS))


class FacilityOut(Schema):
    id = fields.UUID(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    name_ru = fields.String(allow_none=True)
    name_tg = fields.String(allow_none=True)
    facility_type = fields.String(required=True)
    authority = fields.String(required=True)
    region = fields.String(required=True)
    district = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    lng = fields.Float(allow_none=True)
    official_capacity = fields.Integer(allow_none=True)
    holds = fields.Dict(keys=fields.String(), values=fields.Boolean())
    status = fields.String(required=True)
    notes = fields.String(allow_none=True)
    is_sample = fields.Boolean()
    version = fields.Integer(required=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    deleted_at = fields.DateTime(allow_none=True)
    distance_m = fields.Float(allow_none=True, metadata={
        "description": "Geodesic metres to `near` (WGS84 spheroid); only with near."})


class FacilityList(Schema):
    items = fields.List(fields.Nested(FacilityOut))
    meta = fields.Nested(PageMeta)


class CsvList(fields.List):
    """A query list: repeat the parameter and/or comma-separate values (`a,b&x=c`)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in items):
            raise self.make_error("invalid")
        flat = [part.strip() for item in items for part in item.split(",") if part.strip()]
        if not flat:
            raise ValidationError("Give at least one value.")
        return super()._deserialize(flat, attr, data, **kwargs)


class NumberTuple(fields.String):
    """Comma-separated finite numbers, e.g. `near=38.5,68.7`."""

    def __init__(self, names: tuple[str, ...], **kwargs: Any) -> None:
        self.names = names
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        parts = text.split(",")
        if len(parts) != len(self.names):
            raise ValidationError(f"Expected {len(self.names)} comma-separated numbers: "
                                  + ",".join(self.names) + ".")
        try:
            numbers = tuple(float(p) for p in parts)
        except ValueError:
            raise ValidationError("Every part must be a number: " + ",".join(self.names)
                                  + ".") from None
        if not all(math.isfinite(n) for n in numbers):
            raise ValidationError("Numbers must be finite.")
        return numbers


def _bounds(name: str, value: float, lo: float, hi: float) -> list[str]:
    return [] if lo <= value <= hi else [f"{name} must be between {lo} and {hi}."]


class FacilityListArgs(PageArgs):
    region = CsvList(fields.String(validate=validate.OneOf(REGIONS)),
                     metadata={"description": "Repeat or comma-separate for several (OR)."})
    facility_type = CsvList(fields.String(validate=validate.OneOf(FACILITY_TYPES)))
    authority = CsvList(fields.String(validate=validate.OneOf(AUTHORITIES)))
    status = CsvList(fields.String(validate=validate.OneOf(FACILITY_STATUSES)))
    q = Text(validate=validate.Length(1, 200),
                      metadata={"description": "Case-insensitive substring of code or names."})
    bbox = NumberTuple(("minLng", "minLat", "maxLng", "maxLat"),
                       metadata={"description": "minLng,minLat,maxLng,maxLat (WGS84)"})
    near = NumberTuple(("lat", "lng"), metadata={"description": "lat,lng (WGS84)"})
    radius_m = fields.Float(validate=validate.Range(0, 20_100_000),
                            metadata={"description": "With `near`: keep facilities within it."})
    sort = fields.String(validate=validate.OneOf(SORTS))
    include_deleted = fields.Boolean(load_default=False,
                                     metadata={"description": "Admins only."})
    format = fields.String(validate=validate.OneOf(("json", "geojson")),
                           metadata={"description": "`geojson`: same as Accept: "
                                                    "application/geo+json."})

    @validates_schema
    def _geo(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        if "bbox" in data:
            min_lng, min_lat, max_lng, max_lat = data["bbox"]
            msgs = (_bounds("minLng", min_lng, -180, 180) + _bounds("maxLng", max_lng, -180, 180)
                    + _bounds("minLat", min_lat, -90, 90) + _bounds("maxLat", max_lat, -90, 90))
            if min_lng > max_lng or min_lat > max_lat:
                msgs.append("min must not exceed max.")
            if msgs:
                errors["bbox"] = msgs
        if "near" in data:
            lat, lng = data["near"]
            msgs = _bounds("lat", lat, -90, 90) + _bounds("lng", lng, -180, 180)
            if msgs:
                errors["near"] = msgs
        elif "radius_m" in data:
            errors["radius_m"] = ["radius_m needs near=lat,lng."]
        if data.get("sort") == "distance" and "near" not in data:
            errors["sort"] = ["sort=distance needs near=lat,lng."]
        if errors:
            raise ValidationError(errors)


class ItemArgs(StrictSchema):
    include_deleted = fields.Boolean(load_default=False,
                                     metadata={"description": "Admins only."})


class HistoryOut(Schema):
    id = fields.Integer()
    version = fields.Integer()
    kind = fields.String(metadata={"description": "created, renamed, relocated, status, "
                                                  "updated or deleted"})
    changed_at = fields.DateTime()
    changed_by_id = fields.UUID(allow_none=True)
    changed_by = fields.String(allow_none=True, metadata={"description": "username"})
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)


class HistoryList(Schema):
    items = fields.List(fields.Nested(HistoryOut))


class PointSchema(Schema):
    type = fields.Constant("Point")
    coordinates = fields.List(fields.Float(), metadata={"description": "[lng, lat]"})


class FeatureProperties(FacilityOut):
    class Meta:
        exclude = ("lat", "lng")


class FeatureSchema(Schema):
    type = fields.Constant("Feature")
    id = fields.UUID()
    geometry = fields.Nested(PointSchema, allow_none=True)
    properties = fields.Nested(FeatureProperties)


class FeatureCollectionSchema(Schema):
    type = fields.Constant("FeatureCollection")
    features = fields.List(fields.Nested(FeatureSchema))
    meta = fields.Nested(PageMeta)
