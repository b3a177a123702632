"""Push benchmark: 20 pushes of 500 records and 2 of 5,000 through a real server (gunicorn, one
worker, two threads), against raw COPY of the same rows into the same tables, measured in
the same run and interleaved with the pushes (a busy machine slows both alike). Reports the
worker's peak RSS after the 5,000-record pushes.

    DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench_push) .venv/bin/python \
        bench/push_bench.py

Use a dedicated database: the benchmark fills it. The last output is the figures as JSON.
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

SMALL, SMALL_PUSHES, LARGE, LARGE_PUSHES, ROUNDS = 500, 20, 5_000, 2, 2
MS = 1_732_000_000_000
rng = random.Random(7)
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


def batch_raw(facility_id: str, n: int = SMALL) -> dict[str, Any]:
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


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn of this interpreter's venv, serving this checkout, one worker."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": url, "PORT": str(port), "LOG_LEVEL": "WARNING",
           "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = open(os.environ.get("BENCH_LOG", os.devnull), "w")  # noqa: SIM115 (lives on)
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c",
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


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def copy_rows(engine: Any, facility_id: str, team_id: str, batches: list[dict[str, Any]]
              ) -> float:
    """COPY the batches' rows into the same tables, one transaction per batch like the
    pushes (the stamping triggers fire as for any write); seconds in all."""
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


def main() -> None:
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("DATABASE_URL is required (a dedicated database: the benchmark fills it)")
    upgrade(url)
    engine, facility_id, team_id, user = setup(url)
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
            t["copy500"] += copy_rows(engine, facility_id, team_id,
                                      [batch_raw(facility_id) for _ in range(per_round)])
        rss_before = worker_kb(proc.pid, "VmRSS")
        for _ in range(LARGE_PUSHES):
            t["push5000"] += push_all(http, base, token, cursor, [batch_raw(facility_id, LARGE)])
            t["copy5000"] += copy_rows(engine, facility_id, team_id,
                                       [batch_raw(facility_id, SMALL) for _ in range(10)])
        rss_after, rss_peak = worker_kb(proc.pid, "VmRSS"), worker_kb(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        proc.wait(10)
    n500, n5000 = SMALL * SMALL_PUSHES, LARGE * LARGE_PUSHES
    out = {"push_rec_s": round(n500 / t["push500"]), "copy_in_rows_s": round(n500 / t["copy500"]),
           "push_5000_rec_s": round(n5000 / t["push5000"]),
           "copy_in_rows_s_during_5000": round(n5000 / t["copy5000"]),
           "worker_rss_kb_before_5000": rss_before, "worker_rss_kb_after_5000": rss_after,
           "worker_peak_rss_kb": rss_peak}
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
    print(f"worker RSS {rss_before} kB before the 5,000-record pushes, {rss_after} kB after, "
          f"peak {rss_peak} kB")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
