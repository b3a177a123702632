"""Whole-request rules: auth, schema versions, migrations, size limits, horizon status."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import uuid

import requests
import sqlalchemy as sa

from tests.sync.conftest import ROOT_DIR, World, visit_raw


def _problem(resp: requests.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    return resp.json()


def test_sync_needs_a_device_token(world: World) -> None:
    mon = world.user()
    session_token = world.login(mon)
    _problem(world.pull(session_token), 403)
    _problem(world.push(session_token, {}, 0), 403)
    _problem(requests.get(world.base + "/api/v1/sync", timeout=10), 401)


def test_roles_without_field_work_cannot_register_devices(world: World) -> None:
    for role in ("partner", "analyst"):
        token = world.login(world.user(role))
        resp = requests.post(world.base + "/api/v1/devices", json={"name": "phone"},
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)
        _problem(resp, 403)


def test_a_revoked_device_is_refused(world: World) -> None:
    mon = world.user()
    device = world.device(mon)
    device_id = world.sql("select id from devices").scalar()
    resp = requests.post(world.base + f"/api/v1/devices/{device_id}/revoke",
                         json={"reason": "lost"}, timeout=10,
                         headers={"Authorization": f"Bearer {world.login(mon)}"})
    assert resp.status_code == 200, resp.text
    assert _problem(world.pull(device), 401)["type"] == "/problems/device-revoked"


def test_schema_version_range_and_migration_param(world: World) -> None:
    mon = world.user()
    world.team(mon)
    fac = world.facility()
    token = world.device(mon)
    problem = _problem(world.pull(token, schema_version=99), 426)
    assert problem["supported"] == {"min": 1, "max": 1} and "1 to 1" in problem["detail"]
    _problem(requests.post(
        world.base + "/api/v1/sync", params={"last_pulled_at": 0, "schema_version": 0},
        data=b"{}", headers={"Authorization": f"Bearer {token}"}, timeout=10), 426)
    _problem(world.pull(token, schema_version="x"), 422)
    cur = world.cursor(token)
    visit = visit_raw(fac)
    assert world.push(token, {"visits": {"created": [visit]}}, cur).status_code == 200
    cur = world.cursor(token)
    # A client that migrated to add the `findings` and `facilities` columns asks for them whole.
    migration = json.dumps({"from": 1, "tables": ["findings"],
                            "columns": [{"table": "facilities", "columns": ["holds"]}]})
    body = world.pull(token, cur, schema_version=1, migration=migration).json()
    got = body["changes"]["facilities"]
    assert {f["id"] for f in got["created"] + got["updated"]} == {fac}
    assert body["changes"]["visits"]["updated"] == []  # not asked for, not changed
    _problem(world.pull(token, cur, migration="{not json"), 400)
    _problem(world.pull(token, cur, migration=json.dumps({"tables": "x"})), 422)
    bad = _problem(world.pull(token, cur, migration=json.dumps(
        {"from": 1, "tables": ["nope"], "columns": []})), 422)
    assert "nope" in json.dumps(bad["errors"])


def test_record_count_and_body_size_limits(world: World) -> None:
    mon = world.user()
    world.team(mon)
    fac = world.facility()
    token = world.device(mon)
    cur = world.cursor(token)
    many = [{"id": str(uuid.uuid4())} for _ in range(300)]  # test limit: 300 records
    problem = _problem(world.push(token, {"findings": {"created": many, "deleted": [
        str(uuid.uuid4())]}}, cur), 413)
    assert problem["limit"] == 300 and "300" in problem["detail"]
    # 64 KiB decompressed (test limit); a small gzip bomb of 50 MB must not be inflated.
    bomb = gzip.compress(b'{"visits": {"created": [' + b" " * 50_000_000 + b"]}}")
    assert len(bomb) < 64 * 1024
    problem = _problem(world.push(token, None, cur, data=bomb, **{"Content-Encoding": "gzip"}),
                       413)
    assert problem["limit"] == 64 * 1024
    big = json.dumps({"visits": {"created": [visit_raw(fac, summary="x" * 70_000)]}}).encode()
    _problem(world.push(token, None, cur, data=big), 413)
    _problem(world.push(token, None, cur, data=b"{nope"), 400)
    _problem(world.push(token, None, cur, data=b"not gzip", **{"Content-Encoding": "gzip"}), 400)
    _problem(world.push(token, None, cur, data=b"{}", **{"Content-Encoding": "br"}), 415)
    _problem(world.push(token, {"visits": []}, cur), 400)
    _problem(world.push(token, [], cur), 400)
    assert world.sql("select count(*) from visits").scalar() == 0


def test_horizon_status_reports_lag_for_admins(world: World) -> None:
    admin = world.user("admin")
    token = world.login(admin)
    with world.engine.connect() as blocker:
        blocker.execute(sa.text("select pg_current_xact_id()"))  # an open writer
        resp = requests.get(world.base + "/api/v1/sync/status", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        status = resp.json()
        pid = blocker.execute(sa.text("select pg_backend_pid()")).scalar()
        assert status["open_writing_transactions"] >= 1 and status["lag_xids"] >= 0
        assert status["oldest_transaction_pid"] == pid
        assert status["oldest_transaction_age_seconds"] is not None
        blocker.rollback()
    monitor = world.login(world.user())
    _problem(requests.get(world.base + "/api/v1/sync/status", timeout=10,
                          headers={"Authorization": f"Bearer {monitor}"}), 403)


def test_the_engine_and_client_do_not_import_flask() -> None:
    code = ("import sys, sync, sync.client, sync.pull, sync.push, sync.history; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'werkzeug', 'monitor_api')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT_DIR, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_chunked_bodies_are_read_whole_and_capped(world: World) -> None:
    mon = world.user()
    world.team(mon)
    fac = world.facility()
    token = world.device(mon)
    cur = world.cursor(token)
    body = json.dumps({"visits": {"created": [visit_raw(fac)]}}).encode()
    ok = world.push(token, None, cur, data=iter([body[:10], body[10:]]))  # chunked
    assert ok.status_code == 200 and ok.json()["applied"]["visits"]["created"] == 1, ok.text
    big = json.dumps({"visits": {"created": [visit_raw(fac, summary="x" * 70_000)]}}).encode()
    _problem(world.push(token, None, cur, data=iter([big[:1000], big[1000:]])), 413)
