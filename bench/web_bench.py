"""Web pages benchmark: a facility page with 40 published visits, signed in as a partner,
through a real gunicorn; p50/p95 of the page next to the API's /conditions JSON of the same
facility and /healthz (the fixed cost of a request) in the same run; and the page weight
(HTML + CSS + JS, gzipped) against the 300 KB budget.

    BENCH_DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_bench_web) \
        .venv/bin/python bench/web_bench.py
"""

from __future__ import annotations

import gzip
import json
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from geoalchemy2.elements import WKTElement
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import start_server  # noqa: E402
from monitor_api.accounts.models import Team, TeamMember, User  # noqa: E402
from monitor_api.accounts.service import hash_password  # noqa: E402
from monitor_api.checklists.service import build_template  # noqa: E402
from monitor_api.db import make_engine  # noqa: E402
from monitor_api.facilities.models import Facility  # noqa: E402
from monitor_api.findings.models import Finding, Recommendation, RecommendationReview  # noqa: E402
from monitor_api.migrate import upgrade  # noqa: E402
from monitor_api.visits.models import Answer, RoomInspection, Visit  # noqa: E402

VISITS, REQUESTS, PASSWORD = 40, 200, "bench password for the web pages"
SECTIONS = ("treatment", "safeguards", "material_conditions", "health_care")


def seed(url: str) -> tuple[str, str]:
    """A facility with 40 published visits (rooms, answers, findings, repeated
    recommendations with reviews) and a partner; returns (facility id, username)."""
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as db:
        partner = User(username="bench-partner", display_name="p", role="partner",
                       password_hash=hash_password(PASSWORD))
        lead = User(username="bench-lead", display_name="c", role="coordinator",
                    password_hash="!unusable")  # noqa: S106 (cannot sign in)
        db.add_all([partner, lead])
        db.flush()
        team = Team(name="bench team", lead_id=lead.id)
        db.add(team)
        db.flush()
        db.add(TeamMember(team_id=team.id, user_id=lead.id))
        facility = Facility(code="BENCH-1", name="Bench colony", facility_type="penal_colony",
                            authority="ministry_of_justice", region="TJ-KT",
                            official_capacity=900,
                            location=WKTElement("POINT(68.8 37.9)", srid=4326))
        db.add(facility)
        template = build_template(db, code="bench", version=1, title="Bench", facility_types=[],
                                  questions=[{"section": SECTIONS[n % 4], "code": f"Q{n:02d}",
                                              "text_en": f"Question {n}",
                                              "answer_type": "yes_no_partial",
                                              "info_sources": ["observation"],
                                              "compliance": "yes"} for n in range(30)],
                                  created_by_id=None, status="published")
        db.flush()
        previous = None
        start = datetime(2016, 1, 10, 9, tzinfo=UTC)
        for n in range(VISITS):
            when = start + timedelta(days=91 * n)
            visit = Visit(facility_id=facility.id, team_id=team.id, template_id=template.id,
                          status="reported", published_at=when, started_at=when,
                          population_total=850 + (n * 37) % 300)
            db.add(visit)
            db.flush()
            for r in range(6):
                db.add(RoomInspection(visit_id=visit.id, label=f"C{r}", room_kind="cell",
                                      floor_area_m2=20.0 + r, occupants=4 + (n + r) % 4))
            for q in template.questions:
                db.add(Answer(visit_id=visit.id, question_id=q.id, info_source="observation",
                              value="yes" if (n + q.position) % 3 else "no"))
            for f in range(3):
                db.add(Finding(visit_id=visit.id, theme=SECTIONS[f], severity="serious",
                               title=f"Finding {n}.{f}", status="confirmed"))
            rec = Recommendation(facility_id=facility.id, visit_id=visit.id,
                                 theme="material_conditions", text=f"Reduce occupancy {n}",
                                 addressed_to="ministry_of_justice",
                                 repeats_id=previous.id if previous else None)
            db.add(rec)
            db.flush()
            if previous is not None:
                db.add(RecommendationReview(recommendation_id=previous.id, visit_id=visit.id,
                                            status="not_implemented", reviewed_at=when))
            previous = rec
        db.commit()  # indicators computed as the transaction commits
        return str(facility.id), partner.username


def timed(http: requests.Session, url: str, n: int) -> dict[str, float]:
    for _ in range(10):
        http.get(url).raise_for_status()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        http.get(url).raise_for_status()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2),
            "max_ms": round(samples[-1], 2)}


def page_weight(http: requests.Session, base: str, path: str) -> dict[str, int]:
    html = http.get(base + path).content
    assets = re.findall(rb'(?:href|src)="(/assets/[^"]+\.(?:css|js))"', html)
    sizes = {"html": len(gzip.compress(html, 6))}
    for asset in assets:
        sizes[asset.decode()] = len(gzip.compress(http.get(base + asset.decode()).content, 6))
    return {"total_gzip_bytes": sum(sizes.values()), **sizes}


def main() -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("BENCH_DATABASE_URL is required (a dedicated database: the benchmark fills it)")
    upgrade(url)
    facility_id, username = seed(url)
    proc, base = start_server(url)
    try:
        http = requests.Session()
        token = re.search(r'name="csrf_token" value="([^"]+)"',
                          http.get(base + "/login").text).group(1)
        http.post(base + "/login", data={"username": username, "password": PASSWORD,
                                         "csrf_token": token}).raise_for_status()
        page = timed(http, f"{base}/facilities/{facility_id}", REQUESTS)
        api_token = requests.post(base + "/api/v1/auth/login", timeout=10, json={
            "username": username, "password": PASSWORD}).json()["token"]
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {api_token}"
        conditions = timed(api, f"{base}/api/v1/facilities/{facility_id}/conditions", REQUESTS)
        healthz = timed(requests.Session(), f"{base}/healthz", REQUESTS)
        weight = page_weight(http, base, f"/facilities/{facility_id}")
        map_weight = page_weight(http, base, "/")
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"facility page, {VISITS} visits: p50 {page['p50_ms']} ms, p95 {page['p95_ms']} ms "
          f"(goal p95 < 150 ms)")
    print(f"  same facility's /conditions JSON: p50 {conditions['p50_ms']} ms, "
          f"p95 {conditions['p95_ms']} ms; /healthz p95 {healthz['p95_ms']} ms")
    print(f"page weight (HTML+CSS+JS, gzip): facility {weight['total_gzip_bytes']:,} B, map "
          f"{map_weight['total_gzip_bytes']:,} B (budget 300 KB)")
    print(json.dumps({"web_facility_page": page, "web_conditions_api": conditions,
                      "web_healthz": healthz, "web_facility_weight": weight,
                      "web_map_weight": map_weight}))


if __name__ == "__main__":
    main()
