"""Indicators follow what phones push, in the push's own transaction; phones cannot
review or publish a visit."""

from __future__ import annotations

import uuid

import requests

from tests.sync.conftest import World, finding_raw, visit_raw


def _indicators(world: World, visit_id: str) -> dict:
    row = world.sql("select rooms_measured, space_min_m2, findings, published_at "
                    "from visit_indicators where visit_id = :v", v=visit_id).mappings().first()
    return dict(row) if row else {}


def test_a_push_refreshes_its_visits_indicators(world: World) -> None:
    mon = world.user()
    world.team(mon)
    token = world.device(mon)
    visit = visit_raw(world.facility(), population_total=30)
    rooms = [{"id": str(uuid.uuid4()), "visit_id": visit["id"], "label": f"C{n}",
              "room_kind": "cell", "floor_area_m2": area, "occupants": occupants}
             for n, (area, occupants) in enumerate([(12.0, 4), (9.0, 3), (20.0, 2)])]
    cur = world.cursor(token)
    resp = world.push(token, {"visits": {"created": [visit]},
                              "room_inspections": {"created": rooms},
                              "findings": {"created": [finding_raw(visit["id"])]}}, cur)
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    got = _indicators(world, visit["id"])
    assert got["rooms_measured"] == 3 and got["space_min_m2"] == 3.0
    assert got["findings"]["total"] == 1
    # A later push deleting a room moves the minimum.
    cur = world.cursor(token)
    world.push(token, {"room_inspections": {"deleted": [rooms[0]["id"], rooms[1]["id"]]}}, cur)
    assert _indicators(world, visit["id"])["space_min_m2"] == 10.0


def test_a_phone_cannot_review_or_publish(world: World) -> None:
    mon = world.user()
    world.team(mon)
    token = world.device(mon)
    cur = world.cursor(token)
    visit = visit_raw(world.facility(), status="in_progress")
    published = visit_raw(world.facility(), status="reported")
    resp = world.push(token, {"visits": {"created": [visit, published]}}, cur)
    assert resp.json()["experimentalRejectedIds"] == {"visits": [published["id"]]}
    cur = world.cursor(token)
    for status in ("reviewed", "reported"):
        resp = world.push(token, {"visits": {"updated": [{**visit, "status": status}]}}, cur)
        assert resp.json()["experimentalRejectedIds"] == {"visits": [visit["id"]]}, status
    resp = world.push(token, {"visits": {"updated": [
        {**visit, "status": "submitted", "published_at": 1_800_000_000_000}]}}, cur)
    assert resp.json()["rejected"] == [], resp.text
    row = world.sql("select status, published_at from visits where id = :v",
                    v=visit["id"]).one()
    assert (row.status, row.published_at) == ("submitted", None)  # published_at is server-set
    # A coordinator publishes it over REST; the phone learns of it by the next pull.
    coord = world.user("coordinator")
    team = world.sql("select team_id from visits where id = :v", v=visit["id"]).scalar()
    world.join(team, coord)
    session = world.login(coord)
    for step in ("reviewed",):
        requests.patch(f"{world.base}/api/v1/visits/{visit['id']}", json={"status": step},
                       headers={"Authorization": f"Bearer {session}"}, timeout=10)
    resp = requests.post(f"{world.base}/api/v1/visits/{visit['id']}/publish", timeout=10,
                         headers={"Authorization": f"Bearer {session}"})
    assert resp.status_code == 200, resp.text
    pulled = world.pull(token, cur).json()["changes"]["visits"]["updated"]
    mine = next(v for v in pulled if v["id"] == visit["id"])
    assert mine["status"] == "reported" and mine["published_at"] is not None
    assert _indicators(world, visit["id"])["published_at"] is not None
