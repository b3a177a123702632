"""The pages in a real browser: Debian's Chromium driven by Playwright, against a live
server on a committed database, with the tile server unreachable. Screenshots of the key
pages go to var/screenshots/ (git-ignored)."""

from __future__ import annotations

import secrets
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from geoalchemy2.elements import WKTElement
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from monitor_api.accounts.models import Team, TeamMember, User
from monitor_api.accounts.service import hash_password
from monitor_api.app import create_app
from monitor_api.config import Settings
from monitor_api.db import make_engine
from monitor_api.facilities.models import Facility
from tests.conftest import own_database
from tests.histories.conftest import CAPACITY, ROLES, History, populate

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "correct horse battery staple"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is installed by make test")


@pytest.fixture(scope="module")
def site(database_url: str, settings: Settings) -> Iterator[dict[str, Any]]:
    """A committed history in a database of its own, served over HTTP in a thread."""
    with own_database(database_url, "web") as own:
        yield from _serve(own, settings)


def _serve(own: str, settings: Settings) -> Iterator[dict[str, Any]]:
    engine = make_engine(own)
    h = History()
    with Session(engine, expire_on_commit=False) as db:
        hashed = hash_password(PASSWORD)
        for key, role in ROLES:
            h.users[key] = User(username=f"{key}-{secrets.token_hex(3)}", display_name=key,
                                role=role, password_hash=hashed)
            db.add(h.users[key])
        db.flush()
        teams = []
        for lead, member in (("coord_a", "mon_a"), ("coord_b", "mon_b")):
            team = Team(name=f"team-{lead}", lead_id=h.users[lead].id)
            db.add(team)
            db.flush()
            db.add_all([TeamMember(team_id=team.id, user_id=h.users[lead].id),
                        TeamMember(team_id=team.id, user_id=h.users[member].id)])
            teams.append(team)
        h.facility = Facility(code="ЯС 3/4", name="SIZO No. 1", name_ru="СИЗО № 1",
                              name_tg="Тавқифгоҳи № 1", facility_type="pretrial_detention",
                              authority="ministry_of_justice", region="TJ-SU",
                              official_capacity=CAPACITY, holds={"men": True, "women": True},
                              location=WKTElement("POINT(69.6 40.28)", srid=4326))
        h.other_facility = Facility(code="IVS-7", name="IVS Dushanbe", region="TJ-DU",
                                    facility_type="police_custody",
                                    authority="ministry_of_interior", official_capacity=20,
                                    location=WKTElement("POINT(68.78 38.56)", srid=4326))
        db.add_all([h.facility, h.other_facility])
        db.flush()
        other = populate(db, h, *teams)
        for visit in [*h.visits, other]:
            visit.status, visit.published_at = "reported", datetime.now(UTC)
        db.commit()
    web_settings = replace(settings, database_url=own, web_secret_key="test-" + "k" * 40,
                           web_tile_url="http://127.0.0.1:9/{z}/{x}/{y}.png")
    app = create_app(web_settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"base": f"http://127.0.0.1:{server.server_port}", "h": h, "engine": engine}
    server.shutdown()
    app.extensions["db_engine"].dispose()
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


def _page(browser: Any, site: dict[str, Any], who: str, width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  accept_downloads=True)
    page = context.new_page()
    page.goto(site["base"] + "/login")
    page.fill("#username", site["h"].users[who].username)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(site["base"] + "/")
    return page


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_partner_map_with_tiles_unreachable_and_facility_charts(browser: Any,
                                                                site: dict[str, Any]) -> None:
    page = _page(browser, site, "partner")
    page.wait_for_selector("#map[data-markers]")
    assert page.get_attribute("#map", "data-markers") == "2"
    assert page.locator("path.leaflet-interactive").count() == 2  # drawn without tiles
    _shot(page, "map")
    page.click(f"a[href='/facilities/{site['h'].facility.id}']")
    page.wait_for_selector(".uplot")
    charts = page.locator("[data-chart]")
    assert charts.count() == 4
    for i in range(4):  # every chart drew one point per published visit
        assert charts.nth(i).get_attribute("data-points") == str(len(site["h"].visits))
    assert page.locator(".uplot canvas").count() == 4
    assert page.locator("table.changes tbody tr").count() > 0
    assert page.locator(".gallery img").count() == len(site["h"].visits)
    _shot(page, "facility")
    page.goto(site["base"] + "/recommendations")
    assert "ministry_of_justice" not in page.inner_text("h2")  # labelled, not a code
    _shot(page, "tracker")


def test_partner_never_reaches_review_pages_interviews_or_originals(
        browser: Any, site: dict[str, Any]) -> None:
    page = _page(browser, site, "partner")
    h = site["h"]
    for path in (f"/visits/{h.visits[-1].id}", "/quarantine", "/visits",
                 f"/photos/{h.photos['ok0']}/original"):
        response = page.goto(site["base"] + path)
        assert response.status == 403, path
    response = page.goto(site["base"] + f"/api/v1/visits/{h.visits[-1].id}/interviews")
    assert response.status == 401  # the API takes no cookie at all


def test_language_switch_and_phone_screen(browser: Any, site: dict[str, Any]) -> None:
    page = _page(browser, site, "analyst", width=390)
    page.click("a[hreflang=ru]")
    assert page.inner_text("h1") == "Места лишения свободы"
    assert "СИЗО № 1" in page.inner_text("table.list")
    page.click("a[hreflang=tg]")
    assert page.inner_text("h1") == "Ҷойҳои маҳрум аз озодӣ"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400  # no horizontal scrolling on a phone
    _shot(page, "map-tg-phone")


def test_coordinator_reviews_publishes_and_csrf_is_required(browser: Any,
                                                            site: dict[str, Any]) -> None:
    page = _page(browser, site, "coord_a")
    h = site["h"]
    page.goto(site["base"] + f"/visits/{h.visits[1].id}")
    assert page.locator("table.answers tr.bad").count() >= 1  # non-compliant answers flagged
    _shot(page, "review")
    # Unpublish through the form (keyboard: focus the button and press Enter).
    page.focus("button[value=unpublish]")
    page.keyboard.press("Enter")
    page.wait_for_selector(".flash")
    with site["engine"].connect() as conn:
        assert conn.scalar(sa.text("select published_at from visits where id = :v"),
                           {"v": str(h.visits[1].id)}) is None
    # A form posted without its CSRF token is refused.
    with page.expect_navigation():
        page.evaluate("""(action) => {
            const f = document.createElement('form');
            f.method = 'post'; f.action = action;
            const i = document.createElement('input'); i.name = 'action'; i.value = 'publish';
            f.appendChild(i); document.body.appendChild(f); f.submit();
        }""", f"/visits/{h.visits[1].id}/status")
    assert "expired or was not sent from this site" in page.inner_text("main")
    page.goto(site["base"] + f"/visits/{h.visits[1].id}/report")
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()  # the print stylesheet
    _shot(page, "report-print")


def test_analyst_builds_an_export_that_opens(browser: Any, site: dict[str, Any]) -> None:
    import csv
    import io

    page = _page(browser, site, "analyst")
    page.click("nav a[href='/exports']")
    page.select_option("#e-dataset", "findings")
    page.select_option("#e-format", "csv")
    page.fill("#e-std", "")
    _shot(page, "exports")
    with page.expect_download() as info:
        page.click("form.export button[type=submit]")
    download = info.value
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8-sig"))))
    with site["engine"].connect() as conn:  # one confirmed finding per published SIZO visit
        published = conn.scalar(sa.text("select count(*) from visits where facility_id = :f "
                                        "and published_at is not null"),
                                {"f": str(site["h"].facility.id)})
    assert len(rows) == published > 0
    assert all("Overcrowding" in "".join(r.values()) for r in rows)
    text = Path(download.path()).read_text("utf-8-sig")
    for secret in (str(site["h"].users["mon_a"].id), "D-77", "Named the officer"):
        assert secret not in text


def test_api_docs_render_under_their_csp(browser: Any, site: dict[str, Any]) -> None:
    # Swagger UI 5 draws every operation from the document, with nothing refused by the
    # page's Content-Security-Policy and nothing fetched from another origin.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 else None)
    page.goto(site["base"] + "/api/docs")
    page.wait_for_selector(".opblock-summary", timeout=30_000)
    assert page.locator(".opblock").count() > 80
    page.locator("#operations-sync-pullChanges .opblock-summary").click()
    page.wait_for_selector("#operations-sync-pullChanges .responses-wrapper", timeout=10_000)
    assert "experimentalStrategy" in page.locator("#operations-sync-pullChanges").inner_text()
    _shot(page, "api-docs")
    assert not problems, problems
    assert all(u.startswith(site["base"]) or u.startswith("data:") for u in requested), requested
    context.close()
