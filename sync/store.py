"""The engine's own tables (created by migration 0003) and the commit-safe horizon."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import UserDefinedType

MAX_CURSOR = 2**53 - 1


class XID8(UserDefinedType[str]):
    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


# One instance of each type: SQLAlchemy memoizes a type's cache key per instance, and
# computing it anew for every parameter of a statement costs more than running a poll.
_XID8, _TEXT, _BIGINT = XID8(), sa.Text(), sa.BigInteger()


def xid(value: int) -> ColumnElement[Any]:
    """An xid8 parameter (cursors are integers; xid8 is compared in SQL)."""
    return sa.cast(sa.literal(str(int(value)), _TEXT), _XID8)


def xid_param(name: str) -> ColumnElement[Any]:
    """A named xid8 parameter (its value: the integer as a string) for prebuilt statements."""
    return sa.cast(sa.bindparam(name, type_=_TEXT), _XID8)


def as_int(column: ColumnElement[Any]) -> ColumnElement[int]:
    return sa.cast(sa.cast(column, _TEXT), _BIGINT)


meta = sa.MetaData()
_now = sa.text("now()")
_xid = sa.text("pg_current_xact_id()")

tombstones = sa.Table(
    "sync_tombstones", meta,
    sa.Column("table_name", sa.String(60), primary_key=True),
    sa.Column("record_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("scope_id", UUID(as_uuid=True)),
    sa.Column("scope_group_id", UUID(as_uuid=True)),
    sa.Column("user_id", UUID(as_uuid=True)),
    sa.Column("device_id", UUID(as_uuid=True)),
    sa.Column("deleted_at", sa.DateTime(timezone=True), server_default=_now),
    sa.Column("change_xid", XID8(), server_default=_xid),
)

revisions = sa.Table(
    "sync_revisions", meta,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(60)),
    sa.Column("record_id", UUID(as_uuid=True)),
    sa.Column("op", sa.String(10)),
    sa.Column("before", JSONB),
    sa.Column("after", JSONB),
    sa.Column("user_id", UUID(as_uuid=True)),
    sa.Column("device_id", UUID(as_uuid=True)),
    sa.Column("source", sa.String(20)),
    sa.Column("quarantine_id", UUID(as_uuid=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now),
    sa.Column("change_xid", XID8(), server_default=_xid),
    # Columns the phone sent that the server does not know, verbatim (never written).
    sa.Column("ignored", JSONB),
)

quarantine = sa.Table(
    "sync_quarantine", meta,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("table_name", sa.String(100)),
    sa.Column("record_id", sa.String(100)),
    sa.Column("visit_id", UUID(as_uuid=True)),
    sa.Column("op", sa.String(10)),
    sa.Column("raw", JSONB),
    sa.Column("errors", JSONB),
    sa.Column("user_id", UUID(as_uuid=True)),
    sa.Column("device_id", UUID(as_uuid=True)),
    sa.Column("received_at", sa.DateTime(timezone=True), server_default=_now),
    sa.Column("status", sa.String(20), server_default="pending"),
    sa.Column("resolved_by_id", UUID(as_uuid=True)),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Column("resolution", JSONB),
    # Who reviews it (e.g. the team), what it holds (one pending row per device, record and
    # content) and how often the phone sent it again.
    sa.Column("scope_group_id", UUID(as_uuid=True)),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("times_received", sa.Integer, server_default="1"),
    sa.Column("last_received_at", sa.DateTime(timezone=True), server_default=_now),
)

idempotency = sa.Table(
    "sync_idempotency", meta,
    sa.Column("device_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request_hash", sa.String(64)),
    sa.Column("status", sa.Integer),
    sa.Column("body", JSONB),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now),
)

scope_changes = sa.Table(
    "sync_scope_changes", meta,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20)),
    sa.Column("user_id", UUID(as_uuid=True)),
    sa.Column("team_id", UUID(as_uuid=True)),
    sa.Column("visit_id", UUID(as_uuid=True)),
    sa.Column("old_team_id", UUID(as_uuid=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now),
    sa.Column("change_xid", XID8(), server_default=_xid),
)


# Per device: its last successful push (lost scope roots are held back until then), and its
# paged pull under way (sync/pull.py): the cursor of the last page answered with has_more and
# the cursor given with it, the cursor the device had before the first page (NULL: a first
# sync) and the first page's horizon, where the pages end. Cursors as internal xids.
devices = sa.Table(
    "sync_devices", meta,
    sa.Column("device_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("last_push_xid", XID8()),
    sa.Column("last_push_at", sa.DateTime(timezone=True)),
    sa.Column("pull_from", sa.BigInteger()),
    sa.Column("pull_next", sa.BigInteger()),
    sa.Column("pull_origin", sa.BigInteger()),
    sa.Column("pull_bound", sa.BigInteger()),
)

# Scope roots a device lost while it may still hold unsent edits of them: their deletes go
# down only once the device pushed after the loss (or the hold expired).
holds = sa.Table(
    "sync_scope_holds", meta,
    sa.Column("device_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("root_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("from_xid", XID8()),  # the cursor of the pull that found the loss
    sa.Column("lost_xid", XID8()),  # the change that took the root away
    sa.Column("held_at", sa.DateTime(timezone=True), server_default=_now),
    sa.Column("released_hi", XID8()),  # the timestamp of the pull that sent the outcome
    sa.Column("regained", sa.Boolean, server_default=sa.false()),  # outcome: access came back
)

# Engine state: `pruned_below` is the xid under which tombstones and the scope log were
# pruned; an older cursor cannot be answered incrementally (replacement instead).
state = sa.Table(
    "sync_state", meta,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.BigInteger),
    sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now),
)


def horizon(session: Session, snapshot: str | None = None) -> int:
    """H: every transaction that may write our rows and is below H has finished.

    This is pg_snapshot_xmin(pg_current_snapshot()) ignoring the transactions we can see
    belong to *other* databases: xids are cluster-wide, and another database's open
    transaction cannot write our rows, so it must not hold our cursor back. A running xid
    whose owner we cannot see (no privilege, prepared transaction) still counts. The snapshot
    is taken first and the owners read after it: a transaction starting in between has an
    xid at or above the snapshot's xmax, which bounds H anyway. `snapshot`: the text of
    pg_current_snapshot() taken by an earlier statement of this transaction (saves a trip).
    """
    snap = snapshot or session.scalar(sa.text("select pg_current_snapshot()::text"))
    _xmin, xmax, xip = snap.split(":")
    running = [int(x) for x in xip.split(",") if x]
    if not running:
        return int(xmax)
    session.execute(sa.text("select pg_stat_clear_snapshot()"))
    foreign = {int(x) for x in session.scalars(sa.text(
        "select backend_xid::text from pg_stat_activity "
        "where datname <> current_database() and backend_xid is not null "
        "union all select transaction::text from pg_prepared_xacts "
        "where database <> current_database()"))}
    # A transaction that finished since the snapshot no longer holds H back: the pull's
    # later statements (READ COMMITTED) see its rows. One still running, or unknown, does.
    finished = {int(x) for x in session.scalars(sa.text(
        "select x from unnest(cast(:xids as bigint[])) as x "
        "where pg_xact_status(cast(cast(x as text) as xid8)) in ('committed', 'aborted')"),
        {"xids": running})}
    mine = [x for x in running if x & 0xFFFFFFFF not in foreign and x not in finished]
    return min(mine) if mine else int(xmax)


def horizon_status(session: Session) -> dict[str, Any]:
    """The horizon and what holds it back (open writing transactions of this database)."""
    h = horizon(session)
    row = session.execute(sa.text(
        "select pg_snapshot_xmax(pg_current_snapshot())::text as xmax, count(*) as n, "
        "extract(epoch from now() - min(xact_start)) as age, "
        "(array_agg(pid order by xact_start))[1] as pid from pg_stat_activity "
        "where datname = current_database() and backend_xid is not null "
        "and pid <> pg_backend_pid()")).one()
    return {"horizon": h, "lag_xids": max(0, int(row.xmax) - h),
            "open_writing_transactions": int(row.n),
            "oldest_transaction_age_seconds": None if row.age is None else float(row.age),
            "oldest_transaction_pid": row.pid}
