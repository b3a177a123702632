"""Several devices writing one visit at once: row locks in one order, deadlocks retried,
never a 500 (item 8 of the hardening issue)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import Engine, text

from tests.sync.conftest import World, finding_raw, visit_raw


def test_concurrent_pushes_on_one_visit_never_answer_500(world: World) -> None:
    monitors = [world.user() for _ in range(8)]
    world.team(*monitors)
    tokens = [world.device(m) for m in monitors]
    visit = visit_raw(world.facility())
    findings = [finding_raw(visit["id"]) for _ in range(3)]
    resp = world.push(tokens[0], {"visits": {"created": [visit]},
                                  "findings": {"created": findings}}, world.cursor(tokens[0]))
    assert resp.status_code == 200, resp.text
    statuses: Counter[int] = Counter()
    created: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(tokens))

    def device(i: int) -> None:
        token = tokens[i]
        start.wait()
        for n in range(12):
            cur = world.cursor(token)
            if i == 0:  # one phone keeps editing the visit and its findings
                changes: dict[str, Any] = {
                    "visits": {"updated": [{**visit, "summary": f"pass {n}"}]},
                    "findings": {"updated": [{**f, "description": f"{n}"} for f in findings]}}
            else:  # the others add rooms and findings to it, and touch a shared finding
                room = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "label": f"C{i}.{n}",
                        "room_kind": "cell", "floor_area_m2": 12.5, "occupants": 4}
                new = finding_raw(visit["id"], room_inspection_id=room["id"])
                changes = {"room_inspections": {"created": [room]},
                           "findings": {"created": [new],
                                        "updated": [{**findings[n % 3], "title": f"T{i}"}]}}
            answer = world.push(token, changes, cur)
            with lock:
                statuses[answer.status_code] += 1
                if answer.status_code == 200 and i:
                    created.append(changes["room_inspections"]["created"][0]["id"])
            assert answer.status_code in (200, 409, 503), answer.text
            if answer.status_code == 503:
                assert answer.headers["Retry-After"]

    threads = [threading.Thread(target=device, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses[500] == 0 and set(statuses) <= {200, 409, 503}, statuses
    assert statuses[200] > 0
    # Every accepted room is there, exactly once.
    rows = world.sql("select id::text from room_inspections where visit_id = :v",
                     v=visit["id"]).scalars().all()
    assert sorted(rows) == sorted(created)


def test_new_records_pushed_twice_at_once_in_opposite_orders(world: World) -> None:
    """Two phones push the same new records at once, in opposite orders (a shared export
    replayed, say): the probe-less first attempts may deadlock on each other's ids or find
    them taken; either way the push runs again in full. Never a 500, each record once."""
    a, b = world.user(), world.user()
    world.team(a, b)
    ta, tb = world.device(a), world.device(b)
    visit = visit_raw(world.facility())
    assert world.push(ta, {"visits": {"created": [visit]}},
                      world.cursor(ta)).status_code == 200
    statuses: Counter[int] = Counter()

    def phone(token: str, cursor: int, records: list[dict[str, Any]],
              start: threading.Barrier) -> None:
        start.wait()
        answer = world.push(token, {"findings": {"created": records}}, cursor)
        statuses[answer.status_code] += 1
        assert answer.status_code in (200, 409, 503), answer.text

    for _ in range(6):
        findings = [finding_raw(visit["id"]) for _ in range(40)]
        start = threading.Barrier(2)
        threads = [threading.Thread(target=phone, args=(ta, world.cursor(ta), findings, start)),
                   threading.Thread(target=phone, args=(tb, world.cursor(tb), findings[::-1],
                                                        start))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = [f["id"] for f in findings]
        assert world.sql("select count(*) from findings where id = any(cast(:ids as uuid[]))",
                         ids=ids).scalar() == len(ids)
    assert statuses[500] == 0 and statuses[200] >= 6, statuses


def test_a_key_claimed_while_its_lock_is_held_sees_the_answer_committed_meanwhile(
        engine: Engine) -> None:
    """sync_idempotency_claim (migration 0017): the second push of one Idempotency-Key waits
    for the first's lock, then reads — with a snapshot taken after the wait — the answer
    the first committed meanwhile (what keeps a retry from applying a push twice)."""
    device, key = str(uuid.uuid4()), "retry-1"
    claim = text("select request_hash, body from sync_idempotency_claim(:lk, cast(:d as uuid),"
                 " :k)")
    params = {"lk": f"{device}:{key}", "d": device, "k": key}
    with engine.connect() as first, engine.connect() as second:
        assert first.execute(claim, params).first() is None  # holds the key's lock now
        seen: list[Any] = []
        waiter = threading.Thread(target=lambda: seen.append(
            second.execute(claim, params).first()))
        waiter.start()
        time.sleep(0.3)
        assert waiter.is_alive() and not seen  # waits for the first push's lock
        first.execute(text("insert into sync_idempotency (device_id, key, request_hash, status,"
                           " body) values (cast(:d as uuid), :k, 'h1', 200,"
                           " cast('{\"applied\": {}}' as jsonb))"), params)
        first.commit()
        waiter.join(10)
        assert [tuple(r) for r in seen] == [("h1", {"applied": {}})]
        second.rollback()
        first.execute(text("delete from sync_idempotency where device_id = cast(:d as uuid)"),
                      params)
        first.commit()
