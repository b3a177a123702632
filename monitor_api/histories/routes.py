"""Condition histories over HTTP: per facility, across facilities, per year."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from flask import Response, json, request
from flask.views import MethodView
from flask_smorest import Blueprint

from monitor_api.auth import current_principal, roles_required
from monitor_api.db import get_session
from monitor_api.histories import queries, service
from monitor_api.histories.access import HISTORY_ROLES
from schemas import histories as s

blp = Blueprint("histories", __name__, url_prefix="/api/v1",
                description="Facility condition histories: indicators per visit and what "
                            "changed, recommendation follow-up, statistics. Partners and "
                            "analysts see published visits only; their reads are audited.")


@blp.route("/facilities/<uuid:facility_id>/conditions")
class Conditions(MethodView):
    @roles_required(*HISTORY_ROLES)
    @blp.etag
    @blp.arguments(s.DateRange, location="query")
    @blp.response(200, s.ConditionsOut)
    @blp.doc(operationId="getFacilityConditions")
    def get(self, args: dict[str, Any], facility_id: uuid.UUID) -> Any:
        """The facility's visits with their indicators and changes since the last visit."""
        body = service.conditions_body(get_session(), current_principal(), facility_id,
                                       **args)
        # Already rendered as the schema would (histories/render.py): tag the bytes.
        blp.set_etag(hashlib.sha1(body).hexdigest())  # noqa: S324 (a cache tag)
        return Response(body, mimetype="application/json")


@blp.route("/facilities/<uuid:facility_id>/recommendations")
class FacilityRecommendations(MethodView):
    @roles_required(*HISTORY_ROLES)
    @blp.etag
    @blp.arguments(s.RecommendationArgs, location="query")
    @blp.response(200, s.RecommendationsOut)
    def get(self, args: dict[str, Any], facility_id: uuid.UUID) -> Any:
        """The facility's recommendations with repeat chains and status histories."""
        return service.recommendations(get_session(), current_principal(), facility_id,
                                       **args)


@blp.route("/facilities/<uuid:facility_id>/photos")
class FacilityPhotos(MethodView):
    @roles_required(*HISTORY_ROLES)
    @blp.arguments(s.PhotoArgs, location="query")
    @blp.response(200, s.PhotosOut)
    def get(self, args: dict[str, Any], facility_id: uuid.UUID) -> Any:
        """Photos of the facility's visits (partners: redacted copies of published ones)."""
        return service.photos(get_session(), current_principal(), facility_id, **args)


@blp.route("/indicators")
class Indicators(MethodView):
    @roles_required(*HISTORY_ROLES)
    @blp.arguments(s.IndicatorArgs, location="query")
    @blp.response(200, s.IndicatorsOut, description="JSON, or GeoJSON with format=geojson "
                  "or Accept: application/geo+json")
    def get(self, args: dict[str, Any]) -> Any:
        """One indicator across facilities: the latest visit's value, or per year."""
        fmt = args.pop("format")
        items = queries.indicators(get_session(), current_principal(), **args)
        if fmt == "geojson" or request.accept_mimetypes.best == "application/geo+json":
            return Response(json.dumps(queries.geojson(items, args["indicator"])),
                            mimetype="application/geo+json")
        return {"indicator": args["indicator"], "mode": args["mode"], "items": items}


@blp.route("/answers")
class Answers(MethodView):
    @roles_required(*HISTORY_ROLES)
    @blp.arguments(s.AnswerArgs, location="query")
    @blp.response(200, s.AnswersOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Answers across facilities by standard (e.g. mandela:44) or question code."""
        page, per_page = args.pop("page"), args.pop("per_page")
        rows = queries.answers(get_session(), current_principal(), **args)
        start = (page - 1) * per_page
        return {"items": rows[start:start + per_page],
                "meta": {"page": page, "per_page": per_page, "total": len(rows)}}


@blp.route("/statistics/annual")
class Annual(MethodView):
    @roles_required(*HISTORY_ROLES)
    @blp.arguments(s.AnnualArgs, location="query")
    @blp.response(200, s.AnnualOut)
    @blp.doc(operationId="getAnnualStatistics")
    def get(self, args: dict[str, Any]) -> Any:
        """A year's figures: visits, access incidents, implementation rates per authority."""
        return queries.annual(get_session(), current_principal(), **args)
