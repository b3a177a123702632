"""Where a pull page ends (never inside a transaction), and the cheap "nothing changed" probe.

A page is bounded by records (`limit`) and by the bytes of its records' JSON (`max_bytes`);
both cuts fall on a transaction boundary: the page [lo, cut) holds every row of each of its
transactions, and only a single transaction larger than the bound makes a page exceed it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from sync.registry import Actor, Registry
from sync.store import as_int, holds, scope_changes, tombstones, xid, xid_param

# (change stamp, FROM table, WHERE, estimated bytes per row) of one source of page rows.
Part = tuple[ColumnElement[Any], sa.Table, ColumnElement[bool], float]


def first_over(sizes: Mapping[int, int], bound: int, first_fits: bool = True) -> int | None:
    """The first stamp (in order) whose transaction would take the page past `bound`; with
    `first_fits`, never the first one (a page holds at least one whole transaction)."""
    total = 0
    for stamp in sorted(sizes):
        n = sizes[stamp]
        if (total or not first_fits) and total + n > bound:
            return stamp
        total += n
    return None


def _parts(registry: Registry, lo: int, hi: int, incremental: bool) -> list[Part]:
    parts: list[Part] = []
    for st in registry.tables:
        if st.pull:
            x = st.xid()
            parts.append((x, st.table, sa.and_(x >= xid(lo), x < xid(hi)), st.row_bytes))
    if incremental:  # tombstones and scope changes only matter after a first sync
        for log in (tombstones, scope_changes):
            x = log.c.change_xid
            parts.append((x, log, sa.and_(x >= xid(lo), x < xid(hi)), 0.0))
    return parts


def record_cut(session: Session, registry: Registry, lo: int, hi: int, limit: int,
               incremental: bool, first_fits: bool = True, max_bytes: int = 0) -> int | None:
    """The first transaction that would take [lo, hi) past `limit` rows (or past `max_bytes`
    by the tables' `row_bytes` estimates), or None.

    Rows of every actor count (not only those in the actor's scope): each source then reads
    at most its first limit+1 stamps off its change_xid index (an index-only walk that stops
    early, so a page costs the same however much remains), counted per stamp in SQL. The
    caller fills a sparse page up with further windows (`pull._windowed`); for those,
    `first_fits=False`: a first transaction over the limit ends the page before it.
    """
    parts = _parts(registry, lo, hi, incremental)
    selects = []
    for i, (x, table, cond, _w) in enumerate(parts):
        head = sa.select(x.label("x")).select_from(table).where(cond).order_by(x).limit(
            limit + 1).subquery()
        selects.append(sa.select(sa.literal(i).label("part"), as_int(head.c.x).label("x"),
                                 sa.func.count().label("n")).group_by(head.c.x))
    rows = session.execute(sa.union_all(*selects)).all()
    return _cut(session, parts, rows, limit, first_fits, max_bytes)


def _cut(session: Session, parts: list[Part], rows: list[Any], limit: int,
         first_fits: bool, max_bytes: int = 0) -> int | None:
    totals: dict[int, int] = defaultdict(int)
    last: dict[int, int] = {}
    for part, stamp, n in rows:
        totals[part] += n
        last[part] = max(stamp, last.get(part, stamp))
    # A source that filled its limit+1 rows may have more at its last stamp: the counts are
    # exact below the smallest such stamp, and already past the limit at it.
    full = [last[p] for p, n in totals.items() if n > limit]
    bound = min(full) if full else None
    sizes: dict[int, int] = defaultdict(int)
    weights: dict[int, int] = defaultdict(int)
    for part, stamp, n in rows:
        if bound is None or stamp <= bound:
            sizes[stamp] += n
            weights[stamp] += int(n * parts[part][3])
    cuts = [first_over(sizes, limit, first_fits),
            first_over(weights, max_bytes, first_fits) if max_bytes else None]
    cut = min((c for c in cuts if c is not None), default=None)
    if cut is not None or bound is None:
        return cut
    # No cut below it: `bound` is the first transaction and alone holds more than a page.
    # It goes whole; the next page starts at the next transaction.
    return next_stamp(session, parts, bound)


def next_stamp(session: Session, parts: list[Part], after: int) -> int | None:
    """The smallest stamp above `after` in any source (None: there is none)."""
    mins = [sa.select(sa.func.min(as_int(x)).label("x")).select_from(table).where(
        cond, x > xid(after)) for x, table, cond, _w in parts]
    union = sa.union_all(*mins).subquery()
    value = session.scalar(sa.select(sa.func.min(union.c.x)))
    return None if value is None else int(value)


def probe(session: Session, registry: Registry, actor: Actor, lo: int, hi: int,
          cap: int) -> tuple[dict[str, int], bool]:
    """How many rows stamped in [lo, hi) each pulled table, the tombstones and the scope log
    hold (anyone's: a superset of the actor's), each counted up to `cap`, and whether the
    device has a scope hold. One statement of index probes; all zero and no hold means
    nothing to send. Keys: synced table names, "sync_tombstones", "sync_scope_changes".

    A table's own `change_xid` column is probed: a custom stamp (`SyncTable.change_xid`) must
    be the greatest of it and the stamps of other pulled tables, which are probed too.
    """
    sql, names = _probe_sql(registry, session)
    row = session.connection().exec_driver_sql(sql, {
        "lo": str(lo), "hi": str(hi), "cap": cap,
        "device": actor.device_id or uuid.UUID(int=0)}).one()
    return dict(zip(names, map(int, row[:-1]), strict=True)), bool(row[-1])


# The probe runs on every poll: its SQL is built and compiled once per registry and dialect.
_PROBES: dict[tuple[int, str], tuple[Registry, str, list[str]]] = {}


def _probe_sql(registry: Registry, session: Session) -> tuple[str, list[str]]:
    dialect = session.get_bind().dialect
    known = _PROBES.get((id(registry), dialect.name))
    if known is None or known[0] is not registry:
        lo, hi = xid_param("lo"), xid_param("hi")
        cap = sa.bindparam("cap", type_=sa.Integer())
        logs = [(st.name, st.table) for st in registry.tables if st.pull] + [
            (t.name, t) for t in (tombstones, scope_changes)]
        counts = [sa.select(sa.func.count()).select_from(
            sa.select(sa.literal_column("1").label("one")).select_from(t).where(
                t.c.change_xid >= lo, t.c.change_xid < hi).limit(cap).subquery())
            .scalar_subquery().label(f"n{i}") for i, (_name, t) in enumerate(logs)]
        held = sa.exists().where(holds.c.device_id == sa.bindparam(
            "device", type_=holds.c.device_id.type))
        compiled = sa.select(*counts, held).compile(dialect=dialect)
        known = _PROBES[(id(registry), dialect.name)] = (
            registry, str(compiled), [name for name, _t in logs])
    return known[1], known[2]
