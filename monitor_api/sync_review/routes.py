"""Coordinator review of sync: quarantined records and per-record revision history."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from monitor_api.auth import current_principal, roles_required
from monitor_api.db import get_session
from monitor_api.pagination import page_body
from monitor_api.sync_review import schemas as s
from monitor_api.sync_review import service

blp = Blueprint("sync-review", __name__, url_prefix="/api/v1/sync",
                description="Coordinators review rejected (quarantined) records and history.")
REVIEWERS = ("admin", "coordinator")


@blp.route("/quarantine")
class Quarantine(MethodView):
    @roles_required(*REVIEWERS)
    @blp.arguments(s.QuarantineArgs, location="query")
    @blp.response(200, s.QuarantineList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List quarantined records of your teams' visits (pending by default)."""
        items, total = service.list_quarantine(get_session(), current_principal(), **args)
        return page_body(items, total, args)


@blp.route("/quarantine/<uuid:qid>")
class QuarantineItem(MethodView):
    @roles_required(*REVIEWERS)
    @blp.response(200, s.QuarantineOut)
    def get(self, qid: uuid.UUID) -> dict[str, Any]:
        """Read one quarantined record with its errors."""
        return service.get_quarantined(get_session(), current_principal(), qid)


@blp.route("/quarantine/<uuid:qid>/accept", methods=["POST"])
@roles_required(*REVIEWERS)
@blp.arguments(s.QuarantineAcceptIn)
@blp.response(200, s.QuarantineOut)
def accept(data: dict[str, Any], qid: uuid.UUID) -> dict[str, Any]:
    """Apply the record as sent (422 if it is still invalid)."""
    return service.accept(get_session(), current_principal(), qid, **data)


@blp.route("/quarantine/<uuid:qid>/fix", methods=["POST"])
@roles_required(*REVIEWERS)
@blp.arguments(s.QuarantineFixIn)
@blp.response(200, s.QuarantineOut)
def fix(data: dict[str, Any], qid: uuid.UUID) -> dict[str, Any]:
    """Apply a corrected raw record in place of the rejected one."""
    return service.fix(get_session(), current_principal(), qid, **data)


@blp.route("/quarantine/<uuid:qid>/discard", methods=["POST"])
@roles_required(*REVIEWERS)
@blp.arguments(s.QuarantineDiscardIn)
@blp.response(200, s.QuarantineOut)
def discard(data: dict[str, Any], qid: uuid.UUID) -> dict[str, Any]:
    """Refuse the record for good; it is kept, and the decision is audited."""
    return service.discard(get_session(), current_principal(), qid, **data)


@blp.route("/history/<string:table>/<uuid:record_id>")
class History(MethodView):
    @roles_required(*REVIEWERS)
    @blp.response(200, s.SyncHistoryOut)
    @blp.doc(operationId="getRecordHistory")
    def get(self, table: str, record_id: uuid.UUID) -> dict[str, Any]:
        """A record's revision history: who, which device, when, before → after."""
        return service.record_history(get_session(), current_principal(), table, record_id)
