"""A/B of the push against an earlier revision: two servers (gunicorn, 1 worker x 2 threads
each) on one database, one serving a git worktree of `--base`, the other this checkout;
500-record pushes alternate between them in random order, so both meet the same machine at
the same moments. Prints each side's p50, mean and p25 and, last, the figures as JSON.

    DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench_ab) .venv/bin/python \
        bench/ab_push.py --base 7ab4531 --pushes 100

Use a dedicated database: the benchmark fills it (migrated by this checkout: the base must
run on the same schema). The worktree is made in a temporary folder and removed at the end.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.serving as serving  # noqa: E402
from bench.sync_bench import batch_raw, device_token, setup  # noqa: E402
from monitor_api.migrate import upgrade  # noqa: E402


def push_ms(http: requests.Session, base: str, token: str, cursor: Any, facility: str) -> float:
    body = gzip.compress(json.dumps(batch_raw(facility)).encode(), 5)
    t0 = time.perf_counter()
    resp = http.post(base + "/api/v1/sync", params={"last_pulled_at": cursor}, data=body,
                     headers={"Authorization": f"Bearer {token}", "Content-Encoding": "gzip",
                              "Content-Type": "application/json",
                              "Idempotency-Key": str(uuid.uuid4())})
    elapsed = (time.perf_counter() - t0) * 1000
    assert resp.status_code == 200 and not resp.json()["rejected"], resp.text[:500]
    return elapsed


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(ordered), 1),
            "mean_ms": round(statistics.mean(ordered), 1),
            "p25_ms": round(ordered[len(ordered) // 4], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the git revision to compare with")
    parser.add_argument("--pushes", type=int, default=100, help="500-record pushes per side")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("DATABASE_URL is required (a dedicated database: the benchmark fills it)")
    upgrade(url)
    engine, facility, _team, user = setup(url)
    tree = Path(tempfile.mkdtemp(prefix="monitor-ab-")) / "base"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree),
                    args.base], check=True, capture_output=True)
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for side, root in (("base", tree), ("this", ROOT)):
            servers[side] = serving.start_server(url, root=root)
        http, token = requests.Session(), device_token(engine, user)
        cursor = http.get(servers["this"][1] + "/api/v1/sync",
                          params={"last_pulled_at": "null"},
                          headers={"Authorization": f"Bearer {token}"}).json()["timestamp"]
        for _ in range(5):  # warm both workers
            for _proc, base in servers.values():
                push_ms(http, base, token, cursor, facility)
        times: dict[str, list[float]] = {side: [] for side in servers}
        for i in range(args.pushes):
            order = list(servers.items())
            random.shuffle(order)
            for side, (_proc, base) in order:
                times[side].append(push_ms(http, base, token, cursor, facility))
            if i % 10 == 9:
                serving.settled(engine)  # the refreshers' work never piles up
    finally:
        for proc, _base in servers.values():
            proc.terminate()
            proc.wait(10)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                       check=False, capture_output=True)
        shutil.rmtree(tree.parent, ignore_errors=True)
    out: dict[str, Any] = {"base_revision": args.base, "pushes_each": args.pushes,
                           **{side: summary(t) for side, t in times.items()}}
    for side in ("base", "this"):
        s = out[side]
        print(f"{side:4s} ({args.base if side == 'base' else 'this checkout'}): p50 "
              f"{s['p50_ms']} ms, mean {s['mean_ms']} ms, p25 {s['p25_ms']} ms")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
