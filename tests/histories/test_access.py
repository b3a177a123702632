"""Who sees what in condition histories: roles by endpoints, unpublished visits, other teams,
publication, audited reads, ETags."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.histories.conftest import History


def _paths(h: History) -> list[str]:
    f = h.facility.id
    return [f"/api/v1/facilities/{f}/conditions", f"/api/v1/facilities/{f}/recommendations",
            f"/api/v1/facilities/{f}/photos", "/api/v1/indicators?indicator=occupancy_rate",
            "/api/v1/answers?standard=mandela:44", "/api/v1/statistics/annual?year=2025"]


def _visit_ids(api: Any, h: History) -> set[str]:
    body = api.get(f"/api/v1/facilities/{h.facility.id}/conditions").get_json()
    return {v["visit"]["id"] for v in body["visits"]}


def test_role_matrix_and_unpublished_visits(history: History) -> None:
    h = history
    published = {str(v.id) for v in h.visits}
    for path in _paths(h):
        assert h.api["legal_aid"].get(path).status_code == 403, path
        for role in ("admin", "coord_a", "mon_a", "coord_b", "mon_b", "partner", "analyst"):
            want = 403 if role == "analyst" and path.endswith("/photos") else 200
            assert h.api[role].get(path).status_code == want, (role, path)
    assert _visit_ids(h.api["partner"], h) == published
    assert _visit_ids(h.api["analyst"], h) == published
    # Each team also sees its own unpublished visits, flagged; never the other team's.
    assert _visit_ids(h.api["coord_a"], h) == published | {str(h.draft.id)}
    assert _visit_ids(h.api["mon_a"], h) == published | {str(h.draft.id)}
    assert _visit_ids(h.api["coord_b"], h) == published | {str(h.foreign.id)}
    assert _visit_ids(h.api["admin"], h) == published | {str(h.draft.id), str(h.foreign.id)}
    body = h.api["coord_a"].get(f"/api/v1/facilities/{h.facility.id}/conditions").get_json()
    draft = next(v for v in body["visits"] if v["visit"]["id"] == str(h.draft.id))
    assert draft["visit"]["published"] is False
    assert draft["compared_with"] == str(h.visits[-1].id)  # against the last published one
    # Unpublished visits reach no partner through any other door either.
    for path in ("/api/v1/indicators?indicator=occupancy_rate",
                 "/api/v1/answers?standard=mandela:44&per_page=500",
                 f"/api/v1/facilities/{h.facility.id}/photos",
                 f"/api/v1/facilities/{h.facility.id}/recommendations"):
        text = h.api["partner"].get(path).get_data(as_text=True)
        assert str(h.draft.id) not in text and str(h.foreign.id) not in text, path
    # Never to partners or analysts: monitors' ids, teams, answer comments, evidence naming
    # people (analysts), interviewee codes.
    for role in ("partner", "analyst"):
        for path in _paths(h):
            if role == "analyst" and path.endswith("/photos"):
                continue
            text = h.api[role].get(path).get_data(as_text=True)
            for secret in (str(h.users["mon_a"].id), str(h.users["coord_a"].id),
                           "Named the officer", "D-77"):
                assert secret not in text, (role, path, secret)
    recs = h.api["analyst"].get(f"/api/v1/facilities/{h.facility.id}/recommendations")
    assert "Karimov" not in recs.get_data(as_text=True)
    assert "Karimov" in h.api["partner"].get(
        f"/api/v1/facilities/{h.facility.id}/recommendations").get_data(as_text=True)


def test_partner_reads_are_audited(history: History, db: Session) -> None:
    h = history
    before = db.scalar(sa.text("select count(*) from audit_log where action like 'history.%'"))
    for path in _paths(h):
        h.api["partner"].get(path)
    events = db.execute(sa.text(
        "select action, actor_user_id from audit_log where action like 'history.%' "
        "order by id")).all()[before:]
    assert {e.action for e in events} == {"history.conditions", "history.recommendations",
                                          "history.photos", "history.indicators",
                                          "history.answers", "history.statistics"}
    assert {str(e.actor_user_id) for e in events} == {str(h.users["partner"].id)}
    count = db.scalar(sa.text("select count(*) from audit_log where action like 'history.%'"))
    h.api["coord_a"].get(_paths(h)[0])  # field roles' reads are ordinary, not audited
    assert db.scalar(sa.text(
        "select count(*) from audit_log where action like 'history.%'")) == count


def test_etag_and_not_modified(history: History) -> None:
    path = f"/api/v1/facilities/{history.facility.id}/conditions"
    first = history.api["partner"].get(path)
    etag = first.headers["ETag"]
    again = history.api["partner"].get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.get_data()
    # Publishing another visit changes the history: a new ETag.
    history.api["coord_b"].post(f"/api/v1/visits/{history.foreign.id}/publish")
    changed = history.api["partner"].get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_publication_rules_and_audit(history: History, db: Session) -> None:
    h = history
    # Only a reviewed visit, only its team's coordinator (or an admin).
    assert h.api["coord_a"].post(f"/api/v1/visits/{h.draft.id}/publish").status_code == 409
    assert h.api["coord_a"].post(f"/api/v1/visits/{h.foreign.id}/publish").status_code == 404
    assert h.api["mon_b"].post(f"/api/v1/visits/{h.foreign.id}/publish").status_code == 403
    assert h.api["partner"].post(f"/api/v1/visits/{h.foreign.id}/publish").status_code == 403
    resp = h.api["coord_b"].post(f"/api/v1/visits/{h.foreign.id}/publish")
    assert resp.status_code == 200 and resp.get_json()["status"] == "reported"
    assert resp.get_json()["published_at"] is not None
    assert str(h.foreign.id) in _visit_ids(h.api["partner"], h)
    resp = h.api["admin"].post(f"/api/v1/visits/{h.foreign.id}/unpublish")
    assert resp.status_code == 200 and resp.get_json()["status"] == "reviewed"
    assert resp.get_json()["published_at"] is None
    assert str(h.foreign.id) not in _visit_ids(h.api["partner"], h)
    actions = db.scalars(sa.text(
        "select action from audit_log where target_id = :v and action like 'visit.%publish' "
        "order by id"), {"v": str(h.foreign.id)}).all()
    assert actions == ["visit.publish", "visit.unpublish"]
