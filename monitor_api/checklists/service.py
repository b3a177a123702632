"""Checklist templates: drafts are edited, published versions never change, new versions copy."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor_api.audit.service import record
from monitor_api.auth import Principal
from monitor_api.checklists.compliance import question_errors
from monitor_api.checklists.helpers import check_if_match, etag_of, snapshot
from monitor_api.checklists.models import ChecklistQuestion, ChecklistTemplate
from monitor_api.db import utcnow
from monitor_api.errors import Conflict, NotFound, ValidationFailed
from monitor_api.pagination import paginate
from monitor_api.scope import FIELD_RECORD_ROLES

QUESTION_FIELDS = ("section", "code", "position", "text_en", "text_ru", "text_tg", "answer_type",
                   "options", "option_labels", "unit", "standard_refs", "info_sources",
                   "compliance", "indicator")


def reads_drafts(principal: Principal) -> bool:
    """Field roles see drafts; partners, analysts and legal aid see reference data only."""
    return principal.role in FIELD_RECORD_ROLES


def template_etag(template: ChecklistTemplate) -> str:
    """ETag of a template and its questions."""
    return etag_of(template, *template.questions)


def list_templates(session: Session, principal: Principal, *, page: int, per_page: int,
                   code: str | None = None,
                   status: str | None = None) -> tuple[list[ChecklistTemplate], int]:
    """Templates visible to the caller, newest version first within a code."""
    query = select(ChecklistTemplate)
    if not reads_drafts(principal):
        query = query.where(ChecklistTemplate.status != "draft")
    if code:
        query = query.where(ChecklistTemplate.code == code)
    if status:
        query = query.where(ChecklistTemplate.status == status)
    query = query.order_by(ChecklistTemplate.code, ChecklistTemplate.version.desc())
    return paginate(session, query, page=page, per_page=per_page)


def get_template(session: Session, principal: Principal,
                 template_id: uuid.UUID) -> ChecklistTemplate:
    """One template (drafts answer 404 to roles that may not see them)."""
    template = session.get(ChecklistTemplate, template_id)
    if template is None or (template.status == "draft" and not reads_drafts(principal)):
        raise NotFound("No such checklist template.")
    return template


def _draft(session: Session, principal: Principal, template_id: uuid.UUID,
           if_match: str | None = None) -> ChecklistTemplate:
    template = get_template(session, principal, template_id)
    if template.status != "draft":
        raise Conflict(f"Template {template.code} v{template.version} is {template.status} and "
                       "can no longer change; create a new version instead.")
    check_if_match(if_match, template_etag(template))
    return template


def _check_question(data: dict[str, Any]) -> None:
    errors = question_errors(data)
    if errors:
        raise ValidationFailed("The question is inconsistent; see `errors`.", errors=errors)


def _add_questions(session: Session, template: ChecklistTemplate,
                   questions: list[dict[str, Any]]) -> list[ChecklistQuestion]:
    taken = {q.code for q in template.questions}
    position = max((q.position for q in template.questions), default=0)
    added = []
    for data in questions:
        _check_question(data)
        if data["code"] in taken:
            raise Conflict(f"Question code {data['code']} is already used in this template.")
        taken.add(data["code"])
        position = data.get("position") or position + 1
        values = {key: data.get(key) for key in QUESTION_FIELDS}
        values.update(position=position, standard_refs=data.get("standard_refs") or [])
        question = ChecklistQuestion(**values)
        template.questions.append(question)
        added.append(question)
    session.flush()
    return added


def create_template(session: Session, principal: Principal, *, code: str, title: str,
                    facility_types: list[str] | None = None,
                    questions: list[dict[str, Any]] | None = None) -> ChecklistTemplate:
    """A new draft (version 1) of a new template code."""
    if session.scalar(select(ChecklistTemplate.id).where(ChecklistTemplate.code == code)):
        raise Conflict(f"Template code {code} exists; POST /{{id}}/new-version for a new version.")
    template = build_template(session, code=code, version=1, title=title,
                              facility_types=facility_types or [], questions=questions or [],
                              created_by_id=principal.user_id)
    record(session, "checklist_template.create", target_type="checklist_template",
           target_id=template.id, details={"code": code, "version": 1,
                                           "questions": len(template.questions)})
    return template


def build_template(session: Session, *, code: str, version: int, title: str,
                   facility_types: list[str], questions: list[dict[str, Any]],
                   created_by_id: uuid.UUID | None, status: str = "draft") -> ChecklistTemplate:
    """Insert a template with its questions (validated); used by the API and the loader."""
    template = ChecklistTemplate(code=code, version=version, title=title,
                                 facility_types=list(facility_types), status="draft",
                                 created_by_id=created_by_id)
    session.add(template)
    session.flush()
    _add_questions(session, template, questions)
    if status == "published":
        _publish(template)
    session.flush()
    return template


def update_template(session: Session, principal: Principal, template_id: uuid.UUID, *,
                    if_match: str | None = None, **data: Any) -> ChecklistTemplate:
    """Change a draft's title or facility types."""
    template = _draft(session, principal, template_id, if_match)
    before = snapshot(template, data)
    for key, value in data.items():
        setattr(template, key, value)
    session.flush()
    record(session, "checklist_template.update", target_type="checklist_template",
           target_id=template.id, details={"before": before, "after": snapshot(template, data)})
    return template


def delete_template(session: Session, principal: Principal, template_id: uuid.UUID, *,
                    if_match: str | None = None) -> None:
    """Delete a draft and its questions."""
    template = _draft(session, principal, template_id, if_match)
    record(session, "checklist_template.delete", target_type="checklist_template",
           target_id=template.id, details={"code": template.code, "version": template.version})
    session.delete(template)
    session.flush()


def add_question(session: Session, principal: Principal, template_id: uuid.UUID,
                 **data: Any) -> ChecklistQuestion:
    """Append (or place at `position`) a question in a draft."""
    template = _draft(session, principal, template_id)
    (question,) = _add_questions(session, template, [data])
    record(session, "checklist_question.create", target_type="checklist_question",
           target_id=question.id, details={"template_id": str(template.id), "code": question.code})
    return question


def _question(template: ChecklistTemplate, question_id: uuid.UUID) -> ChecklistQuestion:
    for question in template.questions:
        if question.id == question_id:
            return question
    raise NotFound("No such question in this template.")


def update_question(session: Session, principal: Principal, template_id: uuid.UUID,
                    question_id: uuid.UUID, **data: Any) -> ChecklistQuestion:
    """Edit a question of a draft; the merged question must still be consistent."""
    template = _draft(session, principal, template_id)
    question = _question(template, question_id)
    merged = {**snapshot(question, QUESTION_FIELDS), **data}
    _check_question(merged)
    if data.get("code") not in (None, question.code) and any(
            q.code == data["code"] for q in template.questions):
        raise Conflict(f"Question code {data['code']} is already used in this template.")
    before = snapshot(question, data)
    for key, value in data.items():
        setattr(question, key, value)
    session.flush()
    record(session, "checklist_question.update", target_type="checklist_question",
           target_id=question.id, details={"before": before, "after": snapshot(question, data)})
    return question


def delete_question(session: Session, principal: Principal, template_id: uuid.UUID,
                    question_id: uuid.UUID) -> None:
    """Remove a question from a draft."""
    template = _draft(session, principal, template_id)
    question = _question(template, question_id)
    record(session, "checklist_question.delete", target_type="checklist_question",
           target_id=question.id, details={"template_id": str(template.id),
                                           "code": question.code})
    template.questions.remove(question)
    session.flush()


def _publish(template: ChecklistTemplate) -> None:
    template.status = "published"
    template.published_at = utcnow()


def publish_template(session: Session, principal: Principal,
                     template_id: uuid.UUID) -> ChecklistTemplate:
    """Draft → published; immutable from now on."""
    template = _draft(session, principal, template_id)
    if not template.questions:
        raise Conflict("A template without questions cannot be published.")
    _publish(template)
    session.flush()
    record(session, "checklist_template.publish", target_type="checklist_template",
           target_id=template.id, details={"code": template.code, "version": template.version})
    return template


def retire_template(session: Session, principal: Principal,
                    template_id: uuid.UUID) -> ChecklistTemplate:
    """Published → retired: no new visits use it; past visits keep it."""
    template = get_template(session, principal, template_id)
    if template.status != "published":
        raise Conflict(f"Only a published template can be retired; this one is "
                       f"{template.status}.")
    template.status = "retired"
    template.retired_at = utcnow()
    session.flush()
    record(session, "checklist_template.retire", target_type="checklist_template",
           target_id=template.id, details={"code": template.code, "version": template.version})
    return template


def new_version(session: Session, principal: Principal,
                template_id: uuid.UUID) -> ChecklistTemplate:
    """Copy a published or retired template into a new draft with the next version number."""
    source = get_template(session, principal, template_id)
    if source.status == "draft":
        raise Conflict("Edit the draft itself; new versions are made from published templates.")
    draft = session.scalar(select(ChecklistTemplate.id).where(
        ChecklistTemplate.code == source.code, ChecklistTemplate.status == "draft"))
    if draft is not None:
        raise Conflict(f"Template {source.code} already has a draft ({draft}); edit or delete "
                       "it first.")
    latest = session.scalar(select(func.max(ChecklistTemplate.version)).where(
        ChecklistTemplate.code == source.code)) or source.version
    questions = [snapshot(q, QUESTION_FIELDS) for q in source.questions]
    template = build_template(session, code=source.code, version=latest + 1, title=source.title,
                              facility_types=source.facility_types, questions=questions,
                              created_by_id=principal.user_id)
    record(session, "checklist_template.new_version", target_type="checklist_template",
           target_id=template.id, details={"code": source.code, "from_id": str(source.id),
                                           "version": template.version})
    return template
