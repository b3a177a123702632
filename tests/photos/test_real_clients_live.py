"""The phone-side libraries the protocol is built for, against a live server on S3 with its
job worker: WatermelonDB's own `synchronize()` on two phones and tus-js-client for the photo
bytes (tests/clients/watermelon_sync.cjs, Node.js; installed by scripts/clients.sh).

The script checks what each phone holds after every step and fails on any warning or error
WatermelonDB logs (it logs what it takes for server bugs); this test then checks what the
server kept: rows, revisions, the quarantine, the push-only interview and the photos."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitor_api.db import make_engine
from sync.retention import prune
from tests.conftest import own_database
from tests.photos.conftest import Server, World
from tests.photos.phones import photo_files, run_phones, run_random, run_replacement


@pytest.mark.parametrize("page_records", [None, 5], ids=["pages-default", "pages-of-5"])
def test_watermelondb_and_tus_js_client_phones(new_server: Any, world: World, tmp_path: Path,
                                               page_records: int | None) -> None:
    """The server takes schema versions 1 and 2: phone A runs the current app (2), phone B
    an older one (1) until its update to 2 migrates its database and its sync. With pages of
    5 records every pull is cut (`has_more`): the app calls synchronize() again at once, as
    WatermelonDB's documentation has it, until the server says no more."""
    paged = {} if page_records is None else {"SYNC_PAGE_RECORDS": str(page_records)}
    server: Server = new_server(SYNC_SCHEMA_MAX="2", **paged)
    first, second = world.user("monitor"), world.user("monitor")
    team = world.team(first, second)
    facility = world.facility()
    for _ in range(12):  # more than two pages of 5 for a first sync, each its own commit
        world.facility()
    visit = world.visit(team, facility)
    _, token_a = world.device(first)
    _, token_b = world.device(second)
    out = run_phones(server.url, token_a=token_a, token_b=token_b, visit_id=visit.id,
                     facility_id=facility.id, files=photo_files(tmp_path))

    ids = out["ids"]
    if page_records is not None:  # the first sync took several pages
        assert out["first"]["pulls"] > 1
    finding = world.rows("select title, description, severity, sources_count as sources, "
                         "is_systemic, standard_refs::text as refs "
                         "from findings where id = :i", i=ids["finding"])[0]
    assert dict(finding) == {"title": "Title by B", "description": "Measured twice; 2.1 m² each.",
                             "severity": "critical_urgent", "sources": 3, "is_systemic": True,
                             "refs": '[{"instrument":"cpt","rule":"space"}]'}
    # Every accepted change kept what it replaced: created, two merges, A's and B's titles,
    # the sources count whose answer was lost - once, though it was pushed twice.
    assert world.scalar("select count(*) from sync_revisions where record_id = :i",
                        i=ids["finding"]) == 6
    assert out["lost"]["pushes"] == 2
    assert world.scalar("select count(*) from sync_revisions where record_id = :i",
                        i=ids["late"]) == 1
    # The refused record is quarantined once, though WatermelonDB sent it on every sync.
    assert world.scalar("select count(*) from sync_quarantine where record_id = :i "
                        "and status = 'pending'", i=ids["bad"]) == 1
    assert world.scalar("select count(*) from interviews where id = :i",
                        i=ids["interview"]) == 1
    assert world.scalar("select count(*) from room_inspections where id = :i",
                        i=ids["mistake"]) == 0
    photos = world.rows("select p.upload_status, b.byte_size = p.byte_size as same_size "
                        "from photos p join blobs b on b.sha256 = lower(p.sha256) "
                        "where p.id = any(cast(:i as uuid[]))", i=ids["photos"])
    assert [dict(p) for p in photos] == [{"upload_status": "verified", "same_size": True}] * 2
    # One upload each: the aborted one was resumed at its URL (HEAD, then the rest), not
    # started again; each is complete and the second kept the bytes sent before the abort.
    uploads = world.rows("select photo_id, state, \"offset\" = length as whole, deduplicated "
                         "from uploads where photo_id = any(cast(:i as uuid[])) "
                         "order by created_at", i=ids["photos"])
    assert [(str(u["photo_id"]), u["state"], u["whole"], u["deduplicated"]) for u in uploads] \
        == [(pid, "complete", True, False) for pid in ids["photos"]]


@pytest.mark.parametrize(("seed", "page_records"), [(1, None), (2, 5), (3, None)])
def test_watermelondb_phones_doing_random_work_converge(new_server: Any, world: World,
                                                        seed: int, page_records: int | None
                                                        ) -> None:
    """Three phones (two monitors, one of them with two phones) create, edit and delete rooms
    and findings of one visit at random, each syncing when the dice say. Afterwards they hold
    the same records as each other and as the server. With whole pulls nothing is refused;
    with pages of 5, WatermelonDB pushes after each page, so an edit of a finding another
    phone deleted may go up before the page with the delete: it is refused into the
    quarantine, kept for review, and the phone drops the record with the next page."""
    paged = {} if page_records is None else {"SYNC_PAGE_RECORDS": str(page_records)}
    server: Server = new_server(SYNC_SCHEMA_MAX="2", **paged)
    first, second = world.user("monitor"), world.user("monitor")
    visit = world.visit(world.team(first, second))
    tokens = [world.device(first)[1], world.device(second)[1], world.device(first)[1]]

    out = run_random(server.url, tokens=tokens, visit_id=visit.id, seed=seed, steps=150)

    assert out["counts"]["deleted"] > 0 and out["counts"]["edited"] > 20
    if page_records is None:
        assert out["refused"] == []
    for record_id in out["refused"]:  # an edit of a deleted finding: kept, never applied
        assert world.scalar("select count(*) from sync_quarantine where record_id = :i and "
                            "status = 'pending'", settle=False, i=record_id) >= 1
        assert record_id not in out["state"]["findings"]
    rooms = {str(r["id"]): {"visit_id": str(r["visit_id"]), "label": r["label"],
                            "room_kind": r["room_kind"], "occupants": r["occupants"],
                            "floor_area_m2": r["floor_area_m2"]}
             for r in world.rows("select * from room_inspections where visit_id = :v",
                                 settle=False, v=visit.id)}
    findings = {str(f["id"]): {
        "visit_id": str(f["visit_id"]), "room_inspection_id": str(f["room_inspection_id"]),
        "theme": f["theme"], "severity": f["severity"], "title": f["title"],
        "description": f["description"], "sources_count": f["sources_count"]}
        for f in world.rows("select * from findings where visit_id = :v", settle=False,
                            v=visit.id)}
    assert out["state"] == {"rooms": rooms, "findings": findings}


def test_watermelondb_replacement_after_the_retention(new_server: Any, database_url: str
                                                     ) -> None:
    """A phone offline past the sync retention gets WatermelonDB's replacement strategy: the
    finding deleted meanwhile leaves it, its offline work survives and is pushed, and the
    records it holds come as `updated` (a `created` record it has would be logged by
    WatermelonDB as a serious bug). On a database of its own: the retention is global."""
    with own_database(database_url, "replace") as url:
        engine = make_engine(url)
        try:
            world = World(engine)
            first, second = world.user("monitor"), world.user("monitor")
            visit = world.visit(world.team(first, second))
            tokens = [world.device(first)[1], world.device(second)[1]]
            server: Server = new_server(DATABASE_URL=url, SYNC_SCHEMA_MAX="2")

            def expire() -> None:  # the delete is a year old; `prune-sync` as cron runs it
                with Session(engine) as s:
                    s.execute(sa.text("update sync_tombstones set deleted_at = "
                                      "now() - interval '400 days'"))
                    counts = prune(s, retention=timedelta(days=365),
                                   idempotency_retention=timedelta(days=7))
                    s.commit()
                assert counts["tombstones"] == 1

            out = run_replacement(server.url, tokens=tokens, visit_id=visit.id, prune=expire)
            ids = out["ids"]
            rows = world.rows("select id::text, description from findings where visit_id = :v",
                              settle=False, v=visit.id)
            assert {r["id"]: r["description"] for r in rows} == {
                ids["kept"]: "Edited offline", ids["fresh"]: None}
        finally:
            engine.dispose()
