"""Indicators follow what phones push: the push marks its visits, the server's background
refresher recomputes them after the commit (these tests wait for it); phones cannot review or
publish a visit."""

from __future__ import annotations

import time
import uuid

import requests

from tests.sync.conftest import World, finding_raw, visit_raw


def _settled(world: World, visit_id: str) -> None:
    """Wait until the server's background refresher has recomputed the visit (its mark is
    deleted in the transaction that writes the indicators)."""
    deadline = time.monotonic() + 10
    while world.sql("select 1 from indicators_due where visit_id = :v", v=visit_id).first():
        assert time.monotonic() < deadline, "the background refresher did not run"
        time.sleep(0.02)


def _indicators(world: World, visit_id: str) -> dict:
    _settled(world, visit_id)
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


def test_a_push_of_records_no_indicator_reads_recomputes_nothing(world: World) -> None:
    """Photos, interviews and allegations count in no indicator: their push leaves the
    visit's indicator row as it was (and a push that also writes a room recomputes it)."""
    mon = world.user()
    world.team(mon)
    token = world.device(mon)
    visit = visit_raw(world.facility())
    resp = world.push(token, {"visits": {"created": [visit]}}, world.cursor(token))
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text

    def stamp() -> object:
        _settled(world, visit["id"])
        return world.sql("select computed_at from visit_indicators where visit_id = :v",
                         v=visit["id"]).scalar()

    before = stamp()
    assert before is not None
    photo = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "sha256": "ab" * 32,
             "byte_size": 12, "captured_at": 999}
    interview = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "interviewee_code": "D-1",
                 "category": "detainee", "consent_to_refer": True}
    resp = world.push(token, {"photos": {"created": [photo]},
                              "interviews": {"created": [interview]}}, world.cursor(token))
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    assert resp.json()["applied"]["photos"]["created"] == 1
    assert stamp() == before
    room = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "label": "C1",
            "room_kind": "cell", "floor_area_m2": 8.0, "occupants": 2}
    resp = world.push(token, {"room_inspections": {"created": [room]}}, world.cursor(token))
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    assert stamp() > before
    assert _indicators(world, visit["id"])["space_min_m2"] == 4.0


def _recs(world: World, visit_id: str) -> dict:
    _settled(world, visit_id)
    return world.sql("select recommendations from visit_indicators where visit_id = :v",
                     v=visit_id).scalar()


def test_follow_up_indicators_survive_pushes_that_write_no_recommendation(
        world: World) -> None:
    """A push of answers, rooms or findings keeps the recommendation indicators it does not
    read again; a review pushed later still moves both visits it links."""
    mon = world.user()
    world.team(mon)
    token = world.device(mon)
    fac = world.facility()
    first, second = visit_raw(fac), visit_raw(fac)
    rec = {"id": str(uuid.uuid4()), "facility_id": fac, "visit_id": first["id"],
           "theme": "material_conditions", "text": "Glaze the windows.",
           "addressed_to": "ministry_of_justice"}
    review = {"id": str(uuid.uuid4()), "recommendation_id": rec["id"],
              "visit_id": second["id"], "status": "implemented", "reviewed_at": 1_000}
    resp = world.push(token, {"visits": {"created": [first, second]},
                              "recommendations": {"created": [rec]},
                              "recommendation_reviews": {"created": [review]}},
                      world.cursor(token))
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    made, reviewed = _recs(world, first["id"]), _recs(world, second["id"])
    assert (made["made"], made["open"]) == (1, 0)
    assert reviewed["by_authority"]["ministry_of_justice"]["rate"] == 1.0
    room = {"id": str(uuid.uuid4()), "visit_id": first["id"], "label": "C1",
            "room_kind": "cell", "floor_area_m2": 9.0, "occupants": 3}
    resp = world.push(token, {"room_inspections": {"created": [room]},
                              "findings": {"created": [finding_raw(second["id"])]}},
                      world.cursor(token))
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    assert _indicators(world, first["id"])["space_min_m2"] == 3.0
    assert _indicators(world, second["id"])["findings"]["total"] == 1
    assert (_recs(world, first["id"]), _recs(world, second["id"])) == (made, reviewed)
    # The review changes its mind: the visit that made the recommendation follows.
    resp = world.push(token, {"recommendation_reviews": {"updated": [
        {**review, "status": "not_implemented"}]}}, world.cursor(token))
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    assert _recs(world, first["id"])["open"] == 1
    assert _recs(world, second["id"])["by_authority"]["ministry_of_justice"]["rate"] == 0.0
