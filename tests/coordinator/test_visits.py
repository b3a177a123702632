"""Visits: planning and assignment, status transitions, figures, filters, a team's records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from monitor_api.audit.models import AuditEntry

BASE = "/api/v1/visits"


def _plan(api: Any, world: Any, template: Any, **kw: Any) -> Any:
    body = {"facility_id": str(world.facility.id), "team_id": str(world.team_a.id),
            "template_id": str(template.id), "visit_type": "follow_up", "announced": False,
            "planned_for": "2025-05-10T08:00:00Z", **kw}
    return api.post(BASE, json=body)


def test_plan_and_assign(world: Any, published_template: Any, db: Any) -> None:
    resp = _plan(world.api["coord_a"], world, published_template)
    assert resp.status_code == 201, resp.get_json()
    visit = resp.get_json()
    assert visit["status"] == "planned" and visit["team_id"] == str(world.team_a.id)
    assert visit["template_id"] == str(published_template.id)
    assert visit["created_by_id"] == str(world.users["coord_a"].id)
    # A coordinator only for a team they belong to; admins for any team.
    resp = _plan(world.api["coord_a"], world, published_template, team_id=str(world.team_b.id))
    assert resp.status_code == 422 and "team_id" in resp.get_json()["errors"]
    assert _plan(world.api["admin"], world, published_template,
                 team_id=str(world.team_b.id)).status_code == 201
    assert _plan(world.api["mon_a"], world, published_template).status_code == 403
    assert _plan(world.api["partner"], world, published_template).status_code == 403
    # Unknown references are field errors.
    zero = "00000000-0000-0000-0000-000000000000"
    for field in ("facility_id", "team_id", "template_id"):
        resp = _plan(world.api["admin"], world, published_template, **{field: zero})
        assert resp.status_code == 422 and field in resp.get_json()["errors"], field
    assert db.scalar(select(AuditEntry.id).where(AuditEntry.action == "visit.create",
                                                 AuditEntry.target_id == visit["id"]))


def test_template_must_be_published_and_fit(world: Any, make_user: Any, make_facility: Any,
                                            db: Any) -> None:
    from monitor_api.checklists.service import build_template
    from tests.coordinator.conftest import QUESTIONS

    admin = world.api["admin"]
    draft = admin.post("/api/v1/checklist-templates", json={"code": "drafty", "title": "d"})
    resp = _plan(admin, world, type("T", (), {"id": draft.get_json()["id"]}))
    assert resp.status_code == 422 and "template_id" in resp.get_json()["errors"]
    women = build_template(db, code="women-only", version=1, title="w",
                           facility_types=["penal_colony"], questions=[dict(QUESTIONS[0])],
                           created_by_id=None, status="published")
    resp = _plan(admin, world, women)  # the world's facility is a SIZO
    assert resp.status_code == 422 and "template_id" in resp.get_json()["errors"]


def test_status_transitions(world: Any, published_template: Any) -> None:
    coord = world.api["coord_a"]
    vid = _plan(coord, world, published_template).get_json()["id"]
    assert coord.patch(f"{BASE}/{vid}", json={"status": "submitted"}).status_code == 409
    resp = coord.patch(f"{BASE}/{vid}", json={"status": "in_progress"})
    assert resp.status_code == 200 and resp.get_json()["started_at"]
    resp = coord.patch(f"{BASE}/{vid}", json={"status": "submitted"})
    assert resp.status_code == 200 and resp.get_json()["ended_at"]
    assert coord.patch(f"{BASE}/{vid}", json={"status": "in_progress"}).status_code == 200
    for status in ("submitted", "reviewed", "reported"):
        resp = coord.patch(f"{BASE}/{vid}", json={"status": status})
        assert resp.status_code == 200 and resp.get_json()["status"] == status
    resp = coord.patch(f"{BASE}/{vid}", json={"status": "planned"})
    assert resp.status_code == 409 and resp.mimetype == "application/problem+json"
    # The template cannot change once the visit started.
    assert coord.patch(f"{BASE}/{vid}", json={"template_id": None}).status_code == 409


def test_who_may_patch(world: Any) -> None:
    vid = world.visit_a.id
    assert world.api["mon_a"].patch(f"{BASE}/{vid}", json={"summary": "x"}).status_code == 403
    assert world.api["coord_b"].patch(f"{BASE}/{vid}", json={"summary": "x"}).status_code == 404
    assert world.api["coord_none"].patch(f"{BASE}/{vid}",
                                         json={"summary": "x"}).status_code == 404
    assert world.api["partner"].patch(f"{BASE}/{vid}", json={"summary": "x"}).status_code == 403
    assert world.api["admin"].patch(f"{BASE}/{vid}", json={"summary": "ok"}).status_code == 200
    # Reassignment: coord_a cannot hand the visit to a team they are not in (answered like a
    # missing team, so team ids cannot be probed); admin can.
    resp = world.api["coord_a"].patch(f"{BASE}/{vid}", json={"team_id": str(world.team_b.id)})
    assert resp.status_code == 422 and "team_id" in resp.get_json()["errors"]
    resp = world.api["admin"].patch(f"{BASE}/{vid}", json={"team_id": str(world.team_b.id)})
    assert resp.status_code == 200
    assert world.api["coord_a"].get(f"{BASE}/{vid}").status_code == 404
    assert world.api["mon_b"].get(f"{BASE}/{vid}").status_code == 200


def test_populations(world: Any) -> None:
    coord, vid = world.api["coord_a"], world.visit_a.id
    resp = coord.patch(f"{BASE}/{vid}", json={"population_total": 100, "population_women": 20,
                                              "population_source": "register"})
    assert resp.status_code == 200
    resp = coord.patch(f"{BASE}/{vid}", json={"population_minors": 101})
    assert resp.status_code == 422 and "population_minors" in resp.get_json()["errors"]
    resp = coord.patch(f"{BASE}/{vid}", json={"population_total": 10})  # women (20) > 10
    assert resp.status_code == 422 and "population_women" in resp.get_json()["errors"]
    for body in ({"population_total": -1}, {"declared_capacity": -5},
                 {"population_total": "100"}, {"population_total": 1.5},
                 {"population_source": "guess"}):
        resp = coord.patch(f"{BASE}/{vid}", json=body)
        assert resp.status_code == 422, body
    resp = coord.patch(f"{BASE}/{vid}", json={"started_at": "2025-03-02T10:00:00Z",
                                              "ended_at": "2025-03-01T10:00:00Z"})
    assert resp.status_code == 422 and "ended_at" in resp.get_json()["errors"]
    assert coord.get(f"{BASE}/{vid}").get_json()["population_total"] == 100


def test_etag(world: Any) -> None:
    coord, vid = world.api["coord_a"], world.visit_a.id
    etag = coord.get(f"{BASE}/{vid}").headers["ETag"]
    resp = coord.patch(f"{BASE}/{vid}", json={"summary": "one"}, headers={"If-Match": etag})
    assert resp.status_code == 200 and resp.headers["ETag"] != etag
    resp = coord.patch(f"{BASE}/{vid}", json={"summary": "two"}, headers={"If-Match": etag})
    assert resp.status_code == 412
    assert coord.get(f"{BASE}/{vid}").get_json()["summary"] == "one"


def test_list_scoped_and_filtered(world: Any, published_template: Any) -> None:
    def ids(api: Any, query: str = "") -> set[str]:
        resp = api.get(f"{BASE}?per_page=500{query}")
        assert resp.status_code == 200, resp.get_json()
        return {v["id"] for v in resp.get_json()["items"]}

    a, b = str(world.visit_a.id), str(world.visit_b.id)
    assert a in ids(world.api["mon_a"]) and b not in ids(world.api["mon_a"])
    assert b in ids(world.api["coord_b"]) and a not in ids(world.api["coord_b"])
    assert {a, b} <= ids(world.api["admin"])
    assert ids(world.api["coord_none"]) == set()
    for role in ("partner", "analyst", "legal_aid"):
        assert world.api[role].get(BASE).status_code == 403
    admin = world.api["admin"]
    assert ids(admin, f"&team_id={world.team_a.id}") & {a, b} == {a}
    assert {a, b} <= ids(admin, f"&facility_id={world.facility.id}&status=in_progress")
    assert ids(admin, "&status=reported") & {a, b} == set()
    assert {a, b} <= ids(admin, "&from=2025-03-01&to=2025-03-01")
    assert ids(admin, "&from=2025-03-02") & {a, b} == set()
    assert admin.get(f"{BASE}?from=2025-03-02&to=2025-03-01").status_code == 422
    assert admin.get(f"{BASE}?status=lost").status_code == 422
    assert admin.get(f"{BASE}?bogus=1").status_code == 422


RECORD_KINDS = {"answers": "answer", "room-inspections": "room", "findings": "finding",
                "recommendations": "recommendation", "access-incidents": "incident",
                "photos": "photo"}


def test_team_records(world: Any) -> None:
    for kind, key in RECORD_KINDS.items():
        url = f"{BASE}/{world.visit_a.id}/{kind}"
        resp = world.api["mon_a"].get(url)
        assert resp.status_code == 200, (kind, resp.get_json())
        body = resp.get_json()
        assert [item["id"] for item in body["items"]] == [str(world.ids[f"{key}_a"])], kind
        assert body["meta"]["total"] == 1
        assert world.api["coord_b"].get(url).status_code == 404, kind
        assert world.api["partner"].get(url).status_code == 403, kind
        assert world.api["admin"].get(url).status_code == 200, kind
    photo = world.api["mon_a"].get(f"{BASE}/{world.visit_a.id}/photos").get_json()["items"][0]
    assert (round(photo["lat"], 2), round(photo["lng"], 2)) == (40.29, 69.61)
    assert photo["sha256"] == "a" * 64 and "location" not in photo
    resp = world.api["mon_a"].get(f"{BASE}/{world.visit_a.id}/answers?page=2&per_page=1")
    assert resp.get_json()["items"] == [] and resp.get_json()["meta"]["total"] == 1
