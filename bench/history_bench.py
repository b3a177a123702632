"""Condition-history benchmark: 500 facilities x 40 visits x ~100 answers (with rooms,
findings, recommendations in repeats chains, reviews, access incidents), then over HTTP
against real gunicorn processes (1 worker x 2 threads, 127.0.0.1, no nginx):

- GET /api/v1/facilities/{id}/conditions as a partner, random facilities: p50/p95/p99
  (goal p95 < 50 ms), next to two baselines measured in the same run: GET /healthz on the
  same server (the HTTP floor) and the raw SQL `select * from visit_indicators where
  facility_id = …` for the same facilities (the read floor);
- GET /api/v1/statistics/annual?year=Y: p50/p95 (goal p95 < 500 ms), next to the raw SQL
  read of that year's indicator rows;
- freshness: the same kind of 500-record push (rooms, findings, answers of 5 in-progress
  visits) through POST /api/v1/sync to two servers on the same database, one the normal app,
  one whose indicator upkeep is switched off (`app_without_refresh`, a benchmark-only
  factory; nothing in the app reads a switch), in alternated pairs; the cost is the median
  of the paired differences as a share of the normal push's median (goal <= 20%). Since the
  recomputation runs after the commit (`histories/due.py`), that upkeep is the marking; the
  recomputation is timed alone on the same visits, and a partner's GET of the conditions of
  a pushed visit's facility is timed at once after the push (it settles the due visits it
  shows) and again once the background refresher is done;
- the rebuild of every visit's indicators (`rebuild`), next to one plain read of the answers.

    DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench_hist) .venv/bin/python \
        bench/history_bench.py [--facilities 500] [--visits 40]

Use a dedicated database: the benchmark fills it. The last line is all figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import history_data as data  # noqa: E402
from bench.serving import settled, start_server  # noqa: E402
from monitor_api.db import make_engine  # noqa: E402
from monitor_api.histories import refresh as indicators  # noqa: E402
from monitor_api.migrate import upgrade  # noqa: E402

MS = 1_767_000_000_000
PUSH_VISITS, ROOMS, FINDINGS, ANSWERS = 5, 10, 5, 85  # 5 x 100 = 500 records a push
rng = random.Random(8)


def app_without_refresh() -> Any:
    """The app with the indicator upkeep unhooked (the freshness measurement's control)."""
    from monitor_api.app import create_app

    event.remove(Session, "after_flush", indicators._collect)
    event.remove(Session, "before_commit", indicators._refresh_dirty)
    return create_app()


def pct(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds."""
    s = sorted(samples)

    def at(q: float) -> float:
        return round(s[min(len(s) - 1, int(q * len(s)))] * 1000, 2)
    return {"n": len(s), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99)}


def timed_gets(http: requests.Session, urls: list[str], headers: dict[str, str],
               warmup: int) -> tuple[list[float], int]:
    samples, size = [], 0
    for n, url in enumerate(urls):
        t0 = time.perf_counter()
        resp = http.get(url, headers=headers)
        elapsed = time.perf_counter() - t0
        assert resp.status_code == 200, (url, resp.status_code, resp.text[:300])
        if n >= warmup:
            samples.append(elapsed)
            size += len(resp.content)
    return samples, size // max(1, len(samples))


def timed_sql(engine: Engine, sql: str, params: list[dict[str, Any]]) -> list[float]:
    out = []
    with engine.connect() as conn:
        for p in params:
            t0 = time.perf_counter()
            conn.execute(text(sql), p).fetchall()
            out.append(time.perf_counter() - t0)
    return out


def bench_reads(engine: Engine, base: str, token: str, n: int) -> dict[str, Any]:
    http = requests.Session()
    auth = {"Authorization": f"Bearer {token}"}
    with engine.connect() as conn:
        facilities = [str(f) for f in conn.scalars(text(
            "select id from facilities where code like 'BENCH-%' order by code"))]
        years = [int(y) for y in conn.scalars(text(
            "select distinct extract(year from visit_date) from visit_indicators order by 1"))]
    warm = 20
    picks = [rng.choice(facilities) for _ in range(n + warm)]
    cond, size = timed_gets(http, [f"{base}/api/v1/facilities/{f}/conditions" for f in picks],
                            auth, warm)
    floor, _ = timed_gets(http, [f"{base}/healthz"] * (n + warm), {}, warm)
    raw = timed_sql(engine, "select * from visit_indicators where facility_id = :f",
                    [{"f": f} for f in picks[warm:]])
    year_picks = [years[i % len(years)] for i in range(33)]
    annual, _ = timed_gets(http, [f"{base}/api/v1/statistics/annual?year={y}"
                                  for y in year_picks], auth, 3)
    annual_raw = timed_sql(
        engine, "select v.visit_type, v.announced, v.joint_with_ombudsman, v.published_at, "
                "f.facility_type, f.region, i.access_incidents, i.recommendations, "
                "i.facility_id from visits v join visit_indicators i on i.visit_id = v.id "
                "join facilities f on f.id = v.facility_id where v.published_at is not null "
                "and i.visit_date between make_date(:y, 1, 1) and make_date(:y, 12, 31)",
        [{"y": y} for y in year_picks[3:]])
    return {"conditions": {**pct(cond), "bytes": size, "goal_p95_ms": 50},
            "healthz": pct(floor), "conditions_sql": pct(raw),
            "annual": {**pct(annual), "goal_p95_ms": 500}, "annual_sql": pct(annual_raw)}


def push_body(visit_ids: list[str], questions: list[Any]) -> dict[str, Any]:
    """500 records: per visit 10 rooms, 5 findings, 85 answers from a second source."""
    rooms, findings, answers = [], [], []
    for vid in visit_ids:
        rooms += [{"id": str(uuid.uuid4()), "visit_id": vid, "label": f"Cell P{i}",
                   "room_kind": "cell", "floor_area_m2": round(rng.uniform(8, 40), 1),
                   "occupants": rng.randint(1, 14), "beds": rng.randint(1, 14),
                   "natural_light": "insufficient", "ventilation": "adequate",
                   "inspected_at": MS + i} for i in range(ROOMS)]
        findings += [{"id": str(uuid.uuid4()), "visit_id": vid, "theme": "material_conditions",
                      "severity": rng.choice(["serious", "moderate", "minor"]),
                      "title": "Living space below 4 m² per person", "status": "draft",
                      "description": "Measured with a laser meter; beds counted.",
                      "standard_refs": '[{"instrument":"cpt","rule":"space"}]',
                      "is_systemic": False, "sources_count": 2} for _ in range(FINDINGS)]
        for qid, _code, kind, options, _sources in questions[:ANSWERS]:
            value, number = None, None
            if kind == "yes_no_partial":
                value = rng.choice(["yes", "no", "partial"])
            elif kind in ("choice", "multi_choice"):
                value = rng.choice(options)
            elif kind in ("count", "measure"):
                number = float(rng.randint(0, 30))
            else:
                value = "Said so."
            answers.append({"id": str(uuid.uuid4()), "visit_id": vid, "question_id": str(qid),
                            "info_source": "staff", "value": value, "number_value": number,
                            "answered_at": MS})
    return {"room_inspections": {"created": rooms}, "findings": {"created": findings},
            "answers": {"created": answers}}


def push_once(http: requests.Session, base: str, token: str, body: dict[str, Any]) -> float:
    data_ = json.dumps(body).encode()
    t0 = time.perf_counter()
    resp = http.post(base + "/api/v1/sync", params={"last_pulled_at": "null"}, data=data_,
                     headers={"Authorization": f"Bearer {token}",
                              "Content-Type": "application/json",
                              "Idempotency-Key": str(uuid.uuid4())})
    elapsed = time.perf_counter() - t0
    assert resp.status_code == 200 and not resp.json()["rejected"], resp.text[:500]
    return elapsed


def read_conditions(engine: Engine, http: requests.Session, base: str,
                    headers: dict[str, str], group: list[str]) -> float:
    """Seconds for GET conditions of the facility of the group's first visit."""
    with engine.connect() as conn:
        facility = conn.scalar(text("select facility_id from visits where id = :v"),
                               {"v": group[0]})
    t0 = time.perf_counter()
    resp = http.get(f"{base}/api/v1/facilities/{facility}/conditions", headers=headers)
    elapsed = time.perf_counter() - t0
    assert resp.status_code == 200, resp.text[:300]
    return elapsed


def bench_freshness(engine: Engine, url: str, ids: dict[str, Any], on_base: str,
                    pairs: int) -> dict[str, Any]:
    with engine.connect() as conn:
        targets = [str(v) for v in conn.scalars(text(
            "select id from visits where status = 'in_progress' order by id"))]
    need = (2 * pairs + 2) * PUSH_VISITS
    assert len(targets) >= need, f"need {need} in-progress visits, have {len(targets)}"
    groups = [targets[i:i + PUSH_VISITS] for i in range(0, need, PUSH_VISITS)]
    proc, off_base = start_server(url, "bench.history_bench:app_without_refresh()")
    try:
        http = requests.Session()
        token = data.device_token(engine, ids["monitor"])
        push_once(http, on_base, token, push_body(groups[0], ids["questions"]))  # warm-up
        push_once(http, off_base, token, push_body(groups[1], ids["questions"]))
        partner = {"Authorization": f"Bearer {data.partner_token(engine, ids['partner'])}"}
        on, off, on_groups, first_read, later_read = [], [], [], [], []
        for i in range(pairs):
            g_on, g_off = groups[2 + 2 * i], groups[3 + 2 * i]
            order = [(on_base, g_on, on), (off_base, g_off, off)]
            for base, group, out in order if i % 2 == 0 else order[::-1]:
                out.append(push_once(http, base, token, push_body(group, ids["questions"])))
                if base == on_base:  # a partner reads the facility at once: it settles
                    first_read.append(read_conditions(engine, http, on_base, partner, group))
                    settled(engine)  # the rest, before the next push (never overlapping it)
                    later_read.append(read_conditions(engine, http, on_base, partner, group))
            on_groups.append(g_on)
    finally:
        proc.terminate()
        proc.wait(10)
    alone = []
    for group in on_groups:  # the refresh by itself, on the visits the normal pushes wrote
        with Session(engine) as s:
            s.execute(text("select 1"))  # in an open transaction, as in the push
            t0 = time.perf_counter()  # as the push's commit hook runs it
            indicators.refresh(s, group, reuse_follow_up=not indicators.stamped_here(s))
            alone.append(time.perf_counter() - t0)
            s.rollback()
    # Load from other processes drifts: compare each push with its neighbour of the pair.
    paired = statistics.median(a - b for a, b in zip(on, off, strict=True)) * 1000
    on_ms, off_ms = statistics.median(on) * 1000, statistics.median(off) * 1000
    alone_ms = statistics.median(alone) * 1000
    return {"records": PUSH_VISITS * (ROOMS + FINDINGS + ANSWERS), "pushes_each": pairs,
            "push_on_ms": round(on_ms, 1), "push_off_ms": round(off_ms, 1),
            "upkeep_ms": round(paired, 1), "share": round(paired / on_ms, 4),
            "refresh_alone_ms": round(alone_ms, 1), "share_alone": round(alone_ms / on_ms, 4),
            "read_after_push_ms": round(statistics.median(first_read) * 1000, 1),
            "read_settled_ms": round(statistics.median(later_read) * 1000, 1),
            "goal_share": 0.20, "push_on_all_ms": [round(x * 1000, 1) for x in on],
            "push_off_all_ms": [round(x * 1000, 1) for x in off]}


def bench_rebuild(engine: Engine) -> dict[str, Any]:
    with Session(engine) as s:
        t0 = time.perf_counter()
        done = indicators.rebuild(s)
        s.commit()
        seconds = time.perf_counter() - t0
    with engine.connect() as conn:
        t0 = time.perf_counter()
        rows = len(conn.execute(text(
            "select visit_id, question_id, value, number_value from answers")).fetchall())
        read = time.perf_counter() - t0
    return {"visits": done, "seconds": round(seconds, 2),
            "visits_per_s": round(done / seconds), "answers_read_seconds": round(read, 2),
            "answers": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=500)
    parser.add_argument("--visits", type=int, default=40)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=15)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("DATABASE_URL is required (a dedicated database: the benchmark fills it)")
    upgrade(url)
    engine = make_engine(url)
    machine = {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()}
    ids = data.actors(engine)
    t0 = time.perf_counter()
    generated = data.generate(engine, ids, args.facilities, args.visits)
    generated["total_seconds"] = round(time.perf_counter() - t0, 1)
    print(f"generated in {generated['total_seconds']} s: {generated['rows']}", flush=True)
    rebuilt = bench_rebuild(engine)
    print(f"rebuild {rebuilt['visits']} visits: {rebuilt['seconds']} s "
          f"({rebuilt['visits_per_s']} visits/s); one plain read of the "
          f"{rebuilt['answers']:,} answers: {rebuilt['answers_read_seconds']} s", flush=True)
    proc, base = start_server(url, "monitor_api.app:create_app()")
    try:
        reads = bench_reads(engine, base, data.partner_token(engine, ids["partner"]),
                            args.requests)
        fresh = bench_freshness(engine, url, ids, base, args.pairs)
    finally:
        proc.terminate()
        proc.wait(10)
    machine["loadavg_end"] = os.getloadavg()
    print(f"{machine['cpus']} CPUs; load average {machine['loadavg_start'][0]:.1f} at the start, "
          f"{machine['loadavg_end'][0]:.1f} at the end (other processes share this machine)")
    c, h, r = reads["conditions"], reads["healthz"], reads["conditions_sql"]
    print(f"conditions ({c['n']} GETs, {c['bytes']:,} B): p50 {c['p50_ms']} ms, p95 "
          f"{c['p95_ms']} ms, p99 {c['p99_ms']} ms (goal p95 < 50 ms); baselines: /healthz "
          f"p50 {h['p50_ms']} ms p95 {h['p95_ms']} ms, raw SQL of the same rows p50 "
          f"{r['p50_ms']} ms p95 {r['p95_ms']} ms")
    a, ar = reads["annual"], reads["annual_sql"]
    print(f"annual statistics ({a['n']} GETs): p50 {a['p50_ms']} ms, p95 {a['p95_ms']} ms "
          f"(goal p95 < 500 ms); raw SQL of the year's rows p50 {ar['p50_ms']} ms")
    print(f"push of {fresh['records']} records: {fresh['push_on_ms']} ms with indicator "
          f"upkeep, {fresh['push_off_ms']} ms without (medians of {fresh['pushes_each']} "
          f"alternated pairs); upkeep (median paired difference) {fresh['upkeep_ms']} ms = "
          f"{fresh['share']:.1%} of the push (goal <= 20%); the refresh timed alone on the same "
          f"visits {fresh['refresh_alone_ms']} ms = {fresh['share_alone']:.1%} (done after the "
          f"commit by the background refresher, or by the first read); GET conditions of a "
          f"pushed visit's facility at once {fresh['read_after_push_ms']} ms, once settled "
          f"{fresh['read_settled_ms']} ms")
    print(json.dumps({"machine": machine, "generate": generated, "rebuild": rebuilt, **reads,
                      "freshness": fresh}))


if __name__ == "__main__":
    main()
