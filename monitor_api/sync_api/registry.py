"""Our domain told to the generic engine: which tables sync, how, and for whom."""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geography
from marshmallow import ValidationError, missing
from marshmallow.fields import String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from monitor_api.accounts.models import Team, TeamMember
from monitor_api.checklists.models import ChecklistQuestion, ChecklistTemplate
from monitor_api.facilities.models import Facility
from monitor_api.findings.models import Finding, Recommendation, RecommendationReview
from monitor_api.histories import refresh as indicators
from monitor_api.photos.models import Photo
from monitor_api.restricted.models import Allegation, Interview
from monitor_api.scope import TeamScope, user_team_ids, visible_visits, visit_filter
from monitor_api.visits.models import AccessIncident, Answer, RoomInspection, Visit
from schemas.fast import compile_loader
from schemas.sync_records import RAW_SCHEMAS
from sync import Actor, Field, Registry, SyncTable
from sync.store import as_int, scope_changes, xid

STAMPS = ("server_created_at", "server_updated_at")
ORIGIN = "origin_device_id"
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
        if name in ("change_xid", "created_xid", "origin_device_id") or name in exclude or (
                only is not None and name not in only):
            continue
        if isinstance(col.type, Geography):
            out += [Field("lat", "lat", name), Field("lng", "lng", name)]
        else:
            out.append(Field(name, _kind(col)))
    return tuple(out)


def validator(table: str) -> Any:
    """The table's raw schema, with WatermelonDB's "unset" values (null, '' for strings)
    resolved first: a field with a default or a required one is left out (server default
    on create, current value on update), any other becomes null."""
    schema = RAW_SCHEMAS[table]()
    fields = schema.fields
    strings = frozenset(name for name, f in fields.items() if isinstance(f, String))
    # Unset, these are left out; any other field of the schema becomes null.
    left_out = frozenset(name for name, f in fields.items()
                         if f.required or f.load_default not in (None, missing))
    fast = compile_loader(schema)  # accepts only what schema.load accepts, as it loads it

    def validate(raw: Any, partial: bool) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        data = raw
        values = raw.values()
        if None in values or "" in values:  # most records have no unset value: no copy
            data = {}
            for name, value in raw.items():
                if name in fields and (value is None or (value == "" and name in strings)):
                    if name in left_out:
                        continue
                    value = None
                data[name] = value
        clean = fast(data, partial)
        if clean is not None:
            return clean, None
        try:  # refused or coerced by the fast path: marshmallow decides (and says why)
            return schema.load(data, partial=partial), None
        except ValidationError as exc:
            return None, exc.normalized_messages()  # type: ignore[return-value]

    return validate


def by_visit(actor: Actor, table: sa.Table) -> Any:
    return visit_filter(actor.context, table.c.visit_id)


def own_visits(actor: Actor, table: sa.Table) -> Any:
    return visit_filter(actor.context, table.c.id)


def templates_in_scope(actor: Actor, table: sa.Table) -> Any:
    """Published templates, and retired ones the actor's visits still use (a visit keeps
    the template version it started with; a fresh phone needs it too)."""
    v = Visit.__table__
    used = sa.select(v.c.template_id).where(visit_filter(actor.context, v.c.id))
    return sa.or_(table.c.status == "published",
                  sa.and_(table.c.status == "retired", table.c.id.in_(used)))


def not_draft(actor: Actor, table: sa.Table) -> Any:
    # Visits keep the template version they started with, even after it is retired.
    return table.c.status.in_(("published", "retired"))


def _questions_of(template_scope: Any) -> Any:
    def scope(actor: Actor, table: sa.Table) -> Any:
        t = ChecklistTemplate.__table__
        return table.c.template_id.in_(sa.select(t.c.id).where(template_scope(actor, t)))
    return scope


def templates_of_roots(actor: Actor, table: sa.Table, roots: list[Any]) -> Any:
    """Retired templates that newly visible visits use and no visit the device had uses
    (published ones it has already)."""
    v = Visit.__table__
    had = sa.select(v.c.template_id).where(visit_filter(actor.context, v.c.id),
                                           v.c.id.not_in(roots), v.c.template_id.is_not(None))
    return sa.and_(table.c.status == "retired",
                   table.c.id.in_(sa.select(v.c.template_id).where(v.c.id.in_(roots))),
                   table.c.id.not_in(had))


def questions_of_roots(actor: Actor, table: sa.Table, roots: list[Any]) -> Any:
    t = ChecklistTemplate.__table__
    return table.c.template_id.in_(sa.select(t.c.id).where(templates_of_roots(actor, t, roots)))


def question_xid(table: sa.Table) -> Any:
    """Publishing a template re-sends its questions: their stamp is the newer of the two."""
    t = ChecklistTemplate.__table__
    parent = sa.select(t.c.change_xid).where(t.c.id == table.c.template_id).scalar_subquery()
    return sa.func.greatest(table.c.change_xid, parent)


def team_for_new_visit(session: Session, actor: Actor, clean: dict[str, Any]) -> Any:
    """A pushed visit joins the team its creator leads, else their first team by name (a
    reviewer applying a quarantined visit: the reviewing team)."""
    if isinstance(actor.context, TeamScope):
        return {"team_id": actor.context.team_id, "created_by_id": actor.user_id}
    team = own_team(session, actor.user_id)
    if team is None:
        if actor.context is not None and actor.context.is_admin:
            return {"team_id": None, "created_by_id": actor.user_id}
        return "You belong to no team; ask a coordinator to add you before creating visits."
    return {"team_id": team, "created_by_id": actor.user_id}


# Statuses a coordinator sets (review, publication), never a phone.
COORDINATOR_STATUSES = ("reviewed", "reported")


def visit_status_by_phone(existing: dict[str, Any] | None,
                          clean: dict[str, Any]) -> dict[str, list[str]] | None:
    """A phone moves a visit through planned → in_progress → submitted; reviewing and
    publishing are a coordinator's (REST): a push cannot set them."""
    status = clean.get("status")
    if status in COORDINATOR_STATUSES and (existing is None or existing["status"] != status):
        return {"status": ["Only a coordinator reviews or publishes a visit."]}
    return None


# Every push of a new visit runs it: built once (its cache key is computed once too).
_TEAMS_OF = (sa.select(Team.id, Team.lead_id).join(TeamMember, TeamMember.team_id == Team.id)
             .where(TeamMember.user_id == sa.bindparam("user_id")).order_by(Team.name))


def own_team(session: Session, user_id: uuid.UUID) -> uuid.UUID | None:
    """The team a user leads, else their first team by name (None: no team)."""
    teams = session.execute(_TEAMS_OF, {"user_id": user_id}).all()
    led = [tid for tid, lead in teams if lead == user_id]
    return led[0] if led else teams[0][0] if teams else None


def review_team(session: Session, actor: Actor, visit_id: uuid.UUID | None) -> uuid.UUID | None:
    """Who reviews a record the actor's push was refused: the visit's team when the sender
    belongs or belonged to it (e.g. removed while offline), else the sender's own team —
    never the team of a visit the sender had no business writing to."""
    c = scope_changes
    if visit_id is not None:
        team = session.scalar(sa.select(Visit.team_id).where(Visit.id == visit_id))
        if team is not None:
            member = sa.select(TeamMember.user_id).where(
                TeamMember.team_id == team, TeamMember.user_id == actor.user_id)
            was_member = sa.select(c.c.id).where(
                c.c.kind == "member_removed", c.c.team_id == team, c.c.user_id == actor.user_id)
            moved = sa.select(c.c.id).where(
                c.c.kind == "visit_moved", c.c.visit_id == visit_id,
                c.c.old_team_id.in_(user_team_ids(actor.user_id)))
            if (actor.context is not None and actor.context.is_admin) or session.scalar(
                    sa.select(sa.or_(sa.exists(member), sa.exists(was_member),
                                     sa.exists(moved)))):
                return team
    return own_team(session, actor.user_id)


def affected_visits(actor: Actor, lo: int, hi: int) -> sa.Select[Any]:
    """Visits whose visibility for the actor may have changed in [lo, hi) (scope log): rows
    of (visit id, xid of the change, +1 gained / -1 lost / 0 neither)."""
    c, v = scope_changes, Visit.__table__
    window = sa.and_(c.c.change_xid >= xid(lo), c.c.change_xid < xid(hi))
    if actor.context is not None and actor.context.is_admin:
        return sa.select(v.c.id, as_int(v.c.change_xid), sa.literal(0)).where(sa.false())
    mine = user_team_ids(actor.user_id)
    membership = (sa.select(v.c.id, as_int(c.c.change_xid),
                            sa.case((c.c.kind == "member_added", 1), else_=-1))
                  .join(c, c.c.team_id == v.c.team_id)
                  .where(window, c.c.user_id == actor.user_id,
                         c.c.kind.in_(("member_added", "member_removed"))))
    into, out_of = c.c.team_id.in_(mine), c.c.old_team_id.in_(mine)
    moved = sa.select(c.c.visit_id, as_int(c.c.change_xid), sa.case(
        (sa.and_(into, sa.not_(out_of)), 1), (sa.and_(out_of, sa.not_(into)), -1), else_=0),
    ).where(window, c.c.kind == "visit_moved", sa.or_(into, out_of))
    return sa.union_all(membership, moved)  # type: ignore[return-value]


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
                     server_set=frozenset(STAMPS + server_set), origin_column=ORIGIN,
                     stored_json=not push_only)


@cache
def registry() -> Registry:
    """The synced tables, parents before children."""
    tables = [
        SyncTable("facilities", Facility.__table__, fields_of(Facility, FACILITY_FIELDS),
                  push=False, scope=lambda a, t: t.c.deleted_at.is_(None),
                  leave_scope_as_deleted=True, stored_json=True),
        SyncTable("checklist_templates", ChecklistTemplate.__table__,
                  fields_of(ChecklistTemplate, exclude=("created_by_id",)), push=False,
                  scope=templates_in_scope, ref_scope=not_draft, leave_scope_as_deleted=True,
                  with_roots=templates_of_roots, stored_json=True),
        SyncTable("checklist_questions", ChecklistQuestion.__table__,
                  fields_of(ChecklistQuestion), push=False,
                  scope=_questions_of(templates_in_scope),
                  ref_scope=_questions_of(not_draft), change_xid=question_xid,
                  stamp_sources=("checklist_templates",),
                  with_roots=questions_of_roots, stored_json=True),
        SyncTable("visits", Visit.__table__, fields_of(Visit), scope=own_visits, scope_key="id",
                  validate=validator("visits"), on_insert=team_for_new_visit,
                  server_set=frozenset((*STAMPS, "team_id", "created_by_id", "published_at")),
                  origin_column=ORIGIN, check=visit_status_by_phone, stored_json=True),
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
                    scope_group=visit_teams, review_group=review_team,
                    on_change=indicators.pushed)
