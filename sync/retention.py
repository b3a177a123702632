"""Retention: prune what only incremental pulls and retries need, never history.

Tombstones and the scope-change log are what an incremental pull needs to tell a device
what it lost; after the retention they are pruned and `sync_state.pruned_below` remembers
the first xid that was kept, so a device whose cursor is older gets the full dataset
(WatermelonDB's replacement strategy) instead of an answer with silent gaps. Revisions and
the quarantine are never pruned.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from sync.store import as_int, holds, idempotency, scope_changes, state, tombstones


def prune(session: Session, *, retention: timedelta, idempotency_retention: timedelta,
          batch: int = 10_000) -> dict[str, int]:
    """Delete (in batches, in the caller's transaction) what is older than the retention."""
    cutoff = sa.func.now() - retention
    counts: dict[str, int] = {}
    highest = 0
    for name, log, when in (("tombstones", tombstones, tombstones.c.deleted_at),
                            ("scope_changes", scope_changes, scope_changes.c.created_at)):
        counts[name] = 0
        key = log.c.record_id if name == "tombstones" else log.c.id
        while True:
            victims = sa.select(*([log.c.table_name, key] if name == "tombstones" else [key])
                                ).where(when < cutoff).limit(batch)
            if name == "tombstones":
                cond = sa.tuple_(log.c.table_name, key).in_(victims)
            else:
                cond = key.in_(victims)
            stamps = session.scalars(sa.delete(log).where(cond).returning(
                as_int(log.c.change_xid))).all()
            counts[name] += len(stamps)
            highest = max([highest, *stamps])
            if len(stamps) < batch:
                break
    if highest:
        # A cursor at or below the newest pruned change may have missed it.
        stmt = pg_insert(state).values(key="pruned_below", value=highest + 1)
        session.execute(stmt.on_conflict_do_update(index_elements=[state.c.key], set_={
            "value": sa.func.greatest(state.c.value, stmt.excluded.value),
            "updated_at": sa.func.now()}))
    counts["idempotency"] = session.execute(sa.delete(idempotency).where(
        idempotency.c.created_at < sa.func.now() - idempotency_retention)).rowcount or 0
    counts["holds"] = session.execute(sa.delete(holds).where(
        holds.c.held_at < cutoff)).rowcount or 0
    return counts
