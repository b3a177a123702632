"""Indicators recomputed after the commit, never read stale.

In the web app and the job worker, a transaction that changes a visit's records marks the
visit in `indicators_due` (one statement, just before it commits: `refresh._refresh_dirty`).
After the commit the process's background refresher recomputes the marked visits, a burst
of commits at a time; every reader of `visit_indicators` first settles the due visits it is
about to read, in its own transaction. So a read sees indicators computed from every change
committed before it began, and a push (or a REST write) does not wait for the recomputation.
Elsewhere (commands, sessions on a test's connection) the commit recomputes in place.

Locking keeps them from losing a change or deadlocking with a write. One settler per visit
at a time: a transaction-level advisory lock per visit (readers wait for it, in visit order;
the refresher skips visits it cannot take). Once it holds a visit, a settler reads the marks
as committed, recomputes, and deletes each mark only if its generation did not move — a
write that marked the visit again meanwhile keeps its mark, so what it wrote is recomputed
later. Marking never waits for a recomputation (only, for an instant, for a settler's final
delete): a write deleting a visit cannot wait on a settler that waits on it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor_api.findings.models import Recommendation, RecommendationReview
from monitor_api.histories import sources
from monitor_api.histories.models import IndicatorsDue, VisitIndicators
from monitor_api.visits.models import Visit
from sync.binds import UuidArray, ids_param

log = logging.getLogger("monitor_api.histories")

MARKED = "indicators_marked"
CHUNK = 200  # visits a background round recomputes in one transaction
SETTLE_DELAY = 1.0  # seconds the refresher waits after a commit marked visits
SWEEP_SECONDS = 30.0  # the refresher also looks for marks made by other processes


def _written_here(table: sa.Table) -> Any:
    """The table's rows this transaction inserted or updated (every write stamps them; the
    index on change_xid serves: the function is stable and compared directly)."""
    return table.c.change_xid == sa.func.pg_current_xact_id()


# Whether this transaction inserted or updated a recommendation or a review.
STAMPED_HERE = sa.select(sa.or_(*(
    sa.exists().where(_written_here(t))
    for t in (Recommendation.__table__, RecommendationReview.__table__))))


def _follow_ups() -> Any:
    r, rv = Recommendation.__table__, RecommendationReview.__table__
    written = sa.or_(_written_here(r), _written_here(rv))
    made_there = sa.select(r.c.visit_id).join(rv, rv.c.recommendation_id == r.c.id).where(
        sources.among(rv.c.visit_id), r.c.visit_id.is_not(None), written)
    reviewed_there = sa.select(rv.c.visit_id).join(r, r.c.id == rv.c.recommendation_id).where(
        sources.among(r.c.visit_id), rv.c.visit_id.is_not(None), written)
    return sa.union(made_there, reviewed_there)


# The visits (`:ids`) linked by follow-up through what this transaction wrote.
FOLLOW_UPS = _follow_ups()


def _mark() -> Any:
    """One statement: whether this transaction wrote a recommendation or a review (`STAMPED_
    HERE`, or the caller says so), then the marks — the visits, and when it did, the visits
    linked to them by what it wrote (`FOLLOW_UPS`) — coalesced with any mark already there."""
    d = IndicatorsDue.__table__
    stamped = sa.select(sa.or_(sa.bindparam("followed", type_=sa.Boolean),
                               STAMPED_HERE.scalar_subquery()).label("yes")).cte("stamped")
    yes = sa.select(stamped.c.yes).scalar_subquery()
    linked = FOLLOW_UPS.subquery("linked")
    marked = sa.union(sa.select(sa.func.unnest(sources.IDS).label("visit_id")),
                      sa.select(linked.c.visit_id).where(yes)).subquery("marked")
    insert = pg_insert(d).from_select(
        ["visit_id", "reuse_follow_up"],
        sa.select(marked.c.visit_id, sa.not_(yes)).order_by(marked.c.visit_id))
    return insert.on_conflict_do_update(index_elements=[d.c.visit_id], set_={
        "reuse_follow_up": sa.and_(d.c.reuse_follow_up, insert.excluded.reuse_follow_up),
        "generation": d.c.generation + 1, "marked_at": sa.func.now()})


_MARK = _mark()
# The due marks, in visit order.
_DUE = sa.select(IndicatorsDue.visit_id, IndicatorsDue.reuse_follow_up,
                 IndicatorsDue.generation).order_by(IndicatorsDue.visit_id)
# One settler per visit at a time: a transaction-level advisory lock per visit id (seeded
# apart from the other advisory locks), taken in visit order by readers, tried by the
# refresher (it skips a visit a reader holds).
_CLAIM = sa.text(
    "select pg_advisory_xact_lock(hashtextextended(v::text, 7203))"
    " from (select v from unnest(:ids) v order by v offset 0) s"
).bindparams(sa.bindparam("ids", type_=UuidArray()))
_TRY = sa.text(
    "select v from unnest(:ids) v where pg_try_advisory_xact_lock(hashtextextended(v::text, 7203))"
).bindparams(sa.bindparam("ids", type_=UuidArray()))
# A mark is deleted only if no write marked the visit again meanwhile (its generation moved:
# PostgreSQL re-checks the condition on the row as that write left it). Rows are locked in
# visit order, as marks take them.
_UNMARK = sa.text("""
with locked as (select visit_id from indicators_due where visit_id = any(:ids)
                order by visit_id for update)
delete from indicators_due d using locked, unnest(:ids, :generations) as s(v, g)
where d.visit_id = locked.visit_id and d.visit_id = s.v and d.generation = s.g
""").bindparams(sa.bindparam("ids", type_=UuidArray()))


def mark(session: Session, visit_ids: Iterable[Any], followed: bool) -> None:
    """Mark these visits due (in the caller's transaction). `followed`: the caller knows it
    wrote a recommendation or a review (else the statement finds out by change_xid)."""
    ids = sorted({uuid.UUID(str(v)) for v in visit_ids})
    if ids:
        session.execute(_MARK, {"ids": ids, "followed": followed})
        session.info[MARKED] = True


def settle(session: Session, visit_ids: Iterable[Any] | None = None,
           facility_id: Any = None) -> int:
    """Recompute now, in the caller's transaction, the due visits among `visit_ids`, or those
    whose indicators a read of `facility_id` would show, or (neither given) every due visit.
    Waits for a concurrent settler of the same visits. Returns the visits recomputed."""
    d = IndicatorsDue.__table__
    query = _DUE
    if visit_ids is not None:
        ids = [uuid.UUID(str(v)) for v in visit_ids]
        if not ids:
            return 0
        query = query.where(d.c.visit_id == sa.any_(ids_param("due_ids", ids)))
    if facility_id is not None:  # where it is now, and where its indicators say it was
        v, i = Visit.__table__, VisitIndicators.__table__
        query = query.where(d.c.visit_id.in_(sa.union(
            sa.select(v.c.id).where(v.c.facility_id == facility_id),
            sa.select(i.c.visit_id).where(i.c.facility_id == facility_id))))
    due = [r.visit_id for r in session.execute(query)]
    if not due:
        return 0
    session.execute(_CLAIM, {"ids": due})
    return _recompute(session, due)


def _recompute(session: Session, claimed: list[Any]) -> int:
    """Recompute the claimed visits from their marks as committed now (read after the claim,
    so every write that marked them before is seen), then delete those marks."""
    from monitor_api.histories.refresh import refresh

    rows = session.execute(_DUE.where(IndicatorsDue.visit_id == sa.any_(
        ids_param("due_ids", claimed)))).all()
    if not rows:
        return 0
    reuse = [r.visit_id for r in rows if r.reuse_follow_up]
    again = [r.visit_id for r in rows if not r.reuse_follow_up]
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                # Visits linked by follow-up were marked with them: nothing more to link.
                if reuse:
                    refresh(session, reuse, linked=False, reuse_follow_up=True)
                if again:
                    refresh(session, again, linked=False)
            break
        except IntegrityError:
            # A visit deleted while it was recomputed (its indicator row's foreign key):
            # once more, now that the deletion is committed (its rows then go).
            if attempt == 2:
                raise
    session.execute(_UNMARK, {"ids": [r.visit_id for r in rows],
                              "generations": [r.generation for r in rows]})
    return len(rows)


def settle_apart(factory: Any) -> None:
    """Settle every due visit in a session of its own, committed (for a reader whose own
    transaction must stay read-only, such as an export's snapshot)."""
    with factory() as session:
        settle(session)
        session.commit()


def drain(engine: Engine) -> int:
    """One background round over up to CHUNK due visits, skipping those a reader is
    settling, committed; returns how many marks it looked at."""
    with Session(engine) as session:
        due = [r.visit_id for r in session.execute(_DUE.limit(CHUNK))]
        if due:
            _recompute(session, list(session.scalars(_TRY, {"ids": due})))
        session.commit()
    return len(due)


class Refresher:
    """The process's background refresher for one engine: a daemon thread woken after each
    commit that marked visits, and every SWEEP_SECONDS. Started on first use in each process
    (a thread does not survive a fork)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.wanted = threading.Event()
        self._pid = 0
        self._lock = threading.Lock()

    def ensure_started(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self.wanted = threading.Event()
                threading.Thread(target=self._run, name="indicators-refresher",
                                 daemon=True).start()

    def wake(self) -> None:
        self.ensure_started()
        self.wanted.set()

    def _run(self) -> None:
        while True:
            if self.wanted.wait(SWEEP_SECONDS):
                # Let a burst of commits (a phone's pushes, a coordinator's edits) mark their
                # visits first: one recomputation for all of them, not one per commit.
                time.sleep(SETTLE_DELAY)
            self.wanted.clear()
            try:
                while drain(self.engine) == CHUNK:
                    pass
            except Exception:  # the next wake or sweep tries again; readers settle meanwhile
                log.exception("background indicator refresh failed")
                self.wanted.wait(1.0)


_REFRESHERS: dict[Engine, Refresher] = {}


def start(engine: Engine) -> Refresher:
    """Recompute marked visits of this engine's database in the background (the web app)."""
    refresher = _REFRESHERS.get(engine)
    if refresher is None:
        refresher = _REFRESHERS[engine] = Refresher(engine)
    return refresher


def deferred(session: Session) -> bool:
    """Whether this session's writes are recomputed after the commit: its engine has a
    background refresher in this process (the web app, the job worker). Elsewhere (commands,
    sessions on a test's connection) the commit recomputes them itself, as before."""
    return session.get_bind() in _REFRESHERS


@event.listens_for(Session, "after_commit")
def _wake(session: Session) -> None:
    # after_commit also fires when a savepoint is released: wait for the real commit.
    if not session.in_nested_transaction() and session.info.pop(MARKED, False):
        refresher = _REFRESHERS.get(session.get_bind())  # type: ignore[call-overload]
        if refresher is not None:
            refresher.wake()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's rollback keeps earlier marks
        session.info.pop(MARKED, None)
