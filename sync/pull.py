"""Pull: the changes in [cursor, H) visible to the actor, cut only at transaction boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sync import holds
from sync.registry import Actor, Registry, SyncTable
from sync.store import as_int, horizon, scope_changes, state, tombstones, xid

HOLD_SECONDS = 14 * 86400


@dataclass
class PullRequest:
    """A parsed pull: cursor None means first sync; `full` names tables sent whole."""

    cursor: int | None
    limit: int
    full: set[str] = field(default_factory=set)
    # How long the deletes of a lost scope root wait for the device's next push.
    hold_seconds: int = HOLD_SECONDS


def _empty(registry: Registry) -> dict[str, dict[str, list[Any]]]:
    return {t.name: {"created": [], "updated": [], "deleted": []} for t in registry.tables}


def pruned_below(session: Session) -> int:
    """The xid below which tombstones and the scope log are gone (0: nothing pruned)."""
    return int(session.scalar(sa.select(state.c.value).where(
        state.c.key == "pruned_below")) or 0)


def pull(session: Session, registry: Registry, actor: Actor, req: PullRequest) -> dict[str, Any]:
    """Build one pull response: {changes, timestamp, has_more[, experimentalStrategy]}."""
    h = horizon(session)
    out: dict[str, Any] = {}
    lo, limit, full = req.cursor, req.limit, set(req.full)
    if lo is not None and (lo > h or lo < pruned_below(session)):
        # Not a cursor we issued (e.g. restored into a new cluster), or older than the
        # retention of deletes: an incremental answer would miss deletes; resend everything.
        out["experimentalStrategy"] = "replacement"
        lo, limit = None, 0
    start = lo or 0
    hi, has_more = h, False
    if limit:
        cut = _page_cut(session, registry, actor, start, h, limit, lo is not None)
        if cut is not None:
            hi, has_more = cut, True
    changes = _empty(registry)
    affected: dict[Any, int] = {}
    first: dict[Any, tuple[int, int]] = {}  # root -> (xid, direction) of its first change
    if registry.scope_changes is not None and lo is not None:
        for rid, stamp, direction in session.execute(registry.scope_changes(actor, start, hi)):
            affected[rid] = max(stamp, affected.get(rid, 0))
            first[rid] = min(first.get(rid, (stamp, direction)), (stamp, direction))
    visible, unseen = _roots(session, registry, actor, affected, start)
    # A root not visible now was never on the device when it was first gained in the window,
    # or created after the cursor by someone else (it did not exist at the cursor).
    never = {r for r in affected if r not in visible and (first[r][1] > 0 or r in unseen)}
    lost = {r: x for r, x in affected.items() if r not in visible and r not in never}
    settled = (holds.settle(session, actor, registry.root, lost, start, hi, req.hold_seconds)
               if registry.root is not None else holds.Settled())
    moved = [r for r in affected if r not in settled.held and r not in never]
    gained = [r for r in moved if r in visible]
    # Roots the device did not have at its cursor (first change a gain) and whose records
    # it was not holding on to: their rows are all new to it.
    fresh = [r for r in gained if first[r][1] > 0 and r not in settled.kept]
    for st in registry.tables:
        if not st.pull:
            continue
        bucket = changes[st.name]
        _rows(session, st, actor, bucket, start, hi, st.name in full, first=lo is None)
        if lo is not None:
            if st.leave_scope_as_deleted and st.scope is not None:
                _left_scope(session, st, actor, bucket, start, hi)
            if moved and st.scope_key:
                _rescoped(session, st, actor, bucket, moved, start, fresh)
            if gained and st.with_roots is not None:
                _pulled_in(session, st, actor, bucket, gained)
            if settled.release and st.scope_key:
                _lost(session, st, actor, bucket, list(settled.release))
    if lo is not None:
        _tombstones(session, registry, actor, changes, start, hi, moved, settled)
    out.update({"changes": changes, "timestamp": hi, "has_more": has_more})
    return out


def _roots(session: Session, registry: Registry, actor: Actor, roots: dict[Any, int],
           cursor: int) -> tuple[set[Any], set[Any]]:
    """Of these roots: those visible to the actor now, and those new to its device (created
    at or after the cursor, not by it)."""
    root = registry.root
    if root is None or not roots:
        return set(), set()
    rows = session.execute(sa.select(root.table.c.id, root.where_scope(actor).label("ok"),
                                     root.is_new(cursor, actor.device_id).label("new"))
                           .where(root.table.c.id.in_(list(roots)))).all()
    return {r.id for r in rows if r.ok}, {r.id for r in rows if r.new}


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
    created = st.is_new(None if first else lo, actor.device_id).label("_new")
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
                moved: list[Any], settled: holds.Settled) -> None:
    """Deletions in the window, for the tables pulled, that the actor may learn about (also
    under scope roots whose visibility changed for them: a lost root's deleted records), and
    those under released held roots since the hold began; none under held roots."""
    scoped = [t.name for t in registry.tables if t.pull and t.scope is not None]
    unscoped = [t.name for t in registry.tables if t.pull and t.scope is None]
    visible = (registry.tombstone_visible(actor, tombstones)
               if registry.tombstone_visible is not None else sa.true())
    if moved:
        visible = sa.or_(visible, tombstones.c.scope_id.in_(moved))
    if settled.held:
        visible = sa.and_(visible, sa.or_(tombstones.c.scope_id.is_(None),
                                          tombstones.c.scope_id.not_in(settled.held)))
    window = sa.and_(tombstones.c.change_xid >= xid(lo), tombstones.c.change_xid < xid(hi))
    released = [sa.and_(tombstones.c.scope_id == r, tombstones.c.change_xid >= xid(since),
                        tombstones.c.change_xid < xid(hi))
                for r, since in settled.release.items()]
    query = sa.select(tombstones.c.table_name, tombstones.c.record_id).where(
        sa.or_(sa.and_(window, sa.or_(tombstones.c.table_name.in_(unscoped),
                                      sa.and_(tombstones.c.table_name.in_(scoped), visible))),
               *[sa.and_(tombstones.c.table_name.in_(scoped), r) for r in released]))
    for table, rid in session.execute(query.order_by(tombstones.c.change_xid)):
        deleted = changes[table]["deleted"]
        if str(rid) not in deleted:
            deleted.append(str(rid))


def _left_scope(session: Session, st: SyncTable, actor: Actor, bucket: dict[str, list[Any]],
                lo: int, hi: int) -> None:
    """Rows that changed and left a global scope (soft-deleted, retired) go as deleted."""
    gone = sa.and_(_window(st, lo, hi), sa.not_(st.where_scope(actor)))
    bucket["deleted"].extend(str(i) for i in session.scalars(sa.select(st.table.c.id).where(gone)))


def _rescoped(session: Session, st: SyncTable, actor: Actor, bucket: dict[str, list[Any]],
              affected: list[Any], lo: int, fresh: list[Any]) -> None:
    """Scope roots gained since the cursor come whole (as created under roots the device
    never had); lost ones go as deleted."""
    key = st.table.c[st.scope_key or "id"]
    in_root = key.in_(affected)
    new = st.is_new(lo, actor.device_id)
    created = (sa.case((key.in_(fresh), sa.true()), else_=new) if fresh else new).label("_new")
    _collect(session, st, bucket,
             sa.select(*st.columns(), created).where(in_root, st.where_scope(actor)))
    _lost(session, st, actor, bucket, affected)


def _lost(session: Session, st: SyncTable, actor: Actor, bucket: dict[str, list[Any]],
          roots: list[Any]) -> None:
    """The rows under `roots` the actor cannot see (any more) go as deleted."""
    key = st.table.c[st.scope_key or "id"]
    lost = sa.select(st.table.c.id).where(key.in_(roots), sa.not_(st.where_scope(actor)))
    deleted = set(bucket["deleted"])
    for rid in session.scalars(lost):
        if str(rid) not in deleted:
            bucket["deleted"].append(str(rid))


def _pulled_in(session: Session, st: SyncTable, actor: Actor, bucket: dict[str, list[Any]],
               roots: list[Any]) -> None:
    """Reference rows that newly visible roots use (they may not have changed in years)."""
    assert st.with_roots is not None
    _collect(session, st, bucket, sa.select(*st.columns(), sa.true().label("_new")).where(
        st.with_roots(actor, st.table, roots), st.where_scope(actor)))
