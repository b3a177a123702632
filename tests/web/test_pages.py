"""The pages over the test client: sign-in with CSRF, each role's pages, what they show and
what they refuse (the browser tests drive the same pages in Chromium)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from monitor_api.accounts.service import hash_password
from tests.histories.conftest import History

PASSWORD = "correct horse battery staple"


def _csrf(client: FlaskClient, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def sign_in(client: FlaskClient, db: Session, user: Any) -> None:
    user.password_hash = hash_password(PASSWORD)
    db.flush()
    token = _csrf(client, "/login")
    resp = client.post("/login", data={"username": user.username, "password": PASSWORD,
                                       "csrf_token": token, "next": "/"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_sign_in_needs_the_csrf_token_and_is_throttled_like_the_api(
        client: FlaskClient, db: Session, history: History) -> None:
    user = history.users["partner"]
    assert client.get("/").status_code == 302  # to the sign-in page
    resp = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 400  # no CSRF token
    token = _csrf(client, "/login")
    for _ in range(5):
        resp = client.post("/login", data={"username": user.username, "password": "wrong",
                                           "csrf_token": token})
        assert resp.status_code == 401
    resp = client.post("/login", data={"username": user.username, "password": "wrong",
                                       "csrf_token": token})
    assert resp.status_code == 429 and resp.headers["Retry-After"]


@pytest.mark.parametrize("role", ["partner", "analyst", "coord_a", "mon_a", "admin"])
def test_each_role_sees_the_public_pages(client: FlaskClient, db: Session,
                                         history: History, role: str) -> None:
    sign_in(client, db, history.users[role])
    for path in ("/", "/map.json", f"/facilities/{history.facility.id}", "/recommendations",
                 "/statistics?year=2025"):
        resp = client.get(path)
        assert resp.status_code == 200, (role, path, resp.get_data(as_text=True)[:300])
        if path != "/map.json":
            csp = resp.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    page = client.get(f"/facilities/{history.facility.id}").get_data(as_text=True)
    assert "Reduce occupancy" in page and 'id="chart-data"' in page
    if role in ("partner", "analyst"):
        assert str(history.draft.id) not in page  # unpublished visits stay hidden


def test_partners_never_reach_review_pages_or_originals(client: FlaskClient, db: Session,
                                                        history: History) -> None:
    sign_in(client, db, history.users["partner"])
    visit = history.visits[-1].id
    for path in ("/visits", f"/visits/{visit}", f"/visits/{visit}/report", "/quarantine",
                 f"/photos/{history.photos['ok2']}/original"):
        assert client.get(path).status_code == 403, path
    assert "D-77" not in client.get(f"/facilities/{history.facility.id}").get_data(as_text=True)


def test_coordinator_reviews_and_publishes_with_csrf(client: FlaskClient, db: Session,
                                                     history: History) -> None:
    sign_in(client, db, history.users["coord_b"])
    page = client.get(f"/visits/{history.foreign.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Longest solitary confinement" not in html or "SOL-01" in html
    # Without its token the form is refused; with it the visit is published.
    resp = client.post(f"/visits/{history.foreign.id}/status", data={"action": "publish"})
    assert resp.status_code == 400
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    resp = client.post(f"/visits/{history.foreign.id}/status",
                       data={"action": "publish", "csrf_token": token})
    assert resp.status_code == 302
    assert history.api["partner"].get(
        f"/api/v1/facilities/{history.facility.id}/conditions").get_data(
        as_text=True).count(str(history.foreign.id)) == 1
    # Another team's visit: 404 page, exactly like a missing one.
    assert client.get(f"/visits/{history.draft.id}").status_code == 404


def test_languages(client: FlaskClient, db: Session, history: History) -> None:
    sign_in(client, db, history.users["partner"])
    ru = client.get("/?lang=ru").get_data(as_text=True)
    assert "Места лишения свободы" in ru
    tg = client.get("/", headers={"Cookie": "lang=tg"}).get_data(as_text=True)
    assert 'lang="tg"' in tg
    assert 'lang="ru"' in client.get("/statistics").get_data(as_text=True)  # remembered
