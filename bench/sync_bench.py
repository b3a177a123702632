"""Sync pull/poll benchmark over HTTP (the push side is bench/push_bench.py).

Seeds 100,000 records with COPY, then measures through a real gunicorn server (1 worker x 2
threads): a fresh device's first pull, gzip and plain; 16 fresh devices pulling at once
(aggregate rate, page p95); an incremental pull of 10 changes and a poll with nothing changed
(p50/p95); the worker's peak RSS during a first pull. Then grows the data to 300,000 records
and pulls again (cost must stay linear, RSS flat). The ceiling, measured in the same run:
COPY of the same rows out of the same tables.

    DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench) .venv/bin/python \
        bench/sync_bench.py

Use a dedicated database: the benchmark fills it. The client parses with orjson and runs on
the same machine as the server: what it costs is taken from the server's share.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import start_server  # noqa: E402
from monitor_api.accounts.devices import register_device  # noqa: E402
from monitor_api.accounts.models import Team, TeamMember, User  # noqa: E402
from monitor_api.auth import Principal  # noqa: E402
from monitor_api.db import make_engine  # noqa: E402
from monitor_api.facilities.models import Facility  # noqa: E402
from monitor_api.migrate import upgrade  # noqa: E402

BATCH, SMALL, LARGE, DEVICES = 500, 100_000, 300_000, 16
POLLS, INCREMENTS, REPEAT = 200, 60, 3
MS = 1_732_000_000_000
rng = random.Random(7)


def batch_raw(facility_id: str, n: int = BATCH) -> dict[str, Any]:
    """n raw records: a visit with rooms, findings and photos (a realistic mix)."""
    visit = {"id": str(uuid.uuid4()), "facility_id": facility_id, "visit_type": "in_depth",
             "announced": False, "joint_with_ombudsman": True, "status": "in_progress",
             "started_at": MS, "population_total": rng.randint(50, 900),
             "summary": "Initial talk with the management, tour, interviews."}
    vid, third = visit["id"], (n - 1) // 3
    rooms = [{"id": str(uuid.uuid4()), "visit_id": vid, "label": f"Cell {i}",
              "room_kind": "cell", "floor_area_m2": round(rng.uniform(8, 40), 2),
              "occupants": rng.randint(1, 20), "beds": rng.randint(1, 16),
              "natural_light": "insufficient", "ventilation": "adequate",
              "inspected_at": MS + i} for i in range(third)]
    findings = [{"id": str(uuid.uuid4()), "visit_id": vid, "theme": "material_conditions",
                 "severity": rng.choice(["serious", "moderate", "minor"]),
                 "title": "Living space below 4 m² per person",
                 "description": "Measured with a laser meter; beds counted.",
                 "standard_refs": '[{"instrument":"cpt","rule":"space"}]',
                 "is_systemic": False, "sources_count": 2} for _ in range(n - 1 - 2 * third)]
    photos = [{"id": str(uuid.uuid4()), "visit_id": vid,
               "sha256": uuid.uuid4().hex + uuid.uuid4().hex, "byte_size": 2_000_000,
               "mime_type": "image/jpeg", "captured_at": MS, "lat": 38.56, "lng": 68.79,
               "consent": "not_needed"} for _ in range(third)]
    return {"visits": {"created": [visit]}, "room_inspections": {"created": rooms},
            "findings": {"created": findings}, "photos": {"created": photos}}


def setup(url: str) -> tuple[Any, str, str, Any]:
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        user = User(username=f"bench-{uuid.uuid4().hex[:6]}", display_name="bench",
                    role="monitor", password_hash="!nologin")  # noqa: S106 (no login)
        s.add(user)
        s.flush()
        team = Team(name=f"bench-{uuid.uuid4().hex[:6]}", lead_id=user.id)
        s.add(team)
        s.flush()
        s.add(TeamMember(team_id=team.id, user_id=user.id))
        fac = Facility(code=f"B-{uuid.uuid4().hex[:6]}", name="Colony 3/4",
                       facility_type="penal_colony", authority="ministry_of_justice",
                       region="TJ-SU")
        s.add(fac)
        s.commit()
    return engine, str(fac.id), str(team.id), user


def device_token(engine: Any, user: Any) -> str:
    with Session(engine) as s:
        _, token = register_device(s, Principal(user.id, user.role, user.username),
                                   name="bench", lifetime_days=1)
        s.commit()
    return token


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


COLUMNS = {
    "visits": "id, facility_id, team_id, visit_type, announced, joint_with_ombudsman, "
              "status, started_at, population_total, summary",
    "room_inspections": "id, visit_id, label, room_kind, floor_area_m2, occupants, beds, "
                        "natural_light, ventilation, inspected_at",
    "findings": "id, visit_id, theme, severity, title, description, standard_refs, "
                "is_systemic, sources_count, status",
    "photos": "id, visit_id, sha256, byte_size, mime_type, captured_at, location, "
              "consent, upload_status",
}


def copy_batches(engine: Any, facility_id: str, team_id: str,
                 batches: list[dict[str, Any]]) -> float:
    """COPY the rows of these raw batches into the same tables, one transaction per batch
    like the pushes (the stamping triggers fire as for any write); seconds in all."""
    tuples = []
    for b in batches:
        v = b["visits"]["created"][0]
        tuples.append({
            "visits": [(v["id"], facility_id, team_id, "in_depth", False, True, "in_progress",
                        _iso(MS), v["population_total"], v["summary"])],
            "room_inspections": [(r["id"], r["visit_id"], r["label"], "cell", r["floor_area_m2"],
                                  r["occupants"], r["beds"], "insufficient", "adequate",
                                  _iso(r["inspected_at"]))
                                 for r in b["room_inspections"]["created"]],
            "findings": [(f["id"], f["visit_id"], f["theme"], f["severity"], f["title"],
                          f["description"], f["standard_refs"], False, 2, "draft")
                         for f in b["findings"]["created"]],
            "photos": [(p["id"], p["visit_id"], p["sha256"], p["byte_size"], "image/jpeg",
                        _iso(MS), "SRID=4326;POINT(68.79 38.56)", "not_needed", "pending")
                       for p in b["photos"]["created"]]})
    raw = engine.raw_connection()
    try:
        t0 = time.perf_counter()
        for batch in tuples:
            with raw.cursor() as cur:
                for table, data in batch.items():
                    with cur.copy(f"copy {table} ({COLUMNS[table]}) from stdin") as copy:
                        for row in data:
                            copy.write_row(row)
            raw.commit()
        return time.perf_counter() - t0
    finally:
        raw.close()


def copy_rows(engine: Any, facility_id: str, team_id: str, n: int) -> dict[str, Any]:
    """COPY n rows of the benchmark's shape, 500 per transaction."""
    batches = [batch_raw(facility_id) for _ in range(n // BATCH)]
    seconds = copy_batches(engine, facility_id, team_id, batches)
    return {"records": n, "seconds": seconds, "rate": n / seconds}


def copy_out(engine: Any) -> dict[str, Any]:
    """COPY the synced rows out (the read ceiling): every column but the stored record JSON
    (`sync.stored`, a second copy of the same values that only the pull reads)."""
    raw = engine.raw_connection()
    n, size = 0, 0
    tables = ("visits", "room_inspections", "findings", "photos")
    with engine.connect() as conn:
        columns = {t: ", ".join(f'"{c}"' for c in conn.scalars(sa.text(
            "select column_name from information_schema.columns where table_name = :t"
            " and column_name <> 'raw_json' order by ordinal_position"), {"t": t}))
            for t in tables}
    try:
        t0 = time.perf_counter()
        with raw.cursor() as cur:
            for table in tables:
                with cur.copy(f"copy (select {columns[table]} from {table}) to stdout") as copy:
                    for chunk in copy:
                        size += len(chunk)
                n += cur.connection.execute(f"select count(*) from {table}").fetchone()[0]
        seconds = time.perf_counter() - t0
    finally:
        raw.close()
    return {"records": n, "seconds": seconds, "rate": n / seconds, "bytes": size}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values) * 1000, 2),
            "p95_ms": round(_pct(values, 0.95) * 1000, 2), "n": len(values)}


def pull_once(http: requests.Session, base: str, token: str, cursor: Any,
              use_gzip: bool = True) -> tuple[dict[str, Any], int, float]:
    """One pull request: (body, bytes on the wire, seconds)."""
    headers = {"Authorization": f"Bearer {token}",
               "Accept-Encoding": "gzip" if use_gzip else "identity"}
    t0 = time.perf_counter()
    resp = http.get(base + "/api/v1/sync", params={"last_pulled_at": cursor},
                    headers=headers, stream=True)
    data = resp.raw.read(decode_content=False)
    seconds = time.perf_counter() - t0
    assert resp.status_code == 200, data[:300]
    gz = resp.headers.get("Content-Encoding") == "gzip"
    return orjson.loads(gzip.decompress(data) if gz else data), len(data), seconds


def _count(body: dict[str, Any]) -> int:
    return sum(len(g["created"]) + len(g["updated"]) for g in body["changes"].values())


def bench_pull(base: str, token: str, use_gzip: bool) -> dict[str, Any]:
    """A fresh device's first pull, every page, until has_more is false."""
    http = requests.Session()
    cursor: Any = "null"
    records = wire = pages = largest = 0
    latencies: list[float] = []
    t0 = time.perf_counter()
    while True:
        body, size, seconds = pull_once(http, base, token, cursor, use_gzip)
        records += _count(body)
        wire += size
        largest = max(largest, size)
        latencies.append(seconds)
        pages += 1
        cursor = body["timestamp"]
        if not body["has_more"]:
            break
    seconds = time.perf_counter() - t0
    return {"records": records, "pages": pages, "seconds": round(seconds, 3),
            "rate": round(records / seconds), "bytes": wire, "largest_page_bytes": largest,
            "page": _ms(latencies), "cursor": cursor}


def bench_devices(base: str, tokens: list[str]) -> dict[str, Any]:
    """Fresh devices pulling everything at once (gzip): aggregate rate and page latency."""
    results: list[dict[str, Any]] = [{} for _ in tokens]

    def run(i: int) -> None:
        results[i] = bench_pull(base, tokens[i], True)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(tokens))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    records = sum(r["records"] for r in results)
    pages = [r["page"]["p95_ms"] for r in results]
    return {"devices": len(tokens), "records": records, "seconds": round(seconds, 3),
            "rate": round(records / seconds), "page_p95_ms_worst_device": max(pages),
            "page_p95_ms_median_device": statistics.median(pages)}


def bench_polls(engine: Any, base: str, token: str, cursor: Any) -> dict[str, Any]:
    """Incremental pulls of 10 changed findings, then polls with nothing changed."""
    http = requests.Session()
    with engine.connect() as conn:
        ids = [str(i) for i in conn.scalars(sa.text("select id from findings limit 2000"))]
    changed: list[float] = []
    for i in range(INCREMENTS):
        with engine.begin() as conn:  # one writer's transaction: 10 findings edited
            conn.execute(sa.text("update findings set description = :d where id = any(:ids)"),
                         {"d": f"Re-measured, round {i}.", "ids": ids[i * 10 % 2000:][:10]})
        body, _, seconds = pull_once(http, base, token, cursor)
        assert _count(body) == 10 and not body["has_more"], _count(body)
        cursor = body["timestamp"]
        changed.append(seconds)
    empty: list[float] = []
    for _ in range(POLLS):
        body, _, seconds = pull_once(http, base, token, cursor)
        assert _count(body) == 0 and not body["has_more"]
        cursor = body["timestamp"]  # other databases' transactions move the horizon on
        empty.append(seconds)
    return {"incremental_10": _ms(changed[5:]), "empty_poll": _ms(empty[10:])}


def worker_pid(proc: subprocess.Popen[bytes]) -> int:
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    return int(children[0])


def reset_peak(pid: int) -> None:
    """Reset VmHWM (the peak RSS) of the worker: 5 > clear_refs (Linux 4.0+)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM")


def vacuum(engine: Any) -> None:
    """VACUUM ANALYZE after a bulk load (what autovacuum does soon after one)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("vacuum analyze"))


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measured_pull(engine: Any, base: str, pid: int, user: Any) -> dict[str, Any]:
    """First pulls (gzip) by fresh devices, REPEAT times (the machine is shared: the median
    by rate is reported, every rate listed), with the worker's peak RSS during the first."""
    reset_peak(pid)
    runs = [bench_pull(base, device_token(engine, user), use_gzip=True)]
    rss = peak_rss_mb(pid)
    runs += [bench_pull(base, device_token(engine, user), use_gzip=True)
             for _ in range(REPEAT - 1)]
    out = sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]
    out.update(worker_peak_rss_mb=rss, rates=[r["rate"] for r in runs])
    return out


def warm_server(url: str, engine: Any) -> tuple[subprocess.Popen[bytes], str, int]:
    """A fresh server whose worker has served one pull (of a user without a team: the code
    paths and statements of a pull, without its data), and that worker's pid."""
    proc, base = start_server(url)
    with Session(engine, expire_on_commit=False) as s:
        idle = User(username=f"idle-{uuid.uuid4().hex[:6]}", display_name="idle",
                    role="monitor", password_hash="!nologin")  # noqa: S106 (no login)
        s.add(idle)
        s.commit()
    bench_pull(base, device_token(engine, idle), use_gzip=True)
    return proc, base, worker_pid(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(10)


def main() -> None:
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("DATABASE_URL is required (a dedicated database: the benchmark fills it)")
    upgrade(url)
    engine, facility_id, team_id, user = setup(url)
    copy_in = copy_rows(engine, facility_id, team_id, SMALL)
    vacuum(engine)
    # Each peak RSS is that of a fresh (warmed-up) worker serving one first pull.
    proc, base, pid = warm_server(url, engine)
    try:
        small = measured_pull(engine, base, pid, user)
        pull_plain = bench_pull(base, device_token(engine, user), use_gzip=False)
        out_small = copy_out(engine)
        say(f"first pulls: {small['rate']} rec/s gzip, {pull_plain['rate']} plain")
        polls = bench_polls(engine, base, device_token(engine, user), small["cursor"])
        say(f"polls: {polls}")
        devices = bench_devices(base, [device_token(engine, user) for _ in range(DEVICES)])
        say(f"16 devices: {devices['rate']} rec/s")
    finally:
        stop(proc)
    copy_rows(engine, facility_id, team_id, LARGE - SMALL)
    vacuum(engine)
    proc, base, pid = warm_server(url, engine)
    try:
        large = measured_pull(engine, base, pid, user)
        out_large = copy_out(engine)
    finally:
        stop(proc)
    for name, p in (("gzip ", small), ("plain", pull_plain), ("gzip ", large)):
        print(f"pull  {p['records']:>7} records, {p['pages']} pages ({name}): {p['rate']:8.0f} "
              f"rec/s ({p['seconds']:.2f} s); wire {p['bytes']:,} B, largest page "
              f"{p['largest_page_bytes']:,} B; page p95 {p['page']['p95_ms']} ms")
    print(f"COPY  {out_small['records']:>7} rows out: {out_small['rate']:8.0f} rows/s -> pull "
          f"(gzip) is {small['rate'] / out_small['rate']:.1%} of it; at {out_large['records']}: "
          f"{out_large['rate']:.0f} rows/s, pull {large['rate'] / out_large['rate']:.1%}")
    print(f"linear: {large['records']} records at {large['rate'] / small['rate']:.0%} of the "
          f"{small['records']} rate; worker peak RSS {small['worker_peak_rss_mb']} MB vs "
          f"{large['worker_peak_rss_mb']} MB")
    print(f"{DEVICES} devices at once: {devices['rate']} rec/s aggregate "
          f"({devices['rate'] / small['rate']:.2f}x one device); page p95 "
          f"{devices['page_p95_ms_worst_device']} ms (worst device)")
    inc, empty = polls["incremental_10"], polls["empty_poll"]
    print(f"incremental pull of 10 changes: p50 {inc['p50_ms']} ms, p95 {inc['p95_ms']} ms; "
          f"poll with nothing changed: p50 {empty['p50_ms']} ms, p95 {empty['p95_ms']} ms")
    for p in (small, large, pull_plain):
        p.pop("cursor")
    print(json.dumps({
        "pull_rec_s": small["rate"], "pull_plain_rec_s": pull_plain["rate"],
        "pull_300k_rec_s": large["rate"], "copy_out_rows_s": round(out_small["rate"]),
        "copy_out_300k_rows_s": round(out_large["rate"]),
        "pull_16_devices_rec_s": devices["rate"],
        "incremental_10_p50_ms": inc["p50_ms"], "incremental_10_p95_ms": inc["p95_ms"],
        "empty_poll_p50_ms": empty["p50_ms"], "empty_poll_p95_ms": empty["p95_ms"],
        "worker_peak_rss_mb_100k": small["worker_peak_rss_mb"],
        "worker_peak_rss_mb_300k": large["worker_peak_rss_mb"],
        "pull_gzip": small, "pull_plain": pull_plain, "pull_300k": large,
        "devices": devices, "polls": polls, "copy_in": copy_in,
        "copy_out": out_small, "copy_out_300k": out_large}, indent=1))


if __name__ == "__main__":
    main()
