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
# Validates one raw record: (clean raw, None) or (None, {field: [messages]}).
Validator = Callable[[Mapping[str, Any]], tuple[dict[str, Any] | None, dict[str, Any] | None]]
# Server-set values for a new row, or an error message when it cannot be created.
OnInsert = Callable[[Session, Actor, dict[str, Any]], "dict[str, Any] | str"]


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
    # The effective change stamp (e.g. greatest of own and parent's); default change_xid.
    change_xid: Callable[[sa.Table], ColumnElement[Any]] | None = None
    # Rows that change and leave the scope (soft-deleted, retired) go down as deleted.
    leave_scope_as_deleted: bool = False
    # An xid8 column set on insert and never updated (None: records after the first pull
    # always come as `updated`).
    created_column: str | None = "created_xid"
    codec: Codec = field(init=False)

    def __post_init__(self) -> None:
        self.codec = Codec(self.fields)

    def xid(self) -> ColumnElement[Any]:
        return self.change_xid(self.table) if self.change_xid else self.table.c.change_xid

    def is_new(self, cursor: int | None) -> ColumnElement[bool]:
        """Whether the row was created at or after `cursor` (None: first sync, all new)."""
        from sync.store import xid

        if cursor is None:
            return sa.true()
        if self.created_column is None:
            return sa.false()
        col = sa.literal_column(f'"{self.table.name}"."{self.created_column}"')
        return col >= xid(cursor)

    def field_for(self, column: str) -> str | None:
        """The (first) raw field stored in database column `column`, or None."""
        return next((f.name for f in self.fields if f.db == column), None)

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
    # Scope roots (e.g. visits) whose visibility changed for the actor in [lo, hi).
    scope_changes: Callable[[Actor, int, int], sa.Select[Any]] | None = None
    # Which tombstones the actor may receive (their scope_id / scope_group_id columns).
    tombstone_visible: Callable[[Actor, sa.Table], ColumnElement[bool]] | None = None
    # The scope roots' groups (e.g. teams) to remember in tombstones: {root id: group id}.
    scope_group: Callable[[Session, list[uuid.UUID]], dict[uuid.UUID, uuid.UUID | None]] | None = (
        None)
    by_name: dict[str, SyncTable] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {t.name: t for t in self.tables}

    def get(self, name: str) -> SyncTable | None:
        return self.by_name.get(name)

    def references(self, st: SyncTable) -> dict[str, SyncTable]:
        """Columns of `st` that point at another synced table: db column -> target."""
        out: dict[str, SyncTable] = {}
        for fk in st.table.foreign_keys:
            for target in self.tables:
                if fk.column.table is target.table:
                    out[fk.parent.name] = target
        return out
