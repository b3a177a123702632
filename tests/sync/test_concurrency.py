"""Several devices writing one visit at once: row locks in one order, deadlocks retried,
never a 500 (item 8 of the hardening issue)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

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
