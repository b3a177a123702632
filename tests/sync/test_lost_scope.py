"""A monitor removed from a team while offline: their unsent edits reach the quarantine
before their phone is told to delete the visit (WatermelonDB pulls before it pushes and
destroys local edits of every record a pull deletes)."""

from __future__ import annotations

import uuid
from typing import Any

import requests

from sync.client import SyncClient
from tests.sync.conftest import World, finding_raw, visit_raw


def _team_visit(world: World) -> tuple[Any, Any, uuid.UUID, SyncClient, dict[str, Any]]:
    coord, mon = world.user("coordinator"), world.user()
    team = world.team(coord, mon)
    phone = world.client(mon)
    visit = visit_raw(world.facility())
    phone.store.create("visits", **visit)
    phone.store.create("findings", **finding_raw(visit["id"], id=str(uuid.uuid4())))
    phone.synchronize()
    assert not phone.store.local_changes() and not phone.store.rejected
    return coord, mon, team, phone, visit


def _quarantine(world: World, token: str) -> list[dict[str, Any]]:
    resp = requests.get(f"{world.base}/api/v1/sync/quarantine?per_page=100", timeout=10,
                        headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def test_unsent_edits_of_a_lost_visit_reach_the_quarantine_first(world: World) -> None:
    coord, mon, team, phone, visit = _team_visit(world)
    [finding_id] = phone.store.table("findings")
    # Offline: the monitor edits a finding and measures a room ...
    phone.store.update("findings", finding_id, title="Beaten in the corridor, 3 witnesses")
    phone.store.create("room_inspections", visit_id=visit["id"], label="Cell 12",
                       room_kind="cell", floor_area_m2=9.0, occupants=6)
    # ... while a coordinator removes them from the team.
    world.leave(team, mon)
    phone.pull()
    # The pull did not delete the visit: the edits are still on the phone.
    assert visit["id"] in phone.store.table("visits")
    assert phone.store.table("findings")[finding_id]["_status"] == "updated"
    assert phone.push()
    # Refused (no access any more), and kept for the coordinators of the visit's team.
    parked = {(r["table"], r["id"]) for r in phone.store.rejected}
    assert ("findings", finding_id) in parked and len(parked) == 2
    items = _quarantine(world, world.login(coord))
    kept = {i["table_name"]: i for i in items}
    assert kept["findings"]["raw"]["title"] == "Beaten in the corridor, 3 witnesses"
    assert kept["room_inspections"]["raw"]["label"] == "Cell 12"
    assert {i["team_id"] for i in items} == {str(team)}
    # Now the phone may forget the visit.
    phone.synchronize()
    assert phone.store.table("visits") == {} and phone.store.table("findings") == {}
    assert phone.store.diagnostics == []


def test_a_lost_answer_sends_the_deletes_again(world: World) -> None:
    _coord, mon, team, phone, visit = _team_visit(world)
    world.leave(team, mon)
    token = phone.headers["Authorization"].split()[1]
    cur = phone.store.last_pulled_at
    held = world.pull(token, cur).json()
    assert held["changes"]["visits"]["deleted"] == []
    world.push(token, {"visits": {"created": [visit_raw(world.facility())]}},
               held["timestamp"])
    first = world.pull(token, held["timestamp"]).json()
    assert first["changes"]["visits"]["deleted"] == [visit["id"]]
    again = world.pull(token, held["timestamp"]).json()  # the answer was lost on the way
    assert again["changes"]["visits"]["deleted"] == [visit["id"]]
    past = world.pull(token, again["timestamp"]).json()  # received: never again
    assert past["changes"]["visits"]["deleted"] == []
    assert world.sql("select count(*) from sync_scope_holds").scalar() == 0


def test_a_hold_expires_without_a_push(world: World) -> None:
    _coord, mon, team, phone, visit = _team_visit(world)
    world.leave(team, mon)
    phone.synchronize()  # nothing to push: held
    assert visit["id"] in phone.store.table("visits")
    world.sql("update sync_scope_holds set held_at = now() - interval '15 days'")
    phone.synchronize()
    assert phone.store.table("visits") == {}


def test_access_back_before_the_deletes_keeps_the_records(world: World) -> None:
    _coord, mon, team, phone, visit = _team_visit(world)
    world.leave(team, mon)
    phone.synchronize()
    world.join(team, mon)
    phone.synchronize()
    assert visit["id"] in phone.store.table("visits")
    assert phone.store.diagnostics == []  # they came as updated: the phone has them
    phone.synchronize()  # pulled past that answer: the hold is gone
    assert world.sql("select count(*) from sync_scope_holds").scalar() == 0
    # Removed, deletes delivered, added again: the records come back as created.
    world.leave(team, mon)
    phone.store.create("visits", **visit_raw(world.facility()))
    phone.synchronize()
    phone.synchronize()
    assert visit["id"] not in phone.store.table("visits")
    world.join(team, mon)
    phone.synchronize()
    assert visit["id"] in phone.store.table("visits")
    assert phone.store.diagnostics == []


def test_access_back_with_a_lost_answer_still_sends_updated(world: World) -> None:
    _coord, mon, team, phone, visit = _team_visit(world)
    token = phone.headers["Authorization"].split()[1]
    world.leave(team, mon)
    phone.synchronize()  # held
    cur = phone.store.last_pulled_at
    world.join(team, mon)
    for _ in range(2):  # the first answer is lost on the way: the phone asks again
        body = world.pull(token, cur).json()
        assert [v["id"] for v in body["changes"]["visits"]["updated"]] == [visit["id"]]
        assert body["changes"]["visits"]["created"] == []
    after = world.pull(token, body["timestamp"]).json()
    assert not after["changes"]["visits"]["updated"] and not after["changes"]["visits"]["created"]
    assert world.sql("select count(*) from sync_scope_holds").scalar() == 0


def test_a_visit_created_and_lost_between_two_pulls_never_reaches_the_phone(
        world: World) -> None:
    coord, mon = world.user("coordinator"), world.user()
    team = world.team(coord, mon)
    phone = world.client(mon)
    phone.synchronize()
    other = world.client(coord)  # a colleague creates a visit the phone has not pulled yet
    visit = visit_raw(world.facility())
    other.store.create("visits", **visit)
    other.synchronize()
    world.leave(team, mon)
    phone.synchronize()  # nothing to hold or delete: the phone never had that visit
    assert world.sql("select count(*) from sync_scope_holds").scalar() == 0
    world.join(team, mon)
    phone.synchronize()
    assert visit["id"] in phone.store.table("visits")
    assert phone.store.diagnostics == []  # it came as created, not as a missing "updated"
