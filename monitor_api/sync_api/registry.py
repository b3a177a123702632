"""Our domain told to the generic engine: which tables sync, how, and for whom."""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geography
from marshmallow import ValidationError
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from monitor_api.accounts.models import Team, TeamMember
from monitor_api.checklists.models import ChecklistQuestion, ChecklistTemplate
from monitor_api.facilities.models import Facility
from monitor_api.findings.models import Finding, Recommendation, RecommendationReview
from monitor_api.photos.models import Photo
from monitor_api.restricted.models import Allegation, Interview
from monitor_api.scope import user_team_ids, visible_visits, visit_filter
from monitor_api.visits.models import AccessIncident, Answer, RoomInspection, Visit
from schemas.sync_records import RAW_SCHEMAS
from sync import Actor, Field, Registry, SyncTable
from sync.store import scope_changes, xid

STAMPS = ("server_created_at", "server_updated_at")
FACILITY_FIELDS = ("id", "code", "name", "name_ru", "name_tg", "facility_type", "authority",
                   "region", "district", "location", "official_capacity", "holds", "status")


def _kind(column: sa.Column[Any]) -> str:
    t = column.type
    if isinstance(t, sa.Uuid):
        return "uuid"
    if isinstance(t, sa.DateTime):
        return "time"
    if isinstance(t, JSONB | sa.JSON):
        return "json"
    if isinstance(t, sa.Boolean):
        return "bool"
    if isinstance(t, sa.Integer):
        return "int"
    if isinstance(t, sa.Float):
        return "float"
    return "str"


def fields_of(model: Any, only: tuple[str, ...] | None = None,
              exclude: tuple[str, ...] = ()) -> tuple[Field, ...]:
    """Raw fields for a model's columns: times as ms, JSONB as JSON text, points as lat/lng."""
    out: list[Field] = []
    for col in model.__table__.columns:
        name = col.name
        if name in ("change_xid", "created_xid") or name in exclude or (
                only is not None and name not in only):
            continue
        if isinstance(col.type, Geography):
            out += [Field("lat", "lat", name), Field("lng", "lng", name)]
        else:
            out.append(Field(name, _kind(col)))
    return tuple(out)


def validator(table: str) -> Any:
    schema = RAW_SCHEMAS[table]()

    def validate(raw: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        nul = {k: ["NUL characters are not allowed."] for k, v in raw.items()
               if isinstance(v, str) and "\x00" in v}
        if nul:  # PostgreSQL text cannot hold them: reject the record, not the push
            return None, nul
        try:
            return schema.load(raw), None
        except ValidationError as exc:
            return None, exc.normalized_messages()  # type: ignore[return-value]

    return validate


def by_visit(actor: Actor, table: sa.Table) -> Any:
    return visit_filter(actor.context, table.c.visit_id)


def own_visits(actor: Actor, table: sa.Table) -> Any:
    return visit_filter(actor.context, table.c.id)


def published(actor: Actor, table: sa.Table) -> Any:
    return table.c.status == "published"


def not_draft(actor: Actor, table: sa.Table) -> Any:
    # Visits keep the template version they started with, even after it is retired.
    return table.c.status.in_(("published", "retired"))


def _questions_of(statuses: tuple[str, ...]) -> Any:
    def scope(actor: Actor, table: sa.Table) -> Any:
        t = ChecklistTemplate.__table__
        return table.c.template_id.in_(sa.select(t.c.id).where(t.c.status.in_(statuses)))
    return scope


def question_xid(table: sa.Table) -> Any:
    """Publishing a template re-sends its questions: their stamp is the newer of the two."""
    t = ChecklistTemplate.__table__
    parent = sa.select(t.c.change_xid).where(t.c.id == table.c.template_id).scalar_subquery()
    return sa.func.greatest(table.c.change_xid, parent)


def team_for_new_visit(session: Session, actor: Actor, clean: dict[str, Any]) -> Any:
    """A pushed visit joins the team its creator leads, else their first team by name."""
    teams = session.execute(
        sa.select(Team.id, Team.lead_id).join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.user_id == actor.user_id).order_by(Team.name)).all()
    if not teams:
        if actor.context is not None and actor.context.is_admin:
            return {"team_id": None, "created_by_id": actor.user_id}
        return "You belong to no team; ask a coordinator to add you before creating visits."
    led = [tid for tid, lead in teams if lead == actor.user_id]
    return {"team_id": led[0] if led else teams[0][0], "created_by_id": actor.user_id}


def affected_visits(actor: Actor, lo: int, hi: int) -> sa.Select[Any]:
    """Visits whose visibility for the actor may have changed in [lo, hi) (scope log)."""
    c, v = scope_changes, Visit.__table__
    window = sa.and_(c.c.change_xid >= xid(lo), c.c.change_xid < xid(hi))
    if actor.context is not None and actor.context.is_admin:
        return sa.select(v.c.id).where(sa.false())
    mine = user_team_ids(actor.user_id)
    membership = (sa.select(v.c.id).join(c, c.c.team_id == v.c.team_id)
                  .where(window, c.c.user_id == actor.user_id,
                         c.c.kind.in_(("member_added", "member_removed"))))
    moved = sa.select(c.c.visit_id).where(window, c.c.kind == "visit_moved", sa.or_(
        c.c.team_id.in_(mine), c.c.old_team_id.in_(mine)))
    return sa.union(membership, moved)  # type: ignore[return-value]


def tombstone_visible(actor: Actor, tomb: sa.Table) -> Any:
    if actor.context is not None and actor.context.is_admin:
        return sa.true()
    return sa.or_(tomb.c.scope_id.in_(visible_visits(actor.context)),
                  tomb.c.scope_group_id.in_(user_team_ids(actor.user_id)))


def visit_teams(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID | None]:
    return dict(session.execute(sa.select(Visit.id, Visit.team_id).where(Visit.id.in_(ids))).all())


def _visit_child(name: str, model: Any, push_only: bool = False,
                 server_set: tuple[str, ...] = ()) -> SyncTable:
    return SyncTable(name, model.__table__, fields_of(model), pull=not push_only,
                     scope=by_visit, scope_key="visit_id", validate=validator(name),
                     server_set=frozenset(STAMPS + server_set))


@cache
def registry() -> Registry:
    """The synced tables, parents before children."""
    tables = [
        SyncTable("facilities", Facility.__table__, fields_of(Facility, FACILITY_FIELDS),
                  push=False, scope=lambda a, t: t.c.deleted_at.is_(None),
                  leave_scope_as_deleted=True),
        SyncTable("checklist_templates", ChecklistTemplate.__table__,
                  fields_of(ChecklistTemplate, exclude=("created_by_id",)), push=False,
                  scope=published, ref_scope=not_draft, leave_scope_as_deleted=True),
        SyncTable("checklist_questions", ChecklistQuestion.__table__,
                  fields_of(ChecklistQuestion), push=False,
                  scope=_questions_of(("published",)),
                  ref_scope=_questions_of(("published", "retired")), change_xid=question_xid),
        SyncTable("visits", Visit.__table__, fields_of(Visit), scope=own_visits, scope_key="id",
                  validate=validator("visits"), on_insert=team_for_new_visit,
                  server_set=frozenset((*STAMPS, "team_id", "created_by_id"))),
        _visit_child("room_inspections", RoomInspection),
        _visit_child("answers", Answer),
        _visit_child("findings", Finding, server_set=("confirmed_by_id", "confirmed_at")),
        _visit_child("recommendations", Recommendation),
        _visit_child("recommendation_reviews", RecommendationReview),
        _visit_child("photos", Photo, server_set=("upload_status",)),
        _visit_child("access_incidents", AccessIncident),
        _visit_child("interviews", Interview, push_only=True),
        _visit_child("allegations", Allegation, push_only=True),
    ]
    return Registry(tables, scope_changes=affected_visits, tombstone_visible=tombstone_visible,
                    scope_group=visit_teams)
