"""Interviews and allegations: the visit's team and admins; legal aid by consent; audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from monitor_api.audit.models import AuditEntry
from monitor_api.restricted.models import Allegation, Interview

LEGAL_AID_KEYS = {"id", "facility", "visit_month", "alleged_when", "place_description",
                  "alleged_unit", "methods", "injuries_observed", "medical_exam_requested",
                  "istanbul_consistency", "reprisal_risk", "narrative", "narrative_withheld"}
NEVER_FOR_LEGAL_AID = {"interviewee_code", "interview_id", "visit_id", "consent_prosecutor",
                       "consent_publication", "consent_legal_aid", "notes", "team_id"}


def _views(db: Any) -> list[dict[str, Any]]:
    return list(db.scalars(select(AuditEntry.details).where(
        AuditEntry.action == "allegation.view").order_by(AuditEntry.id)))


def test_legal_aid_sees_only_consented_projection(world: Any, db: Any) -> None:
    resp = world.api["legal_aid"].get("/api/v1/allegations?per_page=500")
    assert resp.status_code == 200, resp.get_json()
    items = resp.get_json()["items"]
    ids = {i["id"] for i in items}
    assert {str(world.ids["allegation_a"]), str(world.ids["allegation_b"])} <= ids
    assert not ids & {str(world.ids["allegation_noconsent_a"]),
                      str(world.ids["allegation_noconsent_b"])}
    consented = set(db.scalars(select(Allegation.id).where(Allegation.consent_legal_aid)))
    assert {str(i) for i in consented} == ids
    for item in items:
        assert set(item) == LEGAL_AID_KEYS
        assert not set(item) & NEVER_FOR_LEGAL_AID
        assert "D-a" not in str(item) and "D-b" not in str(item)  # no interviewee codes
    mine = next(i for i in items if i["id"] == str(world.ids["allegation_a"]))
    assert mine["facility"]["id"] == str(world.facility.id) and mine["visit_month"] == "2025-03"
    assert mine["narrative"] == "account a" and not mine["narrative_withheld"]
    assert mine["methods"] == ["beating"]
    # The audit names what was shown.
    last = _views(db)[-1]
    assert last["view"] == "legal_aid" and set(last["ids"]) == ids
    # Single read: consented → projection, unconsented → 404 like a missing id.
    one = world.api["legal_aid"].get(f"/api/v1/allegations/{world.ids['allegation_a']}")
    assert one.status_code == 200 and set(one.get_json()) == LEGAL_AID_KEYS
    resp = world.api["legal_aid"].get(
        f"/api/v1/allegations/{world.ids['allegation_noconsent_a']}")
    assert resp.status_code == 404
    assert world.api["legal_aid"].get(
        "/api/v1/allegations/00000000-0000-0000-0000-000000000000").status_code == 404


def test_narrative_withheld_without_interview_consent(world: Any, db: Any) -> None:
    interview = db.get(Interview, world.ids["interview_a"])
    interview.consent_to_refer = False
    db.flush()
    items = world.api["legal_aid"].get("/api/v1/allegations?per_page=500").get_json()["items"]
    mine = next(i for i in items if i["id"] == str(world.ids["allegation_a"]))
    assert mine["narrative"] is None and mine["narrative_withheld"] is True
    assert "account a" not in str(items)


def test_admin_sees_everything_whole(world: Any, db: Any) -> None:
    resp = world.api["admin"].get(f"/api/v1/allegations?facility_id={world.facility.id}")
    assert resp.status_code == 200
    items = resp.get_json()["items"]
    assert len(items) == 4 and all("consent_publication" in i for i in items)
    assert {i["narrative"] for i in items} == {"account a", "account b", "secret"}
    assert _views(db)[-1]["view"] == "full"


def test_team_reads_own_visit_others_denied(world: Any, db: Any) -> None:
    for kind in ("interviews", "allegations"):
        url = f"/api/v1/visits/{world.visit_a.id}/{kind}"
        for name in ("mon_a", "coord_a", "admin"):
            resp = world.api[name].get(url)
            assert resp.status_code == 200, (name, kind)
            assert resp.get_json()["meta"]["total"] == (1 if kind == "interviews" else 2)
        for name in ("coord_b", "mon_b", "coord_none"):
            assert world.api[name].get(url).status_code == 404, (name, kind)
        for name in ("partner", "analyst", "legal_aid"):
            assert world.api[name].get(url).status_code == 403, (name, kind)
    resp = world.api["mon_a"].get(f"/api/v1/visits/{world.visit_a.id}/interviews")
    assert resp.get_json()["items"][0]["interviewee_code"] == "D-a"
    views = db.scalars(select(AuditEntry.action).where(
        AuditEntry.action.in_(("interview.view", "allegation.view"))))
    assert set(views) == {"interview.view", "allegation.view"}
    # Across visits: only legal aid and admins list; single reads follow the team.
    for name in ("coord_a", "mon_a", "partner", "analyst"):
        assert world.api[name].get("/api/v1/allegations").status_code == 403, name
    one = f"/api/v1/allegations/{world.ids['allegation_noconsent_a']}"
    assert world.api["mon_a"].get(one).get_json()["narrative"] == "secret"
    assert world.api["coord_b"].get(one).status_code == 404
    assert world.api["partner"].get(one).status_code == 403
