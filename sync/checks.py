"""The checks of a push, in order: load (and lock) what exists, validate, server values for
new rows, relations, conflicts. Each drops what fails into the plan's rejections."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.orm import Session

from sync.binds import ids_param
from sync.fields import canonical
from sync.registry import Actor, Registry
from sync.store import as_int, quarantine, revisions, tombstones, xid

if TYPE_CHECKING:
    from sync.push import Id, Plan, TablePlan


def load_existing(session: Session, registry: Registry, actor: Actor, plan: Plan) -> None:
    """The server's version of every pushed id, locked until the push commits.

    One round trip finds which pushed ids exist as rows or tombstones, in every table;
    only the rows found are then selected (and locked). A push of new records costs one
    statement, not two per table."""
    wanted = {name: [*tp.records, *(tp.deletes - tp.records.keys())]
              for name, tp in plan.tables.items()}
    probes = []
    for st in registry.tables:
        ids = wanted.get(st.name)
        if ids:
            param = ids_param(f"ids_{st.name}", ids)
            probes.append(sa.select(sa.literal(st.name).label("t"), st.table.c.id,
                                    sa.literal("row").label("kind"))
                          .where(st.table.c.id == sa.any_(param)))
            probes.append(sa.select(tombstones.c.table_name, tombstones.c.record_id,
                                    sa.literal("dead"))
                          .where(tombstones.c.table_name == st.name,
                                 tombstones.c.record_id == sa.any_(param)))
    if not probes:
        return
    # The user's pending rejections of these records (superseded if they are accepted now).
    # The ids go as a uuid[] (psycopg sends it binary) cast to text[] by PostgreSQL: a list
    # of strings would be quoted one by one in Python.
    every = ids_param("every", [u for ids in wanted.values() for u in ids])
    q = quarantine.c
    probes.append(sa.select(q.table_name, sa.cast(q.record_id, sa.Uuid), sa.literal("pending"))
                  .where(q.status == "pending", q.user_id == actor.user_id,
                         q.record_id == sa.any_(sa.cast(every, ARRAY(sa.Text())))))
    hits: dict[str, dict[str, set[Id]]] = {"row": {}, "dead": {}, "pending": {}}
    for name, rid, kind in session.execute(sa.union_all(*probes)):
        hits[kind].setdefault(name, set()).add(str(rid))
    plan.pending = {(name, uid) for name, ids in hits["pending"].items() for uid in ids}
    for st in registry.tables:  # registry order, ids sorted: one lock order for every push
        tp = plan.tables.get(st.name)
        if tp is not None:
            _load_table(session, actor, tp, plan, hits["row"].get(st.name, set()),
                        hits["dead"].get(st.name, set()))


def _load_table(session: Session, actor: Actor, tp: TablePlan, plan: Plan,
                found: set[Id], dead: set[Id]) -> None:
    st = tp.st
    # Lock in id order (tables in registry order): no two pushes wait on each other in a
    # cycle. Updates take FOR NO KEY UPDATE, which does not block the FOR KEY SHARE lock a
    # concurrent push's child INSERT takes on its parent; only deletes need FOR UPDATE.
    rows = []
    upd = sorted(i for i in found if i not in tp.deletes)
    gone = sorted(i for i in found if i in tp.deletes)
    if upd or gone:  # a push of new records selects nothing here
        base = (sa.select(*st.columns(), as_int(st.xid()).label("_xid"),
                          st.where_scope(actor).label("_ok")).order_by(st.table.c.id))
    if upd:
        rows += session.execute(base.where(st.table.c.id == sa.any_(ids_param("ids", upd)))
                                .with_for_update(of=st.table, key_share=True)
                                ).mappings().all()  # FOR NO KEY UPDATE
    if gone:
        rows += session.execute(base.where(st.table.c.id == sa.any_(ids_param("ids", gone)))
                                .with_for_update(of=st.table)).mappings().all()
    hidden: set[Id] = set()
    for row in rows:
        uid = str(row["id"])
        if not row["_ok"]:
            hidden.add(uid)
            continue
        tp.existing[uid] = st.codec.to_raw(row)
        tp.stamps[uid] = row["_xid"]
    tp.deletes -= hidden | dead  # unknown, invisible or already deleted: nothing to do
    tp.deletes &= set(tp.existing)
    for uid in list(tp.records):
        if uid in hidden:
            plan.drop(tp, uid, {"id": ["This id belongs to a record you cannot write."]})
        elif uid in dead:
            plan.drop(tp, uid, {"id": ["This record was deleted on the server."]})


def validate(plan: Plan) -> None:
    """A new record is validated whole (defaults filled in), an existing one in its edits."""
    for tp in plan.tables.values():
        st = tp.st
        key_field = None  # the field a new record must name its scope root in
        if st.scope_key and st.scope_key != "id":
            key_field = st.field_for(st.scope_key)
            assert key_field is not None, f"{st.name}: no field holds {st.scope_key}"
        existing = tp.existing  # empty for a push of new records: no lookup per record
        for uid, known in list(tp.records.items()):
            exists = bool(existing) and uid in existing
            names = tp.edits.get(uid) if exists else None
            data = ({**known} if names is None else
                    {k: v for k, v in known.items() if k in names})
            sid = data["id"] = tp.originals[uid]["id"]  # canonical: str(uid) as sent
            if st.validate is None:
                clean, errors = data, None
            else:
                clean, errors = st.validate(data, exists)
            if errors or clean is None:
                plan.drop(tp, uid, errors or {"_schema": ["Invalid."]})
                continue
            clean["id"] = sid
            refused = st.check(existing.get(uid) if exists else None, clean) if st.check \
                else None
            if refused:
                plan.drop(tp, uid, refused)
                continue
            if key_field is not None and not exists and clean.get(key_field) is None:
                plan.drop(tp, uid, {key_field: ["Required for synced records."]})
                continue
            tp.upserts[uid] = clean


def check_inserts(session: Session, actor: Actor, plan: Plan) -> None:
    """Server-set values of new rows (e.g. the team of a new visit), or their refusal."""
    for tp in plan.tables.values():
        if tp.st.on_insert is None:
            continue
        for uid, clean in list(tp.upserts.items()):
            if uid in tp.existing:
                continue
            values = tp.st.on_insert(session, actor, clean)
            if isinstance(values, str):
                plan.drop(tp, uid, {"id": [values]})
            else:
                tp.server_values[uid] = values


def check_references(session: Session, registry: Registry, actor: Actor, plan: Plan) -> None:
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
            # Canonical ids (the schemas' UuidText), as the plan's keys are.
            wanted = {r for r in {c.get(fname) for c in tp.upserts.values()} if r}
            ttp = plan.tables.get(target.name)
            going = ttp.deletes if ttp is not None else set()
            accepted = set(ttp.upserts) - going if ttp is not None else set()
            if not wanted - accepted:
                continue  # all point at records accepted in this push (or none at all)
            visible = ({str(i) for i in session.scalars(sa.select(target.table.c.id).where(
                target.table.c.id == sa.any_(ids_param("ids", sorted(wanted - accepted))),
                target.where_ref_scope(actor)))} | accepted) - going
            for uid, clean in list(tp.upserts.items()):
                ref = clean.get(fname)
                if ref and ref not in visible:
                    plan.drop(tp, uid, {fname: [f"No {target.name} record {ref} that you "
                                                "can access."]})
    return len(plan.rejected) - before


def _check_delete_references(session: Session, plan: Plan, tp: TablePlan) -> None:
    if not tp.deletes:
        return
    for table in tp.st.table.metadata.tables.values():
        for fk in table.foreign_keys:
            if fk.column.table is not tp.st.table or (fk.ondelete or "").upper() == "CASCADE":
                continue  # rows that go with their parent (e.g. read models) never block
            other = plan.tables.get(table.name)
            going = other.deletes if other is not None else set()
            pk = next(iter(table.primary_key.columns))
            rows = session.execute(sa.select(fk.parent, pk).where(
                fk.parent == sa.any_(ids_param("ids", sorted(tp.deletes))))).all()
            for parent, child in rows:
                parent_id, child_id = str(parent), str(child)
                if child_id not in going and parent_id in tp.deletes:
                    tp.deletes.discard(parent_id)
                    plan.reject(tp.st.name, parent_id, {"id": [
                        f"Still referenced by {table.name} {child_id}; delete that first."]},
                        {"id": str(parent_id)}, "delete")


def conflicts(session: Session, actor: Actor, plan: Plan,
              cursor: int | None) -> list[dict[str, Any]]:
    """Records someone else changed at or after the cursor to values other than pushed.

    A WatermelonDB record (`_changed` given) conflicts only in the columns it edited, and
    only where the server changed that column since the cursor too: its other columns are
    copies of what it pulled, never written, so they cannot conflict."""
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
        last = _revision_at(session, tp.st.name, recent, newest=True)
        mine = _only_mine(session, tp, recent, actor, cursor, last)
        merge = [u for u in recent if u not in mine and u in tp.upserts
                 and tp.edits.get(u) is not None and cursor is not None]
        bases = _bases(session, tp, merge, cursor, last) if merge else {}
        for uid in recent:
            if uid in mine or (uid in bases and _merges(tp, uid, bases[uid])):
                continue
            out.append({"table": tp.st.name, "id": str(uid), "server_record": tp.existing[uid]})
    return out


def _only_mine(session: Session, tp: TablePlan, ids: list[Id], actor: Actor,
               cursor: int | None, last: dict[Id, tuple[Any, int, Any]]) -> set[Id]:
    """Records whose every change since the cursor is this device's own (e.g. a retry after
    a lost answer): the device knows them, nothing to conflict with."""
    if actor.device_id is None:
        return set()
    query = (sa.select(revisions.c.record_id, sa.func.bool_and(
        sa.func.coalesce(revisions.c.device_id == actor.device_id, False)))
        .where(revisions.c.table_name == tp.st.name,
               revisions.c.record_id == sa.any_(ids_param("ids", ids)))
        .group_by(revisions.c.record_id))
    if cursor is not None:
        query = query.where(revisions.c.change_xid >= xid(cursor))
    mine = {str(rid) for rid, all_mine in session.execute(query) if all_mine}
    return {rid for rid in mine if rid in last and last[rid][0] == actor.device_id
            and last[rid][1] == tp.stamps[rid]}


def _revision_at(session: Session, table: str, ids: list[Id], newest: bool,
                 since: int | None = None) -> dict[Id, tuple[Any, int, Any]]:
    """The newest (or the first since `since`) revision per record: device, xid, before."""
    query = (sa.select(revisions.c.record_id, revisions.c.device_id,
                       as_int(revisions.c.change_xid), revisions.c.before)
             .where(revisions.c.table_name == table,
                    revisions.c.record_id == sa.any_(ids_param("ids", ids)))
             .order_by(revisions.c.record_id,
                       revisions.c.id.desc() if newest else revisions.c.id.asc())
             .ext(distinct_on(revisions.c.record_id)))
    if since is not None:
        query = query.where(revisions.c.change_xid >= xid(since))
    return {str(rid): (dev, stamp, before)
            for rid, dev, stamp, before in session.execute(query)}


def _bases(session: Session, tp: TablePlan, ids: list[Id], cursor: int,
           last: dict[Id, tuple[Any, int, Any]]) -> dict[Id, dict[str, Any]]:
    """The server's state of each record at the cursor, where the history proves it: the
    `before` of its first revision since the cursor, provided its newest revision is the
    row's current state (a write that left no revision makes the base unknown)."""
    first = _revision_at(session, tp.st.name, ids, newest=False, since=cursor)
    out = {}
    for uid, (_dev, _stamp, before) in first.items():
        newest = last.get(uid)
        if before is not None and newest is not None and newest[1] == tp.stamps[uid]:
            out[uid] = before
    return out


def _merges(tp: TablePlan, uid: Id, base: dict[str, Any]) -> bool:
    """Whether the phone's edits and the server's changes since the cursor touch different
    columns (or agree): then the edits apply over the server's version."""
    codec, server, pushed = tp.st.codec, tp.existing[uid], tp.upserts[uid]
    for name, value in pushed.items():
        f = codec.by_name.get(name)
        if f is None or name == "id":
            continue
        mine, theirs, was = (canonical(f.kind, v) for v in (value, server.get(name),
                                                            base.get(name)))
        if mine != theirs and theirs != was:
            return False
    return True
