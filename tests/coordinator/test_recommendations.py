"""Recommendations: repeat chains (cycle-safe), reviews as status history, scoping."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from monitor_api.audit.models import AuditEntry
from monitor_api.findings.models import Recommendation

BASE = "/api/v1/recommendations"


def _rec(api: Any, **kw: Any) -> Any:
    body = {"theme": "material_conditions", "text": "Bring cells to 4 m² per person",
            "addressed_to": "ministry_of_justice", "priority": "high",
            "due_date": "2025-12-31", **kw}
    return api.post(BASE, json=body)


def test_create_on_visit(world: Any, db: Any) -> None:
    coord = world.api["coord_a"]
    resp = _rec(coord, visit_id=str(world.visit_a.id), finding_id=str(world.ids["finding_a"]))
    assert resp.status_code == 201, resp.get_json()
    rec = resp.get_json()
    assert rec["facility_id"] == str(world.facility.id)  # taken from the visit
    assert rec["due_date"] == "2025-12-31" and rec["latest_review_status"] is None
    assert db.scalar(select(AuditEntry.id).where(AuditEntry.action == "recommendation.create",
                                                 AuditEntry.target_id == rec["id"]))
    # Someone else's visit or finding: 422 on the field, like a missing one.
    resp = _rec(coord, visit_id=str(world.visit_b.id))
    assert resp.status_code == 422 and "visit_id" in resp.get_json()["errors"]
    resp = _rec(coord, visit_id=str(world.visit_a.id), finding_id=str(world.ids["finding_b"]))
    assert resp.status_code == 422 and "finding_id" in resp.get_json()["errors"]
    resp = _rec(coord, visit_id=str(world.visit_a.id), facility_id=str(world.ids["room_a"]))
    assert resp.status_code == 422 and "facility_id" in resp.get_json()["errors"]
    assert _rec(world.api["mon_a"], visit_id=str(world.visit_a.id)).status_code == 403
    for bad in ({"addressed_to": "the_king"}, {"priority": "asap"}, {"due_date": "soon"},
                {"theme": None}, {"text": 5}, {"repeats_id": "not-a-uuid"}, {"extra": 1}):
        resp = _rec(coord, visit_id=str(world.visit_a.id), **bad)
        assert resp.status_code == 422, bad


def test_chain_and_cycles(world: Any, make_facility: Any) -> None:
    admin = world.api["admin"]
    fac = str(world.facility.id)
    r1 = _rec(admin, facility_id=fac, text="first").get_json()
    r2 = _rec(admin, facility_id=fac, text="second", repeats_id=r1["id"]).get_json()
    r3 = _rec(admin, facility_id=fac, text="third", repeats_id=r2["id"]).get_json()
    for rid in (r1["id"], r2["id"], r3["id"]):
        resp = admin.get(f"{BASE}/{rid}/chain")
        assert resp.status_code == 200
        assert [r["text"] for r in resp.get_json()["items"]] == ["first", "second", "third"]
    # Cycles are rejected: r1 repeating r3 (r3 → r2 → r1), and self-repeats.
    resp = admin.patch(f"{BASE}/{r1['id']}", json={"repeats_id": r3["id"]})
    assert resp.status_code == 422 and "repeats_id" in resp.get_json()["errors"]
    resp = admin.patch(f"{BASE}/{r1['id']}", json={"repeats_id": r1["id"]})
    assert resp.status_code == 422
    assert admin.get(f"{BASE}/{r1['id']}").get_json()["repeats_id"] is None
    # Another facility's recommendation cannot be repeated.
    other = make_facility(name="IVS Khujand")
    r_other = _rec(admin, facility_id=str(other.id), text="elsewhere").get_json()
    resp = _rec(admin, facility_id=fac, repeats_id=r_other["id"])
    assert resp.status_code == 422 and "repeats_id" in resp.get_json()["errors"]
    resp = admin.patch(f"{BASE}/{r2['id']}", json={"repeats_id": r_other["id"]})
    assert resp.status_code == 422
    # A legal move: r3 repeats r1 directly (a branch); the chain through r2 ends at r2.
    assert admin.patch(f"{BASE}/{r3['id']}", json={"repeats_id": r1["id"]}).status_code == 200

    def texts(rid: str) -> list[str]:
        return [r["text"] for r in admin.get(f"{BASE}/{rid}/chain").get_json()["items"]]

    first, *rest = texts(r1["id"])  # siblings come in creation order (one transaction here)
    assert first == "first" and sorted(rest) == ["second", "third"]
    assert texts(r2["id"]) == ["first", "second"]
    assert texts(r3["id"]) == ["first", "third"]
    # The repeated filter.
    listed = admin.get(f"{BASE}?facility_id={fac}&repeated=true&per_page=500").get_json()
    assert {r["id"] for r in listed["items"]} == {r2["id"], r3["id"]}


def test_chain_survives_a_cycle_in_data(world: Any, db: Any) -> None:
    """Phones sync recommendations too: a cycle written behind the API must not hang reads."""
    a = Recommendation(facility_id=world.facility.id, theme="treatment", text="a",
                       addressed_to="other")
    b = Recommendation(facility_id=world.facility.id, theme="treatment", text="b",
                       addressed_to="other")
    db.add_all([a, b])
    db.flush()
    a.repeats_id, b.repeats_id = b.id, a.id
    db.flush()
    resp = world.api["admin"].get(f"{BASE}/{a.id}/chain")
    assert resp.status_code == 200
    assert sorted(r["text"] for r in resp.get_json()["items"]) == ["a", "b"]


def test_reviews_history_and_open_filter(world: Any, db: Any) -> None:
    coord = world.api["coord_a"]
    rid = str(world.ids["recommendation_a"])
    for status, when in [("not_implemented", "2025-04-01T00:00:00Z"),
                         ("partially_implemented", "2025-06-01T00:00:00Z")]:
        resp = coord.post(f"{BASE}/{rid}/reviews", json={
            "status": status, "evidence": "seen on follow-up", "reviewed_at": when,
            "visit_id": str(world.visit_a.id)})
        assert resp.status_code == 201, resp.get_json()
    assert coord.get(f"{BASE}/{rid}").get_json()["latest_review_status"] == \
        "partially_implemented"
    on_visit = coord.get(f"/api/v1/visits/{world.visit_a.id}/recommendations").get_json()
    assert [r["latest_review_status"] for r in on_visit["items"]] == ["partially_implemented"]
    listed = coord.get(f"{BASE}?open=true&per_page=500").get_json()
    assert rid in {r["id"] for r in listed["items"]}
    resp = coord.post(f"{BASE}/{rid}/reviews", json={"status": "implemented",
                                                      "reviewed_at": "2025-09-01T00:00:00Z"})
    assert resp.status_code == 201
    history = coord.get(f"{BASE}/{rid}/reviews").get_json()
    assert [r["status"] for r in history["items"]] == [
        "not_implemented", "partially_implemented", "implemented"]
    listed = coord.get(f"{BASE}?open=true&per_page=500").get_json()
    assert rid not in {r["id"] for r in listed["items"]}
    listed = coord.get(f"{BASE}?open=false&per_page=500").get_json()
    assert rid in {r["id"] for r in listed["items"]}
    for bad in ({"status": "done"}, {}, {"status": "implemented", "visit_id": "x"},
                {"status": "implemented", "reviewed_at": "yesterday"}):
        assert coord.post(f"{BASE}/{rid}/reviews", json=bad).status_code == 422, bad
    resp = coord.post(f"{BASE}/{rid}/reviews", json={"status": "implemented",
                                                     "visit_id": str(world.visit_b.id)})
    assert resp.status_code == 422 and "visit_id" in resp.get_json()["errors"]
    assert world.api["mon_a"].post(f"{BASE}/{rid}/reviews",
                                   json={"status": "implemented"}).status_code == 403
    assert world.api["mon_a"].get(f"{BASE}/{rid}/reviews").status_code == 200
    assert db.scalar(select(AuditEntry.id).where(
        AuditEntry.action == "recommendation_review.create"))


def test_scoping(world: Any) -> None:
    rec_a, rec_b = str(world.ids["recommendation_a"]), str(world.ids["recommendation_b"])
    systemic = _rec(world.api["coord_none"], text="National law on IVS").get_json()
    assert systemic["facility_id"] is None and systemic["visit_id"] is None
    # A systemic recommendation may rest on a finding its author can see.
    resp = _rec(world.api["coord_a"], text="Law on space norms",
                finding_id=str(world.ids["finding_a"]))
    assert resp.status_code == 201 and resp.get_json()["facility_id"] is None
    resp = _rec(world.api["coord_a"], text="x", finding_id=str(world.ids["finding_b"]))
    assert resp.status_code == 422 and "finding_id" in resp.get_json()["errors"]

    def listed(name: str) -> set[str]:
        resp = world.api[name].get(f"{BASE}?per_page=500")
        assert resp.status_code == 200
        return {r["id"] for r in resp.get_json()["items"]}

    assert {rec_a, systemic["id"]} <= listed("coord_a") and rec_b not in listed("coord_a")
    assert listed("mon_a") == {rec_a}  # monitors: their visits' recommendations only
    assert {rec_a, rec_b, systemic["id"]} <= listed("admin")
    assert world.api["mon_a"].get(f"{BASE}/{systemic['id']}").status_code == 404
    assert world.api["coord_b"].get(f"{BASE}/{rec_a}").status_code == 404
    assert world.api["coord_b"].get(f"{BASE}/{rec_a}/chain").status_code == 404
    assert world.api["coord_b"].get(f"{BASE}/{rec_a}/reviews").status_code == 404
    assert world.api["coord_b"].patch(f"{BASE}/{rec_a}", json={"text": "x"}).status_code == 404
    assert world.api["coord_b"].post(f"{BASE}/{rec_a}/reviews",
                                     json={"status": "implemented"}).status_code == 404
    assert world.api["mon_a"].patch(f"{BASE}/{rec_a}", json={"text": "x"}).status_code == 403
    for role in ("partner", "analyst", "legal_aid"):
        assert world.api[role].get(BASE).status_code == 403
        assert world.api[role].get(f"{BASE}/{rec_a}").status_code == 403
    resp = world.api["coord_a"].patch(f"{BASE}/{rec_a}", json={"text": "Reduce to capacity",
                                                               "due_date": None})
    assert resp.status_code == 200 and resp.get_json()["due_date"] is None
