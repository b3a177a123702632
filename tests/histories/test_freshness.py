"""Indicators stay current with REST writes; threshold versions never change silently."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from monitor_api.findings.models import Finding
from monitor_api.histories.models import SpaceThreshold
from monitor_api.histories.refresh import rebuild
from tests.histories.conftest import History


def _last(h: History, role: str = "partner") -> dict:
    body = h.api[role].get(f"/api/v1/facilities/{h.facility.id}/conditions").get_json()
    return body["visits"][-1]["indicators"]


def test_rest_writes_refresh_indicators(history: History, db: Session) -> None:
    h = history
    finding = db.query(Finding).filter_by(visit_id=h.visits[-1].id, status="confirmed").one()
    assert _last(h)["findings"]["total"] == 1
    resp = h.api["coord_a"].post(f"/api/v1/findings/{finding.id}/withdraw", json={})
    assert resp.status_code == 200, resp.get_json()
    assert _last(h)["findings"]["total"] == 0
    # A new official capacity moves the occupancy of visits that declared none.
    fac = h.api["admin"].get(f"/api/v1/facilities/{h.facility.id}")
    resp = h.api["admin"].patch(f"/api/v1/facilities/{h.facility.id}",
                                json={"official_capacity": 500},
                                headers={"If-Match": fac.headers["ETag"]})
    assert resp.status_code == 200, resp.get_json()
    occupancy = _last(h)["occupancy"]
    assert occupancy["capacity"] == 500 and occupancy["rate"] == round(455 / 500, 4)


def test_a_new_threshold_version_never_rewrites_results_silently(history: History,
                                                                  db: Session) -> None:
    h = history
    before = _last(h)["living_space"]["thresholds"]["tj_law"]
    assert before["version"] == 1
    db.add(SpaceThreshold(source="tj_law", version=2, shared_m2=5.0, single_m2=5.0,
                          title="hypothetical amendment", citation="test",
                          valid_from=date(2020, 1, 1)))
    db.commit()
    rebuild(db)  # a plain rebuild keeps each result's recorded version
    db.commit()
    assert _last(h)["living_space"]["thresholds"]["tj_law"] == before
    rebuild(db, reapply_thresholds=True)  # deliberately re-applied
    db.commit()
    after = _last(h)["living_space"]["thresholds"]["tj_law"]
    assert after["version"] == 2 and after["shared_m2"] == 5.0
    assert after["rooms_below"] >= before["rooms_below"]
