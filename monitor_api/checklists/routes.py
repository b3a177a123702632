"""Checklist template routes: admins and coordinators write; field roles read everything,
partners, analysts and legal aid read published and retired templates (reference data)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from monitor_api.auth import current_principal, roles_required
from monitor_api.checklists import service
from monitor_api.db import get_session
from monitor_api.pagination import page_body
from schemas import checklists as s

blp = Blueprint("checklists", __name__, url_prefix="/api/v1/checklist-templates",
                description="Versioned checklist templates (immutable once published).")
WRITERS = ("admin", "coordinator")


def _with_etag(template: Any, status: int = 200) -> tuple[Any, int, dict[str, str]]:
    return template, status, {"ETag": service.template_etag(template)}


@blp.route("")
class Templates(MethodView):
    @blp.arguments(s.TemplateListArgs, location="query", unknown=RAISE)
    @blp.response(200, s.TemplateList)
    @roles_required()
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List checklist templates (drafts only for field roles)."""
        items, total = service.list_templates(get_session(), current_principal(), **args)
        return page_body(items, total, args)

    @blp.arguments(s.TemplateCreate)
    @blp.response(201, s.TemplateOut)
    @roles_required(*WRITERS)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a draft template (version 1 of a new code), optionally with questions."""
        return _with_etag(service.create_template(get_session(), current_principal(), **data),
                          201)


@blp.route("/<uuid:template_id>")
class TemplateItem(MethodView):
    @blp.response(200, s.TemplateOut)
    @roles_required()
    def get(self, template_id: uuid.UUID) -> Any:
        """Read a template with its questions."""
        return _with_etag(service.get_template(get_session(), current_principal(), template_id))

    @blp.arguments(s.TemplatePatch)
    @blp.response(200, s.TemplateOut)
    @roles_required(*WRITERS)
    def patch(self, data: dict[str, Any], template_id: uuid.UUID) -> Any:
        """Change a draft's title or facility types (If-Match optional)."""
        return _with_etag(service.update_template(
            get_session(), current_principal(), template_id,
            if_match=request.headers.get("If-Match"), **data))

    @blp.response(204)
    @roles_required(*WRITERS)
    def delete(self, template_id: uuid.UUID) -> None:
        """Delete a draft template."""
        service.delete_template(get_session(), current_principal(), template_id,
                                if_match=request.headers.get("If-Match"))


@blp.route("/<uuid:template_id>/questions", methods=["POST"])
@blp.arguments(s.QuestionCreate)
@blp.response(201, s.QuestionOut)
@roles_required(*WRITERS)
def add_question(data: dict[str, Any], template_id: uuid.UUID) -> Any:
    """Add a question to a draft template."""
    return service.add_question(get_session(), current_principal(), template_id, **data)


@blp.route("/<uuid:template_id>/questions/<uuid:question_id>")
class QuestionItem(MethodView):
    @blp.arguments(s.QuestionPatch)
    @blp.response(200, s.QuestionOut)
    @roles_required(*WRITERS)
    def patch(self, data: dict[str, Any], template_id: uuid.UUID,
              question_id: uuid.UUID) -> Any:
        """Edit a question of a draft template."""
        return service.update_question(get_session(), current_principal(), template_id,
                                       question_id, **data)

    @blp.response(204)
    @roles_required(*WRITERS)
    def delete(self, template_id: uuid.UUID, question_id: uuid.UUID) -> None:
        """Remove a question from a draft template."""
        service.delete_question(get_session(), current_principal(), template_id, question_id)


@blp.route("/<uuid:template_id>/publish", methods=["POST"])
@blp.response(200, s.TemplateOut)
@roles_required(*WRITERS)
def publish(template_id: uuid.UUID) -> Any:
    """Publish a draft: it never changes again."""
    return _with_etag(service.publish_template(get_session(), current_principal(), template_id))


@blp.route("/<uuid:template_id>/retire", methods=["POST"])
@blp.response(200, s.TemplateOut)
@roles_required(*WRITERS)
def retire(template_id: uuid.UUID) -> Any:
    """Retire a published template (past visits keep it)."""
    return _with_etag(service.retire_template(get_session(), current_principal(), template_id))


@blp.route("/<uuid:template_id>/new-version", methods=["POST"])
@blp.response(201, s.TemplateOut)
@roles_required(*WRITERS)
def new_version(template_id: uuid.UUID) -> Any:
    """Copy a published or retired template into a new draft version."""
    return _with_etag(service.new_version(get_session(), current_principal(), template_id), 201)
