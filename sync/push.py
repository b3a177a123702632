"""Push: validate every record, detect conflicts, then apply all accepted records at once."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from sync.apply import _storable, apply_plan, quarantine_rejects
from sync.registry import Actor, Registry, SyncTable
from sync.store import as_int, horizon, idempotency, revisions, tombstones

IGNORED = ("_status", "_changed")
CANONICAL = "Send ids as lowercase canonical UUIDs (8-4-4-4-12 hex digits)."
KINDS = ("created", "updated", "deleted")


class SyncError(Exception):
    """A push or pull the engine refuses as a whole (rendered as problem+json by the caller)."""

    def __init__(self, status: int, slug: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail, self.extra = status, slug, detail, extra


@dataclass
class TablePlan:
    """What one table's part of a push does."""

    st: SyncTable
    upserts: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)  # id -> clean raw
    originals: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    deletes: set[uuid.UUID] = field(default_factory=set)
    existing: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)  # id -> server raw
    stamps: dict[uuid.UUID, int] = field(default_factory=dict)
    server_values: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    noop: set[uuid.UUID] = field(default_factory=set)


@dataclass
class Plan:
    tables: dict[str, TablePlan] = field(default_factory=dict)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, table: str, rid: Any, errors: Any, raw: Any, op: str) -> None:
        self.rejected.append({"table": table, "id": None if rid is None else str(rid),
                              "errors": errors, "raw": raw, "op": op})


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def push(session: Session, registry: Registry, actor: Actor, changes: Any, *,
         cursor: int | None, max_records: int, key: str | None = None,
         request_hash: str = "", source: str = "sync", force: bool = False,
         keep_rejects: bool = True) -> dict[str, Any]:
    """Apply a push in the caller's transaction; returns the 200 body or raises SyncError."""
    if key and actor.device_id is not None:
        stored = _stored(session, actor.device_id, key)
        if stored is not None:
            if stored.request_hash != request_hash:
                raise SyncError(422, "validation-error",
                                "This Idempotency-Key was used for a different request.")
            return dict(stored.body)
    plan = parse(registry, changes, max_records)
    if cursor is not None and cursor > horizon(session):
        cursor = None  # not a cursor we issued: treat every server change as unseen
    for st in registry.tables:
        if st.name in plan.tables:
            _load_existing(session, actor, plan.tables[st.name], plan)
    _check_inserts(session, actor, plan)  # before references: a refused parent refuses kids
    _check_references(session, registry, actor, plan)
    if not force:
        conflicts = _conflicts(session, actor, plan, cursor)
        if conflicts:
            raise SyncError(409, "sync-conflict",
                            f"{len(conflicts)} record(s) changed on the server since your last "
                            "pull; pull, then push again.", conflicts=conflicts)
    counts = apply_plan(session, registry, actor, plan, source)
    if keep_rejects:
        quarantine_rejects(session, registry, actor, plan.rejected)
    rejected_ids: dict[str, list[str]] = {}
    for r in plan.rejected:
        rejected_ids.setdefault(r["table"], []).append(r["id"])
    body = {"experimentalRejectedIds": rejected_ids,
            "rejected": [{k: r[k] for k in ("table", "id", "errors")} for r in plan.rejected],
            "applied": counts}
    if key and actor.device_id is not None:
        session.execute(sa.insert(idempotency).values(
            device_id=actor.device_id, key=key, request_hash=request_hash, status=200,
            body=_storable(body)))
    return body


def _stored(session: Session, device_id: uuid.UUID, key: str) -> Any:
    # Serialise concurrent retries of one key: the second waits, then sees the stored result.
    session.execute(sa.text("select pg_advisory_xact_lock(hashtextextended(:k, 7201))"),
                    {"k": f"{device_id}:{key}"})
    return session.execute(sa.select(idempotency).where(
        idempotency.c.device_id == device_id, idempotency.c.key == key)).first()


def parse(registry: Registry, changes: Any, max_records: int) -> Plan:
    """Shape checks (whole push) and per-record validation (rejections)."""
    if not isinstance(changes, dict):
        raise SyncError(400, "bad-request", "The body must be the changes object.")
    total = 0
    for name, group in changes.items():
        if not isinstance(group, dict) or any(k not in KINDS for k in group) or any(
                not isinstance(v, list) for v in group.values()):
            raise SyncError(400, "bad-request", f"changes.{str(name)[:60]} must be an object of "
                            "created/updated/deleted lists.")
        total += sum(len(v) for v in group.values())
    if total > max_records:
        raise SyncError(413, "payload-too-large", f"A push may carry at most {max_records} "
                        f"records; this one has {total}. Split it.", limit=max_records)
    plan = Plan()
    for name, group in changes.items():
        st = registry.get(name)
        why = ("Unknown table." if st is None else
               "This table is pull-only; it cannot be pushed." if not st.push else None)
        records = group.get("created", []) + group.get("updated", [])
        deletes = group.get("deleted", [])
        if why or st is None:
            for rec in records:
                rid = rec.get("id") if isinstance(rec, dict) else None
                plan.reject(name, rid, {"_table": [why]}, rec, "upsert")
            for rid in deletes:
                plan.reject(name, rid, {"_table": [why]}, {"id": rid}, "delete")
            continue
        tp = plan.tables.setdefault(name, TablePlan(st))
        for rec in records:
            _parse_record(plan, tp, rec)
        for rid in deletes:
            uid = _uuid(rid)
            if uid is None or rid != str(uid):
                plan.reject(name, rid, {"id": ["Not a valid UUID." if uid is None else CANONICAL]},
                            {"id": rid}, "delete")
            else:
                tp.deletes.add(uid)
    return plan


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _parse_record(plan: Plan, tp: TablePlan, rec: Any) -> None:
    st = tp.st
    rid = rec.get("id") if isinstance(rec, dict) else None
    uid = _uuid(rid)
    if uid is None:
        plan.reject(st.name, rid, {"id": ["Not a valid UUID."]}, rec, "upsert")
        return
    if rid != str(uid):  # the server answers in canonical form: the phone would get a twin
        plan.reject(st.name, rid, {"id": [CANONICAL]}, rec, "upsert")
        return
    if uid in tp.upserts:
        plan.reject(st.name, rid, {"id": ["Sent twice in one push."]}, rec, "upsert")
        return
    data = {k: v for k, v in rec.items() if k not in IGNORED and k not in st.server_set}
    clean, errors = st.validate(data) if st.validate else (data, None)
    if errors or clean is None:
        plan.reject(st.name, rid, errors or {"_schema": ["Invalid."]}, rec, "upsert")
        return
    clean["id"] = str(uid)
    if st.scope_key and st.scope_key != "id":
        key_field = st.field_for(st.scope_key)
        assert key_field is not None, f"{st.name}: no field holds {st.scope_key}"
        if clean.get(key_field) is None:
            plan.reject(st.name, rid, {key_field: ["Required for synced records."]}, rec,
                        "upsert")
            return
    tp.upserts[uid] = clean
    tp.originals[uid] = rec


def _drop(plan: Plan, tp: TablePlan, uid: uuid.UUID, errors: Any) -> None:
    rec = tp.originals.pop(uid, None)
    tp.upserts.pop(uid, None)
    plan.reject(tp.st.name, uid, errors, rec, "upsert")


def _load_existing(session: Session, actor: Actor, tp: TablePlan, plan: Plan) -> None:
    st, ids = tp.st, list(tp.upserts) + list(tp.deletes)
    if not ids:
        return
    # Lock the rows (in id order, tables in registry order: no deadlocks between pushes) so a
    # concurrent push touching them waits and then sees the other's change as a conflict.
    query = (sa.select(*st.columns(), as_int(st.xid()).label("_xid"),
                       st.where_scope(actor).label("_ok")).where(st.table.c.id.in_(ids))
             .order_by(st.table.c.id).with_for_update(of=st.table))
    hidden: set[uuid.UUID] = set()
    for row in session.execute(query).mappings():
        uid = uuid.UUID(str(row["id"]))
        if not row["_ok"]:
            hidden.add(uid)
            continue
        tp.existing[uid] = st.codec.to_raw(row)
        tp.stamps[uid] = row["_xid"]
    dead = set(session.scalars(sa.select(tombstones.c.record_id).where(
        tombstones.c.table_name == st.name, tombstones.c.record_id.in_(ids))))
    tp.deletes -= hidden | dead  # unknown, invisible or already deleted: nothing to do
    tp.deletes &= set(tp.existing)
    for uid in list(tp.upserts):
        if uid in hidden:
            _drop(plan, tp, uid, {"id": ["This id belongs to a record you cannot write."]})
        elif uid in dead:
            _drop(plan, tp, uid, {"id": ["This record was deleted on the server."]})


def _check_references(session: Session, registry: Registry, actor: Actor, plan: Plan) -> None:
    """Every relation must point at a record the actor can see (or one accepted here).

    Repeated until nothing more is dropped: a record refused late (e.g. for its second
    relation) must take the records pointing at it along.
    """
    while _reference_pass(session, registry, actor, plan):
        pass
    for tp in plan.tables.values():
        _check_delete_references(session, plan, tp)


def _reference_pass(session: Session, registry: Registry, actor: Actor, plan: Plan) -> int:
    before = len(plan.rejected)
    for st in registry.tables:
        tp = plan.tables.get(st.name)
        if tp is None or not tp.upserts:
            continue
        for column, target in registry.references(st).items():
            fname = st.field_for(column)
            if fname is None:
                continue
            wanted = {uuid.UUID(c[fname]) for c in tp.upserts.values() if c.get(fname)}
            if not wanted:
                continue
            ttp = plan.tables.get(target.name)
            visible = set(session.scalars(sa.select(target.table.c.id).where(
                target.table.c.id.in_(wanted), target.where_ref_scope(actor))))
            if ttp is not None:
                visible = (visible | set(ttp.upserts)) - ttp.deletes
            for uid, clean in list(tp.upserts.items()):
                ref = clean.get(fname)
                if ref and uuid.UUID(ref) not in visible:
                    _drop(plan, tp, uid, {fname: [f"No {target.name} record {ref} that you "
                                                  "can access."]})
    return len(plan.rejected) - before


def _check_delete_references(session: Session, plan: Plan, tp: TablePlan) -> None:
    if not tp.deletes:
        return
    for table in tp.st.table.metadata.tables.values():
        for fk in table.foreign_keys:
            if fk.column.table is not tp.st.table:
                continue
            other = plan.tables.get(table.name)
            going = other.deletes if other is not None else set()
            pk = next(iter(table.primary_key.columns))
            rows = session.execute(sa.select(fk.parent, pk).where(
                fk.parent.in_(tp.deletes))).all()
            for parent_id, child_id in rows:
                if child_id not in going and parent_id in tp.deletes:
                    tp.deletes.discard(parent_id)
                    plan.reject(tp.st.name, parent_id, {"id": [
                        f"Still referenced by {table.name} {child_id}; delete that first."]},
                        {"id": str(parent_id)}, "delete")


def _check_inserts(session: Session, actor: Actor, plan: Plan) -> None:
    for tp in plan.tables.values():
        if tp.st.on_insert is None:
            continue
        for uid, clean in list(tp.upserts.items()):
            if uid in tp.existing:
                continue
            values = tp.st.on_insert(session, actor, clean)
            if isinstance(values, str):
                _drop(plan, tp, uid, {"id": [values]})
            else:
                tp.server_values[uid] = values


def _conflicts(session: Session, actor: Actor, plan: Plan,
               cursor: int | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tp in plan.tables.values():
        touched = [u for u in list(tp.upserts) + list(tp.deletes) if u in tp.existing]
        if not touched:
            continue
        for uid in touched:
            if uid in tp.upserts and tp.st.codec.same(tp.upserts[uid], tp.existing[uid]):
                tp.noop.add(uid)  # an identical replay: nothing to write, no conflict
        recent = [u for u in touched if u not in tp.noop
                  and (cursor is None or tp.stamps[u] >= cursor)]
        if not recent:
            continue
        last = session.execute(
            sa.select(revisions.c.record_id, revisions.c.device_id,
                      as_int(revisions.c.change_xid))
            .where(revisions.c.table_name == tp.st.name, revisions.c.record_id.in_(recent))
            .order_by(revisions.c.record_id, revisions.c.id.desc())
            .ext(distinct_on(revisions.c.record_id))).all()
        mine = {rid for rid, dev, stamp in last
                if dev is not None and dev == actor.device_id and stamp == tp.stamps[rid]}
        for uid in recent:
            if uid not in mine:
                out.append({"table": tp.st.name, "id": str(uid),
                            "server_record": tp.existing[uid]})
    return out
