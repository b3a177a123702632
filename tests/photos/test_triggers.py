"""The photos table's triggers (migration 0013): one 'captured' custody entry per new photo
however many a statement inserts, and the upload join's answer with and without uploads;
`photo_upload_status` in PL/pgSQL (migration 0014) answers as the SQL function did."""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor_api.accounts.models import User
from monitor_api.facilities.models import Facility
from monitor_api.visits.models import Visit


def _user(db: Any) -> Any:
    user = User(username=f"t-{uuid.uuid4().hex[:8]}", display_name="t", role="monitor",
                password_hash="!")  # a user who never logs in
    db.add(user)
    db.flush()
    return user


def _visit(db: Any, team: Any) -> Any:
    fac = Facility(code=f"T-{uuid.uuid4().hex[:6]}", name="IVS", facility_type="police_custody",
                   authority="ministry_of_interior", region="TJ-DU")
    db.add(fac)
    db.flush()
    visit = Visit(facility_id=fac.id, team_id=team.id, status="in_progress")
    db.add(visit)
    db.flush()
    return visit


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """One INSERT of many rows (as a push writes them)."""
    conn.execute(sa.text(
        "insert into photos (id, visit_id, sha256, byte_size, captured_at) select r.id,"
        " r.visit_id, r.sha256, r.byte_size, r.captured_at from jsonb_to_recordset("
        "cast(:rows as jsonb)) as r(id uuid, visit_id uuid, sha256 text, byte_size bigint,"
        " captured_at timestamptz)"), {"rows": json.dumps(rows)})


def test_one_captured_entry_per_photo_of_a_statement(db: Any, connection: Connection,
                                                      make_team: Any) -> None:
    visit = _visit(db, make_team(_user(db)))
    rows = [{"id": str(uuid.uuid4()), "visit_id": str(visit.id), "sha256": "AB" * 32,
             "byte_size": 10 + i, "captured_at": "2026-11-30T10:00:00+00:00" if i else None}
            for i in range(5)]
    _insert(connection, rows)
    got = connection.execute(sa.text(
        "select photo_id::text, event, sha256, details, occurred_at = now() as at_now,"
        " occurred_at from photo_custody where photo_id = any(cast(:ids as uuid[]))"
        " order by id"), {"ids": [r["id"] for r in rows]}).mappings().all()
    assert [g["photo_id"] for g in got] == [r["id"] for r in rows]  # one each, in order
    for g, r in zip(got, rows, strict=True):
        assert g["event"] == "captured" and g["sha256"] == "ab" * 32
        assert g["details"] == {"source": "photo record", "byte_size": r["byte_size"],
                                "visit_id": r["visit_id"]}
        assert g["at_now"] == (r["captured_at"] is None)  # no capture time: the insert's
    assert got[1]["occurred_at"].isoformat() == "2026-11-30T10:00:00+00:00"


def test_upload_join_with_and_without_uploads(db: Any, connection: Connection,
                                               make_team: Any) -> None:
    user, stranger = _user(db), _user(db)
    visit = _visit(db, make_team(user))
    sha = "cd" * 32
    lone, joined, outsider = (str(uuid.uuid4()) for _ in range(3))
    for pid, who in ((joined, user.id), (outsider, stranger.id)):
        connection.execute(sa.text(
            "insert into uploads (id, photo_id, declared_sha256, length, \"offset\", state,"
            " staging, meta, user_id, deduplicated, expires_at) values (gen_random_uuid(), :p, :s,"
            " 10, 10, 'processing', '{}', '{}', :u, false, now() + interval '1 day')"),
            {"p": pid, "s": sha, "u": who})
    _insert(connection, [{"id": p, "visit_id": str(visit.id), "sha256": sha, "byte_size": 10,
                          "captured_at": None} for p in (lone, joined, outsider)])
    status = dict(connection.execute(sa.text(
        "select id::text, upload_status from photos where id = any(cast(:ids as uuid[]))"),
        {"ids": [lone, joined, outsider]}).all())
    # No upload: pending (the fast path); the team member's upload being verified:
    # processing; an outsider's upload never joins the record.
    assert status == {lone: "pending", joined: "processing", outsider: "pending"}
    same = connection.execute(sa.text(
        "select bool_and(upload_status = coalesce(photo_upload_status(id, sha256, visit_id),"
        " 'pending')) from photos where id = any(cast(:ids as uuid[]))"),
        {"ids": [lone, joined, outsider]}).scalar()
    assert same  # the trigger and the function agree on every row


def _uploads_of(connection: Connection, photo: str, sha: str, who: Any,
                uploads: list[tuple[str, str | None]]) -> None:
    for state, actual in uploads:
        connection.execute(sa.text(
            "insert into uploads (id, photo_id, declared_sha256, length, \"offset\", state,"
            " staging, meta, user_id, deduplicated, expires_at, actual_sha256) values"
            " (gen_random_uuid(), :p, :s, 10, 10, :st, '{}', '{}', :u, false,"
            " now() + interval '1 day', :a)"), {"p": photo, "s": sha, "u": who, "st": state,
                                                 "a": actual})


def test_status_function_is_plpgsql_and_answers_as_the_sql_one(
        db: Any, connection: Connection, make_team: Any) -> None:
    path = Path(__file__).resolve().parents[2] / "migrations/versions/0014_upload_status_plpgsql.py"
    spec = importlib.util.spec_from_file_location("m0014", path)
    assert spec is not None and spec.loader is not None
    m0014 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m0014)
    # The replaced SQL-language function, same body, beside the live one for this transaction.
    connection.execute(sa.text(
        "create function pg_temp.status_sql(p_id uuid, p_sha text, p_visit uuid) returns text"
        f" language sql stable as $${m0014.QUERY}$$"))
    assert connection.execute(sa.text(
        "select l.lanname from pg_proc p join pg_language l on l.oid = p.prolang"
        " where p.proname = 'photo_upload_status'")).scalar() == "plpgsql"
    user, stranger = _user(db), _user(db)
    admin = _user(db)
    admin.role = "admin"
    db.flush()
    visit = _visit(db, make_team(user))
    good, bad, other = "a1" * 32, "b2" * 32, "c3" * 32
    for sha, status in ((good, "ok"), (bad, "rejected")):
        connection.execute(sa.text(
            "insert into blobs (sha256, byte_size, storage_key, status, exif) values"
            " (:s, 10, :k, :st, '{}') on conflict do nothing"), {"s": sha, "k": sha, "st": status})
    cases: dict[str, tuple[str, Any, list[tuple[str, str | None]]]] = {
        "none": (good, user.id, []),
        "open only": (good, user.id, [("open", None)]),
        "processing": (good, user.id, [("processing", None)]),
        "verified": (good, user.id, [("processing", None), ("complete", good)]),
        "rejected": (bad, user.id, [("complete", bad)]),
        "mismatch": (good, user.id, [("complete", other)]),
        "upper-case record hash": (good.upper(), user.id, [("complete", good)]),
        "outsider": (good, stranger.id, [("complete", good)]),
        "admin": (good, admin.id, [("complete", good)]),
    }
    photos = {name: str(uuid.uuid4()) for name in cases}
    for name, (sha, who, uploads) in cases.items():
        _uploads_of(connection, photos[name], sha, who, uploads)
    _insert(connection, [{"id": photos[n], "visit_id": str(visit.id), "sha256": cases[n][0],
                          "byte_size": 10, "captured_at": None} for n in cases])
    got = {name: connection.execute(sa.text(
        "select photo_upload_status(id, sha256, visit_id), pg_temp.status_sql(id, sha256,"
        " visit_id), upload_status from photos where id = :i"), {"i": pid}).one()
        for name, pid in photos.items()}
    assert {n: g[0] for n, g in got.items()} == {
        "none": None, "open only": None, "processing": "processing", "verified": "verified",
        "rejected": "rejected", "mismatch": "hash_mismatch", "upper-case record hash": "verified",
        "outsider": None, "admin": "verified"}
    assert all(g[0] == g[1] for g in got.values())  # the same answer as the SQL function
    assert all(g[2] == (g[0] or "pending") for g in got.values())  # and the trigger's
