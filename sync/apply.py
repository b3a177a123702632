"""The write half of a push: rows, tombstones, revision history and the quarantine."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from sync.binds import ids_param
from sync.registry import Actor, Registry, SyncTable
from sync.store import tombstones
from sync.values import storable

if TYPE_CHECKING:
    from sync.push import Id, Plan, TablePlan


class NotNew(Exception):
    """A push applied as new records only (`fresh`) met an id that exists, or one that was
    deleted: what it wrote must be rolled back and the push run again in full."""


# One more write for the statement, fed by the push's counts: (SQL fed by :rows, the JSON
# of its rows for these counts, its other parameters).
Also = tuple[str, Callable[[dict[str, dict[str, int]]], str], dict[str, Any]]


def apply_plan(session: Session, registry: Registry, actor: Actor, plan: Plan,
               source: str, origin: uuid.UUID | None,
               pushed_by: uuid.UUID | None = None, fresh: bool = False,
               also: Also | None = None) -> dict[str, dict[str, int]]:
    """Write every accepted change: parents first for upserts, children first for deletes.

    Every INSERT and UPDATE of the push and their revisions go in one statement (a WITH of
    data-modifying statements, each fed by one JSON parameter): one round trip whatever
    the number of tables. Foreign keys are checked at the end of that statement, so
    children may come with their parents. Deletes (rare) follow, children first.
    `pushed_by`: the device whose push this is (remembered in the same statement).
    `also`: one more write in that statement, fed by the counts (they are final there when
    the push deletes nothing), e.g. the answer kept for an Idempotency-Key.

    `fresh`: no existing row was looked for (a push of created records only): the primary
    keys check that the ids are new, the same statement checks that none was deleted on
    the server and supersedes this user's pending rejections of them; either check failing
    raises NotNew (the statement's effects must then be rolled back)."""
    history: list[dict[str, Any]] = []
    created: dict[str, list[dict[str, Any]]] = {}  # table -> new records (their revisions)
    counts: dict[str, dict[str, int]] = {}
    writes: list[tuple[str, str, str | None]] = []  # (SQL fed by :rows<i>, its JSON, table)
    for st in registry.tables:
        tp = plan.tables.get(st.name)
        if tp is not None:
            counts[st.name] = _upsert(session, tp, history, created, origin, writes, fresh)
    # Besides the rows: the device new rows name as their origin (one value for all).
    params: dict[str, str | None] = {"origin": _text(origin)}
    if created or history:
        params.update(_by(actor, source))
    if created:
        writes.append((_CREATED_REVISIONS, json_param(created), None))
    if history:
        writes.append((_REVISION_ROWS, json_param(history), None))
        history = []
    if pushed_by is not None:
        writes.append((_PUSHED, str(pushed_by), None))
    if also is not None:
        assert not any(tp.deletes for tp in plan.tables.values()), "counts not final"
        sql, rows_for, extra = also
        writes.append((sql, rows_for(_applied(counts)), None))
        params.update(extra)
    if writes:
        _write(session, writes, params, actor if fresh else None)
    for st in reversed(registry.tables):
        tp = plan.tables.get(st.name)
        if tp is not None and tp.deletes:
            counts[st.name]["deleted"] = _delete(session, registry, actor, tp, history)
    if history:
        session.execute(sa.text(_REVISION_ROWS),
                        {**_by(actor, source), "rows": json_param(history)})
    return _applied(counts)


def _applied(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The counts of the tables the push changed (the answer's `applied`)."""
    return {k: v for k, v in counts.items() if any(v.values())}


def _write(session: Session, writes: list[tuple[str, str, str | None]],
           params: dict[str, str | None], fresh_for: Actor | None) -> None:
    """Run the writes as one statement; with `fresh_for`, the checks of a fresh push too
    (by the ids its inserts return)."""
    ctes = [(f"w{i}", sql.replace(":rows", f":rows{i}")) for i, (sql, _, _) in enumerate(writes)]
    params = {**params, **{f"rows{i}": data for i, (_, data, _) in enumerate(writes)}}
    # Table names come from the registry, never a client.
    new = [f"select cast('{table}' as text) as t, id from w{i}"  # noqa: S608
           for i, (_, _, table) in enumerate(writes) if table]
    if fresh_for is None or not new:
        fresh_for = None
        *ctes, (_, last) = ctes
    else:
        ctes += [("fresh", " union all ".join(new)), ("superseded", _SUPERSEDE_FRESH)]
        last = _DELETED_BEFORE
        params.update(sup_user=_text(fresh_for.user_id), why=_SUPERSEDED)
    sql = ", ".join(f"{name} as ({cte})" for name, cte in ctes)
    try:
        result = session.execute(sa.text(f"with {sql} {last}" if ctes else last), params)
    except sa.exc.IntegrityError as exc:
        if fresh_for is not None and getattr(exc.orig, "sqlstate", None) == "23505":
            raise NotNew from exc  # an id exists (a resend, or another team's record)
        raise
    if fresh_for is not None and result.scalar():
        raise NotNew


# A fresh push: were any of its ids deleted on the server (the rows are gone, the tombstones
# stay)? And the user's pending rejections of records accepted now are superseded.
_DELETED_BEFORE = ("select exists (select 1 from fresh f join sync_tombstones d"
                   " on d.table_name = f.t and d.record_id = f.id)")
_SUPERSEDED = json.dumps({"reason": "a later version of this record was accepted"})


def _supersede(accepted: str) -> str:
    """The user's (:sup_user) pending rejections of records accepted now — `accepted`: rows
    r(table_name, record_id) — marked superseded (:why)."""
    # `accepted` is one of the two fragments below, never a client's text.
    return ("update sync_quarantine q set status = 'superseded', resolved_at = now(),"  # noqa: S608
            " resolution = cast(:why as jsonb) from " + accepted + " where q.status = 'pending'"
            " and q.user_id = cast(:sup_user as uuid) and q.table_name = r.table_name"
            " and q.record_id = r.record_id")


_SUPERSEDE_FRESH = _supersede(
    "(select t as table_name, cast(id as text) as record_id from fresh) as r")


# Only `ignored` needs `storable`: known values passed `sync.values.problem` and the
# schemas (no NaN, NUL or lone surrogate); server values come from the database.
# Who wrote (user, device, source) is the same for every revision of a push: one parameter
# each, not repeated in every row of the JSON (a key left out of a row reads as NULL).
_REVISION_ROWS = (
    "insert into sync_revisions (table_name, record_id, op, before, after, user_id, device_id,"
    " source, ignored) select r.table_name, r.record_id, r.op, r.before, r.after,"
    " cast(:rev_user as uuid), cast(:rev_device as uuid), cast(:rev_source as text), r.ignored"
    " from jsonb_to_recordset(cast(:rows as jsonb)) as r(table_name text, record_id uuid,"
    " op text, before jsonb, after jsonb, ignored jsonb)")
# The usual revisions, of new records that sent no unknown column, fed by {table: [record]}:
# the record is the revision's `after` and holds its id (a fifth less JSON to read).
_CREATED_REVISIONS = (
    "insert into sync_revisions (table_name, record_id, op, after, user_id, device_id, source)"
    " select t.key, cast(e.value ->> 'id' as uuid), 'create', e.value, cast(:rev_user as uuid),"
    " cast(:rev_device as uuid), cast(:rev_source as text)"
    " from jsonb_each(cast(:rows as jsonb)) as t, jsonb_array_elements(t.value) as e")


def _by(actor: Actor, source: str) -> dict[str, str | None]:
    """The parameters of _REVISION_ROWS besides its rows."""
    return {"rev_user": _text(actor.user_id), "rev_device": _text(actor.device_id),
            "rev_source": source}


def _revision(table: str, uid: Id, op: str, before: Any, after: Any,
              ignored: Any = None) -> dict[str, Any]:
    row = {"table_name": table, "record_id": uid, "op": op, "after": after}
    if before is not None:
        row["before"] = before
    if ignored:
        row["ignored"] = storable(ignored)
    return row


def json_param(rows: Any) -> str:
    """The rows as one JSON parameter. orjson writes ids and times itself (ISO 8601, which
    PostgreSQL's input functions read); anything it cannot write (a Decimal, an integer
    past 64 bits that a column will refuse) goes through the standard encoder instead."""
    try:
        return orjson.dumps(rows, default=str).decode()
    except orjson.JSONEncodeError:
        return json.dumps(rows, default=str)


@lru_cache(maxsize=64)
def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _upsert(session: Session, tp: TablePlan, history: list[dict[str, Any]],
            created: dict[str, list[dict[str, Any]]], origin: uuid.UUID | None,
            writes: list[tuple[str, str, str | None]], fresh: bool) -> dict[str, int]:
    st = tp.st
    new: list[dict[str, Any]] = []  # revisions of the new records without ignored columns
    inserts: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    n_new = n_upd = 0
    # New rows name their origin device: one parameter (:origin), not a value in each row.
    made_by = st.origin_column if origin is not None else None
    columns: dict[tuple[Any, ...], tuple[str, ...]] = {}  # fields as they come -> columns
    to_db = st.codec.to_db
    # Usually empty (a push of new, well-formed records): then no lookup per record.
    existing, noop, ignores, server = tp.existing, tp.noop, tp.ignored, tp.server_values
    for uid, clean in tp.upserts.items():
        ignored = ignores.get(uid) if ignores else None
        if noop and uid in noop:
            if ignored:  # nothing to write, but what the phone sent is kept
                before = existing[uid]
                history.append(_revision(st.name, uid, "update", before, before, ignored))
            continue
        values = to_db(clean)  # without its nulls: a key left out reads as NULL
        values["id"] = clean["id"]
        if existing and uid in existing:
            updates[_columns(columns, st, clean, None)].append(values)
            before = existing[uid]
            history.append(_revision(st.name, clean["id"], "update", before,
                                     {**before, **clean}, ignored))
            n_upd += 1
        else:
            extra = server.get(uid) if server else None
            if extra:
                values.update(extra)
            inserts[_columns(columns, st, clean, extra)].append(values)
            if ignored:
                history.append(_revision(st.name, clean["id"], "create", None, clean, ignored))
            else:
                new.append(clean)
            n_new += 1
    if new:
        created[st.name] = new
    for group, insert in ((inserts, True), (updates, False)):
        for cols, rows in group.items():
            writes.append((_bulk(session, st.table, cols, insert, fresh,
                                 made_by if insert else None),
                           json_param(rows), st.name if insert else None))
    return {"created": n_new, "updated": n_upd, "deleted": 0}


def _columns(known: dict[tuple[Any, ...], tuple[str, ...]], st: SyncTable,
             clean: dict[str, Any], extra: dict[str, Any] | None) -> tuple[str, ...]:
    """The sorted columns a row of these fields (and server values) fills, nulls included:
    one statement per set of columns; rows of one push mostly share their key order, so each
    order is looked up once."""
    key = (tuple(clean), tuple(extra) if extra else ())
    cols = known.get(key)
    if cols is None:
        cols = known[key] = tuple(sorted(st.codec.columns_of(key[0]) | {"id", *key[1]}))
    return cols


def _bulk(session: Session, table: sa.Table, cols: tuple[str, ...], insert: bool,
          returning: bool, origin_column: str | None) -> str:
    return _bulk_sql(session.get_bind().dialect, table, cols, insert, returning, origin_column)


@lru_cache(maxsize=512)
def _bulk_sql(dialect: Any, table: sa.Table, cols: tuple[str, ...], insert: bool,
              returning: bool = False, origin_column: str | None = None) -> str:
    """One INSERT or UPDATE for many rows, fed by one JSON parameter (json_to_recordset):
    far fewer round trips than a statement per row; PostgreSQL parses each value with its
    column type's input function (geography EWKT, timestamptz, json ...). JSON columns are
    read as text and cast, so a `json` column keeps the pushed text byte for byte. The
    parameter is `json`, not `jsonb`: read once as it is scanned, not first converted to a
    binary document (our own orjson output: no duplicate keys, whose reading would differ).
    `origin_column` (inserts): set to the :origin parameter in every row."""
    # Column names come from the registry's fields (to_db drops unknown keys), never a client.
    types = {c: table.c[c].type.compile(dialect=dialect) for c in cols}
    is_json = {c for c in cols if isinstance(table.c[c].type, sa.JSON)}
    typedef = ", ".join(f'"{c}" {"text" if c in is_json else types[c]}' for c in cols)
    source = f"json_to_recordset(cast(:rows as json)) as r({typedef})"

    def value(c: str) -> str:
        return f'cast(r."{c}" as {types[c]})' if c in is_json else f'r."{c}"'

    if insert:
        names = ", ".join(f'"{c}"' for c in cols)
        picks = ", ".join(value(c) for c in cols)
        if origin_column is not None and origin_column not in cols:
            names += f', "{origin_column}"'
            picks += f", cast(:origin as {table.c[origin_column].type.compile(dialect=dialect)})"
        back = ' returning "id"' if returning else ""
        return f'insert into "{table.name}" ({names}) select {picks} from {source}{back}'  # noqa: S608
    sets = ", ".join(f'"{c}" = {value(c)}' for c in cols if c != "id")
    return f'update "{table.name}" as t set {sets} from {source} where t.id = r.id'  # noqa: S608


def _delete(session: Session, registry: Registry, actor: Actor, tp: TablePlan,
            history: list[dict[str, Any]]) -> int:
    st, ids = tp.st, sorted(tp.deletes)
    roots: dict[Id, uuid.UUID | None] = {}
    if st.scope_key:
        key = st.field_for(st.scope_key)
        for uid in ids:
            val = tp.existing[uid].get(key) if key else None
            roots[uid] = uuid.UUID(val) if val else None
    groups = (registry.scope_group(session, [r for r in roots.values() if r])
              if registry.scope_group and roots else {})
    rows = [{"table_name": st.name, "record_id": uuid.UUID(uid), "scope_id": roots.get(uid),
             "scope_group_id": groups.get(roots[uid]) if roots.get(uid) else None,
             "user_id": actor.user_id, "device_id": actor.device_id} for uid in ids]
    session.execute(pg_insert(tombstones).on_conflict_do_nothing(), rows)
    session.execute(sa.delete(st.table).where(st.table.c.id == sa.any_(ids_param("ids", ids))))
    for uid in ids:
        history.append(_revision(st.name, uid, "delete", tp.existing[uid], None))
    return len(ids)


# That this device's push was received (releases its held scope losses, sync/holds.py).
_PUSHED = (
    "insert into sync_devices (device_id, last_push_at, last_push_xid) values"
    " (cast(:rows as uuid), now(), pg_current_xact_id()) on conflict (device_id) do update"
    " set last_push_xid = excluded.last_push_xid, last_push_at = excluded.last_push_at")


_SUPERSEDE = sa.text(_supersede(
    "unnest(cast(:tables as text[]), cast(:ids as text[])) as r(table_name, record_id)"))


def supersede_quarantined(session: Session, actor: Actor, plan: Plan) -> None:
    """Pending rejections of a record by the same user are superseded by its accepted version
    (`plan.pending`, found with the existing rows: no statement when there are none)."""
    pairs = [(name, str(u)) for name, u in sorted(plan.pending)
             if name in plan.tables and u in plan.tables[name].upserts]
    if not pairs:
        return
    session.execute(_SUPERSEDE, {
        "tables": [t for t, _ in pairs], "ids": [i for _, i in pairs],
        "sup_user": _text(actor.user_id), "why": _SUPERSEDED})
