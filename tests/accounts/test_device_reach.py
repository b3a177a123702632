"""Least privilege for phones: an ADMIN's device token reaches sync, uploads and a phone's reads,
and every other operation of the app answers 403 problem+json."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from monitor_api.auth import DEVICE_OPERATIONS
from tests.conftest import Api

# Everything a phone may call, written out here on purpose (not read from DEVICE_OPERATIONS):
# widening what a device token reaches must change this test too.
PHONE = {
    ("GET", "/api/v1/sync"), ("POST", "/api/v1/sync"),
    ("POST", "/api/v1/uploads"), ("HEAD", "/api/v1/uploads/<uuid:upload_id>"),
    ("PATCH", "/api/v1/uploads/<uuid:upload_id>"), ("DELETE", "/api/v1/uploads/<uuid:upload_id>"),
    ("GET", "/api/v1/auth/me"),
    ("GET", "/api/v1/devices/<uuid:device_id>"),
    ("POST", "/api/v1/devices/<uuid:device_id>/revoke"),  # itself only: the app's "sign out"
    ("GET", "/api/v1/facilities"), ("GET", "/api/v1/facilities/<uuid:facility_id>"),
    ("GET", "/api/v1/facilities/<uuid:facility_id>/history"),
    ("GET", "/api/v1/checklist-templates"),
    ("GET", "/api/v1/checklist-templates/<uuid:template_id>"),
    ("GET", "/api/v1/visits"), ("GET", "/api/v1/visits/<uuid:visit_id>"),
    *{("GET", f"/api/v1/visits/<uuid:visit_id>/{kind}") for kind in (
        "answers", "room-inspections", "findings", "recommendations", "access-incidents",
        "photos")},
    ("GET", "/api/v1/findings/<uuid:finding_id>"),
    ("GET", "/api/v1/recommendations"), ("GET", "/api/v1/recommendations/<uuid:rec_id>"),
    ("GET", "/api/v1/recommendations/<uuid:rec_id>/chain"),
    ("GET", "/api/v1/recommendations/<uuid:rec_id>/reviews"),
    ("GET", "/api/v1/photos/<uuid:photo_id>"),
    ("GET", "/api/v1/photos/<uuid:photo_id>/custody"),
    ("GET", "/api/v1/photos/<uuid:photo_id>/<any(original, display, thumbnail):variant>"),
}
# Operations that take no token at all.
PUBLIC_RULES = {"/api/v1/auth/login", "/healthz", "/readyz", "/problems/<slug>",
                "/api/openapi.json", "/api/docs", "/api/docs/static/<path:filename>",
                "/api/docs/static/docs-init.js", "/static/<path:filename>",
                "/metrics"}  # its own token (METRICS_TOKEN), never a user's


def _operations(app: Flask) -> list[tuple[str, str]]:
    """Every (method, rule) of the app that needs a token; HEAD only where it is not GET's."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC_RULES:
            continue
        if not rule.rule.startswith("/api/"):
            continue  # the web pages read only their sign-in cookie: test_web_pages_ignore_bearer

        methods = (rule.methods or set()) - {"OPTIONS"}
        if "GET" in methods:
            methods -= {"HEAD"}  # Flask's implicit HEAD: same check as GET, asserted below
        out.extend((method, rule.rule) for method in sorted(methods))
    return sorted(out)


def _url(rule: str, ids: dict[str, str]) -> str:
    url = re.sub(r"<uuid:([a-z_]+)>", lambda m: ids.get(m.group(1), str(uuid.uuid4())), rule)
    url = url.replace("<string:table>", "visits")
    url = re.sub(r"<int:[a-z_]+>", "1", url)
    url = re.sub(r"<any\([^)]*\):variant>", "display", url)
    return url + ("?last_pulled_at=null" if rule == "/api/v1/sync" else "")


def _hit(api: Api, method: str, url: str) -> Any:
    headers = {"Authorization": f"Bearer {api.token}", "Tus-Resumable": "1.0.0"}
    return api.client.open(url, method=method, headers=headers,
                           json={} if method in ("POST", "PATCH", "PUT") else None)


def test_admin_device_token_reaches_only_what_a_phone_needs(
        app: Flask, client: FlaskClient, quick_user: Any, make_device: Any) -> None:
    admin, _ = quick_user("admin")
    device, phone = make_device(admin, client)
    ids = {"device_id": str(device.id), "user_id": str(admin.id)}
    operations = _operations(app)
    assert len(operations) > 60
    assert set(operations) >= PHONE, PHONE - set(operations)
    reached = set()
    for method, rule in operations:
        # Its own id where it reads itself; an unknown one to revoke (404, not itself).
        resp = _hit(phone, method, _url(rule, {} if rule.endswith("/revoke") else ids))
        assert resp.status_code != 401, (method, rule, resp.get_json())
        if resp.status_code != 403:
            reached.add((method, rule))
            continue
        problem = resp.get_json()
        assert resp.mimetype == "application/problem+json", (method, rule)
        assert problem["status"] == 403 and problem["type"] == "/problems/forbidden"
        assert "device token" in problem["detail"], (method, rule, problem)
    assert reached == PHONE, {"reached, not listed": reached - PHONE,
                              "listed, refused": PHONE - reached}
    # The admin's phone creates no users, whatever its role (the report's example).
    resp = phone.post("/api/v1/users", json={
        "username": f"evil-{uuid.uuid4().hex[:6]}", "display_name": "x", "role": "admin",
        "password": "a long enough password"})
    assert resp.status_code == 403
    # HEAD follows GET.
    assert _hit(phone, "HEAD", "/api/v1/users").status_code == 403
    assert _hit(phone, "HEAD", "/api/v1/auth/me").status_code == 200


def test_every_listed_operation_is_served(app: Flask) -> None:
    """A renamed endpoint must not leave a stale entry in DEVICE_OPERATIONS."""
    served = {(rule.endpoint, m) for rule in app.url_map.iter_rules() for m in rule.methods or ()}
    for endpoint, methods in DEVICE_OPERATIONS.items():
        assert methods and methods <= {"GET", "POST"}, endpoint
        assert all((endpoint, m) in served for m in methods), endpoint


def test_a_device_token_sees_and_revokes_its_own_device_only(
        client: FlaskClient, quick_user: Any, make_device: Any) -> None:
    admin, session_api = quick_user("admin")
    mine, phone = make_device(admin, client)
    other, _ = make_device(admin, client)
    assert phone.get(f"/api/v1/devices/{mine.id}").status_code == 200
    # The admin's other phone answers like a missing one, to read or to revoke.
    assert phone.get(f"/api/v1/devices/{other.id}").status_code == 404
    assert phone.post(f"/api/v1/devices/{other.id}/revoke", json={}).status_code == 404
    assert session_api.get(f"/api/v1/devices/{other.id}").status_code == 200
    # Device administration needs the password session: listing and registering.
    assert phone.get("/api/v1/devices").status_code == 403
    assert phone.post("/api/v1/devices", json={"name": "another"}).status_code == 403
    # Signing itself out works, and is the end of the token.
    assert phone.post(f"/api/v1/devices/{mine.id}/revoke", json={}).status_code == 200
    assert phone.get("/api/v1/auth/me").status_code == 401


def test_web_pages_ignore_bearer_tokens(app: Flask, client: Any, db: Any, make_user: Any,
                                        make_device: Any) -> None:
    """The pages never accept a bearer token (device or login): only their own cookie."""
    user, _api = make_user("admin")
    _device, phone = make_device(user, client)
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or "GET" not in (rule.methods or ()) or "<" in rule.rule:
            continue
        if rule.rule in PUBLIC_RULES or rule.rule in ("/login",):
            continue
        resp = phone.get(rule.rule)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], rule.rule
