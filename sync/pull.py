"""Pull: the changes in [cursor, H) visible to the actor, cut only at transaction boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sync.registry import Actor, Registry, SyncTable
from sync.store import as_int, horizon, scope_changes, tombstones, xid


@dataclass
class PullRequest:
    """A parsed pull: cursor None means first sync; `full` names tables sent whole."""

    cursor: int | None
    limit: int
    full: set[str] = field(default_factory=set)


def _empty(registry: Registry) -> dict[str, dict[str, list[Any]]]:
    return {t.name: {"created": [], "updated": [], "deleted": []} for t in registry.tables}


def pull(session: Session, registry: Registry, actor: Actor, req: PullRequest) -> dict[str, Any]:
    """Build one pull response: {changes, timestamp, has_more[, experimentalStrategy]}."""
    h = horizon(session)
    out: dict[str, Any] = {}
    lo, limit, full = req.cursor, req.limit, set(req.full)
    if lo is not None and lo > h:
        # Not a cursor we issued (e.g. restored into a new cluster): resend everything.
        out["experimentalStrategy"] = "replacement"
        lo, limit = None, 0
    start = lo or 0
    hi, has_more = h, False
    if limit:
        cut = _page_cut(session, registry, actor, start, h, limit, lo is not None)
        if cut is not None:
            hi, has_more = cut, True
    changes = _empty(registry)
    affected = (list(session.scalars(registry.scope_changes(actor, start, hi)))
                if registry.scope_changes is not None and lo is not None else [])
    for st in registry.tables:
        if not st.pull:
            continue
        bucket = changes[st.name]
        _rows(session, st, actor, bucket, start, hi, st.name in full, first=lo is None)
        if lo is not None:
            if st.leave_scope_as_deleted and st.scope is not None:
                _left_scope(session, st, actor, bucket, start, hi)
            if affected and st.scope_key:
                _rescoped(session, st, actor, bucket, affected, start)
    if lo is not None:
        _tombstones(session, registry, actor, changes, start, hi, affected)
    out.update({"changes": changes, "timestamp": hi, "has_more": has_more})
    return out


def _window(st: SyncTable, lo: int, hi: int) -> sa.ColumnElement[bool]:
    return sa.and_(st.xid() >= xid(lo), st.xid() < xid(hi))


def _page_cut(session: Session, registry: Registry, actor: Actor, lo: int, hi: int,
              limit: int, incremental: bool) -> int | None:
    """The first transaction that would overflow the page, or None when all fits."""
    parts: list[sa.Select[Any]] = []
    for st in registry.tables:
        if not st.pull:
            continue
        x = st.xid()
        cond = _window(st, lo, hi)
        if not st.leave_scope_as_deleted:
            cond = sa.and_(cond, st.where_scope(actor))
        parts.append(sa.select(x.label("x"), sa.func.count().label("n"))
                     .select_from(st.table).where(cond).group_by(x).order_by(x)
                     .limit(limit + 1))
    if incremental:  # tombstones and scope changes only matter after a first sync
        for log in (tombstones, scope_changes):
            parts.append(sa.select(log.c.change_xid.label("x"), sa.func.count().label("n"))
                         .where(log.c.change_xid >= xid(lo), log.c.change_xid < xid(hi))
                         .group_by(log.c.change_xid).order_by(log.c.change_xid)
                         .limit(limit + 1))
    # Each part is capped at limit+1 transactions: each has >= 1 row, so the cut (if any)
    # falls within every part's fetched range.
    union = sa.union_all(*[p.subquery().select() for p in parts]).subquery()
    counts = session.execute(sa.select(as_int(union.c.x), sa.func.sum(union.c.n))
                             .group_by(union.c.x).order_by(union.c.x)).all()
    total = 0
    for stamp, n in counts:
        if total and total + n > limit:
            return int(stamp)
        total += int(n)
    return None


def _rows(session: Session, st: SyncTable, actor: Actor, bucket: dict[str, list[Any]],
          lo: int, hi: int, whole: bool, first: bool) -> None:
    cond = st.where_scope(actor)
    if not whole:
        cond = sa.and_(cond, _window(st, lo, hi))
    created = st.is_new(None if first else lo).label("_new")
    _collect(session, st, bucket, sa.select(*st.columns(), created).where(cond))


def _collect(session: Session, st: SyncTable, bucket: dict[str, list[Any]],
             query: sa.Select[Any]) -> None:
    """Add the rows of `query` (with a `_new` column) not yet in the bucket, in xid order."""
    seen = {r["id"] for r in bucket["created"]} | {r["id"] for r in bucket["updated"]}
    for row in session.execute(query.order_by(st.xid(), st.table.c.id)).mappings():
        raw = st.codec.to_raw(row)
        if raw["id"] not in seen:
            bucket["created" if row["_new"] else "updated"].append(raw)


def _tombstones(session: Session, registry: Registry, actor: Actor,
                changes: dict[str, dict[str, list[Any]]], lo: int, hi: int,
                affected: list[Any]) -> None:
    """Deletions in the window, for the tables pulled, that the actor may learn about (also
    under scope roots whose visibility changed for them: a lost visit's deleted records)."""
    scoped = [t.name for t in registry.tables if t.pull and t.scope is not None]
    unscoped = [t.name for t in registry.tables if t.pull and t.scope is None]
    visible = (registry.tombstone_visible(actor, tombstones)
               if registry.tombstone_visible is not None else sa.true())
    if affected:
        visible = sa.or_(visible, tombstones.c.scope_id.in_(affected))
    query = sa.select(tombstones.c.table_name, tombstones.c.record_id).where(
        tombstones.c.change_xid >= xid(lo), tombstones.c.change_xid < xid(hi),
        sa.or_(tombstones.c.table_name.in_(unscoped),
               sa.and_(tombstones.c.table_name.in_(scoped), visible)))
    for table, rid in session.execute(query.order_by(tombstones.c.change_xid)):
        changes[table]["deleted"].append(str(rid))


def _left_scope(session: Session, st: SyncTable, actor: Actor, bucket: dict[str, list[Any]],
                lo: int, hi: int) -> None:
    """Rows that changed and left a global scope (soft-deleted, retired) go as deleted."""
    gone = sa.and_(_window(st, lo, hi), sa.not_(st.where_scope(actor)))
    bucket["deleted"].extend(str(i) for i in session.scalars(sa.select(st.table.c.id).where(gone)))


def _rescoped(session: Session, st: SyncTable, actor: Actor, bucket: dict[str, list[Any]],
              affected: list[Any], lo: int) -> None:
    """Scope roots gained since the cursor come whole; lost ones go as deleted."""
    key = st.table.c[st.scope_key or "id"]
    in_root = key.in_(affected)
    created = st.is_new(lo).label("_new")
    _collect(session, st, bucket,
             sa.select(*st.columns(), created).where(in_root, st.where_scope(actor)))
    lost = sa.select(st.table.c.id).where(in_root, sa.not_(st.where_scope(actor)))
    deleted = set(bucket["deleted"])
    for rid in session.scalars(lost):
        if str(rid) not in deleted:
            bucket["deleted"].append(str(rid))

