"""The write half of a push: rows, tombstones, revision history and the quarantine."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from sync.registry import Actor, Registry
from sync.store import quarantine, tombstones

if TYPE_CHECKING:
    from sync.push import Plan, TablePlan


def apply_plan(session: Session, registry: Registry, actor: Actor, plan: Plan,
               source: str) -> dict[str, dict[str, int]]:
    """Write every accepted change: parents first for upserts, children first for deletes."""
    history: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = {}
    for st in registry.tables:
        tp = plan.tables.get(st.name)
        if tp is not None:
            counts[st.name] = _upsert(session, actor, tp, history, source)
    for st in reversed(registry.tables):
        tp = plan.tables.get(st.name)
        if tp is not None and tp.deletes:
            counts[st.name]["deleted"] = _delete(session, registry, actor, tp, history, source)
    if history:
        _insert_revisions(session, history)
    return {k: v for k, v in counts.items() if any(v.values())}


_REVISION_ROWS = sa.text(
    "insert into sync_revisions (table_name, record_id, op, before, after, user_id, device_id,"
    " source) select r.table_name, r.record_id, r.op, r.before, r.after, r.user_id,"
    " r.device_id, r.source from jsonb_to_recordset(cast(:rows as jsonb)) as r(table_name text,"
    " record_id uuid, op text, before jsonb, after jsonb, user_id uuid, device_id uuid,"
    " source text)")


def _insert_revisions(session: Session, history: list[dict[str, Any]]) -> None:
    """All revisions in one statement (one JSON parameter instead of a row per statement)."""
    session.execute(_REVISION_ROWS, {"rows": json.dumps(history, default=str)})


def _revision(actor: Actor, table: str, uid: uuid.UUID, op: str, before: Any, after: Any,
              source: str) -> dict[str, Any]:
    return {"table_name": table, "record_id": uid, "op": op, "before": before, "after": after,
            "user_id": actor.user_id, "device_id": actor.device_id, "source": source,
            "quarantine_id": None}


def _upsert(session: Session, actor: Actor, tp: TablePlan, history: list[dict[str, Any]],
            source: str) -> dict[str, int]:
    st = tp.st
    inserts: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    n_new = n_upd = 0
    for uid, clean in tp.upserts.items():
        if uid in tp.noop:
            continue
        values = st.codec.to_db(clean)
        values["id"] = uid
        if uid in tp.existing:
            updates[tuple(sorted(values))].append(values)
            history.append(_revision(actor, st.name, uid, "update", tp.existing[uid], clean,
                                     source))
            n_upd += 1
        else:
            values.update(tp.server_values.get(uid, {}))
            inserts[tuple(sorted(values))].append(values)
            history.append(_revision(actor, st.name, uid, "create", None, clean, source))
            n_new += 1
    for cols, rows in inserts.items():
        session.execute(_bulk(session, st.table, cols, insert=True),
                        {"rows": json.dumps(rows, default=str)})
    for cols, rows in updates.items():
        session.execute(_bulk(session, st.table, cols, insert=False),
                        {"rows": json.dumps(rows, default=str)})
    return {"created": n_new, "updated": n_upd, "deleted": 0}


def _bulk(session: Session, table: sa.Table, cols: tuple[str, ...], insert: bool) -> Any:
    """One INSERT or UPDATE for many rows, fed by one JSON parameter (jsonb_to_recordset):
    far fewer round trips than a statement per row; PostgreSQL parses each value with its
    column type's input function (geography EWKT, timestamptz, jsonb ...)."""
    # Column names come from the registry's fields (to_db drops unknown keys), never a client.
    dialect = session.get_bind().dialect
    typedef = ", ".join(f'"{c}" {table.c[c].type.compile(dialect=dialect)}' for c in cols)
    source = f"jsonb_to_recordset(cast(:rows as jsonb)) as r({typedef})"
    names = ", ".join(f'"{c}"' for c in cols)
    if insert:
        sql = f'insert into "{table.name}" ({names}) select {names} from {source}'  # noqa: S608
    else:
        sets = ", ".join(f'"{c}" = r."{c}"' for c in cols if c != "id")
        sql = f'update "{table.name}" as t set {sets} from {source} where t.id = r.id'  # noqa: S608
    return sa.text(sql)


def _delete(session: Session, registry: Registry, actor: Actor, tp: TablePlan,
            history: list[dict[str, Any]], source: str) -> int:
    st, ids = tp.st, sorted(tp.deletes)
    roots: dict[uuid.UUID, uuid.UUID | None] = {}
    if st.scope_key:
        key = st.field_for(st.scope_key)
        for uid in ids:
            val = tp.existing[uid].get(key) if key else None
            roots[uid] = uuid.UUID(val) if val else None
    groups = (registry.scope_group(session, [r for r in roots.values() if r])
              if registry.scope_group and roots else {})
    rows = [{"table_name": st.name, "record_id": uid, "scope_id": roots.get(uid),
             "scope_group_id": groups.get(roots[uid]) if roots.get(uid) else None,
             "user_id": actor.user_id, "device_id": actor.device_id} for uid in ids]
    session.execute(pg_insert(tombstones).on_conflict_do_nothing(), rows)
    session.execute(sa.delete(st.table).where(st.table.c.id.in_(ids)))
    for uid in ids:
        history.append(_revision(actor, st.name, uid, "delete", tp.existing[uid], None, source))
    return len(ids)


def _storable(value: Any) -> Any:
    """JSON that PostgreSQL can store: NUL characters are kept visibly as the text "\\u0000"."""
    if isinstance(value, str):
        return value.replace("\x00", "\\u0000")
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def quarantine_rejects(session: Session, registry: Registry, actor: Actor,
                       rejected: list[dict[str, Any]]) -> None:
    """Keep every rejected record with who sent it, when, and why: nothing is dropped."""
    if not rejected:
        return
    rows = []
    for r in rejected:
        st = registry.get(r["table"])
        raw = r["raw"] if isinstance(r["raw"], dict) else {"value": r["raw"]}
        root = None
        if st is not None and st.scope_key:
            fname = st.field_for(st.scope_key) or "id"
            try:
                root = uuid.UUID(str(raw.get(fname)))
            except ValueError:
                root = None
        rows.append({"id": uuid.uuid4(), "table_name": _storable(str(r["table"]))[:100],
                     "record_id": _storable(str(r["id"]))[:100], "visit_id": root,
                     "op": r["op"], "raw": _storable(raw), "errors": _storable(r["errors"]),
                     "user_id": actor.user_id,
                     "device_id": actor.device_id})
    session.execute(sa.insert(quarantine), rows)
