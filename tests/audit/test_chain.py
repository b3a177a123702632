"""The audit log: an entry per write with actor, device, request id and target; the hash chain
verifies, tampering is detected and named; the database refuses updates and deletes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from monitor_api.audit.models import AuditEntry
from monitor_api.audit.service import verify_chain
from tests.accounts.conftest import PASSWORD
from tests.conftest import Api

V = "/api/v1"


def _entries(db: Session, request_id: str) -> list[AuditEntry]:
    return list(db.scalars(select(AuditEntry).where(AuditEntry.request_id == request_id)
                           .order_by(AuditEntry.id)))


def _rid(name: str) -> dict[str, str]:
    return {"X-Request-ID": f"audit-{name}"}


def test_every_write_is_audited_with_actor_device_request_and_target(
        db: Session, quick_user: Any, client: Any, anon: Api) -> None:
    admin, admin_api = quick_user("admin")
    monitor, monitor_api = quick_user("monitor")

    # (request id, action expected, expected target id or None = check it is set, device?)
    resp = anon.post(f"{V}/auth/login", json={"username": monitor.username,
                                               "password": PASSWORD}, headers=_rid("login"))
    assert resp.status_code == 201
    resp = admin_api.post(f"{V}/users", json={"username": "audited-user",
                                              "display_name": "A", "role": "monitor",
                                              "password": "a long enough password"},
                          headers=_rid("user-create"))
    new_user = resp.get_json()["id"]
    admin_api.patch(f"{V}/users/{new_user}", json={"display_name": "B"},
                    headers=_rid("user-update"))
    admin_api.delete(f"{V}/users/{new_user}/sessions", headers=_rid("sessions-end"))
    team = admin_api.post(f"{V}/teams", json={"name": "Audited team"},
                          headers=_rid("team-create")).get_json()["id"]
    admin_api.patch(f"{V}/teams/{team}", json={"description": "d"},
                    headers=_rid("team-update"))
    admin_api.put(f"{V}/teams/{team}/members/{monitor.id}", headers=_rid("member-add"))
    admin_api.delete(f"{V}/teams/{team}/members/{monitor.id}", headers=_rid("member-remove"))
    reg = monitor_api.post(f"{V}/devices", json={"name": "phone"}, headers=_rid("device-reg"))
    device = reg.get_json()
    phone = Api(client, device["token"])
    resp = phone.post(f"{V}/devices/{device['id']}/revoke", json={"reason": "stolen"},
                      headers=_rid("device-revoke"))
    assert resp.status_code == 200
    assert monitor_api.post(f"{V}/auth/logout", headers=_rid("logout")).status_code == 204

    expected = [
        ("login", "auth.login", monitor.id, str(monitor.id), None),
        ("user-create", "user.create", admin.id, new_user, None),
        ("user-update", "user.update", admin.id, new_user, None),
        ("sessions-end", "user.sessions_end", admin.id, new_user, None),
        ("team-create", "team.create", admin.id, team, None),
        ("team-update", "team.update", admin.id, team, None),
        ("member-add", "team.member_add", admin.id, team, None),
        ("member-remove", "team.member_remove", admin.id, team, None),
        ("device-reg", "device.register", monitor.id, device["id"], None),
        ("device-revoke", "device.revoke", monitor.id, device["id"], device["id"]),
        ("logout", "auth.logout", monitor.id, str(monitor.id), None),
    ]
    for name, action, actor, target, device_id in expected:
        rows = [r for r in _entries(db, f"audit-{name}") if r.action == action]
        assert len(rows) == 1, (name, [r.action for r in _entries(db, f"audit-{name}")])
        row = rows[0]
        assert row.actor_user_id == actor, name
        assert row.target_id == str(target), name
        assert str(row.actor_device_id) == device_id if device_id else \
            row.actor_device_id is None, name
        assert row.ip, name
        assert row.occurred_at.utcoffset().total_seconds() == 0
    assert verify_chain(db).ok


def test_failed_and_rejected_writes_leave_no_entry(db: Session, quick_user: Any) -> None:
    _, admin_api = quick_user("admin")
    resp = admin_api.post(f"{V}/users", json={"username": "x"}, headers=_rid("rejected"))
    assert resp.status_code == 422
    assert _entries(db, "audit-rejected") == []


def test_chain_verifies_after_writes_and_names_a_tampered_row(
        db: Session, quick_user: Any) -> None:
    _, admin_api = quick_user("admin")
    for n in range(4):
        assert admin_api.post(f"{V}/teams", json={"name": f"chain {n}"}).status_code == 201
    result = verify_chain(db)
    assert result.ok and result.checked >= 4
    resp = admin_api.get(f"{V}/audit/verify")
    assert resp.get_json()["ok"] is True

    ids = list(db.scalars(select(AuditEntry.id).where(AuditEntry.action == "team.create")
                          .order_by(AuditEntry.id.desc()).limit(4)))
    victim = ids[2]  # not the last one: the rows after it still link to its stored hash
    db.execute(text("alter table audit_log disable trigger user"))
    db.execute(text("update audit_log set details = details || '{\"name\": \"forged\"}' "
                    "where id = :id"), {"id": victim})
    db.execute(text("alter table audit_log enable trigger user"))

    result = verify_chain(db)
    assert not result.ok
    assert result.broken_id == victim
    assert result.reason == "content does not match its hash"
    body = admin_api.get(f"{V}/audit/verify").get_json()
    assert body["ok"] is False and body["broken_id"] == victim


def test_a_deleted_row_breaks_the_link_of_the_next(db: Session, quick_user: Any) -> None:
    _, admin_api = quick_user("admin")
    for n in range(3):
        admin_api.post(f"{V}/teams", json={"name": f"gap {n}"})
    ids = list(db.scalars(select(AuditEntry.id).where(AuditEntry.action == "team.create")
                          .order_by(AuditEntry.id.desc()).limit(3)))
    db.execute(text("alter table audit_log disable trigger user"))
    db.execute(text("delete from audit_log where id = :id"), {"id": ids[1]})
    db.execute(text("alter table audit_log enable trigger user"))
    result = verify_chain(db)
    assert result.broken_id == ids[0]
    assert result.reason == "prev_hash does not match the previous row"


@pytest.mark.parametrize("statement", [
    "update audit_log set note = 'edited' where id = (select max(id) from audit_log)",
    "update audit_log set details = '{}'",
    "delete from audit_log where id = (select max(id) from audit_log)",
    "truncate audit_log",
])
def test_database_refuses_changes_to_the_log(db: Session, quick_user: Any,
                                             statement: str) -> None:
    _, admin_api = quick_user("admin")
    admin_api.post(f"{V}/teams", json={"name": "something to protect"})
    before = db.scalar(text("select count(*) from audit_log"))
    with pytest.raises(DBAPIError, match="append-only"):  # noqa: SIM117
        with db.begin_nested():
            db.execute(text(statement))
    assert db.scalar(text("select count(*) from audit_log")) == before


def test_concurrent_commits_keep_one_chain(database_url: str) -> None:
    """Eight sessions committing audited work at once, one to three events each: the lock
    orders them, every event gets its own id in its commit's order, and the chain verifies."""
    from concurrent.futures import ThreadPoolExecutor
    from itertools import pairwise

    from monitor_api.audit.service import record
    from monitor_api.db import make_engine
    from tests.conftest import own_database

    with own_database(database_url, "audit") as url:
        engine = make_engine(url)
        try:
            def commit(n: int) -> None:
                for round_ in range(5):
                    with Session(engine) as s:
                        for k in range(1 + (n + round_) % 3):
                            record(s, "test.concurrent", details={"n": n, "r": round_, "k": k})
                        s.commit()

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(commit, range(8)))
            with Session(engine) as s:
                result = verify_chain(s)
                events = list(s.execute(select(AuditEntry.id, AuditEntry.details).where(
                    AuditEntry.action == "test.concurrent").order_by(AuditEntry.id)))
            assert result.ok, result
            assert len(events) == sum(1 + (n + r) % 3 for n in range(8) for r in range(5))
            # Within one commit the events keep the order they were recorded in.
            for (_, a), (_, b) in pairwise(events):
                if (a["n"], a["r"]) == (b["n"], b["r"]):
                    assert b["k"] == a["k"] + 1
        finally:
            engine.dispose()


def test_the_chain_head_waits_for_the_chain_lock(database_url: str) -> None:
    """audit_chain_head (migration 0016) takes the lock reserved for the chain: while another
    transaction holds it, reading the head waits."""
    from sqlalchemy import create_engine

    from monitor_api.audit.service import AUDIT_LOCK_KEY

    engine = create_engine(database_url)
    try:
        with engine.connect() as holder, engine.connect() as reader:
            holder.execute(text("select pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
            reader.execute(text("set local lock_timeout = '200ms'"))
            with pytest.raises(DBAPIError, match="lock timeout"):
                reader.execute(text("select head, ids from audit_chain_head(1)"))
            holder.rollback()
            reader.rollback()
            assert len(reader.execute(text("select ids from audit_chain_head(2)")).scalar()) == 2
            reader.rollback()
    finally:
        engine.dispose()
