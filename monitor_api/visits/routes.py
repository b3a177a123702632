"""Visit routes: planning and assignment (admins, coordinators), reading a team's records."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from monitor_api.auth import current_principal, roles_required
from monitor_api.db import get_session
from monitor_api.pagination import page_body
from monitor_api.scope import FIELD_RECORD_ROLES
from monitor_api.visits import service
from schemas import findings as fs
from schemas import visits as s
from schemas.common import PageArgs

blp = Blueprint("visits", __name__, url_prefix="/api/v1/visits",
                description="Monitoring visits and what their teams recorded.")


@blp.route("")
class Visits(MethodView):
    @blp.arguments(s.VisitListArgs, location="query", unknown=RAISE)
    @blp.response(200, s.VisitList)
    @roles_required(*FIELD_RECORD_ROLES)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the visits of the caller's teams (admins: all)."""
        items, total = service.list_visits(get_session(), current_principal(), **args)
        return page_body(items, total, args)

    @blp.arguments(s.VisitCreate)
    @blp.response(201, s.VisitOut)
    @roles_required("admin", "coordinator")
    def post(self, data: dict[str, Any]) -> Any:
        """Plan a visit of a facility and assign a team."""
        visit = service.create_visit(get_session(), current_principal(), **data)
        return visit, 201, {"ETag": service.visit_etag(visit)}


@blp.route("/<uuid:visit_id>/publish", methods=["POST"])
@blp.response(200, s.VisitOut)
@roles_required("admin", "coordinator")
def publish(visit_id: uuid.UUID) -> Any:
    """Publish a reviewed visit: partners and analysts see it (status reported; audited)."""
    visit = service.publish(get_session(), current_principal(), visit_id, True)
    return visit, 200, {"ETag": service.visit_etag(visit)}


@blp.route("/<uuid:visit_id>/unpublish", methods=["POST"])
@blp.response(200, s.VisitOut)
@roles_required("admin", "coordinator")
def unpublish(visit_id: uuid.UUID) -> Any:
    """Take a published visit back (status reviewed; audited): partners no longer see it."""
    visit = service.publish(get_session(), current_principal(), visit_id, False)
    return visit, 200, {"ETag": service.visit_etag(visit)}


@blp.route("/<uuid:visit_id>")
class VisitItem(MethodView):
    @blp.response(200, s.VisitOut)
    @roles_required(*FIELD_RECORD_ROLES)
    def get(self, visit_id: uuid.UUID) -> Any:
        """Read a visit."""
        visit = service.read_visit(get_session(), current_principal(), visit_id)
        return visit, 200, {"ETag": service.visit_etag(visit)}

    @blp.arguments(s.VisitPatch)
    @blp.response(200, s.VisitOut)
    @roles_required("admin", "coordinator")
    def patch(self, data: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """Reassign, reschedule or move a visit on (If-Match optional)."""
        visit = service.update_visit(get_session(), current_principal(), visit_id,
                                     if_match=request.headers.get("If-Match"), **data)
        return visit, 200, {"ETag": service.visit_etag(visit)}


def _records(kind: str, schema: Any, summary: str) -> None:
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, schema)
    @roles_required(*FIELD_RECORD_ROLES)
    def view(args: dict[str, Any], visit_id: uuid.UUID) -> dict[str, Any]:
        items, total = service.list_visit_records(get_session(), current_principal(), visit_id,
                                                  kind, **args)
        return page_body(items, total, args)

    view.__doc__ = summary
    view.__name__ = "list_" + kind.replace("-", "_")
    blp.route(f"/<uuid:visit_id>/{kind}", methods=["GET"], endpoint=view.__name__)(view)


_records("answers", s.AnswerList, "Checklist answers synced on a visit.")
_records("room-inspections", s.RoomInspectionList, "Rooms measured on a visit.")
_records("findings", fs.FindingList, "Findings of a visit (withdrawn ones included).")
_records("recommendations", fs.RecommendationList, "Recommendations made on a visit.")
_records("access-incidents", s.AccessIncidentList, "Access refused, delayed or restricted.")
_records("photos", s.PhotoList, "Photo metadata of a visit (no bytes).")
