"""Sync benchmark: push 10,000 records in batches of 500 through a real server, then a first
pull of 100,000 records by a fresh device; compare with raw COPY into and out of the same
tables (the ceiling), measured in the same run.

    DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench) .venv/bin/python \
        bench/sync_bench.py

Use a dedicated database: the benchmark fills it.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor_api.accounts.devices import register_device  # noqa: E402
from monitor_api.accounts.models import Team, TeamMember, User  # noqa: E402
from monitor_api.auth import Principal  # noqa: E402
from monitor_api.db import make_engine  # noqa: E402
from monitor_api.facilities.models import Facility  # noqa: E402
from monitor_api.migrate import upgrade  # noqa: E402

PUSH_RECORDS, BATCH, PULL_RECORDS = 10_000, 500, 100_000
MS = 1_732_000_000_000
rng = random.Random(7)


def batch_raw(facility_id: str) -> dict[str, Any]:
    """500 raw records: a visit with rooms, findings and photos (a realistic mix)."""
    visit = {"id": str(uuid.uuid4()), "facility_id": facility_id, "visit_type": "in_depth",
             "announced": False, "joint_with_ombudsman": True, "status": "in_progress",
             "started_at": MS, "population_total": rng.randint(50, 900),
             "summary": "Initial talk with the management, tour, interviews."}
    vid = visit["id"]
    rooms = [{"id": str(uuid.uuid4()), "visit_id": vid, "label": f"Cell {i}",
              "room_kind": "cell", "floor_area_m2": round(rng.uniform(8, 40), 2),
              "occupants": rng.randint(1, 20), "beds": rng.randint(1, 16),
              "natural_light": "insufficient", "ventilation": "adequate",
              "inspected_at": MS + i} for i in range(166)]
    findings = [{"id": str(uuid.uuid4()), "visit_id": vid, "theme": "material_conditions",
                 "severity": rng.choice(["serious", "moderate", "minor"]),
                 "title": "Living space below 4 m² per person",
                 "description": "Measured with a laser meter; beds counted.",
                 "standard_refs": '[{"instrument":"cpt","rule":"space"}]',
                 "is_systemic": False, "sources_count": 2} for _ in range(167)]
    photos = [{"id": str(uuid.uuid4()), "visit_id": vid,
               "sha256": uuid.uuid4().hex + uuid.uuid4().hex, "byte_size": 2_000_000,
               "mime_type": "image/jpeg", "captured_at": MS, "lat": 38.56, "lng": 68.79,
               "consent": "not_needed"} for _ in range(166)]
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


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": url, "PORT": str(port), "LOG_LEVEL": "WARNING",
           "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2"}
    log = open(os.environ.get("BENCH_LOG", os.devnull), "w")  # noqa: SIM115 (lives on)
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c",
                             "python:monitor_api.gunicorn_conf", "monitor_api.app:create_app()"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(base + "/healthz", timeout=5)
            return proc, base
        except requests.RequestException:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start")


def bench_push(base: str, token: str, facility_id: str) -> dict[str, Any]:
    http = requests.Session()
    auth = {"Authorization": f"Bearer {token}"}
    cursor = http.get(base + "/api/v1/sync", params={"last_pulled_at": "null"},
                      headers=auth).json()["timestamp"]
    batches = [batch_raw(facility_id) for _ in range(PUSH_RECORDS // BATCH)]
    bodies = [json.dumps(b).encode() for b in batches]
    packed = [gzip.compress(b, 5) for b in bodies]
    t0 = time.perf_counter()
    for body in packed:
        resp = http.post(base + "/api/v1/sync", params={"last_pulled_at": cursor}, data=body,
                         headers={**auth, "Content-Encoding": "gzip",
                                  "Content-Type": "application/json",
                                  "Idempotency-Key": str(uuid.uuid4())})
        assert resp.status_code == 200 and not resp.json()["rejected"], resp.text[:500]
    seconds = time.perf_counter() - t0
    return {"records": PUSH_RECORDS, "seconds": seconds, "rate": PUSH_RECORDS / seconds,
            "bytes_plain": sum(map(len, bodies)), "bytes_gzip": sum(map(len, packed))}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def copy_rows(engine: Any, facility_id: str, team_id: str, n: int) -> dict[str, Any]:
    """COPY n rows of the same shape into the same tables, one transaction per 500 rows
    like the pushes (the stamping triggers fire as for any write)."""
    columns = {
        "visits": "id, facility_id, team_id, visit_type, announced, joint_with_ombudsman, "
                  "status, started_at, population_total, summary",
        "room_inspections": "id, visit_id, label, room_kind, floor_area_m2, occupants, beds, "
                            "natural_light, ventilation, inspected_at",
        "findings": "id, visit_id, theme, severity, title, description, standard_refs, "
                    "is_systemic, sources_count, status",
        "photos": "id, visit_id, sha256, byte_size, mime_type, captured_at, location, "
                  "consent, upload_status",
    }
    batches = []
    for _ in range(n // BATCH):
        b = batch_raw(facility_id)
        v = b["visits"]["created"][0]
        batches.append({
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
        for batch in batches:
            with raw.cursor() as cur:
                for table, data in batch.items():
                    with cur.copy(f"copy {table} ({columns[table]}) from stdin") as copy:
                        for row in data:
                            copy.write_row(row)
            raw.commit()
        seconds = time.perf_counter() - t0
    finally:
        raw.close()
    return {"records": n, "seconds": seconds, "rate": n / seconds}


def copy_out(engine: Any) -> dict[str, Any]:
    """COPY the synced rows out (the read ceiling)."""
    raw = engine.raw_connection()
    n, size = 0, 0
    try:
        t0 = time.perf_counter()
        with raw.cursor() as cur:
            for table in ("visits", "room_inspections", "findings", "photos"):
                with cur.copy(f"copy (select * from {table}) to stdout") as copy:
                    for chunk in copy:
                        size += len(chunk)
                n += cur.connection.execute(f"select count(*) from {table}").fetchone()[0]
        seconds = time.perf_counter() - t0
    finally:
        raw.close()
    return {"records": n, "seconds": seconds, "rate": n / seconds, "bytes": size}


def bench_pull(base: str, token: str, use_gzip: bool) -> dict[str, Any]:
    http = requests.Session()
    headers = {"Authorization": f"Bearer {token}",
               "Accept-Encoding": "gzip" if use_gzip else "identity"}
    cursor: Any = "null"
    records = wire = pages = 0
    t0 = time.perf_counter()
    while True:
        resp = http.get(base + "/api/v1/sync", params={"last_pulled_at": cursor},
                        headers=headers, stream=True)
        data = resp.raw.read(decode_content=False)
        wire += len(data)
        body = json.loads(gzip.decompress(data) if use_gzip else data)
        records += sum(len(g["created"]) + len(g["updated"]) for g in body["changes"].values())
        pages += 1
        cursor = body["timestamp"]
        if not body["has_more"]:
            break
    seconds = time.perf_counter() - t0
    return {"records": records, "pages": pages, "seconds": seconds,
            "rate": records / seconds, "bytes": wire}


def main() -> None:
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("DATABASE_URL is required (a dedicated database: the benchmark fills it)")
    upgrade(url)
    engine, facility_id, team_id, user = setup(url)
    proc, base = start_server(url)
    try:
        push = bench_push(base, device_token(engine, user), facility_id)
        copy_in = copy_rows(engine, facility_id, team_id, PULL_RECORDS - PUSH_RECORDS)
        pull_gz = bench_pull(base, device_token(engine, user), use_gzip=True)
        pull_plain = bench_pull(base, device_token(engine, user), use_gzip=False)
        ceiling_out = copy_out(engine)
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"push  {push['records']:>7} records in {PUSH_RECORDS // BATCH} batches of {BATCH}: "
          f"{push['rate']:8.0f} rec/s ({push['seconds']:.2f} s); wire {push['bytes_gzip']:,} B "
          f"gzip / {push['bytes_plain']:,} B plain")
    print(f"COPY  {copy_in['records']:>7} rows into the same tables: {copy_in['rate']:8.0f} "
          f"rows/s -> push is {push['rate'] / copy_in['rate']:.1%} of the COPY ceiling")
    for name, p in (("gzip", pull_gz), ("plain", pull_plain)):
        print(f"pull  {p['records']:>7} records, {p['pages']} pages ({name}): {p['rate']:8.0f} "
              f"rec/s ({p['seconds']:.2f} s); wire {p['bytes']:,} B")
    print(f"COPY  {ceiling_out['records']:>7} rows out: {ceiling_out['rate']:8.0f} rows/s -> "
          f"pull (gzip) is {pull_gz['rate'] / ceiling_out['rate']:.1%} of the COPY-out ceiling")
    print(json.dumps({"push": push, "copy_in": copy_in, "pull_gzip": pull_gz,
                      "pull_plain": pull_plain, "copy_out": ceiling_out}, indent=1))


if __name__ == "__main__":
    main()
