"""Indicators recomputed after the commit (`histories/due.py`): a visit marked due is
recomputed by the first read that shows it, whatever the background refresher has done; a
mark made while a settler recomputes the visit, or deletes its mark, survives, without the
marking waiting for the recomputation; marks coalesce."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitor_api.auth import Principal
from monitor_api.histories import due, refresh
from monitor_api.histories.models import IndicatorsDue, VisitIndicators
from monitor_api.visits.models import RoomInspection
from monitor_api.visits.review import visit_review
from tests.histories.conftest import History


def _conditions(h: History, role: str = "partner") -> dict:
    resp = h.api[role].get(f"/api/v1/facilities/{h.facility.id}/conditions")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _stale_room(h: History, db: Session) -> uuid.UUID:
    """Change a room of the latest visit behind the ORM's back (no mark), then mark the
    visit due as a deferred write would: its stored indicators are now out of date."""
    visit = h.visits[-1]
    room = db.scalars(sa.select(RoomInspection).where(RoomInspection.visit_id == visit.id)
                      .order_by(RoomInspection.label)).first()
    db.execute(sa.update(RoomInspection.__table__).where(RoomInspection.id == room.id)
               .values(floor_area_m2=1.0, occupants=10))
    due.mark(db, [visit.id], followed=False)
    return visit.id


@pytest.fixture
def lone_visit(engine: Engine) -> Iterator[uuid.UUID]:
    """An id with no visit behind it (recomputing it deletes nothing but its mark), its mark
    removed after the test: the tests that mark it commit on connections of their own."""
    visit_id = uuid.uuid4()
    yield visit_id
    with engine.begin() as conn:
        conn.execute(sa.delete(IndicatorsDue.__table__).where(
            IndicatorsDue.visit_id == visit_id))


def _generation(engine: Engine, visit_id: uuid.UUID) -> int | None:
    """The committed mark's generation (None: not due)."""
    with Session(engine) as check:
        row = check.get(IndicatorsDue, visit_id)
        return None if row is None else row.generation


def test_a_read_recomputes_what_is_due_before_it_reads(history: History, db: Session) -> None:
    before = _conditions(history)["visits"][-1]["indicators"]["living_space"]
    visit_id = _stale_room(history, db)
    assert db.get(IndicatorsDue, visit_id) is not None
    after = _conditions(history)["visits"][-1]["indicators"]["living_space"]
    assert after["min_m2"] == 0.1 != before["min_m2"]
    db.expire_all()
    assert db.get(IndicatorsDue, visit_id) is None  # settled by the read


def test_every_reader_settles(history: History, db: Session) -> None:
    """The indicator map, annual statistics, exports and a visit's review page read
    indicators: each recomputes what is due first."""
    h = history
    year = h.visits[-1].started_at.year
    readers = [("partner", "/api/v1/indicators?indicator=space_min_m2&mode=latest"),
               ("partner", f"/api/v1/statistics/annual?year={year}"),
               ("analyst", "/api/v1/exports/indicators?format=csv"), ("review", None)]
    for role, path in readers:
        visit_id = _stale_room(h, db)
        if path is None:
            coord = h.users["coord_a"]
            visit_review(db, Principal(coord.id, coord.role, coord.username), visit_id)
        else:
            resp = h.api[role].get(path)
            assert resp.status_code == 200, (path, resp.status_code, resp.get_data()[:300])
            resp.close()
        db.expire_all()
        assert db.get(IndicatorsDue, visit_id) is None, path
        assert db.get(VisitIndicators, visit_id).space_min_m2 == 0.1, path


def test_marks_coalesce_and_keep_the_strictest_follow_up(db: Session) -> None:
    visit_id = uuid.uuid4()
    due.mark(db, [visit_id], followed=True)
    due.mark(db, [visit_id], followed=False)
    row = db.get(IndicatorsDue, visit_id)
    assert (row.generation, row.reuse_follow_up) == (2, False)


def test_a_mark_made_while_a_settler_holds_the_visit_survives(
        engine: Engine, lone_visit: uuid.UUID) -> None:
    """The settler locks the mark, recomputes and deletes it; a write marking the same visit
    meanwhile waits, then marks again: what it wrote is recomputed later, never lost."""
    visit_id = lone_visit
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with Session(engine) as other:
                due.mark(other, [visit_id], followed=False)
                other.commit()
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    with Session(engine) as settler:
        due.mark(settler, [visit_id], followed=False)
        assert due.settle(settler, [visit_id]) == 1
        writer = threading.Thread(target=write)
        writer.start()
        assert not done.wait(0.5), "the mark did not wait for the settler"
        settler.commit()
    assert done.wait(10) and not errors, errors
    assert _generation(engine, visit_id) == 1


def test_a_mark_made_during_the_recomputation_survives_without_waiting(
        engine: Engine, lone_visit: uuid.UUID, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write marks the visit while a settler is recomputing it (after the settler read the
    marks): the write does not wait, and its mark is not deleted with the one recomputed."""
    visit_id = lone_visit
    with Session(engine) as first:
        due.mark(first, [visit_id], followed=False)
        first.commit()
    real, waited = refresh.refresh, []

    def recompute_while_marked(session: Session, *args: object, **kw: object) -> int:
        t0 = time.monotonic()
        with Session(engine) as other:  # another connection, in the middle of the settle
            due.mark(other, [visit_id], followed=False)
            other.commit()
        waited.append(time.monotonic() - t0)
        return real(session, *args, **kw)

    monkeypatch.setattr(refresh, "refresh", recompute_while_marked)
    with Session(engine) as settler:
        assert due.settle(settler, [visit_id]) == 1
        settler.commit()
    assert waited and waited[0] < 5  # it would have hung (deadlock) had it waited
    assert _generation(engine, visit_id) == 2
