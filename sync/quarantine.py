"""The quarantine: every rejected record is kept, as sent, for a reviewer of its group.

WatermelonDB sends a rejected record again on every sync until it is accepted, so the
quarantine keeps one pending row per device, record and content (counting the resends),
and a resend of content a reviewer already resolved is counted on that row, not reopened.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sync.registry import Actor, Registry
from sync.values import storable

# The content hash is computed by PostgreSQL (migration 0005 backfills with the same
# expression): the raw record as jsonb text, without WatermelonDB's bookkeeping fields.
_KEEP = sa.text("""
with incoming as (
    select distinct on (r.table_name, r.record_id, h.hash) r.*, h.hash
    from jsonb_to_recordset(cast(:rows as jsonb)) as r(id uuid, table_name text,
        record_id text, visit_id uuid, op text, raw jsonb, errors jsonb, user_id uuid,
        device_id uuid, scope_group_id uuid)
    cross join lateral (select encode(sha256(convert_to(
        (r.raw - '_status' - '_changed')::text, 'UTF8')), 'hex') as hash) h
), seen as (
    update sync_quarantine q set times_received = q.times_received + 1,
        last_received_at = now()
    from incoming i
    where q.status <> 'pending' and q.device_id = i.device_id
        and q.table_name = i.table_name and q.record_id = i.record_id
        and q.content_hash = i.hash
    returning q.table_name, q.record_id, q.status, q.id
), kept as (
    insert into sync_quarantine (id, table_name, record_id, visit_id, op, raw, errors,
        user_id, device_id, scope_group_id, content_hash)
    select i.id, i.table_name, i.record_id, i.visit_id, i.op, i.raw, i.errors, i.user_id,
        i.device_id, i.scope_group_id, i.hash
    from incoming i where not exists (
        select 1 from sync_quarantine q where q.status <> 'pending'
        and q.device_id = i.device_id and q.table_name = i.table_name
        and q.record_id = i.record_id and q.content_hash = i.hash)
    on conflict (device_id, table_name, record_id, content_hash) where status = 'pending'
    do update set times_received = sync_quarantine.times_received + 1,
        last_received_at = now(), errors = excluded.errors
    returning table_name, record_id, status, id
)
select * from seen union all select * from kept
""")


def quarantine_rejects(session: Session, registry: Registry, actor: Actor,
                       rejected: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """Keep every rejected record with who sent it, when, why and who reviews it.

    Returns a note per (table, id) for the push's answer."""
    if not rejected:
        return {}
    rows, groups = [], {}
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
        if root not in groups:
            groups[root] = (registry.review_group(session, actor, root)
                            if registry.review_group is not None else None)
        rows.append({"id": str(uuid.uuid4()), "table_name": storable(str(r["table"]))[:100],
                     "record_id": storable(str(r["id"]))[:100],
                     "visit_id": None if root is None else str(root), "op": r["op"],
                     "raw": storable(raw), "errors": storable(r["errors"]),
                     "user_id": str(actor.user_id),
                     "device_id": None if actor.device_id is None else str(actor.device_id),
                     "scope_group_id": None if groups[root] is None else str(groups[root])})
    notes = {}
    for table, rid, status, qid in session.execute(_KEEP, {"rows": json.dumps(rows)}):
        notes[(table, rid)] = (f"kept for review ({qid})" if status == "pending" else
                               f"already {status} by a reviewer ({qid}); not kept again")
    return notes
