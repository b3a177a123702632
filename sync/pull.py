"""Pull: the changes in [cursor, H) visible to the actor, cut only at transaction boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from sync import holds
from sync.page import first_over, probe, record_cut
from sync.registry import Actor, Registry, SyncTable
from sync.rows import Page, fetch_all, record_query, size
from sync.store import devices, horizon, scope_changes, state, tombstones, xid

HOLD_SECONDS = 14 * 86400
# Windows a sparse page is filled from (each one more statement per pulled table).
MAX_WINDOWS = 8


@dataclass
class PullRequest:
    """A parsed pull: cursor None means first sync; `full` names tables sent whole."""

    cursor: int | None
    limit: int
    full: set[str] = field(default_factory=set)
    # Bound on the UTF-8 bytes of a page's records' JSON (0: none); like `limit`, exceeded
    # only by a single transaction larger than it (a transaction is never split).
    max_bytes: int = 0
    # How long the deletes of a lost scope root wait for the device's next push.
    hold_seconds: int = HOLD_SECONDS


# psycopg prepares a statement run five times, and PostgreSQL's generic plan for a page query
# (no cursor value known) may walk an index row by row where a large page needs a range scan
# and a hash join; a small incremental page or a poll is served well by it, without planning.
_CUSTOM = sa.func.set_config("plan_cache_mode", "force_custom_plan", True)
# The xid below which tombstones and the scope log are gone (0 or none: nothing pruned).
_FLOOR = sa.select(state.c.value).where(state.c.key == "pruned_below").scalar_subquery()
_SNAPSHOT = sa.cast(sa.func.pg_current_snapshot(), sa.Text)
# The device's paged pull that this cursor continues or repeats: [origin (-1: none), bound].
_SEQUENCE = sa.select(array([sa.func.coalesce(devices.c.pull_origin, -1), devices.c.pull_bound])
                      ).where(devices.c.device_id == sa.bindparam("device"),
                              sa.or_(devices.c.pull_next == sa.bindparam("cursor"),
                                     devices.c.pull_from == sa.bindparam("cursor"))
                              ).scalar_subquery()
_PREPARE = {(custom, paged): sa.select(_FLOOR, _SNAPSHOT, *([_SEQUENCE] if paged else []),
                                       *([_CUSTOM] if custom else []))
            for custom in (False, True) for paged in (False, True)}


@dataclass(frozen=True)
class PagedPull:
    """A paged pull under way: the cursor the device had before its first page (None: a
    first sync) and that page's horizon, where the pages end."""

    origin: int | None
    bound: int


def _prepare(session: Session, custom_plans: bool, actor: Actor, cursor: int | None
             ) -> tuple[int, str, PagedPull | None]:
    """(pruned_below, the statement's snapshot for the horizon, the paged pull this cursor
    continues), in one round trip; with `custom_plans`, custom plans for the rest of the
    transaction."""
    paged = cursor is not None and actor.device_id is not None
    params = {"device": actor.device_id, "cursor": cursor} if paged else {}
    row = session.execute(_PREPARE[custom_plans, paged], params).one()
    seq = row[2] if paged else None
    return int(row[0] or 0), row[1], (
        None if seq is None else PagedPull(None if seq[0] < 0 else seq[0], seq[1]))


def _remember(session: Session, actor: Actor, cursor: int | None, hi: int,
              seq: PagedPull) -> None:
    """Keep the paged pull this page (answered with has_more) belongs to, for its next page
    (cursor `hi`) or a repeat of this one (`cursor`)."""
    if actor.device_id is None:
        return
    values = {"pull_from": cursor, "pull_next": hi, "pull_origin": seq.origin,
              "pull_bound": seq.bound}
    session.execute(pg_insert(devices).values(device_id=actor.device_id, **values)
                    .on_conflict_do_update(index_elements=[devices.c.device_id], set_=values))


def pull(session: Session, registry: Registry, actor: Actor, req: PullRequest) -> dict[str, Any]:
    """Build one pull response: {changes, timestamp, has_more[, experimentalStrategy]}.

    Records are `orjson.Fragment`s (their JSON text, made by PostgreSQL): encode with orjson.
    """
    floor, snapshot, seq = _prepare(session, req.cursor is None, actor, req.cursor)
    h = horizon(session, snapshot)
    out: dict[str, Any] = {}
    lo, limit, full = req.cursor, req.limit, set(req.full)
    replaced_from: int | None = None  # a replacement: what the device is taken to hold
    if lo is not None and (lo > h or lo < floor):
        # Not a cursor we issued (e.g. restored into a new cluster), or older than the
        # retention of deletes: an incremental answer would miss deletes; resend everything.
        out["experimentalStrategy"] = "replacement"
        replaced_from = _replaced_from(lo, floor)
        lo, limit, seq = None, 0, None
        session.execute(sa.select(_CUSTOM))  # the whole dataset
    if seq is not None and lo is not None and lo <= seq.bound <= h:
        # A later page of a paged pull (or a repeat of the last one). Its pages end at the
        # first page's horizon: a record changed since comes in the next pull, never twice in
        # one sequence. Records are new to the device if created after the cursor it had
        # before the first page, not after this page's (see `_labels`).
        h = seq.bound
    else:
        seq = PagedPull(lo, h)
    # A first sync in pages: every record is new to the device, and every scope change and
    # delete before its first page's horizon was already in force when that page was served.
    first_sync = seq.origin is None
    page = Page(registry)
    fits = False  # the whole window fits in a page by records
    counts: dict[str, int] | None = None  # rows stamped in the window per source, if probed
    held = True  # whether the device may have a scope hold (the probe tells)
    if lo is not None and not full:
        counts, held = probe(session, registry, actor, lo, h, limit + 1)
        n = sum(counts.values())
        if n == 0 and not held:
            # The common poll: nothing in the window, no scope change, no hold to settle.
            out.update({"changes": page.changes, "timestamp": h, "has_more": False})
            return out
        fits = n <= limit
        if not fits and req.cursor is not None:
            session.execute(sa.select(_CUSTOM))  # a large incremental window
    start = lo or 0
    # Tables without a row stamped in the window are not asked (a custom stamp may move with
    # another table's: those are always asked).
    pulled = [st for st in registry.tables if st.pull and (
        counts is None or counts[st.name] or (st.change_xid is not None and (
            not st.stamp_sources or any(counts[s] for s in st.stamp_sources))))]
    labels = (_labels(session, registry, actor, pulled, seq.origin, lo)
              if replaced_from is None else
              {st.name: st.is_new(replaced_from, actor.device_id) for st in pulled})
    hi, windowed = _windowed(session, actor, pulled, page, start, h, full, lo is None,
                             0 if fits else limit, req.max_bytes if limit else 0, registry,
                             labels)
    has_more = hi != h
    if has_more:
        _remember(session, actor, lo, hi, seq)
    affected: dict[Any, int] = {}
    first: dict[Any, tuple[int, int]] = {}  # root -> (xid, direction) of its first change
    if registry.scope_changes is not None and not first_sync and (
            counts is None or counts[scope_changes.name]):
        for rid, stamp, direction in session.execute(registry.scope_changes(actor, start, hi)):
            affected[rid] = max(stamp, affected.get(rid, 0))
            first[rid] = min(first.get(rid, (stamp, direction)), (stamp, direction))
    visible, unseen = _roots(session, registry, actor, affected, start)
    # A root not visible now was never on the device when it was first gained in the window,
    # or created after the cursor by someone else (it did not exist at the cursor).
    never = {r for r in affected if r not in visible and (first[r][1] > 0 or r in unseen)}
    lost = {r: x for r, x in affected.items() if r not in visible and r not in never}
    settled = (holds.settle(session, actor, registry.root, lost, start, hi, req.hold_seconds,
                            may_hold=held)
               if registry.root is not None else holds.Settled())
    moved = [r for r in affected if r not in settled.held and r not in never]
    gained = [r for r in moved if r in visible]
    # Roots the device did not have at its cursor (first change a gain) and whose records
    # it was not holding on to: their rows are all new to it.
    fresh = [r for r in gained if first[r][1] > 0 and r not in settled.kept]
    if not first_sync:
        _left_scope(session, pulled, actor, page, start, hi)
        # The records of roots gained in the window go in before the window's own rows: a
        # record of a root the device never had that also changed in the window is `created`
        # (the window's row, judged by the cursor alone, would say `updated`).
        for st in registry.tables:
            if st.pull and moved and st.scope_key:
                _rescoped(session, st, actor, page, moved, start, fresh)
    for name, rows in windowed:
        page.add(name, rows)
    if not first_sync:
        for st in registry.tables:
            if not st.pull:
                continue
            if gained and st.with_roots is not None:
                _pulled_in(session, st, actor, page, gained)
            if settled.release and st.scope_key:
                _lost(session, st, actor, page, list(settled.release))
        if counts is None or counts[tombstones.name] or settled.release:
            _tombstones(session, registry, actor, page, start, hi, moved, settled)
    out.update({"changes": page.changes, "timestamp": hi, "has_more": has_more})
    return out


def _windowed(session: Session, actor: Actor, pulled: list[SyncTable], page: Page, lo: int,
              h: int, full: set[str], first: bool, limit: int, max_bytes: int,
              registry: Registry, created: dict[str, sa.ColumnElement[bool]]
              ) -> tuple[int, list[tuple[str, list[Any]]]]:
    """The rows changed from `lo` on, per table, for the caller to add to the page (tables
    in `full`: all their rows, added here), and where the page ends: before h when it would
    hold over `limit` rows (0: no bound, everything fits) or `max_bytes` of JSON (0: no
    bound), always at a transaction boundary.

    A window is cut on everyone's rows (cheap, `record_cut`); when the actor's rows fill less
    than half of the page, the next window is added, up to MAX_WINDOWS. `created`: per table,
    which rows go as created (`_labels`).
    """
    for st in pulled:
        if st.name in full:  # sent whole whatever the window: they cannot move the cut
            page.collect(session, st, record_query(st, created[st.name]).where(
                st.where_scope(actor)))
    fetched: list[tuple[str, list[Any]]] = []
    sizes: dict[int, int] = {}
    rows_in, bytes_in, hi = 0, 0, lo
    for window in range(MAX_WINDOWS):
        cut = (record_cut(session, registry, hi, h, limit - rows_in, not first,
                          first_fits=window == 0, max_bytes=max(0, max_bytes - bytes_in))
               if limit else None)
        end = h if cut is None else cut
        if end == hi:  # the next transaction alone would overfill the page
            break
        windowed = [st for st in pulled if st.name not in full]
        for st, rows in zip(windowed, fetch_all(session, [
                record_query(st, created[st.name]).where(st.where_scope(actor),
                                                         _window(st, hi, end))
                for st in windowed]), strict=True):
            if rows:
                fetched.append((st.name, rows))
                rows_in += len(rows)
                before = bytes_in
                for row in rows:
                    n = size(row[3])
                    sizes[row[0]] = sizes.get(row[0], 0) + n
                    bytes_in += n
                st.row_bytes = (bytes_in - before) / len(rows)
        hi = end
        if hi == h or not limit or 2 * rows_in >= limit or 2 * bytes_in >= max_bytes > 0:
            break
    cut = first_over(sizes, max_bytes) if max_bytes else None
    if cut is None:
        return hi, fetched
    return cut, [(name, [r for r in rows if r[0] < cut]) for name, rows in fetched]


def _replaced_from(cursor: int, floor: int) -> int:
    """The cursor that labels a replacement's records: `created` for those created at or
    after it (and not by the device itself), `updated` for the rest, which the device holds
    already. WatermelonDB applies a replacement's records either way, but logs every
    `created` record it already has as a possible serious bug, and every `updated` one it
    lacks: so the labels guess what the phone holds. A cursor older than the retention
    (0 < cursor < floor) still says what the phone pulled. One of an older generation (a
    restore: it stands for 0) or never issued (above the horizon) comes from a phone that
    held what was restored: what was created since the floor (the restore) is new to it."""
    return cursor if 0 < cursor < floor else floor


def _labels(session: Session, registry: Registry, actor: Actor, pulled: list[SyncTable],
            origin: int | None, lo: int | None) -> dict[str, sa.ColumnElement[bool]]:
    """Per table: which rows of the window go as `created` (new to the device).

    A row is new if created after the cursor the device had before its paged pull began
    (`origin`; None: a first sync, all rows are new), unless the device has it anyway: its
    own, or delivered by an earlier page. Within one paged pull, a row in this page's window
    was in no earlier window (the pages end at the first page's horizon: its stamp has not
    moved since); only the rows under scope roots gained or lost in earlier pages' windows
    were sent whole there, so these are judged by this page's cursor alone, as reference
    rows pulled in with such roots are.
    """
    if origin is None or origin == lo:
        return {st.name: st.is_new(origin, actor.device_id) for st in pulled}
    moved = ([r for r, _x, _d in session.execute(registry.scope_changes(actor, origin, lo))]
             if registry.scope_changes is not None and lo is not None else [])
    out = {}
    for st in pulled:
        here = st.is_new(lo, actor.device_id)
        if st.with_roots is not None:
            out[st.name] = here
            continue
        before = st.is_new(origin, actor.device_id)
        if moved and st.scope_key:
            before = sa.and_(before, st.table.c[st.scope_key].not_in(moved))
        out[st.name] = sa.or_(here, before)
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


def _tombstones(session: Session, registry: Registry, actor: Actor, page: Page, lo: int,
                hi: int, moved: list[Any], settled: holds.Settled) -> None:
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
        page.delete(table, [rid])


def _left_scope(session: Session, pulled: list[SyncTable], actor: Actor, page: Page, lo: int,
                hi: int) -> None:
    """Rows that changed and left a global scope (soft-deleted, retired) go as deleted."""
    tables = [st for st in pulled if st.leave_scope_as_deleted and st.scope is not None]
    if not tables:
        return
    gone = sa.union_all(*[
        sa.select(sa.literal_column(str(i)).label("t"), sa.cast(st.table.c.id, sa.Text))
        .where(_window(st, lo, hi), sa.not_(st.where_scope(actor)))
        for i, st in enumerate(tables)])
    for i, rid in session.connection().execute(gone):
        page.delete(tables[i].name, [rid])


def _rescoped(session: Session, st: SyncTable, actor: Actor, page: Page,
              affected: list[Any], lo: int, fresh: list[Any]) -> None:
    """Scope roots gained since the cursor come whole (as created under roots the device
    never had); lost ones go as deleted."""
    key = st.table.c[st.scope_key or "id"]
    in_root = key.in_(affected)
    new = st.is_new(lo, actor.device_id)
    created = sa.case((key.in_(fresh), sa.true()), else_=new) if fresh else new
    page.collect(session, st, record_query(st, created).where(in_root, st.where_scope(actor)))
    _lost(session, st, actor, page, affected)


def _lost(session: Session, st: SyncTable, actor: Actor, page: Page,
          roots: list[Any]) -> None:
    """The rows under `roots` the actor cannot see (any more) go as deleted."""
    key = st.table.c[st.scope_key or "id"]
    lost = sa.select(st.table.c.id).where(key.in_(roots), sa.not_(st.where_scope(actor)))
    page.delete(st.name, session.scalars(lost))


def _pulled_in(session: Session, st: SyncTable, actor: Actor, page: Page,
               roots: list[Any]) -> None:
    """Reference rows that newly visible roots use (they may not have changed in years)."""
    assert st.with_roots is not None
    page.collect(session, st, record_query(st, sa.true()).where(
        st.with_roots(actor, st.table, roots), st.where_scope(actor)))
