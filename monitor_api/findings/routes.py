"""Findings (confirm, withdraw, edit) and recommendations with their chains and reviews."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from monitor_api.auth import current_principal, roles_required
from monitor_api.db import get_session
from monitor_api.findings import recommendations as recs
from monitor_api.findings import service
from monitor_api.pagination import page_body
from monitor_api.scope import FIELD_RECORD_ROLES
from schemas import findings as s
from schemas.common import PageArgs

blp = Blueprint("findings", __name__, url_prefix="/api/v1/findings",
                description="Findings: coordinators confirm, withdraw and edit them.")
recs_blp = Blueprint("recommendations", __name__, url_prefix="/api/v1/recommendations",
                     description="Recommendations, repeat chains and follow-up reviews.")
WRITERS = ("admin", "coordinator")


@blp.route("/<uuid:finding_id>")
class FindingItem(MethodView):
    @blp.response(200, s.FindingOut)
    @roles_required(*FIELD_RECORD_ROLES)
    def get(self, finding_id: uuid.UUID) -> Any:
        """Read a finding (withdrawn ones stay readable)."""
        return service.get_finding(get_session(), current_principal(), finding_id)

    @blp.arguments(s.FindingPatch)
    @blp.response(200, s.FindingOut)
    @roles_required(*WRITERS)
    def patch(self, data: dict[str, Any], finding_id: uuid.UUID) -> Any:
        """Edit a finding's title, description, severity, theme, standards or systemic flag."""
        return service.update_finding(get_session(), current_principal(), finding_id, **data)


@blp.route("/<uuid:finding_id>/confirm", methods=["POST"])
@blp.response(200, s.FindingOut)
@roles_required(*WRITERS)
def confirm(finding_id: uuid.UUID) -> Any:
    """Confirm a finding (coordinator of the visit's team or admin)."""
    return service.confirm_finding(get_session(), current_principal(), finding_id)


@blp.route("/<uuid:finding_id>/withdraw", methods=["POST"])
@blp.arguments(s.WithdrawIn, required=False)
@blp.response(200, s.FindingOut)
@roles_required(*WRITERS)
def withdraw(data: dict[str, Any], finding_id: uuid.UUID) -> Any:
    """Withdraw a finding, optionally with a reason; it stays readable."""
    return service.withdraw_finding(get_session(), current_principal(), finding_id, **data)


@recs_blp.route("")
class Recommendations(MethodView):
    @recs_blp.arguments(s.RecommendationListArgs, location="query", unknown=RAISE)
    @recs_blp.response(200, s.RecommendationList)
    @roles_required(*FIELD_RECORD_ROLES)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List recommendations (filters: facility, addressee, open, repeated)."""
        items, total = recs.list_recommendations(get_session(), current_principal(), **args)
        return page_body(items, total, args)

    @recs_blp.arguments(s.RecommendationCreate)
    @recs_blp.response(201, s.RecommendationOut)
    @roles_required(*WRITERS)
    def post(self, data: dict[str, Any]) -> Any:
        """Write a recommendation (on a visit, or systemic without one)."""
        return recs.create_recommendation(get_session(), current_principal(), **data)


@recs_blp.route("/<uuid:rec_id>")
class RecommendationItem(MethodView):
    @recs_blp.response(200, s.RecommendationOut)
    @roles_required(*FIELD_RECORD_ROLES)
    def get(self, rec_id: uuid.UUID) -> Any:
        """Read a recommendation with its latest review status."""
        return recs.get_recommendation(get_session(), current_principal(), rec_id)

    @recs_blp.arguments(s.RecommendationPatch)
    @recs_blp.response(200, s.RecommendationOut)
    @roles_required(*WRITERS)
    def patch(self, data: dict[str, Any], rec_id: uuid.UUID) -> Any:
        """Edit a recommendation (repeats_id may not close a cycle)."""
        return recs.update_recommendation(get_session(), current_principal(), rec_id, **data)


@recs_blp.route("/<uuid:rec_id>/chain", methods=["GET"])
@recs_blp.response(200, s.ChainOut)
@roles_required(*FIELD_RECORD_ROLES)
def chain(rec_id: uuid.UUID) -> dict[str, Any]:
    """The repeat chain through a recommendation, oldest to newest."""
    return {"items": recs.chain(get_session(), current_principal(), rec_id)}


@recs_blp.route("/<uuid:rec_id>/reviews")
class Reviews(MethodView):
    @recs_blp.arguments(PageArgs, location="query", unknown=RAISE)
    @recs_blp.response(200, s.ReviewList)
    @roles_required(*FIELD_RECORD_ROLES)
    def get(self, args: dict[str, Any], rec_id: uuid.UUID) -> dict[str, Any]:
        """The status history of a recommendation, oldest first."""
        items, total = recs.list_reviews(get_session(), current_principal(), rec_id, **args)
        return page_body(items, total, args)

    @recs_blp.arguments(s.ReviewCreate)
    @recs_blp.response(201, s.ReviewOut)
    @roles_required(*WRITERS)
    def post(self, data: dict[str, Any], rec_id: uuid.UUID) -> Any:
        """Record a follow-up review of a recommendation."""
        return recs.add_review(get_session(), current_principal(), rec_id, **data)
