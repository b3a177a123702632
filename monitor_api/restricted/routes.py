"""Restricted routes: interviews and allegations (every read is audited)."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint
from marshmallow import RAISE

from monitor_api.auth import current_principal, roles_required
from monitor_api.db import get_session
from monitor_api.pagination import page_body
from monitor_api.restricted import service
from monitor_api.scope import FIELD_RECORD_ROLES
from schemas import restricted as s
from schemas.common import PageArgs

blp = Blueprint("restricted", __name__, url_prefix="/api/v1",
                description="Interviews and allegations: the visit's team, admins and, by "
                            "consent, legal aid.")
_SCHEMAS = {"full": s.AllegationOut(), "legal_aid": s.LegalAidAllegationOut()}


@blp.route("/visits/<uuid:visit_id>/interviews", methods=["GET"])
@blp.arguments(PageArgs, location="query", unknown=RAISE)
@blp.response(200, s.InterviewList)
@roles_required(*FIELD_RECORD_ROLES)
def visit_interviews(args: dict[str, Any], visit_id: uuid.UUID) -> dict[str, Any]:
    """Interviews of a visit (its team and admins; audited)."""
    items, total = service.visit_interviews(get_session(), current_principal(), visit_id,
                                            **args)
    return page_body(items, total, args)


@blp.route("/visits/<uuid:visit_id>/allegations", methods=["GET"])
@blp.arguments(PageArgs, location="query", unknown=RAISE)
@blp.response(200, s.AllegationList)
@roles_required(*FIELD_RECORD_ROLES)
def visit_allegations(args: dict[str, Any], visit_id: uuid.UUID) -> dict[str, Any]:
    """Allegations of a visit (its team and admins; audited)."""
    items, total = service.visit_allegations(get_session(), current_principal(), visit_id,
                                             **args)
    return page_body(items, total, args)


@blp.route("/allegations", methods=["GET"])
@blp.arguments(s.AllegationListArgs, location="query", unknown=RAISE)
@blp.response(200, description="admins: AllegationList; legal_aid: LegalAidAllegationList "
                               "(consented allegations only, non-identifying projection)")
@roles_required("admin", "legal_aid")
def list_allegations(args: dict[str, Any]) -> dict[str, Any]:
    """Allegations across visits: admins (whole) and legal aid (consented; audited)."""
    kind, items, total = service.list_allegations(get_session(), current_principal(), **args)
    return page_body(_SCHEMAS[kind].dump(items, many=True), total, args)


@blp.route("/allegations/<uuid:allegation_id>", methods=["GET"])
@blp.response(200, description="AllegationOut, or LegalAidAllegationOut for legal aid")
@roles_required("admin", "legal_aid", "coordinator", "monitor")
def get_allegation(allegation_id: uuid.UUID) -> dict[str, Any]:
    """One allegation (team and admins whole; legal aid projected if consented; audited)."""
    kind, item = service.get_allegation(get_session(), current_principal(), allegation_id)
    return _SCHEMAS[kind].dump(item)
