"""`make run` (scripts/serve.sh) runs the job worker beside the two pools, and /metrics adds
up the counters of all of them (prometheus multiprocess mode) behind the metrics token."""

from __future__ import annotations

import re
import time
from typing import Any

import requests
from sqlalchemy import text
from sqlalchemy.orm import Session

from monitor_api.db import make_engine
from monitor_api.jobs.queue import defer
from tests.serving.conftest import METRICS_TOKEN, Served


def _wait(predicate: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_make_run_runs_the_worker_beside_the_pools(served: Served) -> None:
    engine = make_engine(served.db_url)
    try:
        def count(sql: str, **params: Any) -> int:
            with engine.connect() as conn:
                return int(conn.execute(text(sql), params).scalar_one())

        _wait(lambda: count("select count(*) from procrastinate_workers "
                            "where last_heartbeat > now() - interval '1 minute'") >= 1,
              "the worker's heartbeat")
        with Session(engine) as session:
            job_id = defer(session, "uploads.clean", queue="maintenance")
            session.commit()
        # Succeeded jobs are deleted: the worker of scripts/serve.sh ran it.
        _wait(lambda: count("select count(*) from procrastinate_jobs where id = :i",
                            i=job_id) == 0, f"the job to run; {served.log.read_text()[-3000:]}")
    finally:
        engine.dispose()


def _value(body: str, name: str, **labels: str) -> float:
    for line in body.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in the exposition")


def test_metrics_need_the_token_and_add_up_every_process(served: Served) -> None:
    anon = requests.get(served.url + "/metrics", timeout=10)
    assert anon.status_code == 401
    assert anon.headers["Content-Type"].startswith("application/problem+json")
    wrong = requests.get(served.url + "/metrics", timeout=10,
                         headers={"Authorization": "Bearer " + "x" * 32})
    assert wrong.status_code == 401
    for _ in range(3):
        assert requests.get(served.url + "/healthz", timeout=10).status_code == 200
    resp = requests.get(served.url + "/metrics", timeout=30,
                        headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    body = resp.text
    assert _value(body, "monitor_http_request_duration_seconds_count",
                  endpoint="health.healthz", method="GET", status="200") >= 3
    # Both gunicorn pools and the worker write to the machine's directory: their pools add up.
    assert _value(body, "monitor_db_pool_capacity", kind="web") >= 2 * 15
    assert _value(body, "monitor_db_pool_capacity", kind="worker") >= 1
    assert _value(body, "monitor_database_up") == 1
    assert _value(body, "monitor_sync_horizon_lag_xids") >= 0
    assert _value(body, "monitor_job_workers") >= 1
    assert "# TYPE monitor_jobs gauge" in body
