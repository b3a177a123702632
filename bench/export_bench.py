"""Export benchmark: 1M findings through a real server as CSV, XLSX and Parquet, next to
PostgreSQL's `COPY (the export's own query) TO STDOUT` in the same run, with the server
worker's peak RSS while streaming 100k and then 1M rows of each format.

    BENCH_DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench) .venv/bin/python \\
        bench/export_bench.py

Use a dedicated database: the benchmark fills it (set-based SQL, ~1M rows). Targets (the
issue's): CSV at >= 50% of the COPY rate; peak RSS for 1M rows within 30 MiB of 100k rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
import tempfile
import threading
import time
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
from monitor_api.auth import SESSION_PREFIX, SYSTEM_USER_ID, Principal, new_token  # noqa: E402
from monitor_api.db import make_engine, utcnow  # noqa: E402
from monitor_api.exports import records  # noqa: E402
from monitor_api.exports.columns import Context, Filters  # noqa: E402
from monitor_api.exports.fastcsv import copy_statement  # noqa: E402
from monitor_api.migrate import upgrade  # noqa: E402

FACILITIES, VISITS_EACH, FINDINGS_EACH = 10, 200, 500  # 10 x 200 x 500 = 1,000,000
FILL = f"""
insert into teams (id, name) values (gen_random_uuid(), 'bench-' || md5(random()::text));
insert into facilities (id, code, name, facility_type, authority, region, official_capacity,
                        location)
select gen_random_uuid(), 'BENCH-' || lpad(g::text, 2, '0'), 'Colony ' || g || '/4',
       'penal_colony', 'ministry_of_justice', 'TJ-SU', 900, 'SRID=4326;POINT(69.6 40.28)'
from generate_series(1, {FACILITIES}) g;
insert into visits (id, facility_id, team_id, visit_type, announced, joint_with_ombudsman,
                    status, started_at, published_at, population_total)
select gen_random_uuid(), f.id, (select id from teams limit 1), 'in_depth', false, true,
       'reported', timestamptz '2024-01-01 09:00+00' + (g || ' days')::interval, now(), 950
from facilities f, generate_series(1, {VISITS_EACH}) g where f.code like 'BENCH-%';
insert into findings (id, visit_id, theme, severity, title, standard_refs, is_systemic,
                      sources_count, status, confirmed_at)
select gen_random_uuid(), v.id,
       (array['material_conditions','treatment','health_care'])[1 + g % 3],
       (array['serious','moderate','minor'])[1 + g % 3],
       case when g % 10 = 0 then 'Cell "B", block ' || g else 'Living space below 4 m² per '
            || 'person in cell ' || g end,
       '[{{"instrument":"mandela","rule":"13"}},{{"instrument":"cpt","rule":"space"}}]',
       false, 2, 'confirmed', now()
from visits v, generate_series(1, {FINDINGS_EACH}) g;
analyze;
"""


def fill(engine: Any) -> tuple[str, str]:
    """1M confirmed findings of published visits; an analyst with a session token."""
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for statement in FILL.split(";\n"):
            if statement.strip():
                raw.execute(statement)  # no parameters: '%' is the modulo operator
        one = conn.scalar(sa.text("select id from facilities where code = 'BENCH-01'"))
    with Session(engine) as s:
        user = User(username=f"bench-analyst-{secrets.token_hex(3)}", display_name="bench",
                    role="analyst", password_hash="!nologin")  # noqa: S106 (no login)
        s.add(user)
        s.flush()
        token, token_hash = new_token(SESSION_PREFIX)
        now = utcnow()
        s.add(AuthSession(user_id=user.id, token_hash=token_hash, created_at=now,
                          last_used_at=now, expires_at=now + timedelta(hours=3)))
        s.commit()
    return token, str(one)


def copy_baseline(engine: Any) -> dict[str, Any]:
    """COPY of the export's own query (same settings as an export's transaction)."""
    ctx = Context(Principal(SYSTEM_USER_ID, "analyst", "bench"), Filters())
    with engine.connect() as conn:
        conn.exec_driver_sql("set jit = off")
        statement, params = copy_statement(conn, records.findings(ctx))
        raw = conn.connection.driver_connection
        size, t0 = 0, time.perf_counter()
        with raw.cursor() as cur, cur.copy(statement, params) as copy:
            for chunk in copy:
                size += len(chunk)
        seconds = time.perf_counter() - t0
        rows = conn.scalar(sa.text("select count(*) from findings"))
        t0 = time.perf_counter()
        with raw.cursor() as cur, cur.copy("copy findings to stdout with (format csv)") as cp:
            for _chunk in cp:
                pass
        table_seconds = time.perf_counter() - t0
    return {"rows": rows, "seconds": seconds, "rate": rows / seconds, "bytes": size,
            "table_copy_rate": rows / table_seconds}


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def worker_pid(master: int) -> int:
    with open(f"/proc/{master}/task/{master}/children") as children:
        return int(children.read().split()[0])


def download(base: str, token: str, pid: int, fmt: str, **params: str) -> dict[str, Any]:
    """Stream one export; the worker's RSS sampled every 20 ms meanwhile."""
    peak, stop = [rss_mib(pid)], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    digest, size, t0 = hashlib.sha256(), 0, time.perf_counter()
    with requests.get(f"{base}/api/v1/exports/findings", params={"format": fmt, **params},
                      headers={"Authorization": f"Bearer {token}"}, stream=True,
                      timeout=600) as resp:
        resp.raise_for_status()
        for chunk in resp.iter_content(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join()
    return {"format": fmt, "seconds": seconds, "bytes": size, "sha256": digest.hexdigest(),
            "peak_rss_mib": round(peak[0], 1)}


def audited(engine: Any, sha256: str) -> int:
    """The row count the audit log recorded for the export with this hash."""
    with engine.connect() as conn:
        return int(conn.scalar(sa.text(
            "select (details->>'rows')::int from audit_log where action = 'export.findings' "
            "and details->>'sha256' = :h"), {"h": sha256}))


def main() -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("BENCH_DATABASE_URL is required (a dedicated database: the bench fills it)")
    upgrade(url)
    engine = make_engine(url)
    t0 = time.perf_counter()
    token, small_facility = fill(engine)
    print(f"filled 1,000,000 findings in {time.perf_counter() - t0:.1f} s")
    copy = copy_baseline(engine)
    results: dict[str, Any] = {"copy": copy}
    with tempfile.TemporaryDirectory() as state:
        proc, base = start_server(url, MONITOR_STATE_DIR=state,
                                  EXPORT_PSEUDONYM_KEY="bench-" + "k" * 40)
        try:
            pid = worker_pid(proc.pid)
            results["idle_rss_mib"] = round(rss_mib(pid), 1)
            for fmt in ("csv", "xlsx", "parquet"):
                for label, params in (("100k", {"facility": small_facility}), ("1M", {})):
                    run = download(base, token, pid, fmt, **params)
                    run["rows"] = audited(engine, run["sha256"])
                    run["rate"] = run["rows"] / run["seconds"]
                    results[f"{fmt}_{label}"] = run
        finally:
            proc.terminate()
            proc.wait(30)
    report(results)


def report(r: dict[str, Any]) -> None:
    copy = r["copy"]
    print(f"COPY (export query) TO STDOUT  {copy['rows']:>9,} rows {copy['seconds']:6.1f} s "
          f"{copy['rate']:>9,.0f} rows/s   (COPY findings alone: "
          f"{copy['table_copy_rate']:,.0f} rows/s)")
    print(f"server worker idle RSS {r['idle_rss_mib']} MiB")
    for fmt in ("csv", "xlsx", "parquet"):
        for label in ("100k", "1M"):
            run = r[f"{fmt}_{label}"]
            print(f"{fmt:8s}{label:>5s} {run['rows']:>9,} rows {run['seconds']:6.1f} s "
                  f"{run['rate']:>9,.0f} rows/s {run['bytes'] / 2**20:8.1f} MiB  peak RSS "
                  f"{run['peak_rss_mib']:6.1f} MiB")
        growth = r[f"{fmt}_1M"]["peak_rss_mib"] - r[f"{fmt}_100k"]["peak_rss_mib"]
        r[f"{fmt}_rss_growth_mib"] = round(growth, 1)
        print(f"{fmt:8s} peak RSS 1M - 100k: {growth:+.1f} MiB (target <= 30)")
    r["csv_vs_copy"] = round(r["csv_1M"]["rate"] / copy["rate"], 3)
    print(f"CSV 1M at {r['csv_vs_copy']:.1%} of the COPY rate (target >= 50%)")
    r["targets_met"] = (r["csv_vs_copy"] >= 0.5 and all(
        r[f"{f}_rss_growth_mib"] <= 30 for f in ("csv", "xlsx", "parquet")))
    print(json.dumps(r, separators=(",", ":")))


if __name__ == "__main__":
    main()
