"""Facilities near= benchmark: `GET /api/v1/facilities?near=lat,lng` (no radius, nearest
first, 50 per page) over 10,000 facilities through gunicorn, p50/p95 — against the same
endpoint with the KNN cut switched off (the full distance sort it replaced), served by a
second gunicorn on the same database, requests alternating between the two; and, as the
floor, `GET /api/v1/facilities/{id}` on the same server (what any request costs).

    BENCH_DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench_fac) .venv/bin/python \
        bench/facilities_bench.py

Use a dedicated database: the benchmark fills it. The last output is the figures as JSON.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import start_server  # noqa: E402
from monitor_api.accounts.models import AuthSession, User  # noqa: E402
from monitor_api.auth import SESSION_PREFIX, new_token  # noqa: E402
from monitor_api.db import make_engine, utcnow  # noqa: E402
from monitor_api.migrate import upgrade  # noqa: E402

FACILITIES, REQUESTS, PER_PAGE = 10_000, 300, 50


def baseline_app() -> Any:
    """The app with the KNN cut off: every facility sorted by distance (the old plan)."""
    from monitor_api.app import create_app
    from monitor_api.facilities import service

    service._nearest_first = lambda *a, **k: (None, 0)  # type: ignore[assignment]
    return create_app()


def fill(url: str) -> str:
    """10,000 facilities across Tajikistan; an admin session token."""
    engine = make_engine(url)
    with Session(engine) as s:
        s.execute(sa.text(
            "insert into facilities (id, code, name, facility_type, authority, region, location)"
            " select gen_random_uuid(), 'F-' || g, 'Facility ' || g, 'penal_colony',"
            " 'ministry_of_justice', 'TJ-SU', geography(st_setsrid(st_makepoint("
            "  67.4 + random() * 7.5, 36.7 + random() * 4.3), 4326))"
            " from generate_series(1, :n) g"), {"n": FACILITIES})
        user = User(username=f"bench-{uuid.uuid4().hex[:6]}", display_name="bench",
                    role="admin", password_hash="!nologin")  # noqa: S106 (no login)
        s.add(user)
        s.flush()
        token, token_hash = new_token(SESSION_PREFIX)
        s.add(AuthSession(user_id=user.id, token_hash=token_hash,
                          expires_at=utcnow() + timedelta(hours=2)))
        s.commit()
        s.execute(sa.text("analyze facilities"))
        s.commit()
    engine.dispose()
    return token


def _pct(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100)[int(q) - 1], 2)


def main() -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("BENCH_DATABASE_URL is required (a dedicated database: the benchmark fills it)")
    upgrade(url)
    token = fill(url)
    servers = {"knn": start_server(url),
               "full_sort": start_server(url, "facilities_bench:baseline_app()")}
    rng = random.Random(5)
    times: dict[str, list[float]] = {name: [] for name in (*servers, "one_facility")}
    same = True
    try:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        for i in range(REQUESTS + 20):
            near = f"{36.8 + rng.random() * 4.1:.5f},{67.5 + rng.random() * 7.3:.5f}"
            page = 1 if i % 3 else rng.randint(2, 5)
            pages = {}
            for name, (_proc, base) in sorted(servers.items(), key=lambda kv: (i % 2, kv[0])):
                t0 = time.perf_counter()
                resp = http.get(base + "/api/v1/facilities", params={
                    "near": near, "per_page": PER_PAGE, "page": page})
                elapsed = (time.perf_counter() - t0) * 1000
                assert resp.status_code == 200, resp.text[:300]
                pages[name] = [(it["id"], it["distance_m"]) for it in resp.json()["items"]]
                if i >= 20:  # the first 20 warm both workers
                    times[name].append(elapsed)
            same = same and pages["knn"] == pages["full_sort"]
            # The floor: one facility by id on the same server (auth, session, JSON).
            t0 = time.perf_counter()
            resp = http.get(f"{servers['knn'][1]}/api/v1/facilities/{pages['knn'][0][0]}")
            assert resp.status_code == 200, resp.text[:300]
            if i >= 20:
                times["one_facility"].append((time.perf_counter() - t0) * 1000)
    finally:
        for proc, _base in servers.values():
            proc.terminate()
            proc.wait(10)
    out = {"facilities": FACILITIES, "requests": REQUESTS, "same_pages": same}
    for name, values in times.items():
        out[f"{name}_p50_ms"], out[f"{name}_p95_ms"] = _pct(values, 50), _pct(values, 95)
    print(f"GET /api/v1/facilities?near= over {FACILITIES} facilities, {PER_PAGE} per page: "
          f"KNN p50 {out['knn_p50_ms']} ms / p95 {out['knn_p95_ms']} ms; full sort (baseline) "
          f"p50 {out['full_sort_p50_ms']} ms / p95 {out['full_sort_p95_ms']} ms; "
          f"identical pages: {same}; floor (GET one facility) p50 {out['one_facility_p50_ms']}"
          f" ms / p95 {out['one_facility_p95_ms']} ms")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
