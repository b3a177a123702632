"""Record JSON kept by the database: a pulled table's raw record as JSON text in a column.

A pull used to build every record's JSON (`row_to_json` over `SyncTable.columns()`) as it
read it: about 7 µs a row, most of the time PostgreSQL spent on a page. For tables with
`stored_json`, a trigger computes the same text on every insert and update (BEFORE, named to
run after every other BEFORE trigger, so it sees the row as written, stamps included) into
`raw_json`, and a pull reads it (`sync.rows`), computing it only where it is NULL. A write
pays 11 to 14 µs instead (measured), once per version of a row; each version is pulled by every
device of the team.

The trigger is derived from the registry, like the pull's own expressions: `install` (run
by `monitor_api.migrate.upgrade` after Alembic) creates, per table, a composite type with
the record's field names and types, the trigger function filling it from NEW, and the
trigger, and recomputes a table's rows whenever its SQL changed (a field added or changed).
Each trigger function's comment holds the hash of the SQL it was installed from.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.util import ClauseAdapter

from sync.registry import Registry, SyncTable

COLUMN = "raw_json"
VERSION_KEY = "record-json"  # the comment of each trigger function: "record-json <hash>"
TRIGGER = "zzz_record_json"  # BEFORE triggers run in name order: this one last
_LOCK = 7_202  # advisory lock key: one installer at a time


def stored(registry: Registry) -> list[SyncTable]:
    """The tables whose records the database keeps as JSON."""
    return [st for st in registry.tables if st.pull and st.stored_json]


def _exprs(st: SyncTable, dialect: Any, source: str) -> list[tuple[str, str]]:
    """(field name, SQL of its raw value over the row `source`) for each record field."""
    alias = st.table.alias(source)
    adapt = ClauseAdapter(alias)
    out = []
    for col in st.columns():
        sql = adapt.traverse(col.element).compile(dialect=dialect,
                                                  compile_kwargs={"literal_binds": True})
        out.append((col.name, str(sql)))
    return out


def _names(st: SyncTable) -> tuple[str, str]:
    return f"sync_record_{st.name}", f"sync_record_json_{st.name}"


def ddl(conn: Connection, st: SyncTable) -> tuple[list[str], str]:
    """The statements that (re)create the table's record type, trigger function and trigger,
    and the statement recomputing every row (run with the table's triggers off)."""
    dialect = conn.dialect
    type_name, function = _names(st)
    over_row = _exprs(st, dialect, "t")
    # Each field's type as the pull's expression yields it (typmods do not change the JSON).
    probe = ", ".join(f"pg_typeof({sql})::text" for _, sql in over_row)
    types = conn.exec_driver_sql(
        f'select {probe} from (select 1) as one left join "{st.table.name}" as t on false'  # noqa: S608
    ).one()
    fields = ", ".join(f'"{name}" {typ}' for (name, _), typ in zip(over_row, types, strict=True))
    over_new = ", ".join(sql for _, sql in _exprs(st, dialect, "new"))
    table = f'"{st.table.name}"'
    statements = [
        f"alter table {table} add column if not exists {COLUMN} text",
        f"drop trigger if exists {TRIGGER} on {table}",
        f"drop function if exists {function}()",
        f"drop type if exists {type_name}",
        f"create type {type_name} as ({fields})",
        f"create function {function}() returns trigger language plpgsql as $fn$"
        f" declare r {type_name}; begin r := row({over_new});"
        f" new.{COLUMN} := row_to_json(r)::text; return new; end $fn$",
        f"create trigger {TRIGGER} before insert or update on {table} for each row"
        f" execute function {function}()",
    ]
    over_t = ", ".join(sql for _, sql in over_row)
    fill = (f"update {table} as t set {COLUMN} ="  # noqa: S608
            f" row_to_json(row({over_t})::{type_name})::text")
    return statements, fill


def install(conn: Connection, registry: Registry) -> list[str]:
    """Create or refresh the record JSON trigger of each of `registry`'s stored tables whose
    SQL changed (or is missing), recomputing that table's rows; the tables done. In the
    caller's transaction. Each trigger function carries the hash of its SQL as its comment
    (it goes wherever the function goes: a dump, a restore)."""
    conn.execute(sa.text("select pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    done = []
    for st in stored(registry):
        statements, fill = ddl(conn, st)
        version = hashlib.sha256("\n".join((*statements, fill)).encode()).hexdigest()[:16]
        function = _names(st)[1]
        current = conn.execute(sa.text(
            "select obj_description(oid, 'pg_proc') from pg_proc where proname = :f"),
            {"f": function}).scalar()
        if current == f"{VERSION_KEY} {version}":
            continue
        for sql in statements:
            conn.exec_driver_sql(sql)
        # Triggers off: recomputing the JSON is no edit (no stamp moves, nothing is logged).
        table = f'"{st.table.name}"'
        conn.exec_driver_sql(f"alter table {table} disable trigger user")
        conn.exec_driver_sql(fill)
        conn.exec_driver_sql(f"alter table {table} enable trigger user")
        conn.exec_driver_sql(f"comment on function {function}() is '{VERSION_KEY} {version}'")
        done.append(st.name)
    return done


def built(st: SyncTable) -> tuple[Any, sa.ColumnElement[str]]:
    """The record JSON a pull builds for each row: (the table joined to its raw record, that
    record's JSON text)."""
    raw = sa.select(*st.columns()).correlate(st.table).lateral("raw")  # per table row
    return (st.table.join(raw, sa.true()),
            sa.cast(sa.func.row_to_json(sa.literal_column("raw")), sa.Text))


def kept(st: SyncTable) -> sa.ColumnElement[str]:
    """The record JSON the table's trigger stored."""
    return sa.literal_column(f'"{st.table.name}".{COLUMN}', sa.Text)


def check(conn: Connection, registry: Registry) -> dict[str, tuple[int, int]]:
    """Per stored table: (rows, rows whose stored JSON is missing or differs from the JSON a
    pull would build now). Every second figure is 0 when the triggers are current."""
    out = {}
    for st in stored(registry):
        joined, json_text = built(st)
        rows, bad = conn.execute(
            sa.select(sa.func.count(),
                      sa.func.count().filter(kept(st).is_distinct_from(json_text)))
            .select_from(joined)).one()
        out[st.name] = (rows, bad)
    return out
