"""Push benchmark: 40 pushes of 500 records and 2 of 5,000 through a real server (gunicorn, one
worker, two threads), against raw COPY of the same rows into the same tables, measured in
the same run and interleaved with the pushes in 8 rounds of 5 each (a busy machine slows
both alike; a slow moment weighs on one round of each, not on one side). Reports the
worker's peak RSS after the 5,000-record pushes. A push's visits have their indicators
recomputed after its commit by the server's background refresher: each COPY round waits until
it is done (never overlapping), and that work is reported on its own line, timed alone.

    DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench_push) .venv/bin/python \
        bench/push_bench.py

Use a dedicated database: the benchmark fills it. The last output is the figures as JSON.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import settled, start_server  # noqa: E402
from bench.sync_bench import batch_raw, copy_batches, device_token, setup  # noqa: E402
from monitor_api.migrate import upgrade  # noqa: E402

SMALL, SMALL_PUSHES, LARGE, LARGE_PUSHES, ROUNDS = 500, 40, 5_000, 2, 8


def worker_kb(master: int, key: str) -> int:
    """A field (VmRSS, VmHWM) of the gunicorn worker's /proc status, in kB."""
    kids = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    status = Path(f"/proc/{kids[0]}/status").read_text()
    return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith(key + ":")))


def push_all(http: requests.Session, base: str, token: str, cursor: Any,
             batches: list[dict[str, Any]]) -> float:
    """Push each batch (gzip, an Idempotency-Key each, as phones do); seconds in all."""
    packed = [gzip.compress(json.dumps(b).encode(), 5) for b in batches]
    auth = {"Authorization": f"Bearer {token}"}
    t0 = time.perf_counter()
    for body in packed:
        resp = http.post(base + "/api/v1/sync", params={"last_pulled_at": cursor}, data=body,
                         headers={**auth, "Content-Encoding": "gzip",
                                  "Content-Type": "application/json",
                                  "Idempotency-Key": str(uuid.uuid4())})
        assert resp.status_code == 200 and not resp.json()["rejected"], resp.text[:500]
    return time.perf_counter() - t0


def recompute_ms(engine: Any, facility_id: str, visits: int) -> float:
    """What the background refresher does for one 500-record push, timed alone: recomputing
    the indicators of the last `visits` pushed visits, ten at a time (as after a burst of
    pushes), in ms per visit (median of three rounds)."""
    from monitor_api.histories.refresh import refresh

    with Session(engine) as s:
        ids = list(s.scalars(text("select id from visits where facility_id = :f order by "
                                  "server_created_at desc limit :n"),
                            {"f": facility_id, "n": visits}))
        rounds = []
        for _ in range(3):
            t0 = time.perf_counter()
            for start in range(0, len(ids), 10):
                refresh(s, ids[start:start + 10], linked=False, reuse_follow_up=True)
            rounds.append((time.perf_counter() - t0) * 1000 / len(ids))
        s.rollback()
    return sorted(rounds)[1]


def main() -> None:
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("DATABASE_URL is required (a dedicated database: the benchmark fills it)")
    upgrade(url)
    engine, facility_id, team_id, user = setup(url)
    with engine.connect() as conn:  # what an earlier benchmark left dirty: written now, untimed
        conn.execute(text("checkpoint"))
    proc, base = start_server(url)
    t = {"push500": 0.0, "copy500": 0.0, "push5000": 0.0, "copy5000": 0.0}
    try:
        http, token = requests.Session(), device_token(engine, user)
        cursor = http.get(base + "/api/v1/sync", params={"last_pulled_at": "null"},
                          headers={"Authorization": f"Bearer {token}"}).json()["timestamp"]
        push_all(http, base, token, cursor, [batch_raw(facility_id)])  # warm the worker
        per_round = SMALL_PUSHES // ROUNDS
        for _ in range(ROUNDS):  # interleaved: push, COPY, push, COPY
            t["push500"] += push_all(http, base, token, cursor,
                                     [batch_raw(facility_id) for _ in range(per_round)])
            settled(engine)
            t["copy500"] += copy_batches(engine, facility_id, team_id,
                                      [batch_raw(facility_id) for _ in range(per_round)])
        rss_before = worker_kb(proc.pid, "VmRSS")
        for _ in range(LARGE_PUSHES):
            t["push5000"] += push_all(http, base, token, cursor, [batch_raw(facility_id, LARGE)])
            settled(engine)
            t["copy5000"] += copy_batches(engine, facility_id, team_id,
                                       [batch_raw(facility_id, SMALL) for _ in range(10)])
        rss_after, rss_peak = worker_kb(proc.pid, "VmRSS"), worker_kb(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        proc.wait(10)
    recompute = recompute_ms(engine, facility_id, SMALL_PUSHES)
    n500, n5000 = SMALL * SMALL_PUSHES, LARGE * LARGE_PUSHES
    out = {"push_rec_s": round(n500 / t["push500"]), "copy_in_rows_s": round(n500 / t["copy500"]),
           "push_5000_rec_s": round(n5000 / t["push5000"]),
           "copy_in_rows_s_during_5000": round(n5000 / t["copy5000"]),
           "worker_rss_kb_before_5000": rss_before, "worker_rss_kb_after_5000": rss_after,
           "worker_peak_rss_kb": rss_peak, "indicator_recompute_ms_per_push": round(recompute, 2)}
    out["push_share_of_copy"] = round(out["push_rec_s"] / out["copy_in_rows_s"], 3)
    out["push_5000_share_of_copy"] = round(
        out["push_5000_rec_s"] / out["copy_in_rows_s_during_5000"], 3)
    out["push_5000_vs_500"] = round(out["push_5000_rec_s"] / out["push_rec_s"], 3)
    print(f"push  {n500} records in {SMALL_PUSHES} pushes of {SMALL}: {out['push_rec_s']} rec/s; "
          f"COPY of the same rows: {out['copy_in_rows_s']} rows/s -> "
          f"{out['push_share_of_copy']:.1%} of COPY")
    print(f"push  {n5000} records in {LARGE_PUSHES} pushes of {LARGE}: "
          f"{out['push_5000_rec_s']} rec/s ({out['push_5000_vs_500']:.2f}x the 500-record rate; "
          f"COPY {out['copy_in_rows_s_during_5000']} rows/s)")
    print(f"indicators of a pushed visit, recomputed after the commit by the background "
          f"refresher: {recompute:.2f} ms of work per 500-record push (not in the push's time)")
    print(f"worker RSS {rss_before} kB before the 5,000-record pushes, {rss_after} kB after, "
          f"peak {rss_peak} kB")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
