"""Prometheus metrics: counters kept by each process, gauges read from the database.

Under gunicorn every worker process counts for itself; with PROMETHEUS_MULTIPROC_DIR set
(scripts/serve.sh and the image set it, one directory per machine, emptied at start)
prometheus_client writes them to files there and a scrape adds up every live process of
the machine: both pools and the job worker. The queue, the sync horizon and the pool
capacity are read from PostgreSQL at scrape time, so any instance reports them whole.
`/metrics` is not public: it needs `Authorization: Bearer $METRICS_TOKEN` (404 when no token
is set), or `monitor-api worker` serves the same on METRICS_LISTEN, an address of its own.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

log = logging.getLogger("monitor_api.metrics")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUEST_SECONDS = Histogram(
    "monitor_http_request_duration_seconds", "Time to answer a request, by Flask endpoint.",
    ["endpoint", "method", "status"], buckets=LATENCY_BUCKETS)
SYNC_RECORDS = Counter(
    "monitor_sync_records_total", "Sync records: pushed (applied, rejected, conflicting) "
    "and pulled (sent, deleted).", ["direction", "outcome"])
UPLOAD_BYTES = Counter("monitor_upload_bytes_total", "Photo bytes received over tus.")
PHOTO_VERIFICATIONS = Counter(
    "monitor_photo_verifications_total", "Uploads verified by the photos.verify job.",
    ["outcome"])
PHOTO_PROCESSING_SECONDS = Histogram(
    "monitor_photo_processing_seconds", "Hash, decode, derivatives and filing of one upload.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128))
JOB_SECONDS = Histogram(
    "monitor_job_duration_seconds", "Job run time by task and result.", ["task", "result"],
    buckets=(0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900))
JOB_FAILURES = Counter("monitor_job_failures_total", "Failed job attempts.", ["task"])
POOL_CHECKED_OUT = Gauge(
    "monitor_db_pool_checked_out", "Database connections in use, by process kind.",
    ["kind"], multiprocess_mode="livesum")
POOL_CAPACITY = Gauge(
    "monitor_db_pool_capacity", "Connections the pools may open (size + overflow).",
    ["kind"], multiprocess_mode="livesum")


def instrument_pool(engine: Engine, kind: str) -> None:
    """Track how many of the engine's pooled connections are checked out."""
    pool = engine.pool
    size = getattr(pool, "size", lambda: 0)()
    overflow = getattr(pool, "_max_overflow", 0)
    POOL_CAPACITY.labels(kind=kind).inc(size + max(overflow, 0))
    gauge = POOL_CHECKED_OUT.labels(kind=kind)
    event.listen(pool, "checkout", lambda *_: gauge.inc())
    event.listen(pool, "checkin", lambda *_: gauge.dec())


def observe_request(endpoint: str | None, method: str, status: int, seconds: float) -> None:
    """One answered request (the endpoint name, never the path: bounded label values)."""
    REQUEST_SECONDS.labels(endpoint=endpoint or "unmatched", method=method,
                           status=str(status)).observe(seconds)


def count_pull(body: dict[str, Any]) -> None:
    """Records a pull page sends (created or updated) and deletes it carries."""
    sent = deleted = 0
    for bucket in (body.get("changes") or {}).values():
        sent += len(bucket.get("created", ())) + len(bucket.get("updated", ()))
        deleted += len(bucket.get("deleted", ()))
    SYNC_RECORDS.labels(direction="pulled", outcome="sent").inc(sent)
    SYNC_RECORDS.labels(direction="pulled", outcome="deleted").inc(deleted)


def count_push(result: dict[str, Any] | None, *, conflicts: int = 0) -> None:
    """Records a push applied and rejected, or the conflicts that refused it."""
    if conflicts:
        SYNC_RECORDS.labels(direction="pushed", outcome="conflicting").inc(conflicts)
        return
    result = result or {}
    applied = sum(int(n) for counts in (result.get("applied") or {}).values()
                  for n in (counts.values() if isinstance(counts, dict) else [counts])
                  if isinstance(n, int))
    SYNC_RECORDS.labels(direction="pushed", outcome="applied").inc(applied)
    SYNC_RECORDS.labels(direction="pushed", outcome="rejected").inc(
        len(result.get("rejected") or ()))


class DatabaseCollector(Collector):
    """Gauges read from PostgreSQL at scrape time: the job queue, the sync horizon and the
    indicators waiting for the background refresher."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self.engine.connect() as conn:
                yield from self._jobs(conn)
                yield from self._horizon(conn)
                yield from self._indicators(conn)
        except Exception as exc:  # a scrape must not fail because the database did
            log.warning("database metrics unavailable", extra={"error": str(exc)[:200]})
            up = GaugeMetricFamily("monitor_database_up", "Whether the scrape reached it.")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("monitor_database_up", "Whether the scrape reached it.")
        up.add_metric([], 1)
        yield up

    @staticmethod
    def _jobs(conn: Any) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("monitor_jobs", "Jobs by queue and status.",
                                  labels=["queue", "status"])
        for queue, status, n in conn.execute(text(
                "select queue_name, status::text, count(*) from procrastinate_jobs "
                "group by 1, 2")):
            depth.add_metric([queue, status], n)
        yield depth
        age = GaugeMetricFamily(
            "monitor_jobs_oldest_waiting_seconds",
            "Age of the oldest job waiting to run (todo and due), by queue.", labels=["queue"])
        for queue, seconds in conn.execute(text(
                "select j.queue_name, extract(epoch from now() - min(e.at)) "
                "from procrastinate_jobs j join procrastinate_events e on e.job_id = j.id "
                "and e.type = 'deferred' where j.status = 'todo' and "
                "(j.scheduled_at is null or j.scheduled_at <= now()) group by 1")):
            age.add_metric([queue], float(seconds or 0))
        yield age
        workers = GaugeMetricFamily("monitor_job_workers", "Workers with a heartbeat.")
        workers.add_metric([], conn.execute(text(
            "select count(*) from procrastinate_workers "
            "where last_heartbeat > now() - interval '1 minute'")).scalar_one())
        yield workers

    @staticmethod
    def _horizon(conn: Any) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy.orm import Session

        from sync.store import horizon_status

        with Session(bind=conn) as session:
            status = horizon_status(session)
            session.rollback()
        lag = GaugeMetricFamily("monitor_sync_horizon_lag_xids",
                                "Transactions the sync horizon trails the newest one by.")
        lag.add_metric([], status["lag_xids"])
        yield lag
        age = GaugeMetricFamily(
            "monitor_sync_oldest_transaction_seconds",
            "Age of the oldest open writing transaction (what holds the horizon back).")
        age.add_metric([], status["oldest_transaction_age_seconds"] or 0.0)
        yield age

    @staticmethod
    def _indicators(conn: Any) -> Iterator[GaugeMetricFamily]:
        n, seconds = conn.execute(text(
            "select count(*), extract(epoch from now() - min(marked_at)) "
            "from indicators_due")).one()
        due = GaugeMetricFamily("monitor_indicators_due",
                                "Visits whose indicators wait to be recomputed (readers "
                                "recompute what they show first; histories/due.py).")
        due.add_metric([], n)
        yield due
        age = GaugeMetricFamily("monitor_indicators_due_oldest_seconds",
                                "Age of the oldest such mark (seconds; a stuck background "
                                "refresher shows here).")
        age.add_metric([], float(seconds or 0))
        yield age


def exposition(engine: Engine) -> bytes:
    """Every process of this machine (multiprocess mode) or this one, plus the database."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
        data = generate_latest(processes)
    else:
        data = generate_latest(REGISTRY)
    database = CollectorRegistry()
    database.register(DatabaseCollector(engine))
    return data + generate_latest(database)


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition; needs the METRICS_TOKEN bearer token."""
    from monitor_api.errors import problem_response

    token = current_app.config["SETTINGS"].metrics_token
    if not token:
        return problem_response(404, detail="Metrics are not served here: set METRICS_TOKEN, "
                                            "or scrape the worker's METRICS_LISTEN address.")
    sent = request.headers.get("Authorization", "").partition(" ")[2].strip()
    if not hmac.compare_digest(sent.encode(), token.encode()):
        return problem_response(401, detail="Send 'Authorization: Bearer <METRICS_TOKEN>'.")
    data = exposition(current_app.extensions["db_engine"])
    return Response(data, content_type=CONTENT_TYPE_LATEST)
