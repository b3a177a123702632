"""The one-statement write of a push: values reach the rows exactly (times to the
millisecond either side of the epoch, points, JSON text byte for byte), children come with
their parents, and every push, even an empty one, records the device's push."""

from __future__ import annotations

import uuid

from tests.sync.conftest import World, finding_raw, visit_raw


def test_values_round_trip_exactly(world: World) -> None:
    user = world.user()
    world.team(user)
    fac = world.facility()
    token = world.device(user)
    cursor = world.cursor(token)
    visit = visit_raw(fac, started_at=1_732_000_000_123, planned_for=-86_400_001,
                      ended_at=1_732_000_000_999)
    finding = finding_raw(visit["id"], standard_refs='[ {"rule":"44", "instrument":"mandela"} ]')
    photo = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "sha256": "ab" * 32,
             "byte_size": 12, "lat": -33.868820, "lng": 151.209295, "captured_at": 999}
    resp = world.push(token, {"visits": {"created": [visit]}, "findings": {"created": [finding]},
                              "photos": {"created": [photo]}}, cursor)
    assert resp.status_code == 200 and not resp.json()["rejected"], resp.text
    body = world.pull(token).json()["changes"]
    got = {t: {r["id"]: r for g in ("created", "updated") for r in body[t][g]}
           for t in ("visits", "findings", "photos")}
    v = got["visits"][visit["id"]]
    assert (v["started_at"], v["planned_for"], v["ended_at"]) == (
        1_732_000_000_123, -86_400_001, 1_732_000_000_999)
    assert got["findings"][finding["id"]]["standard_refs"] == finding["standard_refs"]
    p = got["photos"][photo["id"]]
    assert (p["lat"], p["lng"], p["captured_at"]) == (-33.868820, 151.209295, 999)


def test_times_the_server_cannot_keep_reject_their_record_alone(world: World) -> None:
    """Times from year 1 to 9999 are kept to the millisecond; one past them (a phone's
    clock or arithmetic gone wrong) rejects its record into the quarantine, not the push."""
    from schemas.sync_records import FIRST_MS, LAST_MS

    user = world.user()
    world.team(user)
    token = world.device(user)
    cursor = world.cursor(token)
    visit = visit_raw(world.facility(), started_at=FIRST_MS, ended_at=LAST_MS)
    late = {**visit_raw(world.facility()), "started_at": LAST_MS + 1}
    early = {**visit_raw(world.facility()), "planned_for": FIRST_MS - 1}
    far = {**visit_raw(world.facility()), "ended_at": 2**53 - 1}
    resp = world.push(token, {"visits": {"created": [visit, late, early, far]}}, cursor)
    assert resp.status_code == 200, resp.text
    assert sorted(resp.json()["experimentalRejectedIds"]["visits"]) == sorted(
        r["id"] for r in (late, early, far))
    kept = {r["id"]: r for r in world.pull(token).json()["changes"]["visits"]["created"]}
    assert (kept[visit["id"]]["started_at"], kept[visit["id"]]["ended_at"]) == (
        FIRST_MS, LAST_MS)
    assert world.sql("select count(*) from sync_quarantine where record_id in (:a, :b, :c)",
                     a=late["id"], b=early["id"], c=far["id"]).scalar() == 3


def test_every_push_records_the_device(world: World) -> None:
    user = world.user()
    world.team(user)
    token = world.device(user)
    cursor = world.cursor(token)
    before = world.sql("select count(*) from sync_devices").scalar()
    assert world.push(token, {}, cursor).status_code == 200
    assert world.sql("select count(*) from sync_devices").scalar() == before + 1
    first = world.sql("select last_push_xid::text from sync_devices order by last_push_at desc"
                      " limit 1").scalar()
    assert world.push(token, {"visits": {"created": [visit_raw(world.facility())]}},
                      world.cursor(token)).status_code == 200
    second = world.sql("select last_push_xid::text from sync_devices order by last_push_at"
                       " desc limit 1").scalar()
    assert int(second) > int(first)


def test_the_write_parameter_reads_back_as_the_standard_encoder_writes_it() -> None:
    """orjson writes the push's JSON parameters; where it cannot (a Decimal, an integer past
    64 bits) the standard encoder does; either way PostgreSQL reads the same values."""
    import json
    from datetime import UTC, datetime
    from decimal import Decimal

    from monitor_api.jsonsafe import TOO_DEEP
    from sync.apply import json_param

    uid = uuid.uuid4()
    rows = [{"id": uid, "at": datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC), "n": None,
             "text": "Камера №3 \u2028", "deep": TOO_DEEP, "f": 0.1, "flag": True}]
    assert json.loads(json_param(rows)) == [{
        "id": str(uid), "at": "2026-01-02T03:04:05.006000+00:00", "n": None,
        "text": "Камера №3 \u2028", "deep": {"$nested_deeper_than": 64}, "f": 0.1,
        "flag": True}]
    assert json.loads(json_param([{"d": Decimal("1.50"), "big": 2**70}])) == [
        {"d": "1.50", "big": 2**70}]
