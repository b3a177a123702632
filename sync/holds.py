"""Held-back scope losses: a device's unsent edits of a lost root reach the server first.

WatermelonDB pulls before it pushes and destroys the local edits of every record a pull
deletes. When a user loses a scope root (a monitor removed from a team while offline), the
deletes for it are held back for each of their devices until that device's next push has
been received (its edits of the lost root are then rejected into the quarantine, where the
root's reviewers find them), or until the hold expires. A released hold is re-sent until the
device pulls from a cursor at or past the answer that carried it (a lost answer loses
nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from sync.registry import Actor, SyncTable
from sync.store import as_int, devices, holds, xid


@dataclass
class Settled:
    """What a pull does with lost roots: hold them, or send their deletes (root -> the xid
    from which their tombstones are sent)."""

    held: set[Any] = field(default_factory=set)
    release: dict[Any, int] = field(default_factory=dict)
    kept: set[Any] = field(default_factory=set)  # held, then visible again: the device has it


def settle(session: Session, actor: Actor, root: SyncTable, lost: dict[Any, int], start: int,
           hi: int, hold_seconds: int, may_hold: bool = True) -> Settled:
    """Decide, for one pull of [start, hi), which lost roots stay held and which are sent.
    `may_hold`: False when this transaction already saw that the device has no hold."""
    out = Settled()
    if actor.device_id is None or hold_seconds <= 0:
        out.release = {r: start for r in lost}
        return out
    if not lost and not may_hold:
        return out  # the common case: nothing lost, no hold to settle
    rows = session.execute(sa.select(
        holds.c.root_id, as_int(holds.c.from_xid).label("from_xid"),
        as_int(holds.c.lost_xid).label("lost_xid"), as_int(holds.c.released_hi).label("sent"),
        holds.c.regained,
        (holds.c.held_at < sa.func.now() - timedelta(seconds=hold_seconds)).label("expired"))
        .where(holds.c.device_id == actor.device_id)).all()
    if not lost and not rows:
        return out  # the common case: one query
    pushed = session.scalar(sa.select(as_int(devices.c.last_push_xid)).where(
        devices.c.device_id == actor.device_id))
    new = {r: x for r, x in lost.items() if pushed is None or pushed <= x}
    out.release = {r: start for r in lost if r not in new}
    if new:
        stmt = pg_insert(holds).values([
            {"device_id": actor.device_id, "root_id": r, "from_xid": xid(start),
             "lost_xid": xid(x)} for r, x in new.items()])
        session.execute(stmt.on_conflict_do_update(
            index_elements=[holds.c.device_id, holds.c.root_id],
            set_={"lost_xid": stmt.excluded.lost_xid, "released_hi": None,
                  "regained": False, "held_at": sa.func.now()}))
        out.held |= set(new)
    if not rows:
        return out
    visible = set(session.scalars(sa.select(root.table.c.id).where(
        root.table.c.id.in_([r.root_id for r in rows]), root.where_scope(actor))))
    done, sending, back = [], [], []
    for r in rows:
        if r.root_id in new:
            continue
        if r.sent is not None and start >= r.sent:
            done.append(r.root_id)  # the device pulled past the answer that settled it
        elif r.root_id in visible and (r.regained or r.sent is None):
            # Access came back before the deletes went down: the phone still has the
            # records (sent as updated, until it pulled past this answer).
            out.kept.add(r.root_id)
            if not r.regained:
                back.append(r.root_id)
        elif r.sent is not None or (pushed is not None and pushed > r.lost_xid) or r.expired:
            out.release[r.root_id] = min(r.from_xid, out.release.get(r.root_id, r.from_xid))
            sending.append(r.root_id)
        else:
            out.held.add(r.root_id)
    if done:
        session.execute(sa.delete(holds).where(holds.c.device_id == actor.device_id,
                                               holds.c.root_id.in_(done)))
    for ids, values in ((sending, {"released_hi": xid(hi)}),
                        (back, {"released_hi": xid(hi), "regained": True})):
        if ids:
            session.execute(sa.update(holds).where(
                holds.c.device_id == actor.device_id, holds.c.root_id.in_(ids),
                holds.c.released_hi.is_(None)).values(**values))
    return out

