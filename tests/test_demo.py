"""`make run`'s demo: `seed-demo --if-empty` gives SAMPLE condition histories worth looking at,
the same on every machine and only once, read over HTTP as an Ombudsman partner.

Two scratch databases next to the test database: A is seeded from empty, as on a fresh
checkout; B is a demo database from before the histories (users, sample facilities and the
starter checklist, no visits) that the next `make run` completes. Both must hold the same
history, indicator for indicator.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from monitor_api.app import create_app
from monitor_api.cli import main
from monitor_api.config import Settings
from monitor_api.db import make_engine
from monitor_api.migrate import upgrade

YEARS = (2023, 2024, 2025)
HISTORY_TABLES = ("visits", "answers", "room_inspections", "findings", "recommendations",
                  "recommendation_reviews", "access_incidents", "photos", "blobs")


@dataclass
class Demo:
    url: str
    engine: Engine
    blobs: Path
    state: Path
    outputs: list[str]


def _run(demo: Demo, *args: str) -> str:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", demo.url)
        mp.setenv("BLOB_DIR", str(demo.blobs))
        mp.setenv("MONITOR_STATE_DIR", str(demo.state))
        mp.setenv("LOG_LEVEL", "WARNING")
        mp.delenv("S3_BUCKET", raising=False)
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as stdout:
            stdout.setattr("sys.stdout", out)
            assert main(list(args)) == 0
    demo.outputs.append(out.getvalue())
    return out.getvalue()


@pytest.fixture(scope="module")
def admin_engine(database_url: str) -> Iterator[Engine]:
    url = make_url(database_url).set(database="postgres")
    engine = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _scratch(database_url: str, admin: Engine, suffix: str,
             tmp: pytest.TempPathFactory) -> Demo:
    url = make_url(database_url)
    name = f"{url.database}_demo_{suffix}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
            conn.execute(text(f'create database "{name}"'))
    except Exception as exc:  # e.g. a CI role without CREATEDB
        pytest.skip(f"cannot create a scratch database: {exc}")
    scratch = url.set(database=name).render_as_string(hide_password=False)
    upgrade(scratch)
    return Demo(scratch, make_engine(scratch), tmp.mktemp(f"blobs_{suffix}"),
                tmp.mktemp(f"state_{suffix}"), [])


def _drop(demo: Demo, admin: Engine) -> None:
    demo.engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{make_url(demo.url).database}" with (force)'))


@pytest.fixture(scope="module")
def fresh(database_url: str, admin_engine: Engine,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """Database A: `seed-demo --if-empty` on an empty database, twice."""
    demo = _scratch(database_url, admin_engine, "a", tmp_path_factory)
    _run(demo, "seed-demo", "--if-empty")
    demo.outputs.append(json.dumps(_counts(demo)))
    _run(demo, "seed-demo", "--if-empty")
    yield demo
    _drop(demo, admin_engine)


@pytest.fixture(scope="module")
def upgraded(database_url: str, admin_engine: Engine,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """Database B: seeded as before the histories existed, then `seed-demo --if-empty`."""
    from monitor_api.checklists.loader import seed_starter_checklist
    from monitor_api.demo.seed import create_demo_users, load_sample_facilities

    demo = _scratch(database_url, admin_engine, "b", tmp_path_factory)
    with Session(demo.engine) as session:
        create_demo_users(session)
        load_sample_facilities(session)
        seed_starter_checklist(session)
        session.commit()
    _run(demo, "seed-demo", "--if-empty")
    yield demo
    _drop(demo, admin_engine)


def _counts(demo: Demo) -> dict[str, int]:
    with demo.engine.connect() as conn:
        return {t: conn.scalar(text(f"select count(*) from {t}")) for t in HISTORY_TABLES}


@pytest.fixture(scope="module")
def partner(fresh: Demo, settings: Settings) -> Iterator[Any]:
    """The demo partner (the Ombudsman's office) logged in to an app on database A."""
    app = create_app(replace(settings, database_url=fresh.url, blob_dir=str(fresh.blobs)))
    client: FlaskClient = app.test_client()
    creds = json.loads(next(fresh.state.glob("demo-credentials-*.json")).read_text())
    resp = client.post("/api/v1/auth/login", json={"username": "demo-partner",
                                                   "password": creds["demo-partner"]})
    assert resp.status_code == 201, resp.get_json()
    token = resp.get_json()["token"]

    def get(url: str, **kw: Any) -> Any:
        return client.get(url, headers={"Authorization": f"Bearer {token}"}, **kw)

    yield get
    app.extensions["db_engine"].dispose()


def _sample_facilities(demo: Demo) -> dict[str, str]:
    with demo.engine.connect() as conn:
        return {code: str(fid) for fid, code in conn.execute(text(
            "select id, code from facilities where is_sample"))}


def test_histories_worth_looking_at(fresh: Demo, partner: Any) -> None:
    rich = []
    for code, facility_id in sorted(_sample_facilities(fresh).items()):
        resp = partner(f"/api/v1/facilities/{facility_id}/conditions")
        assert resp.status_code == 200, resp.get_json()
        visits = resp.get_json()["visits"]
        published = [v for v in visits if v["visit"]["published"]]
        years = {v["visit"]["date"][:4] for v in published}
        if len(published) >= 4 and len(years) >= 3:
            rich.append(code)
            assert all(v["indicators"]["occupancy"]["rate"] for v in published)
            assert all(v["indicators"]["living_space"]["rooms_measured"] for v in published)
            assert all(v["indicators"]["compliance"]["overall"]["answered"] >= 30
                       for v in published)
            assert any(v["changes"] for v in published[1:])  # what changed since last time
    assert len(rich) >= 8, rich
    colony = _sample_facilities(fresh)["ЯС 3/1"]
    latest = partner(f"/api/v1/facilities/{colony}/conditions").get_json()["visits"]
    over = [v["indicators"]["occupancy"]["population_total"] - 1500 for v in latest]
    assert min(over) >= 136 and max(over) <= 300  # the Ombudsman's 2023 report: 136-300
    assert any(v["indicators"]["living_space"]["min_m2"] < 4 for v in latest)


def test_recommendations_repeated_with_status_histories(fresh: Demo, partner: Any) -> None:
    chains, statuses = [], set()
    for facility_id in _sample_facilities(fresh).values():
        resp = partner(f"/api/v1/facilities/{facility_id}/recommendations")
        assert resp.status_code == 200, resp.get_json()
        for item in resp.get_json()["items"]:
            statuses.update(r["status"] for r in item["status_history"])
            if item["chain_length"] >= 3 and item["addressed_to"] == "ministry_of_justice":
                chains.append(item)
            assert item["text"].startswith("SAMPLE")
    assert chains
    assert {"implemented", "partially_implemented", "not_implemented"} <= statuses
    # Each earlier link of a chain was reviewed at the next visit (its status history).
    by_id: dict[str, Any] = {}
    for facility_id in _sample_facilities(fresh).values():
        for item in partner(f"/api/v1/facilities/{facility_id}/recommendations"
                            ).get_json()["items"]:
            by_id[item["id"]] = item
    longest = max(chains, key=lambda i: i["chain_length"])
    for earlier in longest["repeats_chain"]:
        assert by_id[earlier]["status_history"], earlier
        assert by_id[earlier]["latest_status"] != "implemented"


def test_annual_figures_and_standards(fresh: Demo, partner: Any) -> None:
    for year in YEARS:
        resp = partner(f"/api/v1/statistics/annual?year={year}")
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        assert body["visits"]["total"] >= 8, (year, body["visits"])
        assert body["visits"]["unpublished_included"] == 0
        assert body["recommendations"]["total"] > 0
        assert body["access_incidents"], year
        if year > YEARS[0]:
            assert body["implementation_by_authority"]["ministry_of_justice"]["reviewed"] > 0
    solitary = partner("/api/v1/answers?standard=mandela:44&compliant=false&per_page=100")
    assert solitary.status_code == 200, solitary.get_json()
    assert any((a["answer"]["number_value"] or 0) > 15 for a in solitary.get_json()["items"])
    bangkok = partner("/api/v1/answers?standard=bangkok:6&compliant=false&holds=women"
                      "&per_page=100").get_json()["items"]
    assert any(a["answer"]["value"] == "no" and a["facility"]["code"] == "ЯС 3/8"
               for a in bangkok)


def test_partner_sees_consented_verified_photos(fresh: Demo, partner: Any) -> None:
    with fresh.engine.connect() as conn:
        held_back = {str(i) for i in conn.scalars(text(
            "select id from photos where consent is null"))}
        statuses = set(conn.scalars(text("select distinct upload_status from photos")))
    assert held_back and statuses == {"verified"}
    seen = []
    for facility_id in _sample_facilities(fresh).values():
        resp = partner(f"/api/v1/facilities/{facility_id}/photos")
        assert resp.status_code == 200, resp.get_json()
        seen += resp.get_json()["items"]
    assert seen and not held_back & {p["id"] for p in seen}
    assert all(p["consent"] in ("obtained", "not_needed") for p in seen)
    thumb = partner(seen[0]["thumbnail"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.data)).size) <= 320
    assert partner(seen[0]["display"]).status_code == 200
    assert partner(f"/api/v1/photos/{seen[0]['id']}/original").status_code == 403
    assert partner(f"/api/v1/photos/{sorted(held_back)[0]}/thumbnail").status_code == 404


def test_marked_as_sample(fresh: Demo) -> None:
    with fresh.engine.connect() as conn:
        assert not conn.scalar(text("select count(*) from visits where summary not like "
                                    "'SAMPLE%'"))
        assert not conn.scalar(text("select count(*) from findings where title not like "
                                    "'SAMPLE%'"))
        assert not conn.scalar(text(
            "select count(*) from visits v join facilities f on f.id = v.facility_id "
            "where not f.is_sample"))


def test_seeding_twice_does_not_duplicate(fresh: Demo) -> None:
    first = json.loads(fresh.outputs[1])
    assert first["visits"] >= 40 and first["photos"] >= 40
    assert "already present" in fresh.outputs[2]
    assert _counts(fresh) == first


def test_old_demo_database_gets_the_same_history(fresh: Demo, upgraded: Demo) -> None:
    assert "demo data seeded" in upgraded.outputs[0]
    assert _counts(upgraded) == _counts(fresh)

    def indicators(demo: Demo) -> dict[str, Any]:
        with demo.engine.connect() as conn:
            rows = conn.execute(text(
                "select i.*, f.code from visit_indicators i join facilities f "
                "on f.id = i.facility_id")).mappings()
            return {str(r["visit_id"]): {k: v for k, v in r.items()
                                         if k not in ("computed_at", "facility_id")}
                    for r in rows}

    a, b = indicators(fresh), indicators(upgraded)
    assert len(a) >= 40 and a == b


def test_the_demo_records_carry_the_json_a_pull_builds(fresh: Demo) -> None:
    """Every synced record the demo wrote (ORM, bulk loaders, jobs) holds, in its stored JSON,
    exactly what a pull would build from its columns (`sync.stored`)."""
    from monitor_api.sync_api.registry import registry
    from sync import stored

    with fresh.engine.connect() as conn:
        counts = stored.check(conn, registry())
    filled = [name for name, (rows, _) in counts.items() if rows]
    assert {"facilities", "checklist_templates", "checklist_questions", "visits", "answers",
            "findings", "recommendations", "recommendation_reviews", "photos"} <= set(filled)
    assert all(bad == 0 for _, bad in counts.values()), counts
