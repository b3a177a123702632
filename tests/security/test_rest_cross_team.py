"""REST endpoints attacked across teams and by low-privilege roles (Flask test client)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.security.conftest import FORBIDDEN_KEYS, walk_keys

ROLES = ("admin", "coord_a", "mon_a", "coord_b", "mon_b", "coord_none", "partner", "analyst",
         "legal_aid")
LOW = ("partner", "analyst", "legal_aid")


def _same_problem(a: Any, b: Any, ctx: Any) -> None:
    """Two refusals are indistinguishable: status, type, title and detail."""
    assert a.status_code == b.status_code, ctx
    ja, jb = a.get_json(silent=True), b.get_json(silent=True)
    assert a.mimetype == b.mimetype, ctx
    if ja is None or jb is None:
        assert a.data == b.data, ctx
        return
    for key in ("type", "title", "detail", "status"):
        assert ja.get(key) == jb.get(key), (ctx, key, ja, jb)
    assert set(ja) == set(jb), ctx


# --- photos, custody, sync history: another team's ids answer like missing ones ---------

PHOTO_URLS = ("/api/v1/photos/{id}", "/api/v1/photos/{id}/custody",
              "/api/v1/photos/{id}/original", "/api/v1/photos/{id}/display",
              "/api/v1/photos/{id}/thumbnail")


@pytest.mark.parametrize("url", PHOTO_URLS)
def test_photo_of_other_team_answers_like_missing(world: Any, url: str) -> None:
    for role in ROLES:
        other_tag = "a" if role.endswith("_b") else "b"
        other = world.api[role].get(url.format(id=world.ids[f"photo_{other_tag}"]))
        missing = world.api[role].get(url.format(id=uuid.uuid4()))
        if role == "admin":
            assert missing.status_code == 404
            continue
        _same_problem(other, missing, (role, url))
        assert other.status_code in (403, 404), (role, url)
        if role in ("analyst", "legal_aid"):
            assert other.status_code == 403, (role, url)
        if role == "partner" and url.endswith("/original"):
            assert other.status_code == 403  # partners never see originals


HISTORY_TABLES = {"visits": "visit", "findings": "finding", "room_inspections": "room",
                  "answers": "answer", "recommendations": "recommendation",
                  "photos": "photo", "access_incidents": "incident",
                  "interviews": "interview", "allegations": "allegation"}


@pytest.mark.parametrize("table", sorted(HISTORY_TABLES))
def test_sync_history_of_other_team_answers_like_missing(world: Any, table: str) -> None:
    def rid(tag: str) -> Any:
        return (getattr(world, f"visit_{tag}").id if table == "visits"
                else world.ids[f"{HISTORY_TABLES[table]}_{tag}"])

    for role in ("coord_a", "coord_b", "coord_none"):
        other_tag = "a" if role.endswith("_b") else "b"
        other = world.api[role].get(f"/api/v1/sync/history/{table}/{rid(other_tag)}")
        missing = world.api[role].get(f"/api/v1/sync/history/{table}/{uuid.uuid4()}")
        assert missing.status_code == 404
        _same_problem(other, missing, (role, table))
    own = world.api["coord_a"].get(f"/api/v1/sync/history/{table}/{rid('a')}")
    assert own.status_code == 200, own.get_json()
    for role in ("mon_a", *LOW):
        resp = world.api[role].get(f"/api/v1/sync/history/{table}/{rid('a')}")
        assert resp.status_code == 403, (role, table)


# --- refused writes leave nothing behind --------------------------------------------------

def _writes(world: Any) -> list[tuple[str, str, Any]]:
    a = world.ids
    return [
        ("PATCH", f"/api/v1/visits/{world.visit_a.id}", {"summary": "pwned"}),
        ("PATCH", f"/api/v1/findings/{a['finding_a']}", {"title": "pwned"}),
        ("POST", f"/api/v1/findings/{a['finding_a']}/confirm", None),
        ("POST", f"/api/v1/findings/{a['finding_a']}/withdraw", {"reason": "x"}),
        ("PATCH", f"/api/v1/recommendations/{a['recommendation_a']}", {"text": "pwned"}),
        ("POST", f"/api/v1/recommendations/{a['recommendation_a']}/reviews",
         {"status": "implemented"}),
        ("POST", "/api/v1/recommendations",
         {"visit_id": str(world.visit_a.id), "theme": "material_conditions", "text": "pwned",
          "addressed_to": "ministry_of_justice"}),
        ("POST", "/api/v1/visits", {"facility_id": str(world.facility.id),
                                    "team_id": str(world.team_a.id)}),
        ("POST", "/api/v1/checklist-templates", {"code": "pwned", "title": "pwned"}),
        ("POST", "/api/v1/facilities", {"code": "PWN-1", "name": "x",
                                        "facility_type": "pretrial_detention",
                                        "authority": "ministry_of_justice", "region": "TJ-SU"}),
        ("PATCH", f"/api/v1/facilities/{world.facility.id}", {"name": "pwned"}),
        ("DELETE", f"/api/v1/facilities/{world.facility.id}", None),
        ("POST", "/api/v1/users", {"username": "pwned", "display_name": "x", "role": "admin",
                                   "password": "a long enough password"}),
        ("PATCH", f"/api/v1/users/{world.users['mon_a'].id}", {"role": "admin"}),
        ("PUT", f"/api/v1/teams/{world.team_a.id}/members/{world.users['partner'].id}", None),
        ("DELETE", f"/api/v1/teams/{world.team_a.id}/members/{world.users['mon_a'].id}", None),
    ]


def _send(api: Any, method: str, url: str, body: Any) -> Any:
    fn = {"POST": api.post, "PATCH": api.patch, "PUT": api.put, "DELETE": api.delete}[method]
    return fn(url, json=body) if body is not None and method != "DELETE" else fn(url)


def _snapshot(db: Session) -> str:
    rows = db.execute(sa.text(
        "select (select count(*) from audit_log), (select count(*) from visits), "
        "(select count(*) from recommendations), (select count(*) from recommendation_reviews),"
        " (select count(*) from facilities where deleted_at is null), (select count(*) from "
        "users), (select count(*) from team_members), (select count(*) from "
        "checklist_templates), (select string_agg(coalesce(summary, '') || status, ',' "
        "order by id) from visits), (select string_agg(title || status, ',' order by id) "
        "from findings), (select string_agg(text, ',' order by id) from recommendations), "
        "(select string_agg(name, ',' order by id) from facilities), "
        "(select string_agg(role, ',' order by id) from users)")).one()
    return json.dumps([str(v) for v in rows])


@pytest.mark.parametrize("role", ("mon_a", "mon_b", "coord_b", "coord_none", *LOW))
def test_refused_writes_change_nothing_and_are_not_audited(world: Any, db: Session,
                                                           role: str) -> None:
    before = _snapshot(db)
    for method, url, body in _writes(world):
        # Coordinators legitimately write reference data (templates, facilities): not an attack.
        if role.startswith("coord") and ("/checklist-templates" in url or (
                "/facilities" in url and method in ("POST", "PATCH"))):
            continue
        resp = _send(world.api[role], method, url, body)
        # A reference in a body to another team's row is a 422 naming the field, as if missing.
        refusals = (403, 404, 422) if url.endswith(("/visits", "/recommendations")) else (403, 404)
        assert resp.status_code in refusals, (role, method, url, resp.status_code,
                                                resp.get_json())
        assert resp.mimetype == "application/problem+json"
    assert _snapshot(db) == before, role


@pytest.mark.parametrize("role", ("coord_b", "mon_b", "coord_none", *LOW))
def test_refused_restricted_reads_are_not_audited_and_leak_nothing(world: Any, db: Session,
                                                                   audit_count: Any,
                                                                   role: str) -> None:
    before = audit_count()
    api = world.api[role]
    for url in (f"/api/v1/visits/{world.visit_a.id}/interviews",
                f"/api/v1/visits/{world.visit_a.id}/allegations",
                f"/api/v1/allegations/{world.ids['allegation_noconsent_a']}"):
        resp = api.get(url)
        assert resp.status_code in (403, 404), (role, url)
        assert b"D-a" not in resp.data and b"account a" not in resp.data
    assert audit_count() == before


# --- what each role sees ------------------------------------------------------------------

def _read_everything(world: Any, role: str) -> list[Any]:
    api = world.api[role]
    urls = ["/api/v1/auth/me", "/api/v1/users", "/api/v1/teams", "/api/v1/devices",
            "/api/v1/visits", "/api/v1/recommendations", "/api/v1/allegations",
            "/api/v1/checklist-templates", "/api/v1/facilities",
            f"/api/v1/facilities/{world.facility.id}",
            f"/api/v1/facilities/{world.facility.id}/history",
            f"/api/v1/users/{world.users[role].id}",
            f"/api/v1/allegations/{world.ids['allegation_a']}",
            f"/api/v1/recommendations/{world.ids['recommendation_a']}/chain",
            "/api/v1/audit", "/api/v1/sync/quarantine"]
    for kind in ("answers", "room-inspections", "findings", "recommendations",
                 "access-incidents", "photos", "interviews", "allegations"):
        urls.append(f"/api/v1/visits/{world.visit_a.id}/{kind}")
    out = []
    for url in urls:
        resp = api.get(url)
        assert resp.status_code != 500, url
        out.append((url, resp))
    return out


@pytest.mark.parametrize("role", ROLES)
def test_no_secret_fields_anywhere(world: Any, role: str) -> None:
    for url, resp in _read_everything(world, role):
        body = resp.get_json(silent=True)
        keys = walk_keys(body)
        assert not keys & set(FORBIDDEN_KEYS), (role, url, keys & set(FORBIDDEN_KEYS))
        assert b"$argon2" not in resp.data, (role, url)


@pytest.mark.parametrize("role", ("partner", "analyst"))
def test_partners_and_analysts_see_no_interview_content(world: Any, role: str) -> None:
    for url, resp in _read_everything(world, role):
        for secret in (b"D-a", b"D-b", b"account a", b"account b", b"private notes",
                       b"secret", b"interviewee_code", b"narrative"):
            assert secret not in resp.data, (role, url, secret)


def test_legal_aid_sees_only_consented_allegations_without_links(world: Any) -> None:
    resp = world.api["legal_aid"].get("/api/v1/allegations?per_page=100")
    assert resp.status_code == 200
    items = resp.get_json()["items"]
    ids = {i["id"] for i in items}
    assert str(world.ids["allegation_a"]) in ids and str(world.ids["allegation_b"]) in ids
    assert str(world.ids["allegation_noconsent_a"]) not in ids
    for item in items:
        assert not {"visit_id", "interview_id", "team_id", "interviewee_code"} & set(item)
    assert b"D-a" not in resp.data and b"secret" not in resp.data
    for tag in ("a", "b"):
        other = world.api["legal_aid"].get(
            f"/api/v1/allegations/{world.ids[f'allegation_noconsent_{tag}']}")
        _same_problem(other, world.api["legal_aid"].get(f"/api/v1/allegations/{uuid.uuid4()}"),
                      tag)


@pytest.mark.parametrize("role", ("mon_a", "coord_a", "coord_b", "mon_b", "coord_none"))
def test_lists_never_include_other_teams_rows(world: Any, role: str) -> None:
    api = world.api[role]
    mine = "b" if role.endswith("_b") else "a"
    others = {"a", "b"} - {mine} if role != "coord_none" else {"a", "b"}
    foreign = {str(getattr(world, f"visit_{t}").id) for t in others}
    foreign |= {str(world.ids[f"{k}_{t}"]) for t in others
                for k in ("finding", "recommendation", "photo", "allegation", "interview",
                          "room", "answer", "incident")}
    for url in ("/api/v1/visits?per_page=100", "/api/v1/recommendations?per_page=100",
                "/api/v1/sync/quarantine?per_page=100", "/api/v1/teams", "/api/v1/devices"):
        resp = api.get(url)
        if resp.status_code == 403:
            continue
        assert resp.status_code == 200, (role, url)
        text = resp.get_data(as_text=True)
        assert not [f for f in foreign if f in text], (role, url)


@pytest.mark.parametrize("method", ("POST", "PATCH"))
def test_assigning_a_visit_to_another_team_answers_like_a_missing_team(world: Any,
                                                                       method: str) -> None:
    api = world.api["coord_a"]

    def attempt(team_id: Any) -> Any:
        if method == "POST":
            return api.post("/api/v1/visits", json={"facility_id": str(world.facility.id),
                                                    "team_id": str(team_id)})
        return api.patch(f"/api/v1/visits/{world.visit_a.id}", json={"team_id": str(team_id)})

    _same_problem(attempt(world.team_b.id), attempt(uuid.uuid4()), method)


def test_login_does_not_reveal_which_usernames_exist(world: Any, anon: Any) -> None:
    known = anon.post("/api/v1/auth/login", json={"username": world.users["mon_b"].username,
                                                  "password": "wrong password here"})
    unknown = anon.post("/api/v1/auth/login", json={"username": f"nobody-{uuid.uuid4().hex}",
                                                    "password": "wrong password here"})
    assert known.status_code == 401
    _same_problem(known, unknown, "login")


def test_removed_monitor_loses_rest_access_at_once(world: Any, db: Session) -> None:
    api = world.api["mon_a"]
    urls = [f"/api/v1/visits/{world.visit_a.id}", f"/api/v1/findings/{world.ids['finding_a']}",
            f"/api/v1/photos/{world.ids['photo_a']}",
            f"/api/v1/allegations/{world.ids['allegation_a']}",
            f"/api/v1/visits/{world.visit_a.id}/interviews",
            f"/api/v1/recommendations/{world.ids['recommendation_a']}"]
    assert all(api.get(u).status_code == 200 for u in urls)
    db.execute(sa.text("delete from team_members where team_id = :t and user_id = :u"),
               {"t": world.team_a.id, "u": world.users["mon_a"].id})
    db.flush()
    for url in urls:
        _same_problem(api.get(url), api.get(url.replace(url.split("/")[4], str(uuid.uuid4()))),
                      url)
        assert api.get(url).status_code == 404, url
    listing = api.get("/api/v1/visits?per_page=100")
    assert str(world.visit_a.id) not in listing.get_data(as_text=True)


def test_passwords_and_tokens_never_reach_the_audit_log(world: Any, db: Session,
                                                        anon: Any) -> None:
    admin = world.api["admin"]
    secret = f"pw-{uuid.uuid4().hex}"
    name = f"victim-{uuid.uuid4().hex[:8]}"
    created = admin.post("/api/v1/users", json={"username": name, "display_name": name,
                                                "role": "monitor", "password": secret})
    assert created.status_code == 201, created.get_json()
    changed = admin.patch(f"/api/v1/users/{created.get_json()['id']}",
                          json={"password": secret + "-2"})
    assert changed.status_code == 200, changed.get_json()
    anon.post("/api/v1/auth/login", json={"username": name, "password": secret + "-typo"})
    token = anon.post("/api/v1/auth/login",
                      json={"username": name, "password": secret + "-2"}).get_json()["token"]
    dump = db.scalar(sa.text("select string_agg(details::text, ' ') from audit_log")) or ""
    assert secret not in dump and token not in dump
    assert secret.encode() not in admin.get("/api/v1/audit?per_page=200").data


@pytest.mark.parametrize("role", LOW)
def test_facility_history_does_not_name_staff_to_outside_roles(world: Any, role: str) -> None:
    coord = world.api["coord_a"]
    url = f"/api/v1/facilities/{world.facility.id}"
    etag = coord.get(url).headers["ETag"]
    renamed = coord.patch(url, json={"name": "SIZO renamed"}, headers={"If-Match": etag})
    assert renamed.status_code == 200, renamed.get_json()
    resp = world.api[role].get(f"{url}/history")
    assert resp.status_code == 200
    assert str(world.users["coord_a"].id) not in resp.get_data(as_text=True)
    assert world.users["coord_a"].username not in resp.get_data(as_text=True)


@pytest.mark.parametrize("role", LOW)
def test_draft_templates_answer_like_missing_to_outside_roles(world: Any, role: str) -> None:
    draft = world.api["admin"].post("/api/v1/checklist-templates",
                                    json={"code": f"d-{uuid.uuid4().hex[:8]}", "title": "d"})
    assert draft.status_code == 201
    api = world.api[role]
    _same_problem(api.get(f"/api/v1/checklist-templates/{draft.get_json()['id']}"),
                  api.get(f"/api/v1/checklist-templates/{uuid.uuid4()}"), role)
    listing = api.get("/api/v1/checklist-templates?per_page=100")
    assert draft.get_json()["id"] not in listing.get_data(as_text=True)
