"""The commit-safe cursor: pages at transaction boundaries, replacement, out-of-order commits."""

from __future__ import annotations

import uuid
from collections import Counter

import sqlalchemy as sa

from monitor_api.findings.models import Finding
from tests.sync.conftest import World, finding_raw, visit_raw


def _rooms(visit_id: str, n: int) -> list[dict]:
    return [{"id": str(uuid.uuid4()), "visit_id": visit_id, "label": f"Cell {i}",
             "room_kind": "cell", "floor_area_m2": 12.5, "occupants": 6} for i in range(n)]


def _push_visit_with_rooms(world: World, token: str, fac: str, cursor: int, n: int) -> str:
    visit = visit_raw(fac)
    resp = world.push(token, {"visits": {"created": [visit]},
                              "room_inspections": {"created": _rooms(visit["id"], n)}}, cursor)
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    return visit["id"]


def test_pages_never_split_a_transaction(world: World) -> None:
    """Page limit 50 (test settings): each push is one transaction and arrives whole."""
    mon = world.user()
    world.team(mon)
    fac = world.facility()
    token = world.device(mon)
    cur = world.cursor(token)
    sizes = {_push_visit_with_rooms(world, token, fac, cur, n): n for n in (30, 30, 70, 5)}
    fresh = world.device(mon)
    cursor: object = "null"
    pages = []
    while True:
        body = world.pull(fresh, cursor).json()
        pages.append(body)
        assert body["timestamp"] > (cursor if isinstance(cursor, int) else -1)
        cursor = body["timestamp"]
        if not body["has_more"]:
            break
    assert len(pages) >= 3
    seen: Counter[str] = Counter()
    for page in pages:
        rooms = page["changes"]["room_inspections"]["created"]
        visits = {v["id"] for v in page["changes"]["visits"]["created"]}
        per_visit = Counter(r["visit_id"] for r in rooms)
        for vid, n in per_visit.items():
            assert n == sizes[vid], "a transaction's rows were split across pages"
            assert vid in visits
        seen.update(per_visit)
        total = sum(len(g[k]) for g in page["changes"].values() for k in ("created", "updated"))
        assert total <= 50 or len(per_visit) == 1  # only a single oversize transaction exceeds
    assert dict(seen) == sizes


def test_cursor_ahead_of_horizon_gets_replacement(world: World) -> None:
    mon = world.user()
    world.team(mon)
    fac = world.facility()
    token = world.device(mon)
    cur = world.cursor(token)
    vid = _push_visit_with_rooms(world, token, fac, cur, 2)
    body = world.pull(token, cur + 10**9).json()
    assert body["experimentalStrategy"] == "replacement"
    # Labelled by what the phone holds: its own visit as `updated` (WatermelonDB logs a
    # `created` record it already has as a bug), the rest, never pruned, as `created`.
    assert {v["id"] for v in body["changes"]["visits"]["updated"]} == {vid}
    assert not body["changes"]["visits"]["created"]
    assert {f["id"] for f in body["changes"]["facilities"]["created"]} == {fac}
    assert body["timestamp"] <= cur + 10**6
    bad = world.pull(token, "-5")
    assert bad.status_code == 422
    assert bad.headers["Content-Type"].startswith("application/problem+json")
    assert world.pull(token, str(2**53)).status_code == 422


def test_out_of_order_commits_reach_a_client_that_pulled_in_between(world: World) -> None:
    """T1 begins and writes first, T2 writes and commits, a client pulls, then T1 commits."""
    mon = world.user()
    team = world.team(mon)
    fac = world.facility()
    visit = world.visit(team, fac)
    token = world.device(mon)
    cur = world.cursor(token)
    row = {"visit_id": uuid.UUID(visit), "theme": "treatment", "severity": "serious"}
    first, second = uuid.uuid4(), uuid.uuid4()
    with world.engine.connect() as t1, world.engine.connect() as t2:
        t1.execute(sa.insert(Finding.__table__).values(id=first, title="older txn", **row))
        x1 = int(t1.execute(sa.text("select pg_current_xact_id()::text")).scalar())
        t2.execute(sa.insert(Finding.__table__).values(id=second, title="newer txn", **row))
        x2 = int(t2.execute(sa.text("select pg_current_xact_id()::text")).scalar())
        assert x1 < x2
        t2.commit()
        between = world.pull(token, cur).json()
        got = {f["id"] for f in between["changes"]["findings"]["created"]}
        assert str(first) not in got
        # A sequence or timestamp cursor would now move past x1; ours stays at or below it.
        assert between["timestamp"] <= x1
        t1.commit()
    after = world.pull(token, between["timestamp"]).json()
    got |= {f["id"] for f in after["changes"]["findings"]["created"]}
    assert {str(first), str(second)} <= got


def test_publishing_a_template_sends_its_questions(world: World) -> None:
    mon = world.user()
    world.team(mon)
    tpl, qs = world.template(status="draft")
    token = world.device(mon)
    cur = world.cursor(token)
    world.sql("update checklist_templates set status = 'published' where id = :i", i=tpl)
    body = world.pull(token, cur).json()
    assert {t["id"] for t in body["changes"]["checklist_templates"]["updated"]} == {tpl}
    got = body["changes"]["checklist_questions"]
    assert {q["id"] for q in got["created"] + got["updated"]} == set(qs)
    cur = body["timestamp"]
    world.sql("update checklist_templates set status = 'retired' where id = :i", i=tpl)
    body = world.pull(token, cur).json()
    assert body["changes"]["checklist_templates"]["deleted"] == [tpl]


def test_soft_deleted_facility_goes_down_as_deleted(world: World) -> None:
    mon = world.user()
    world.team(mon)
    fac = world.facility()
    token = world.device(mon)
    cur = world.cursor(token)
    world.sql("update facilities set deleted_at = now() where id = :i", i=fac)
    assert world.pull(token, cur).json()["changes"]["facilities"]["deleted"] == [fac]


def test_finding_raw_fields_round_trip(world: World) -> None:
    mon = world.user()
    world.team(mon)
    fac = world.facility()
    token = world.device(mon)
    cur = world.cursor(token)
    visit = visit_raw(fac, planned_for=1_700_000_000_123)
    finding = finding_raw(visit["id"], is_systemic=True, sources_count=3)
    photo = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "sha256": "ab" * 32,
             "byte_size": 1234, "mime_type": "image/jpeg", "lat": 38.5598, "lng": 68.787,
             "captured_at": 1_700_000_000_999, "consent": "obtained",
             "upload_status": "verified"}
    resp = world.push(token, {"visits": {"created": [visit]},
                              "findings": {"created": [finding]},
                              "photos": {"created": [photo]}}, cur)
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    body = world.pull(world.device(mon)).json()
    v = body["changes"]["visits"]["created"][0]
    assert v["planned_for"] == 1_700_000_000_123
    f = body["changes"]["findings"]["created"][0]
    assert f["is_systemic"] is True and f["sources_count"] == 3
    p = body["changes"]["photos"]["created"][0]
    assert (p["lat"], p["lng"], p["captured_at"]) == (38.5598, 68.787, 1_700_000_000_999)
    assert p["upload_status"] == "pending"  # server-set: the pushed value was ignored
