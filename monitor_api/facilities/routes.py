"""Facility registry routes: CRUD guarded by ETag/If-Match, history, and the searchable list.

The list answers JSON by default and a GeoJSON FeatureCollection when asked with
`Accept: application/geo+json` or `format=geojson` (the parameter wins over the header).
Filters taking several values accept both repeated parameters and comma-separated values.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from flask import Response, json, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from monitor_api.auth import current_principal, roles_required
from monitor_api.db import get_session
from monitor_api.facilities import service
from schemas import facilities as s

blp = Blueprint("facilities", __name__, url_prefix="/api/v1/facilities",
                description="The registry of places of detention.")

GEOJSON = "application/geo+json"
ETAG_HEADER = {"ETag": {"description": "Strong ETag of the facility version",
                        "schema": {"type": "string"}}}
IF_MATCH = {"in": "header", "name": "If-Match", "required": True,
            "schema": {"type": "string"},
            "description": "The ETag you read; missing → 428, stale → 412."}
LIST_DOC = ("A page of facilities as JSON, or with Accept: application/geo+json or "
            "format=geojson a GeoJSON FeatureCollection (Point [lng, lat]).")
IF_MATCH_OPTIONAL = {**IF_MATCH, "required": False,
                     "description": "Optional; when sent and stale → 412."}


@blp.route("")
class Facilities(MethodView):
    @roles_required()
    @blp.arguments(s.FacilityListArgs, location="query", unknown=RAISE)
    @blp.response(200, s.FacilityList, description=LIST_DOC, headers={"Link": {
        "description": "rel=next / rel=prev page URLs", "schema": {"type": "string"}}})
    @blp.alt_response(200, schema=s.FeatureCollectionSchema, content_type=GEOJSON,
                      success=True, description=LIST_DOC)
    def get(self, args: dict[str, Any]) -> Any:
        """List facilities: filters, text search, bbox, near/radius; JSON or GeoJSON."""
        fmt = args.pop("format", None)
        items, total = service.list_facilities(get_session(), current_principal(), **args)
        meta = {"page": args["page"], "per_page": args["per_page"], "total": total}
        headers = {"Vary": "Accept", **_link_header(args["page"], args["per_page"], total)}
        if fmt == "geojson" or (fmt is None and request.accept_mimetypes.best_match(
                ["application/json", GEOJSON]) == GEOJSON):
            return _feature_collection(items, meta), 200, headers
        return {"items": items, "meta": meta}, 200, headers

    @roles_required("admin", "coordinator")
    @blp.arguments(s.FacilityCreate)
    @blp.response(201, s.FacilityOut, headers=ETAG_HEADER)
    @blp.alt_response(409, description="A live facility already has this code")
    def post(self, data: dict[str, Any]) -> Any:
        """Create a facility (admin, coordinator)."""
        fac = service.create_facility(get_session(), current_principal(), **data)
        return fac, 201, {"ETag": service.etag(fac["version"]),
                          "Location": f"{blp.url_prefix}/{fac['id']}"}


@blp.route("/<uuid:facility_id>")
class FacilityItem(MethodView):
    @roles_required()
    @blp.arguments(s.ItemArgs, location="query", unknown=RAISE)
    @blp.response(200, s.FacilityOut, headers=ETAG_HEADER)
    def get(self, args: dict[str, Any], facility_id: uuid.UUID) -> Any:
        """Read a facility; the ETag names its version."""
        fac = service.get_facility(get_session(), current_principal(), facility_id, **args)
        return fac, 200, {"ETag": service.etag(fac["version"])}

    @roles_required("admin", "coordinator")
    @blp.arguments(s.FacilityUpdate)
    @blp.response(200, s.FacilityOut, headers=ETAG_HEADER)
    @blp.alt_response(412, description="If-Match is stale")
    @blp.alt_response(428, description="If-Match is missing")
    @blp.doc(parameters=[IF_MATCH])
    def patch(self, data: dict[str, Any], facility_id: uuid.UUID) -> Any:
        """Change a facility (admin, coordinator); needs If-Match."""
        fac = service.update_facility(get_session(), current_principal(), facility_id,
                                      if_match=request.headers.get("If-Match"), **data)
        return fac, 200, {"ETag": service.etag(fac["version"])}

    @roles_required("admin")
    @blp.response(204)
    @blp.alt_response(412, description="If-Match was sent and is stale")
    @blp.doc(parameters=[IF_MATCH_OPTIONAL])
    def delete(self, facility_id: uuid.UUID) -> Any:
        """Soft-delete a facility (admin)."""
        service.delete_facility(get_session(), current_principal(), facility_id,
                                if_match=request.headers.get("If-Match"))
        resp = Response(status=204)
        del resp.headers["Content-Type"]
        return resp


@blp.route("/<uuid:facility_id>/history", methods=["GET"])
@roles_required()
@blp.arguments(s.ItemArgs, location="query", unknown=RAISE)
@blp.response(200, s.HistoryList)
def history(args: dict[str, Any], facility_id: uuid.UUID) -> Any:
    """The history of a facility (renames, moves, status changes), oldest first."""
    items = service.facility_history(get_session(), current_principal(), facility_id, **args)
    return {"items": items}


def _link_header(page: int, per_page: int, total: int) -> dict[str, str]:
    links = []
    pages = {"prev": page - 1 if page > 1 else None,
             "next": page + 1 if page * per_page < total else None}
    for rel, number in pages.items():
        if number is not None:
            query = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
            url = f"{request.path}?{urlencode([*query, ('page', str(number))])}"
            links.append(f'<{url}>; rel="{rel}"')
    return {"Link": ", ".join(links)} if links else {}


def _feature_collection(items: list[dict[str, Any]], meta: dict[str, Any]) -> Response:
    properties = s.FeatureProperties()
    features = [{
        "type": "Feature",
        "id": str(item["id"]),
        "geometry": None if item["lat"] is None else {
            "type": "Point", "coordinates": [item["lng"], item["lat"]]},
        "properties": properties.dump(item),
    } for item in items]
    body = {"type": "FeatureCollection", "features": features, "meta": meta}
    return Response(json.dumps(body), mimetype=GEOJSON)
