"""Record JSON kept by the database (`sync.stored`): the trigger writes exactly what a pull
would build, on every path that writes a row; a missing value is built by the pull; the
installer is idempotent and recomputes a table's rows when its trigger changes."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from monitor_api.sync_api.registry import registry
from sync import stored
from tests.sync.conftest import World, finding_raw, visit_raw


def _records(world: World) -> tuple[str, dict[str, str], dict[str, dict]]:
    """A phone's records of several tables pushed, plus a template and a facility."""
    mon = world.user()
    world.team(mon)
    fac = world.facility()
    world.template()
    token = world.device(mon)
    visit = visit_raw(fac, summary="Ёлка — «кавычки» \"q\" \\ \u2028 🙂", population_total=7)
    room = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "label": "Cell 3",
            "room_kind": "cell", "floor_area_m2": 12.25, "occupants": 5, "beds": 4,
            "inspected_at": -1}
    photo = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "sha256": "b" * 64,
             "byte_size": 10, "captured_at": 1_732_000_000_123, "lat": 38.5612345678,
             "lng": -68.7912, "consent": "not_needed"}
    finding = finding_raw(visit["id"], standard_refs='[ {"rule":"44", "instrument":"mandela"} ]')
    changes = {"visits": {"created": [visit]}, "room_inspections": {"created": [room]},
               "photos": {"created": [photo]}, "findings": {"created": [finding]}}
    resp = world.push(token, changes, world.cursor(token))
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    return token, {"visit": visit["id"], "room": room["id"]}, changes


def _check(world: World) -> dict[str, tuple[int, int]]:
    with world.engine.connect() as conn:
        return stored.check(conn, registry())


def test_the_stored_json_is_what_a_pull_builds_on_every_write_path(world: World) -> None:
    _records(world)
    counts = _check(world)
    assert set(counts) == {st.name for st in registry().tables if st.pull}
    for name in ("facilities", "checklist_templates", "checklist_questions", "visits",
                 "room_inspections", "photos", "findings"):
        assert counts[name][0] > 0, name
    assert all(bad == 0 for _, bad in counts.values()), counts
    # Writes that are not pushes: plain SQL, a server-set column, a stamp-only change.
    world.sql("update room_inspections set occupants = occupants + 1, notes = 'Re-counted'")
    world.sql("update photos set upload_status = 'verified'")
    world.sql("update facilities set name = name || ' (renamed)', location ="
              " 'SRID=4326;POINT(69.1 39.2)'")
    world.sql("update checklist_templates set title = title || ' v2'")
    assert all(bad == 0 for _, bad in _check(world).values()), _check(world)


def test_a_missing_stored_json_is_built_by_the_pull(world: World) -> None:
    token, ids, changes = _records(world)
    with world.engine.begin() as conn:
        conn.execute(sa.text("alter table room_inspections disable trigger user"))
        conn.execute(sa.text("update room_inspections set raw_json = null"))
        conn.execute(sa.text("alter table room_inspections enable trigger user"))
    assert _check(world)["room_inspections"][1] > 0
    pulled = {}
    cursor = "null"
    while True:
        page = world.pull(token, cursor).json()
        pulled.update({r["id"]: r for g in ("created", "updated")
                       for r in page["changes"]["room_inspections"][g]})
        cursor = page["timestamp"]
        if not page["has_more"]:
            break
    room = changes["room_inspections"]["created"][0]
    got = pulled[ids["room"]]
    assert {k: got[k] for k in room} == room


def test_the_installer_is_idempotent_and_recomputes_when_the_triggers_change(
        world: World) -> None:
    _records(world)
    with world.engine.begin() as conn:
        assert stored.install(conn, registry()) == []  # current: nothing to do
        # A stale value the triggers did not write (as if computed by older triggers).
        conn.execute(sa.text("alter table visits disable trigger user"))
        conn.execute(sa.text("update visits set raw_json = '{}'"))
        conn.execute(sa.text("alter table visits enable trigger user"))
        stamps = conn.execute(sa.text("select id, change_xid::text from visits")).all()
        conn.execute(sa.text(  # as if installed from other SQL
            "comment on function sync_record_json_visits() is 'record-json 0'"))
        assert stored.install(conn, registry()) == ["visits"]
        assert conn.execute(sa.text("select id, change_xid::text from visits")).all() == stamps
    assert all(bad == 0 for _, bad in _check(world).values())
