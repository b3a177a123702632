"""Pull records as JSON text made by PostgreSQL, gathered into a page without duplicates.

A record goes out as `orjson.Fragment`: the JSON object PostgreSQL built from the select list
of `SyncTable.columns()` (ids, times in ms, JSON text, lat/lng already in raw form), so the
server builds no Python value per column. Serialise a pull body with orjson.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sync import stored
from sync.registry import Registry, SyncTable
from sync.store import as_int

# Per synced table (kept alive here): its stamp, id and JSON columns and FROM clause, built
# once (building SQLAlchemy expressions costs more than running them for a small page).
_PARTS: dict[int, tuple[SyncTable, list[Any], Any]] = {}


def _parts(st: SyncTable) -> tuple[list[Any], Any]:
    known = _PARTS.get(id(st))
    if known is None or known[0] is not st:
        joined, json_text = stored.built(st)
        if st.stored_json:  # kept by the database (sync.stored); built where it is missing
            json_text = sa.func.coalesce(stored.kept(st), json_text)
        cols = [as_int(st.xid()).label("x"), sa.cast(st.table.c.id, sa.Text).label("id"),
                json_text.label("j")]
        known = _PARTS[id(st)] = (st, cols, joined)
    return known[1], known[2]


def record_query(st: SyncTable, created: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """(stamp, is created, id, JSON text) of the table's rows (in no order); add WHERE."""
    (x, rid, j), joined = _parts(st)
    return sa.select(x, created.label("_new"), rid, j).select_from(joined)


def fetch_all(session: Session, queries: list[sa.Select[Any]]) -> list[list[Any]]:
    """The rows of several `record_query`s, run as one statement (UNION ALL), per query."""
    out: list[list[Any]] = [[] for _ in queries]
    if queries:
        union = sa.union_all(*[q.add_columns(sa.literal_column(str(i)).label("part"))
                               for i, q in enumerate(queries)])
        for row in session.connection().execute(union).all():  # fetchall: not row by row
            out[row[4]].append(row)
    return out


def size(text: str) -> int:
    """UTF-8 bytes of a record's JSON text."""
    return len(text) if text.isascii() else len(text.encode())


class Page:
    """The changes of one pull page: each table's created/updated records (each id once)
    and deleted ids."""

    def __init__(self, registry: Registry) -> None:
        self.changes: dict[str, dict[str, list[Any]]] = {
            t.name: {"created": [], "updated": [], "deleted": []} for t in registry.tables}
        self.seen: dict[str, set[str]] = {t.name: set() for t in registry.tables}

    def add(self, table: str, rows: Any) -> None:
        """Add (x, new, id, json) rows whose id the page does not hold yet."""
        bucket, seen = self.changes[table], self.seen[table]
        created, updated = bucket["created"], bucket["updated"]
        for row in rows:
            rid = row[2]
            if rid not in seen:
                seen.add(rid)
                (created if row[1] else updated).append(orjson.Fragment(row[3]))

    def collect(self, session: Session, st: SyncTable, query: sa.Select[Any]) -> None:
        """Add the records of `query` (a `record_query`) not yet in the page."""
        self.add(st.name, session.connection().execute(query).all())

    def delete(self, table: str, ids: Any) -> None:
        """Add deleted ids not yet listed."""
        deleted = self.changes[table]["deleted"]
        known = set(deleted)
        for rid in ids:
            if str(rid) not in known:
                known.add(str(rid))
                deleted.append(str(rid))
