"""Push: validate every record, detect conflicts, then apply all accepted records at once.

A pushed record changes only the columns it carries; for an existing record the phone's
edits are the columns WatermelonDB names in `_changed` (`_status: "updated"`), else every
column it sent. Unknown columns are ignored (kept in the revision, named in the answer). A
record the server cannot take is rejected alone into the quarantine.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sync import checks
from sync.apply import apply_plan, json_param, supersede_quarantined
from sync.quarantine import quarantine_rejects
from sync.registry import Actor, Registry, SyncTable
from sync.store import horizon
from sync.values import CANONICAL_UUID, JSON_SCALARS, problem, storable

CANONICAL = "Send ids as lowercase canonical UUIDs (8-4-4-4-12 hex digits)."
KINDS = ("created", "updated", "deleted")


class SyncError(Exception):
    """A push or pull the engine refuses as a whole (rendered as problem+json by the caller)."""

    def __init__(self, status: int, slug: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail, self.extra = status, slug, detail, extra


# A record's id in a plan: its canonical text (lowercase 8-4-4-4-12), the only form a push
# accepts, one to one with its UUID (and sorted alike); str keys hash and compare in C.
Id = str


@dataclass
class TablePlan:
    """What one table's part of a push does."""

    st: SyncTable
    records: dict[Id, dict[str, Any]] = field(default_factory=dict)  # known columns
    edits: dict[Id, set[str]] = field(default_factory=dict)  # _changed (else: all)
    originals: dict[Id, Any] = field(default_factory=dict)  # as sent
    ignored: dict[Id, dict[str, Any]] = field(default_factory=dict)  # unknown columns
    upserts: dict[Id, dict[str, Any]] = field(default_factory=dict)  # id -> clean raw
    deletes: set[Id] = field(default_factory=set)
    existing: dict[Id, dict[str, Any]] = field(default_factory=dict)  # id -> server raw
    stamps: dict[Id, int] = field(default_factory=dict)
    server_values: dict[Id, dict[str, Any]] = field(default_factory=dict)
    noop: set[Id] = field(default_factory=set)


@dataclass
class Plan:
    tables: dict[str, TablePlan] = field(default_factory=dict)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # (table, id) of records this user pushed before that wait in the quarantine.
    pending: set[tuple[str, Id]] = field(default_factory=set)
    # Every record came in a `created` list (no `updated`, no `deleted`).
    created_only: bool = True

    def reject(self, table: str, rid: Any, errors: Any, raw: Any, op: str) -> None:
        self.rejected.append({"table": table, "id": None if rid is None else str(rid),
                              "errors": errors, "raw": raw, "op": op})

    def drop(self, tp: TablePlan, uid: Id, errors: Any) -> None:
        """Reject a record that passed parsing (its raw as sent goes to the quarantine)."""
        for held in (tp.records, tp.upserts, tp.edits, tp.ignored):
            held.pop(uid, None)
        self.reject(tp.st.name, uid, errors, tp.originals.pop(uid, None), "upsert")


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def push(session: Session, registry: Registry, actor: Actor, changes: Any, *,
         cursor: int | Callable[[], int | None] | None, max_records: int,
         key: str | None = None, request_hash: str = "", source: str = "sync",
         force: bool = False, keep_rejects: bool = True, origin: uuid.UUID | None = None,
         assume_new: bool = False, plain: bool = False) -> dict[str, Any]:
    """Apply a push in the caller's transaction; returns the 200 body or raises SyncError.

    `origin` is the device recorded as having created new rows (default: the actor's).
    `cursor` may be a function, called only when the push needs it (to find conflicts).

    `assume_new`: a push whose records all come in `created` lists (a phone's new records,
    the usual push) skips looking for existing rows: its write finds out (primary keys,
    tombstones). If one exists or was deleted, NotNew is raised: the caller rolls back what
    the attempt wrote and pushes again without `assume_new` (the full path decides).

    `plain`: no string of `changes` holds a NUL or a lone surrogate and no number is
    out of range or not finite (the caller's JSON parser knows); its values are then only
    checked for nesting."""
    if key and actor.device_id is not None:
        stored = _stored(session, actor.device_id, key)
        if stored is not None:
            if stored.request_hash != request_hash:
                raise SyncError(422, "validation-error",
                                "This Idempotency-Key was used for a different request.")
            return dict(stored.body)
    plan = parse(registry, changes, max_records, plain)
    fresh = assume_new and plan.created_only
    since = None
    if not fresh:
        since = cursor() if callable(cursor) else cursor
        if since is not None and since > horizon(session):
            since = None  # not a cursor we issued: treat every server change as unseen
        checks.load_existing(session, registry, actor, plan)
    checks.validate(plan)
    checks.check_inserts(session, actor, plan)  # before references: a refused parent refuses kids
    checks.check_references(session, registry, actor, plan)
    if not force and not fresh:  # a fresh push has no existing record to conflict with
        conflicts = checks.conflicts(session, actor, plan, since)
        if conflicts:
            raise SyncError(409, "sync-conflict",
                            f"{len(conflicts)} record(s) changed on the server since your last "
                            "pull; pull, then push again.", conflicts=conflicts)
    # A fresh push that rejected nothing knows its answer before its write: the answer kept
    # for its Idempotency-Key goes in the same statement.
    keep = bool(key) and actor.device_id is not None
    early = keep and fresh and not plan.rejected
    key_params = {"key_device": str(actor.device_id), "key": key, "key_hash": request_hash}
    also = (_KEY_ROW, lambda counts: json_param(storable(_answer(plan, counts, {}))),
            key_params) if early else None
    counts = apply_plan(session, registry, actor, plan, source,
                        origin if origin is not None else actor.device_id,
                        pushed_by=actor.device_id if source == "sync" else None, fresh=fresh,
                        also=also)
    if registry.on_change is not None and counts:
        registry.on_change(session, _touched_roots(plan))
    supersede_quarantined(session, actor, plan)
    notes: dict[tuple[str, str], str] = {}
    if keep_rejects:
        notes = quarantine_rejects(session, registry, actor, plan.rejected)
    body = _answer(plan, counts, notes)
    if keep and not early:
        session.execute(_KEY_KEEP, {**key_params, "rows": json_param(storable(body))})
    return body


def _answer(plan: Plan, counts: dict[str, Any],
            notes: dict[tuple[str, str], str]) -> dict[str, Any]:
    rejected_ids: dict[str, list[str]] = {}
    rejected = []
    for r in plan.rejected:
        rejected_ids.setdefault(r["table"], []).append(r["id"])
        item = {"table": r["table"], "id": r["id"], "errors": r["errors"]}
        note = notes.get((r["table"], r["id"]))
        if note:
            item["quarantine"] = note
        rejected.append(item)
    ignored = {name: sorted({c for cols in tp.ignored.values() for c in cols})
               for name, tp in plan.tables.items() if tp.ignored}
    body: dict[str, Any] = {"experimentalRejectedIds": rejected_ids, "rejected": rejected,
                            "applied": counts}
    if ignored:
        body["ignored_columns"] = ignored
    return storable(body)


def _touched_roots(plan: Plan) -> dict[str, set[uuid.UUID]]:
    """Per table, the scope roots (e.g. visits) whose records this push wrote there, before
    and after."""
    touched: dict[str, set[uuid.UUID]] = {}
    for name, tp in plan.tables.items():
        key = tp.st.field_for(tp.st.scope_key) if tp.st.scope_key else None
        if key is None:
            continue
        noop, upserts = tp.noop, tp.upserts
        # Distinct values first: a push's records share a few roots.
        values = ({clean.get(key) for uid, clean in upserts.items() if uid not in noop}
                  if noop else {clean.get(key) for clean in upserts.values()})
        values.update(row.get(key) for uid, row in tp.existing.items()
                      if uid in tp.deletes or (uid in upserts and uid not in noop))
        roots = {uuid.UUID(str(v)) for v in values if v}
        if roots:
            touched[name] = roots
    return touched


# Every push with an Idempotency-Key runs this: the key's advisory lock (concurrent retries
# of one key wait for each other), then the answer kept for it, read after the lock (a
# function's statements each take a new snapshot): one round trip (migration 0017).
_KEY_CLAIM = sa.text("select request_hash, body from sync_idempotency_claim("
                     ":k, cast(:device as uuid), cast(:key as text))")
# A push's answer kept for its key, its body fed by :rows: a write of the push's statement
# (sync/apply.py) when the answer is known before it, else a statement of its own.
_KEY_ROW = ("insert into sync_idempotency (device_id, key, request_hash, status, body) values"
            " (cast(:key_device as uuid), cast(:key as text), cast(:key_hash as text), 200,"
            " cast(:rows as jsonb))")
_KEY_KEEP = sa.text(_KEY_ROW)


def _stored(session: Session, device_id: uuid.UUID, key: str) -> Any:
    # Serialise concurrent retries of one key: the second waits, then sees the stored result.
    return session.execute(_KEY_CLAIM, {"k": f"{device_id}:{key}", "device": str(device_id),
                                        "key": key}).first()


def parse(registry: Registry, changes: Any, max_records: int, plain: bool = False) -> Plan:
    """Shape checks (whole push) and per-record parsing (rejections); `plain` as in push."""
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
        if group.get("updated") or deletes:
            plan.created_only = False
        if why or st is None:
            for rec in records:
                rid = rec.get("id") if isinstance(rec, dict) else None
                plan.reject(name, rid, {"_table": [why]}, rec, "upsert")
            for rid in deletes:
                plan.reject(name, rid, {"_table": [why]}, {"id": rid}, "delete")
            continue
        tp = plan.tables.setdefault(name, TablePlan(st))
        for rec in records:
            _parse_record(plan, tp, rec, plain)
        for rid in deletes:
            uid, why = _canonical_uuid(rid)
            if uid is None:
                plan.reject(name, rid, {"id": [why]}, {"id": rid}, "delete")
            else:
                tp.deletes.add(uid)
    return plan


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _canonical_uuid(value: Any) -> tuple[Id | None, str | None]:
    """A canonical id as it is, else (None, why). The server answers in canonical form: an
    id sent otherwise would give the phone a twin."""
    if isinstance(value, str) and CANONICAL_UUID.match(value):
        return str(value), None
    return None, ("Not a valid UUID." if _uuid(value) is None else CANONICAL)


def _parse_record(plan: Plan, tp: TablePlan, rec: Any, plain: bool) -> None:
    st = tp.st
    rid = rec.get("id") if isinstance(rec, dict) else None
    uid, why = _canonical_uuid(rid)
    if uid is None:
        plan.reject(st.name, rid, {"id": [why]}, rec, "upsert")
        return
    if uid in tp.records:
        plan.reject(st.name, rid, {"id": ["Sent twice in one push."]}, rec, "upsert")
        return
    pushable = st.pushable
    known = {k: v for k, v in rec.items() if k in pushable}
    unknown = (None if rec.keys() <= st.expected else
               {k: v for k, v in rec.items() if k not in st.expected})
    # Plain values can only be refused for nesting: one C-level scan of their types.
    errors = None if plain and JSON_SCALARS.issuperset(map(type, known.values())) else {
        k: [why] for k, v in known.items() if (why := problem(v))}
    if errors:
        plan.reject(st.name, rid, errors, rec, "upsert")
        return
    changed = rec.get("_changed")
    # WatermelonDB: an "updated" record names the columns edited since the last sync in
    # `_changed`; the other columns are what it last pulled (maybe stale): never written.
    # No entry: every column sent is an edit.
    if rec.get("_status") == "updated" and isinstance(changed, str):
        tp.edits[uid] = set(changed.split(",")) & set(known)
    tp.records[uid] = known
    tp.originals[uid] = rec
    if unknown:
        tp.ignored[uid] = unknown
