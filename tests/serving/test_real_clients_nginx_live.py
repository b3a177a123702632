"""WatermelonDB and tus-js-client phones (tests/photos/phones.py) against the server as
`make run` starts it: nginx in front (request buffering, the uploads pool, gzip), the two
gunicorn pools and the job worker on the local blob folder. The script checks each phone's
data after every step; here, that what it sent reached the database through the front."""

from __future__ import annotations

from pathlib import Path

from monitor_api.db import make_engine
from tests.photos.conftest import World
from tests.photos.phones import photo_files, run_phones
from tests.serving.conftest import Served


def test_phones_through_nginx(served: Served, tmp_path: Path) -> None:
    engine = make_engine(served.db_url)  # the served database, dropped after the session
    try:
        world = World(engine)
        first, second = world.user("monitor"), world.user("monitor")
        facility = world.facility()
        visit = world.visit(world.team(first, second), facility)
        tokens = [world.device(first)[1], world.device(second)[1]]

        out = run_phones(served.url, token_a=tokens[0], token_b=tokens[1], visit_id=visit.id,
                         facility_id=facility.id, files=photo_files(tmp_path))

        ids = out["ids"]
        assert world.scalar("select title from findings where id = :i",
                            settle=False, i=ids["finding"]) == "Title by B"
        statuses = world.rows("select upload_status from photos where id = any(cast(:i as "
                              "uuid[]))", settle=False, i=ids["photos"])
        assert [r["upload_status"] for r in statuses] == ["verified", "verified"]
    finally:
        engine.dispose()
