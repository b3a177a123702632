"""Role by endpoint matrix: another team's ids answer exactly like missing ids; bad input is a
problem+json 4xx, never a 500."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

ROLES = ("admin", "coord_a", "mon_a", "coord_b", "mon_b", "coord_none", "partner", "analyst",
         "legal_aid")

# (method, url with {visit}/{finding}/{rec}/{allegation}, body)
ID_ENDPOINTS: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/visits/{visit}", None),
    ("PATCH", "/api/v1/visits/{visit}", {"summary": "s"}),
    *[("GET", f"/api/v1/visits/{{visit}}/{kind}", None) for kind in (
        "answers", "room-inspections", "findings", "recommendations", "access-incidents",
        "photos", "interviews", "allegations")],
    ("GET", "/api/v1/findings/{finding}", None),
    ("PATCH", "/api/v1/findings/{finding}", {"title": "t"}),
    ("POST", "/api/v1/findings/{finding}/confirm", None),
    ("POST", "/api/v1/findings/{finding}/withdraw", None),
    ("GET", "/api/v1/recommendations/{rec}", None),
    ("PATCH", "/api/v1/recommendations/{rec}", {"text": "t"}),
    ("GET", "/api/v1/recommendations/{rec}/chain", None),
    ("GET", "/api/v1/recommendations/{rec}/reviews", None),
    ("POST", "/api/v1/recommendations/{rec}/reviews", {"status": "implemented"}),
    ("GET", "/api/v1/allegations/{allegation}", None),
]

# Expected status on the caller's OWN team's object (team a), per role.
OWN: dict[str, dict[str, int]] = {
    "GET": {"admin": 200, "coord_a": 200, "mon_a": 200, "coord_b": 404, "mon_b": 404,
            "coord_none": 404, "partner": 403, "analyst": 403, "legal_aid": 403},
}
WRITE = {"admin": 200, "coord_a": 200, "mon_a": 403, "coord_b": 404, "mon_b": 403,
         "coord_none": 404, "partner": 403, "analyst": 403, "legal_aid": 403}


def _call(api: Any, method: str, url: str, body: Any) -> Any:
    if method == "GET":
        return api.get(url)
    fn = api.post if method == "POST" else api.patch
    return fn(url, json=body) if body is not None else fn(url)


def _urls(world: Any, url: str, tag: str) -> str:
    if tag == "missing":
        ids = dict.fromkeys(("visit", "finding", "rec", "allegation"), uuid.uuid4())
    else:
        ids = {"visit": getattr(world, f"visit_{tag}").id,
               "finding": world.ids[f"finding_{tag}"], "rec": world.ids[f"recommendation_{tag}"],
               "allegation": world.ids[f"allegation_noconsent_{tag}"]}
    return url.format(**ids)


@pytest.mark.parametrize(("method", "url", "body"), ID_ENDPOINTS)
def test_other_team_answers_like_missing(world: Any, method: str, url: str, body: Any) -> None:
    for role in ROLES:
        api = world.api[role]
        other = _call(api, method, _urls(world, url, "b" if role.endswith("_a") else "a"), body)
        missing = _call(api, method, _urls(world, url, "missing"), body)
        if role in ("admin",):
            assert missing.status_code == 404, (role, url)
            continue
        if role in ("coord_b", "mon_b"):  # team b's own object: compare b-side instead
            other = _call(api, method, _urls(world, url, "a"), body)
        assert other.status_code == missing.status_code, (role, method, url)
        assert other.get_json()["type"] == missing.get_json()["type"]
        assert other.mimetype == missing.mimetype == "application/problem+json"
        assert other.status_code in (403, 404)


@pytest.mark.parametrize(("method", "url", "body"), ID_ENDPOINTS)
def test_own_team_access(world: Any, method: str, url: str, body: Any) -> None:
    for role in ROLES:
        resp = _call(world.api[role], method, _urls(world, url, "a"), body)
        if method == "GET":
            expected = OWN["GET"][role]
            if url.startswith("/api/v1/allegations/") and role == "legal_aid":
                expected = 404  # this allegation has no legal-aid consent
        else:
            expected = WRITE[role]
            if "/reviews" in url and expected == 200:
                expected = 201
            if url.endswith("/confirm") and role == "coord_a":
                expected = 409  # admin (earlier in the loop) confirmed it already
            if url.endswith("/withdraw") and role == "coord_a":
                expected = 409
        assert resp.status_code == expected, (role, method, url, resp.get_json())


COLLECTIONS = [
    ("GET", "/api/v1/visits", {"admin": 200, "coord_a": 200, "mon_a": 200, "partner": 403,
                               "analyst": 403, "legal_aid": 403}),
    ("GET", "/api/v1/recommendations", {"admin": 200, "coord_a": 200, "mon_a": 200,
                                        "partner": 403, "analyst": 403, "legal_aid": 403}),
    ("GET", "/api/v1/allegations", {"admin": 200, "coord_a": 403, "mon_a": 403, "partner": 403,
                                    "analyst": 403, "legal_aid": 200}),
    ("GET", "/api/v1/checklist-templates", dict.fromkeys(ROLES, 200)),
]


@pytest.mark.parametrize(("method", "url", "expected"), COLLECTIONS)
def test_collections(world: Any, anon: Any, method: str, url: str,
                     expected: dict[str, int]) -> None:
    for role, status in expected.items():
        assert world.api[role].get(url).status_code == status, (role, url)
    resp = anon.get(url)
    assert resp.status_code == 401 and resp.mimetype == "application/problem+json"


WRITES: list[tuple[str, str]] = [
    ("POST", "/api/v1/checklist-templates"),
    ("PATCH", "/api/v1/checklist-templates/{template}"),
    ("POST", "/api/v1/checklist-templates/{template}/questions"),
    ("POST", "/api/v1/visits"),
    ("PATCH", "/api/v1/visits/{visit}"),
    ("PATCH", "/api/v1/findings/{finding}"),
    ("POST", "/api/v1/findings/{finding}/withdraw"),
    ("POST", "/api/v1/recommendations"),
    ("PATCH", "/api/v1/recommendations/{rec}"),
    ("POST", "/api/v1/recommendations/{rec}/reviews"),
]
BAD_BODIES: list[Any] = [
    [], "text", 42, True, [{"a": 1}], {"unknown_field": 1},
    {"title": {"nested": 1}, "summary": ["x"], "text": 7, "status": 3, "theme": []},
    {"facility_id": "not-a-uuid", "team_id": 5, "template_id": [], "visit_id": {},
     "repeats_id": "x", "planned_for": "2025-13-45", "population_total": 10 ** 30,
     "due_date": "31/12/2025", "reviewed_at": "tomorrow", "code": "Bad Code!",
     "questions": "none", "facility_types": ["spaceship"]},
    {"population_total": 1e308, "declared_capacity": -1,
     "severity": None, "is_systemic": "true", "announced": 1},
]


@pytest.mark.parametrize(("method", "url"), WRITES)
def test_malformed_bodies(world: Any, method: str, url: str) -> None:
    admin = world.api["admin"]
    template = admin.post("/api/v1/checklist-templates",
                          json={"code": f"m-{uuid.uuid4().hex[:8]}", "title": "m"}).get_json()
    target = url.format(template=template["id"], visit=world.visit_a.id,
                        finding=world.ids["finding_a"], rec=world.ids["recommendation_a"])
    send = admin.client.post if method == "POST" else admin.client.patch
    headers = {"Authorization": f"Bearer {admin.token}"}
    for body in BAD_BODIES:
        resp = send(target, json=body, headers=headers)
        assert 400 <= resp.status_code < 500, (url, body, resp.status_code)
        assert resp.mimetype == "application/problem+json", (url, body)
        assert resp.get_json()["status"] == resp.status_code
    raw = [
        ("{not json", "application/json", 400),
        ('{"a": 1', "application/json", 400),
        ("\xff\xfe", "application/json", 400),
        ("title=x", "application/x-www-form-urlencoded", 415),
        ("<x/>", "text/xml", 415),
    ]
    for data, ctype, status in raw:
        resp = send(target, data=data, content_type=ctype, headers=headers)
        assert resp.status_code == status, (url, data, resp.status_code)
        assert resp.mimetype == "application/problem+json"


def test_bad_path_and_query(world: Any) -> None:
    admin = world.api["admin"]
    assert admin.get("/api/v1/visits/not-a-uuid").status_code == 404
    for url in ("/api/v1/visits?page=0", "/api/v1/visits?per_page=100000",
                "/api/v1/visits?facility_id=x", "/api/v1/visits?from=2025-02-30",
                "/api/v1/recommendations?open=maybe", "/api/v1/allegations?facility_id=1",
                "/api/v1/checklist-templates?status=gone",
                f"/api/v1/visits/{world.visit_a.id}/answers?page=-1"):
        resp = admin.get(url)
        assert resp.status_code == 422, url
        assert resp.mimetype == "application/problem+json"
    resp = admin.client.delete(f"/api/v1/visits/{world.visit_a.id}",
                               headers={"Authorization": f"Bearer {admin.token}"})
    assert resp.status_code == 405


def test_openapi_documents_the_coordinator_api(client: Any) -> None:
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    paths = resp.get_json()["paths"]
    for path in ("/api/v1/checklist-templates/{template_id}/publish", "/api/v1/visits",
                 "/api/v1/visits/{visit_id}/photos", "/api/v1/findings/{finding_id}/confirm",
                 "/api/v1/recommendations/{rec_id}/chain", "/api/v1/allegations"):
        assert path in paths, path
    assert paths["/api/v1/visits"]["post"]["summary"].startswith("Plan a visit")
