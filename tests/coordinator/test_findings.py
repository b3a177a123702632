"""Findings: coordinators of the visit's team confirm, withdraw and edit; others cannot."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from monitor_api.audit.models import AuditEntry

BASE = "/api/v1/findings"


def test_confirm_and_withdraw(world: Any, db: Any) -> None:
    fid = world.ids["finding_a"]
    coord = world.api["coord_a"]
    resp = coord.post(f"{BASE}/{fid}/confirm")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "confirmed"
    assert body["confirmed_by_id"] == str(world.users["coord_a"].id) and body["confirmed_at"]
    assert coord.post(f"{BASE}/{fid}/confirm").status_code == 409
    resp = coord.post(f"{BASE}/{fid}/withdraw", json={"reason": "Double-counted room"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "withdrawn"
    assert coord.post(f"{BASE}/{fid}/withdraw").status_code == 409
    # A withdrawn finding stays readable, alone and in the visit's list.
    for api in (coord, world.api["mon_a"], world.api["admin"]):
        assert api.get(f"{BASE}/{fid}").get_json()["status"] == "withdrawn"
    listed = world.api["mon_a"].get(f"/api/v1/visits/{world.visit_a.id}/findings").get_json()
    assert [f["status"] for f in listed["items"]] == ["withdrawn"]
    assert coord.patch(f"{BASE}/{fid}", json={"title": "x"}).status_code == 409
    resp = world.api["admin"].post(f"{BASE}/{fid}/confirm")  # admins re-confirm
    assert resp.status_code == 200
    assert resp.get_json()["confirmed_by_id"] == str(world.users["admin"].id)
    actions = list(db.scalars(select(AuditEntry.action).where(
        AuditEntry.target_id == str(fid)).order_by(AuditEntry.id)))
    assert actions == ["finding.confirm", "finding.withdraw", "finding.confirm"]
    reason = db.scalar(select(AuditEntry.details).where(
        AuditEntry.target_id == str(fid), AuditEntry.action == "finding.withdraw"))
    assert reason["reason"] == "Double-counted room"


def test_withdraw_without_body(world: Any) -> None:
    resp = world.api["coord_a"].post(f"{BASE}/{world.ids['finding_a']}/withdraw")
    assert resp.status_code == 200 and resp.get_json()["status"] == "withdrawn"


def test_edit(world: Any) -> None:
    fid, coord = world.ids["finding_a"], world.api["coord_a"]
    body = {"title": "Severe overcrowding", "severity": "critical_urgent",
            "theme": "material_conditions", "is_systemic": True, "description": "2 m² each",
            "standard_refs": [{"instrument": "cpt", "rule": "space"},
                              {"instrument": "tj_law", "rule": "4 m2"}]}
    resp = coord.patch(f"{BASE}/{fid}", json=body)
    assert resp.status_code == 200, resp.get_json()
    out = resp.get_json()
    assert {k: out[k] for k in body} == body
    for bad in ({"severity": "awful"}, {"theme": "food"}, {"is_systemic": "yes"},
                {"status": "confirmed"}, {"visit_id": str(world.visit_b.id)},
                {"standard_refs": [{"instrument": "x", "rule": "1"}]}, {"title": ""}):
        resp = coord.patch(f"{BASE}/{fid}", json=bad)
        assert resp.status_code == 422, bad
        assert resp.mimetype == "application/problem+json"


def test_who(world: Any) -> None:
    fid = world.ids["finding_a"]
    # Monitors may never write findings here: 403 whatever the id (so no existence oracle).
    for name, status in [("mon_a", 403), ("coord_b", 404), ("mon_b", 403), ("coord_none", 404),
                         ("partner", 403), ("analyst", 403), ("legal_aid", 403)]:
        api = world.api[name]
        assert api.post(f"{BASE}/{fid}/confirm").status_code == status, name
        assert api.post(f"{BASE}/{fid}/withdraw").status_code == status, name
        assert api.patch(f"{BASE}/{fid}", json={"title": "x"}).status_code == status, name
    assert world.api["mon_a"].get(f"{BASE}/{fid}").status_code == 200
    assert world.api["mon_b"].get(f"{BASE}/{fid}").status_code == 404
    assert world.api["partner"].get(f"{BASE}/{fid}").status_code == 403


def test_rest_changes_join_the_revision_history(world: Any, db: Any) -> None:
    """A coordinator's edit is a revision like a phone's push: who, before → after."""
    from sync.history import history

    fid = world.ids["finding_a"]
    assert world.api["coord_a"].post(f"{BASE}/{fid}/confirm").status_code == 200
    assert world.api["coord_a"].patch(f"{BASE}/{fid}", json={"title": "Renamed"}).status_code \
        == 200
    revs = history(db, "findings", fid)
    assert [r["source"] for r in revs] == ["rest", "rest"]
    assert revs[0]["before"]["status"] == "draft" and revs[0]["after"]["status"] == "confirmed"
    assert revs[1]["after"]["title"] == "Renamed"
    assert {r["user_id"] for r in revs} == {world.users["coord_a"].id}
    resp = world.api["coord_a"].patch(f"/api/v1/visits/{world.visit_a.id}",
                                      json={"summary": "Overcrowded"})
    assert resp.status_code == 200
    (rev,) = history(db, "visits", world.visit_a.id)
    assert rev["op"] == "update" and rev["after"]["summary"] == "Overcrowded"
