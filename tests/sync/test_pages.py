"""Pull pages bounded by bytes as well as records, the fast "nothing changed" poll, and the
records PostgreSQL encodes (identical to the raw form the codec defines)."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from werkzeug.serving import make_server

from monitor_api.app import create_app
from monitor_api.config import Settings
from monitor_api.sync_api.registry import registry
from sync.client import SyncClient
from sync.page import first_over
from tests.sync.conftest import World, finding_raw, visit_raw

PAGE_BYTES = 6000


@pytest.fixture(scope="module")
def small_pages(sync_settings: Settings) -> Iterator[str]:
    """A second server whose pages hold at most PAGE_BYTES of records (and 10,000 records)."""
    app = create_app(replace(sync_settings, sync_page_bytes=PAGE_BYTES,
                             sync_page_records=10_000))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["db_engine"].dispose()


@pytest.fixture
def bytes_world(sync_engine: Engine, small_pages: str) -> World:
    return World(sync_engine, small_pages)


def _push(world: World, token: str, fac: str, cursor: int, findings: int) -> set[str]:
    """One push (one transaction): a visit and its findings; their ids."""
    visit = visit_raw(fac)
    rows = [finding_raw(visit["id"], description="x" * 150) for _ in range(findings)]
    resp = world.push(token, {"visits": {"created": [visit]},
                              "findings": {"created": rows}}, cursor)
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    return {visit["id"], *(r["id"] for r in rows)}


def _pages(world: World, token: str, cursor: Any = "null") -> list[dict[str, Any]]:
    pages = []
    while True:
        body = world.pull(token, cursor).json()
        pages.append(body)
        cursor = body["timestamp"]
        if not body["has_more"]:
            return pages


def _records(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for g in page["changes"].values() for k in ("created", "updated") for r in g[k]]


def test_first_over_never_cuts_before_the_first_transaction() -> None:
    assert first_over({}, 10) is None
    assert first_over({5: 4, 7: 6}, 10) is None
    assert first_over({5: 4, 7: 6, 9: 1}, 10) == 9
    assert first_over({7: 6, 5: 4, 9: 1}, 10) == 9  # in stamp order, whatever the input's
    assert first_over({5: 50, 7: 1}, 10) == 7  # an oversize first transaction goes alone


def test_pages_stay_under_the_byte_bound_and_never_split_a_transaction(
        bytes_world: World) -> None:
    world = bytes_world
    mon = world.user()
    world.team(mon)
    fac = world.facility()
    token = world.device(mon)
    cur = world.cursor(token)
    pushes = [_push(world, token, fac, cur, n) for n in (3, 5, 2, 30, 4, 1, 6)]
    owner = {rid: i for i, ids in enumerate(pushes) for rid in ids}
    pages = _pages(world, world.device(mon))
    assert len(pages) >= 4
    seen: Counter[str] = Counter()
    for page in pages:
        records = _records(page)
        txs = {owner[r["id"]] for r in records if r["id"] in owner}
        size = sum(len(json.dumps(r, separators=(",", ":")).encode()) for r in records)
        # Over the bound only when the page holds one transaction alone.
        assert size <= PAGE_BYTES or len(txs) == 1, (size, txs)
        for i in txs:  # whole transactions only
            assert pushes[i] <= {r["id"] for r in records}
        seen.update(r["id"] for r in records)
    assert set(owner) <= set(seen) and all(seen[rid] == 1 for rid in owner)
    assert any(len(pushes[3] & {r["id"] for r in _records(p)}) == 31 for p in pages)


def test_incremental_pages_are_bounded_too(bytes_world: World) -> None:
    world = bytes_world
    mon = world.user()
    world.team(mon)
    fac = world.facility()
    token = world.device(mon)
    cur = world.cursor(token)
    ids = set().union(*(_push(world, token, fac, cur, 8) for _ in range(6)))
    other = world.device(mon)
    pages = _pages(world, other, cur)
    assert len(pages) >= 3
    got = [r["id"] for p in pages for r in _records(p)]
    assert sorted(got) == sorted(ids)  # exactly once


def test_poll_with_nothing_changed(world: World) -> None:
    mon = world.user()
    world.team(mon)
    world.facility()
    token = world.device(mon)
    cur = world.cursor(token)
    body = world.pull(token, cur).json()
    assert body["has_more"] is False and body["timestamp"] >= cur
    assert set(body["changes"]) == {t.name for t in registry().tables}
    assert all(g == {"created": [], "updated": [], "deleted": []}
               for g in body["changes"].values())
    assert "experimentalStrategy" not in body


def test_poll_with_nothing_changed_still_replaces_a_pruned_cursor(world: World) -> None:
    mon = world.user()
    world.team(mon)
    fac = world.facility()
    token = world.device(mon)
    cur = world.cursor(token)
    world.sql("insert into sync_state (key, value) values ('pruned_below', :v) "
              "on conflict (key) do update set value = excluded.value", v=cur + 1)
    body = world.pull(token, cur).json()
    assert body["experimentalStrategy"] == "replacement"
    # The cursor, though older than the retention, says the phone pulled the facility.
    assert {r["id"] for r in body["changes"]["facilities"]["updated"]} == {fac}
    assert not body["changes"]["facilities"]["created"]
    ahead = world.pull(token, body["timestamp"] + 10_000).json()  # a cursor never issued
    assert ahead["experimentalStrategy"] == "replacement"


def test_poll_with_nothing_changed_answers_426_for_an_old_schema(world: World) -> None:
    mon = world.user()
    world.team(mon)
    token = world.device(mon)
    cur = world.cursor(token)
    resp = world.pull(token, cur, schema_version=99)
    assert resp.status_code == 426 and resp.json()["supported"]


def test_poll_after_a_lost_visit_and_a_push_sends_the_held_deletes(world: World) -> None:
    """Nothing changed in the window since the hold began, but the push released it: the
    poll must not take the fast path while the device has a hold."""
    mon, lead = world.user(), world.user()
    team = world.team(mon, lead, lead=lead)
    fac = world.facility()
    token = world.device(mon)
    visit = world.visit(team, fac)
    cur = world.cursor(token)
    world.leave(team, mon)
    held = world.pull(token, cur).json()
    assert visit not in held["changes"]["visits"]["deleted"]  # held until the device pushes
    resp = world.push(token, {}, held["timestamp"])
    assert resp.status_code == 200, resp.text
    body = world.pull(token, held["timestamp"]).json()
    assert visit in body["changes"]["visits"]["deleted"]


def test_revoked_device_is_refused_by_the_next_pull(world: World) -> None:
    mon = world.user()
    world.team(mon)
    token = world.device(mon)
    cur = world.cursor(token)
    assert world.pull(token, cur).status_code == 200
    world.sql("update devices set revoked_at = now() where user_id = :u", u=mon.id)
    resp = world.pull(token, cur)
    assert resp.status_code == 401 and resp.json()["type"].endswith("device-revoked")
    world.sql("update users set is_active = false where id = :u", u=mon.id)
    assert world.pull(token, cur).status_code == 401


def test_records_made_by_postgresql_match_the_codec(world: World) -> None:
    """Every pulled record equals `Codec.to_raw` of the row read column by column."""
    mon = world.user()
    world.team(mon)
    fac = world.facility()
    world.template()
    token = world.device(mon)
    cur = world.cursor(token)
    visit = visit_raw(fac, summary="Ёлка — «кавычки» \"q\" \\ \u2028 🙂", population_total=12)
    photo = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "sha256": "a" * 64,
             "byte_size": 10, "mime_type": "image/jpeg", "captured_at": 1_732_000_000_123,
             "lat": 38.5612345678, "lng": -68.7912, "consent": "not_needed"}
    resp = world.push(token, {"visits": {"created": [visit]}, "photos": {"created": [photo]},
                              "findings": {"created": [finding_raw(visit["id"])]}}, cur)
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    body = world.pull(world.device(mon)).json()
    checked = 0
    with world.session() as s:
        for st in registry().tables:
            if not st.pull:
                continue
            for rec in body["changes"][st.name]["created"]:
                row = s.execute(sa.select(*st.columns()).where(
                    st.table.c.id == uuid.UUID(rec["id"]))).mappings().one()
                assert rec == st.codec.to_raw(row), st.name
                checked += 1
    assert checked >= 6


def _page(phone: SyncClient) -> dict[str, Any]:
    """One pull page applied as WatermelonDB applies it; the body."""
    cursor = phone.store.last_pulled_at
    resp = phone._send("GET", headers=phone.headers, params={
        "last_pulled_at": "null" if cursor is None else cursor, "migration": "null"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    phone.store.apply_remote(body["changes"])
    phone.store.last_pulled_at = body["timestamp"]
    return body


def _ids(body: dict[str, Any], table: str, kind: str) -> set[str]:
    return {r["id"] for r in body["changes"][table][kind]}


def _findings_in_two_pushes(world: World, token: str, first: int,
                            second: int) -> tuple[str, list[dict[str, Any]]]:
    """A visit with `first` findings in one push, `second` more in the next (two
    transactions); the visit's id and the first findings."""
    visit = visit_raw(world.facility())
    early = [finding_raw(visit["id"]) for _ in range(first)]
    world.push(token, {"visits": {"created": [visit]}, "findings": {"created": early}},
               world.cursor(token))
    world.push(token, {"findings": {"created": [finding_raw(visit["id"])
                                                 for _ in range(second)]}},
               world.cursor(token))
    return visit["id"], early


def test_a_record_changed_past_the_first_page_of_a_first_pull_comes_as_created(
        world: World) -> None:
    """A fresh phone pulls in pages (50 records here). A record created in the first page's
    range and edited before that page was served is left to a later page, which must still
    call it `created`: the phone never had it (judged by this page's cursor it would come
    as `updated`, and WatermelonDB would log a diagnostic)."""
    owner = world.user()
    world.team(owner)
    token = world.device(owner)
    _, first = _findings_in_two_pushes(world, token, 29, 30)
    world.push(token, {"findings": {"updated": [{**first[3], "title": "Edited"}]}},
               world.cursor(token))
    phone = SyncClient(world.base, world.device(owner))
    phone.synchronize()
    assert len(phone.store.table("findings")) == 59  # everything arrives
    assert phone.store.diagnostics == []


def test_a_paged_incremental_pull_labels_records_by_the_cursor_it_began_with(
        world: World) -> None:
    """A phone that synced, then was away while 59 findings were written (the first 29 in
    one transaction, one of those edited after the next 30): every finding is new to it, in
    whichever page it comes."""
    owner = world.user()
    world.team(owner)
    writer = world.device(owner)
    visit = visit_raw(world.facility())
    world.push(writer, {"visits": {"created": [visit]}}, world.cursor(writer))
    phone = SyncClient(world.base, world.device(owner))
    phone.synchronize()
    first = [finding_raw(visit["id"]) for _ in range(29)]
    world.push(writer, {"findings": {"created": first}}, world.cursor(writer))
    world.push(writer, {"findings": {"created": [finding_raw(visit["id"]) for _ in range(30)]}},
               world.cursor(writer))
    world.push(writer, {"findings": {"updated": [{**first[3], "title": "Edited"}]}},
               world.cursor(writer))
    bodies = []
    while not bodies or bodies[-1]["has_more"]:
        bodies.append(_page(phone))
    assert len(bodies) >= 2  # it was paged
    assert phone.store.diagnostics == []
    assert len(phone.store.table("findings")) == 59
    assert phone.store.table("findings")[first[3]["id"]]["title"] == "Edited"
    assert first[3]["id"] in set().union(*(_ids(b, "findings", "created") for b in bodies))


def test_a_record_edited_between_pages_comes_once_in_the_pull_and_again_in_the_next(
        world: World) -> None:
    """Pages end at the first page's horizon: a record delivered by the first page and edited
    before the second is not sent again in the same pull (as `created`, it would be a
    WatermelonDB diagnostic); the next pull brings the edit as `updated`."""
    owner = world.user()
    world.team(owner)
    writer = world.device(owner)
    _, early = _findings_in_two_pushes(world, writer, 40, 40)
    phone = SyncClient(world.base, world.device(owner))
    page1 = _page(phone)
    assert page1["has_more"] and early[0]["id"] in _ids(page1, "findings", "created")
    world.push(writer, {"findings": {"updated": [{**early[0], "title": "Edited"}]}},
               world.cursor(writer))
    rest = []
    while not rest or rest[-1]["has_more"]:
        rest.append(_page(phone))
    assert all(early[0]["id"] not in _ids(b, "findings", k) for b in rest
               for k in ("created", "updated"))
    assert phone.store.diagnostics == []
    assert len(phone.store.table("findings")) == 80
    later = _page(phone)
    assert _ids(later, "findings", "updated") == {early[0]["id"]}
    assert phone.store.table("findings")[early[0]["id"]]["title"] == "Edited"
    assert phone.store.diagnostics == []


def test_a_repeated_page_is_labelled_as_the_first_time(world: World) -> None:
    """A page whose answer was lost is asked again with the same cursor: same records, same
    labels, and the pull goes on from there."""
    owner = world.user()
    world.team(owner)
    writer = world.device(owner)
    visit_id, first = _findings_in_two_pushes(world, writer, 29, 30)
    world.push(writer, {"findings": {"created": [finding_raw(visit_id) for _ in range(30)]}},
               world.cursor(writer))
    world.push(writer, {"findings": {"updated": [{**f, "title": "Edited"} for f in first[:5]]}},
               world.cursor(writer))
    token = world.device(owner)
    page1 = world.pull(token).json()
    page2 = world.pull(token, page1["timestamp"]).json()
    again = world.pull(token, page1["timestamp"]).json()
    assert page1["has_more"] and page2["has_more"]
    for kind in ("created", "updated"):
        assert _ids(again, "findings", kind) == _ids(page2, "findings", kind)
    assert _ids(page2, "findings", "updated") == set()
    phone = SyncClient(world.base, token)
    phone.store.apply_remote(page1["changes"])
    phone.store.apply_remote(again["changes"])
    phone.store.last_pulled_at = again["timestamp"]
    phone.pull()
    assert phone.store.diagnostics == []
    assert len(phone.store.table("findings")) == 89
