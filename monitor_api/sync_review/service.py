"""Coordinators review what sync rejected: list, inspect history, accept, fix or discard."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

import sync
from monitor_api.audit.service import record
from monitor_api.auth import Principal
from monitor_api.db import retrying, utcnow
from monitor_api.errors import Conflict, NotFound, ValidationFailed
from monitor_api.scope import TeamScope, user_team_ids
from monitor_api.sync_api.registry import registry
from monitor_api.sync_api.service import actor_of
from sync.store import quarantine, revisions, tombstones


def _visible(principal: Principal) -> Any:
    """Quarantined records reviewed by the coordinator's teams: the team of the record's
    visit when the sender belongs or belonged to it, else the sender's own team (decided
    when the record was refused), so a record never reaches the team it tried to write to."""
    if principal.is_admin:
        return sa.true()
    return quarantine.c.scope_group_id.in_(user_team_ids(principal.user_id))


def list_quarantine(session: Session, principal: Principal, *, status: str, page: int,
                    per_page: int) -> tuple[list[dict[str, Any]], int]:
    """A page of quarantined records, newest first."""
    cond = sa.and_(quarantine.c.status == status, _visible(principal))
    total = session.scalar(sa.select(sa.func.count()).select_from(quarantine).where(cond))
    rows = session.execute(sa.select(quarantine).where(cond)
                           .order_by(quarantine.c.received_at.desc(), quarantine.c.id)
                           .limit(per_page).offset((page - 1) * per_page)).mappings()
    return [dict(r) for r in rows], int(total or 0)


def get_quarantined(session: Session, principal: Principal, qid: uuid.UUID) -> dict[str, Any]:
    """One quarantined record, or 404 exactly as if it did not exist."""
    row = session.execute(sa.select(quarantine).where(
        quarantine.c.id == qid, _visible(principal))).mappings().first()
    if row is None:
        raise NotFound("No such quarantined record.")
    return dict(row)


def record_history(session: Session, principal: Principal, table: str,
                   record_id: uuid.UUID) -> dict[str, Any]:
    """A record's revisions (who, device, when, before → after) and its current state."""
    st = registry().get(table)
    if st is None:
        raise NotFound("No such synced table.")
    actor = actor_of(principal)
    exists = session.scalar(sa.select(st.table.c.id).where(st.table.c.id == record_id))
    if exists is not None:
        visible = session.scalar(sa.select(st.table.c.id).where(
            st.table.c.id == record_id, st.where_scope(actor)))
    else:
        tomb = registry().tombstone_visible
        visible = session.scalar(sa.select(tombstones.c.record_id).where(
            tombstones.c.table_name == table, tombstones.c.record_id == record_id,
            tomb(actor, tombstones) if tomb and st.scope else sa.true()))
    if visible is None:
        raise NotFound("No such record.")
    return {"table": table, "id": record_id, "deleted": exists is None,
            "current": sync.current_raw(session, registry(), table, record_id),
            "revisions": sync.history(session, table, record_id)}


def _resolve(session: Session, principal: Principal, qid: uuid.UUID, status: str,
             resolution: dict[str, Any]) -> dict[str, Any]:
    session.execute(sa.update(quarantine).where(quarantine.c.id == qid).values(
        status=status, resolved_by_id=principal.user_id, resolved_at=utcnow(),
        resolution=resolution))
    record(session, f"sync.quarantine.{status}", target_type="sync_quarantine",
           target_id=qid, details=resolution)
    return get_quarantined(session, principal, qid)


def _pending(session: Session, principal: Principal, qid: uuid.UUID) -> dict[str, Any]:
    row = get_quarantined(session, principal, qid)
    if row["status"] != "pending":
        raise Conflict(f"This record was already {row['status']}.")
    session.execute(sa.select(quarantine.c.id).where(quarantine.c.id == qid).with_for_update())
    return row


def _apply(session: Session, principal: Principal, row: dict[str, Any],
           raw: dict[str, Any]) -> dict[str, Any]:
    """Apply one record as its sender within the reviewing team's visits (never wider: not
    the reviewer's other teams, not visits the sender tried to reach without access); no
    conflict check (a deliberate act)."""
    if registry().get(row["table_name"]) is None:
        raise ValidationFailed("Records of unknown tables cannot be applied; discard it.",
                               errors={"table_name": ["Unknown table."]})
    team = row["scope_group_id"]
    context: Any = principal if team is None else TeamScope(team, row["user_id"])
    actor = sync.Actor(row["user_id"], row["device_id"], context=context)
    group = ({"deleted": [raw.get("id")]} if row["op"] == "delete"
             else {"updated": [raw]})
    result = retrying(session, lambda: sync.push(
        session, registry(), actor, {row["table_name"]: group}, cursor=None, max_records=1,
        source="review", force=True, keep_rejects=False, origin=row["device_id"]))
    if result["rejected"]:
        raise ValidationFailed("The record is still invalid, or it names a visit outside the "
                               "team that reviews it.", errors=result["rejected"][0]["errors"])
    session.execute(sa.update(revisions).where(
        revisions.c.source == "review", revisions.c.quarantine_id.is_(None),
        revisions.c.table_name == row["table_name"],
        revisions.c.change_xid == sa.func.pg_current_xact_id()).values(quarantine_id=row["id"]))
    return result["applied"]


def accept(session: Session, principal: Principal, qid: uuid.UUID,
           note: str | None = None) -> dict[str, Any]:
    """Apply the record as the phone sent it (e.g. once its missing parent arrived)."""
    row = _pending(session, principal, qid)
    applied = _apply(session, principal, row, row["raw"])
    return _resolve(session, principal, qid, "accepted", {"applied": applied, "note": note})


def fix(session: Session, principal: Principal, qid: uuid.UUID, raw: dict[str, Any],
        note: str | None = None) -> dict[str, Any]:
    """Apply a corrected version of the record; the original stays in the quarantine."""
    row = _pending(session, principal, qid)
    if row["op"] == "delete":
        raise ValidationFailed("A rejected delete can be accepted or discarded, not fixed.",
                               errors={"raw": ["Not applicable to deletes."]})
    if str(raw.get("id")) != row["record_id"]:
        raise ValidationFailed("The corrected record must keep its id.",
                               errors={"raw": ["id must stay " + row["record_id"]]})
    applied = _apply(session, principal, row, raw)
    return _resolve(session, principal, qid, "fixed",
                    {"applied": applied, "raw": raw, "note": note})


def discard(session: Session, principal: Principal, qid: uuid.UUID,
            reason: str) -> dict[str, Any]:
    """Refuse the record for good; it stays in the quarantine and in the audit log."""
    row = _pending(session, principal, qid)
    return _resolve(session, principal, qid, "discarded",
                    {"reason": reason, "table": row["table_name"], "id": row["record_id"]})
