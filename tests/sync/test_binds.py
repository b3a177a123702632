"""Id arrays go to PostgreSQL as binary uuid[]: the same rows match as with any other form,
whatever the mix of UUIDs and their strings, and psycopg picks its binary array dumper."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.array import ListBinaryDumper
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from sync.binds import UuidArray, ids_param


def test_ids_match_as_uuids_or_strings(db: Session) -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rows = sa.select(sa.func.unnest(sa.literal([a, b, c], ARRAY(sa.Uuid()))).label("id")
                     ).subquery()
    query = sa.select(rows.c.id).where(rows.c.id == sa.any_(ids_param("ids", [a, str(c)])))
    assert set(db.scalars(query)) == {a, c}
    assert db.scalar(sa.select(sa.func.cardinality(ids_param("none", [])))) == 0
    assert db.scalar(sa.select(sa.func.array_position(ids_param("n", [a, None]), None))) == 2
    as_text = db.scalar(sa.select(sa.cast(ids_param("t", [b]), ARRAY(sa.Text()))))
    assert as_text == [str(b)]
    assert db.scalar(sa.select(sa.literal(None, UuidArray()).is_(None)))


def test_psycopg_sends_them_binary(db: Session) -> None:
    bound = UuidArray().bind_processor(db.get_bind().dialect)([uuid.uuid4(), str(uuid.uuid4())])
    assert all(type(u) is uuid.UUID for u in bound)
    raw = db.connection().connection.driver_connection
    dumper = Transformer(raw).get_dumper(bound, PyFormat.AUTO)
    assert isinstance(dumper, ListBinaryDumper)
