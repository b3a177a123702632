"""The write half of a push: rows, tombstones, revision history and the quarantine."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from sync.registry import Actor, Registry
from sync.store import quarantine, revisions, tombstones

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
        session.execute(sa.insert(revisions), history)
    return {k: v for k, v in counts.items() if any(v.values())}


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
    for rows in inserts.values():
        for i in range(0, len(rows), 1000):
            session.execute(sa.insert(st.table), rows[i:i + 1000])
    for cols, rows in updates.items():
        stmt = (sa.update(st.table).where(st.table.c.id == sa.bindparam("b_id"))
                .values({c: sa.bindparam(f"b_{c}") for c in cols if c != "id"}))
        session.execute(stmt, [{f"b_{k}": v for k, v in r.items()} for r in rows])
    return {"created": n_new, "updated": n_upd, "deleted": 0}


def _delete(session: Session, registry: Registry, actor: Actor, tp: TablePlan,
            history: list[dict[str, Any]], source: str) -> int:
    st, ids = tp.st, sorted(tp.deletes)
    roots: dict[uuid.UUID, uuid.UUID | None] = {}
    if st.scope_key:
        key = next((f.name for f in st.fields if f.db == st.scope_key), None)
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
            fname = next((f.name for f in st.fields if f.db == st.scope_key), "id")
            try:
                root = uuid.UUID(str(raw.get(fname)))
            except ValueError:
                root = None
        rows.append({"id": uuid.uuid4(), "table_name": str(r["table"])[:100],
                     "record_id": str(r["id"])[:100], "visit_id": root, "op": r["op"],
                     "raw": raw, "errors": r["errors"], "user_id": actor.user_id,
                     "device_id": actor.device_id})
    session.execute(sa.insert(quarantine), rows)
