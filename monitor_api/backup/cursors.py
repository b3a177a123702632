"""Sync cursors across restores: each restore starts a new cursor generation.

A cursor is an xid8 stamp. After a restore, a phone may hold a cursor the old database issued
*after* the backup (it pulled changes the backup lacks): in the same cluster such a cursor
lies below the restored database's xids, in a new cluster it may lie above or below them, and
once the new cluster's counter passes it, it would look valid and the phone would silently
miss changes. So cursors carry the restore generation in their high bits (`gen << 45` plus
the xid: 2^45 xids is centuries of writes, and the sum stays a JavaScript-safe integer): a
cursor of an older generation maps to 0, which `sync_state.pruned_below` (set by the restore
above every restored stamp) turns into WatermelonDB's replacement strategy. Before the first
restore the generation is 0 and cursors are plain xids, as they always were.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

GENERATION_SHIFT = 45
GENERATION_KEY = "cursor_generation"
_STATE = sa.table("sync_state", sa.column("key"), sa.column("value"))


def generation(session: Session) -> int:
    """The current restore generation (0: never restored)."""
    value = session.scalar(sa.select(_STATE.c.value).where(_STATE.c.key == GENERATION_KEY))
    return int(value or 0)


def to_internal(session: Session, cursor: int | None, gen: int | None = None) -> int | None:
    """The xid a phone's cursor stands for; 0 (replacement) when issued before a restore.
    `gen`: the generation when already read in this transaction."""
    if cursor is None:
        return None
    base = (generation(session) if gen is None else gen) << GENERATION_SHIFT
    return 0 if cursor < base else cursor - base


def to_wire(session: Session, stamp: int, gen: int | None = None) -> int:
    """The cursor a phone gets for the engine's xid stamp."""
    return ((generation(session) if gen is None else gen) << GENERATION_SHIFT) + stamp
