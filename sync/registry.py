"""What the engine is told: which tables sync, in which direction, and how each is scoped."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from sync.fields import Codec, Field


@dataclass(frozen=True)
class Actor:
    """Who syncs: a user on a device; `context` is opaque to the engine (given to scopes)."""

    user_id: uuid.UUID
    device_id: uuid.UUID | None = None
    context: Any = None


# A WHERE clause over a table: the rows the actor may read and reference.
Scope = Callable[[Actor, sa.Table], ColumnElement[bool]]
# Validates one raw record, whole (partial=False, a new row: defaults filled in) or only the
# fields it carries (partial=True, an existing row): (clean raw, None) or (None, errors).
# "Unset" values (null, '' for strings) are the validator's to resolve: a field with a
# server default or a required one is dropped (kept on update, defaulted on create), any
# other becomes None.
Validator = Callable[[Mapping[str, Any], bool],
                     tuple[dict[str, Any] | None, dict[str, Any] | None]]
# Server-set values for a new row, or an error message when it cannot be created.
OnInsert = Callable[[Session, Actor, dict[str, Any]], "dict[str, Any] | str"]


# WatermelonDB's own keys on a pushed record (read by the push, never stored as columns).
BOOKKEEPING = ("_status", "_changed")


@dataclass
class SyncTable:
    """One synced table."""

    name: str
    table: sa.Table = field(repr=False)
    fields: tuple[Field, ...]
    pull: bool = True
    push: bool = True
    scope: Scope | None = None  # None: every row (reference data)
    ref_scope: Scope | None = None  # rows a pushed record may point at (default: scope)
    scope_key: str | None = None  # column holding the scope root's id ("id" on the root)
    server_set: frozenset[str] = frozenset()  # raw fields sent down, ignored when pushed
    validate: Validator | None = None
    on_insert: OnInsert | None = None
    # A check that needs the server's version (None for a new row): errors, or None.
    check: Callable[[dict[str, Any] | None, dict[str, Any]], dict[str, Any] | None] | None = None
    # The effective change stamp (e.g. greatest of own and parent's); default change_xid.
    change_xid: Callable[[sa.Table], ColumnElement[Any]] | None = None
    # With a custom `change_xid`: the other pulled tables whose stamps it takes. A window in
    # which neither this table nor any of them has a stamped row moves no such stamp, so the
    # table is not asked (empty: always asked).
    stamp_sources: tuple[str, ...] = ()
    # Rows that change and leave the scope (soft-deleted, retired) go down as deleted.
    leave_scope_as_deleted: bool = False
    # An xid8 column set on insert and never updated (None: records after the first pull
    # always come as `updated`).
    created_column: str | None = "created_xid"
    # A uuid column set on insert to the pushing device: a device's own new rows go back to
    # it as `updated`, never `created` (WatermelonDB reports that as a serious bug).
    origin_column: str | None = None
    # Rows of a reference table that scope roots gained by the actor pull in although they
    # did not change and the device does not have them (e.g. the retired template a newly
    # visible visit uses): (actor, table, gained root ids) -> WHERE clause; sent as created.
    with_roots: Callable[[Actor, sa.Table, list[Any]], ColumnElement[bool]] | None = None
    # The database keeps each row's record JSON in a column (`sync.stored`: a trigger and
    # `install`); a pull reads it instead of building it.
    stored_json: bool = False
    codec: Codec = field(init=False)
    # The raw fields a push may write: the codec's, less the id and the server-set ones;
    # and every key a pushed record may carry without being reported as ignored.
    pushable: frozenset[str] = field(init=False, repr=False)
    expected: frozenset[str] = field(init=False, repr=False)
    # Bytes of a row's JSON as this process last sent them (a guess until then): an estimate
    # that sizes page cuts so that few fetched rows are dropped by the exact byte bound.
    row_bytes: float = field(init=False, default=400.0)
    _by_column: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.codec = Codec(self.fields)
        self.pushable = frozenset(self.codec.by_name) - self.server_set - {"id"}
        self.expected = self.pushable | self.server_set | {"id", *BOOKKEEPING}
        self._by_column = {}
        for f in self.fields:  # the first field stored in each column
            self._by_column.setdefault(f.db, f.name)

    def xid(self) -> ColumnElement[Any]:
        return self.change_xid(self.table) if self.change_xid else self.table.c.change_xid

    def is_new(self, cursor: int | None, device_id: uuid.UUID | None = None
               ) -> ColumnElement[bool]:
        """Whether the row is new to the device: created at or after `cursor` (None: first
        sync, all new), and not by this device itself (it has that row already)."""
        from sync.store import xid

        if cursor is None:
            return sa.true()
        if self.created_column is None:
            return sa.false()
        col = sa.literal_column(f'"{self.table.name}"."{self.created_column}"')
        new = col >= xid(cursor)
        if self.origin_column is not None and device_id is not None:
            origin = self.table.c[self.origin_column]
            new = sa.and_(new, origin.is_distinct_from(device_id))
        return new

    def field_for(self, column: str) -> str | None:
        """The (first) raw field stored in database column `column`, or None."""
        return self._by_column.get(column)

    def where_scope(self, actor: Actor) -> ColumnElement[bool]:
        return self.scope(actor, self.table) if self.scope else sa.true()

    def where_ref_scope(self, actor: Actor) -> ColumnElement[bool]:
        fn = self.ref_scope or self.scope
        return fn(actor, self.table) if fn else sa.true()

    def columns(self) -> list[ColumnElement[Any]]:
        """The select list producing raw values in SQL (what `codec.to_raw` reads).

        PostgreSQL formats ids, times (integer ms), JSON text and points far faster than
        Python would, row by row.
        """
        from geoalchemy2 import Geometry

        cols: list[ColumnElement[Any]] = []
        for f in self.fields:
            c = self.table.c[f.db]
            if f.kind == "lat":
                expr: ColumnElement[Any] = sa.func.ST_Y(sa.cast(c, Geometry))
            elif f.kind == "lng":
                expr = sa.func.ST_X(sa.cast(c, Geometry))
            elif f.kind in ("uuid", "json"):
                expr = sa.cast(c, sa.Text)
            elif f.kind == "time":
                expr = sa.cast(sa.func.floor(sa.extract("epoch", c) * 1000), sa.BigInteger)
            else:
                expr = c
            cols.append(expr.label(f.name))
        return cols


@dataclass
class Registry:
    """The synced tables in dependency order (parents before children)."""

    tables: list[SyncTable]
    # Scope roots (e.g. visits) whose visibility changed for the actor in [lo, hi): rows of
    # (root id, xid of the change, +1 gained / -1 lost / 0 neither).
    scope_changes: Callable[[Actor, int, int], sa.Select[Any]] | None = None
    # Which tombstones the actor may receive (their scope_id / scope_group_id columns).
    tombstone_visible: Callable[[Actor, sa.Table], ColumnElement[bool]] | None = None
    # The scope roots' groups (e.g. teams) to remember in tombstones: {root id: group id}.
    scope_group: Callable[[Session, list[uuid.UUID]], dict[uuid.UUID, uuid.UUID | None]] | None = (
        None)
    # Who reviews a rejected record: the group (e.g. team) for (actor, scope root or None).
    review_group: Callable[[Session, Actor, uuid.UUID | None], uuid.UUID | None] | None = None
    # Told, in the push's transaction, which scope roots had records written, per table
    # (read models): {table name: root ids}.
    on_change: Callable[[Session, dict[str, set[uuid.UUID]]], None] | None = None
    by_name: dict[str, SyncTable] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {t.name: t for t in self.tables}

    def get(self, name: str) -> SyncTable | None:
        return self.by_name.get(name)

    @property
    def root(self) -> SyncTable | None:
        """The scope root table (scope_key "id"), if any."""
        return next((t for t in self.tables if t.scope_key == "id"), None)

    def references(self, st: SyncTable) -> dict[str, SyncTable]:
        """Columns of `st` that point at another synced table: db column -> target."""
        out: dict[str, SyncTable] = {}
        for fk in st.table.foreign_keys:
            for target in self.tables:
                if fk.column.table is target.table:
                    out[fk.parent.name] = target
        return out
