"""The fast read model behind the histories: the pre-rendered indicators and the response
assembled from them are exactly the schema's rendering; rows computed before rendering
existed read the same and are recomputed by `migrate`; a commit refreshes what its own flush
writes; a write recomputes the visits linked by follow-up only when it wrote a
recommendation or a review."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitor_api import jsonsafe
from monitor_api.auth import Principal
from monitor_api.facilities.models import Facility
from monitor_api.findings.models import Recommendation, RecommendationReview
from monitor_api.histories import metrics, render, service
from monitor_api.histories.models import VisitIndicators
from monitor_api.histories.refresh import rebuild
from monitor_api.visits.models import RoomInspection, Visit
from schemas.histories import ConditionsOut, Indicators
from tests.histories.conftest import History


def _conditions(h: History, role: str, query: str = "") -> bytes:
    resp = h.api[role].get(f"/api/v1/facilities/{h.facility.id}/conditions{query}")
    assert resp.status_code == 200, resp.get_json()
    assert resp.mimetype == "application/json"
    return resp.get_data()


def test_conditions_bytes_are_the_schema_rendering(history: History, db: Session) -> None:
    """The API's assembled bytes are what the schema and the app's JSON provider make of
    the same history as Python objects (the service's dict, which web pages use)."""
    for role, query, args in (("partner", "", {}), ("admin", "", {}),
                              ("coord_a", "?from=2024-01-01", {"date_from": date(2024, 1, 1)})):
        user = history.users[role]
        data = service.conditions(db, Principal(user.id, user.role, user.username),
                                  history.facility.id, **args)
        assert data["visits"], role
        expected = jsonsafe.dumps_bytes(ConditionsOut().dump(data), sort_keys=True)
        assert _conditions(history, role, query) == expected, role


def test_each_row_holds_its_rendering_and_scalars(history: History, db: Session) -> None:
    rows = db.execute(sa.select(VisitIndicators.__table__)).all()
    assert rows
    for row in rows:
        assert row.rendered == render.dumps(Indicators().dump(render.indicators(row)))
        assert row.scalars == metrics.scalars(render.flat(row))


def test_rows_not_yet_rendered_read_the_same_and_migrate_fills_them(history: History,
                                                                      db: Session) -> None:
    h = history
    path = "/api/v1/indicators?indicator=compliance_rate&mode=year"
    before = {role: _conditions(h, role) for role in ("partner", "admin")}
    across = h.api["partner"].get(path).get_json()
    stale = db.execute(sa.update(VisitIndicators).values(rendered=None, scalars=None)).rowcount
    assert stale >= 4
    assert {role: _conditions(h, role) for role in before} == before
    assert h.api["partner"].get(path).get_json() == across
    assert rebuild(db, missing_only=True) >= stale  # what `monitor-api migrate` runs
    assert db.scalar(sa.select(sa.func.count()).where(VisitIndicators.rendered.is_(None))) == 0
    assert _conditions(h, "partner") == before["partner"]


def test_a_year_without_visits_sums_to_zero(history: History) -> None:
    body = history.api["partner"].get("/api/v1/statistics/annual?year=1999").get_json()
    assert body["visits"]["total"] == 0 and body["visits"]["facilities"] == 0
    assert body["recommendations"] == {"total": 0, "open": 0, "repeated": 0}
    assert body["access_incidents"] == {} and body["implementation_by_authority"] == {}


def _computed(engine: Engine, *visits: uuid.UUID) -> list[datetime]:
    with Session(engine) as s:
        when = dict(s.execute(sa.select(VisitIndicators.visit_id, VisitIndicators.computed_at)
                              .where(VisitIndicators.visit_id.in_(visits))).all())
    return [when[v] for v in visits]


@pytest.fixture
def linked(engine: Engine) -> Iterator[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
    """Committed (the refresh runs as each transaction commits): visits A and B of a new
    facility, a recommendation made at A and reviewed at B. Yields (A, B, recommendation)."""
    with Session(engine, expire_on_commit=False) as s:
        fac = Facility(code=f"RM-{secrets.token_hex(4)}", name="SIZO", region="TJ-SU",
                       facility_type="pretrial_detention", authority="ministry_of_justice")
        s.add(fac)
        s.flush()
        a, b = (Visit(facility_id=fac.id, status="reviewed", population_total=100,
                      started_at=datetime(y, 3, 1, 9, tzinfo=UTC)) for y in (2024, 2025))
        s.add_all([a, b])
        s.flush()
        rec = Recommendation(facility_id=fac.id, visit_id=a.id, theme="health_care",
                             text="Screen", addressed_to="ministry_of_health_social")
        s.add(rec)
        s.flush()
        s.add(RecommendationReview(recommendation_id=rec.id, visit_id=b.id,
                                   status="not_implemented"))
        s.commit()
    yield a.id, b.id, rec.id
    with Session(engine) as s:
        for model, cond in (
                (RecommendationReview, RecommendationReview.recommendation_id == rec.id),
                (RoomInspection, RoomInspection.visit_id == b.id),
                (Recommendation, Recommendation.id == rec.id),
                (Visit, Visit.facility_id == fac.id), (Facility, Facility.id == fac.id)):
            s.execute(sa.delete(model).where(cond))
        s.commit()


def _room(engine: Engine, visit: uuid.UUID, flush: bool) -> None:
    with Session(engine) as s:
        s.add(RoomInspection(visit_id=visit, label="c1", room_kind="cell", floor_area_m2=12.0,
                             occupants=3))
        if flush:
            s.flush()
        s.commit()


def test_a_commit_refreshes_what_it_flushes_itself(engine: Engine, linked: Any) -> None:
    _a, b, _rec = linked
    before = _computed(engine, b)
    _room(engine, b, flush=False)  # added, then committed: the commit's own flush writes it
    assert _computed(engine, b)[0] > before[0]
    with Session(engine) as s:
        ind = s.get(VisitIndicators, b)
        assert ind is not None and ind.rooms_measured == 1


def test_linked_visits_are_recomputed_only_for_follow_up_writes(engine: Engine,
                                                                 linked: Any) -> None:
    a, b, rec = linked
    first = _computed(engine, a, b)
    _room(engine, b, flush=True)  # the reviewing visit gains a room: A's figures stand
    second = _computed(engine, a, b)
    assert second[0] == first[0] and second[1] > first[1]
    with Session(engine) as s:  # a review at B: A's open count moves, A is recomputed
        s.add(RecommendationReview(recommendation_id=rec, visit_id=b, status="implemented"))
        s.commit()
    third = _computed(engine, a, b)
    assert third[0] > second[0] and third[1] > second[1]
    with Session(engine) as s:
        ind = s.get(VisitIndicators, a)
        assert ind is not None and ind.recommendations["open"] == 0
