"""`monitor-api worker`: run jobs from the PostgreSQL queue until stopped.

Any number of workers, on any number of machines, share the queue: a job is fetched by one
of them (`FOR UPDATE SKIP LOCKED`), runs on one of its `JOB_CONCURRENCY` threads, and is
deleted when it succeeds. A failed attempt's error is kept in `job_failures` for the admins
(`GET /api/v1/jobs`); the task's retry strategy decides whether it runs again.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from typing import Any

import procrastinate
from procrastinate import exceptions, job_context, jobs

from monitor_api import metrics
from monitor_api.config import Settings
from monitor_api.jobs.queue import make_app
from monitor_api.jobs.runtime import Runtime

log = logging.getLogger("monitor_api.jobs")
WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


async def record_failures(call_next: Any, context: job_context.JobContext,
                          worker: Any) -> Any:
    """Worker middleware: time every job; keep the error of each failed attempt."""
    started = time.monotonic()
    task = context.job.task_name
    try:
        result = await call_next()
    except BaseException as exc:
        metrics.JOB_SECONDS.labels(task=task, result="failed").observe(
            time.monotonic() - started)
        if not isinstance(exc, exceptions.JobAborted):
            metrics.JOB_FAILURES.labels(task=task).inc()
            await _store_failure(context, exc)
        raise
    metrics.JOB_SECONDS.labels(task=task, result="succeeded").observe(
        time.monotonic() - started)
    return result


async def _store_failure(context: job_context.JobContext, exc: BaseException) -> None:
    job = context.job
    registered = context.app.tasks.get(job.task_name)
    will_retry = bool(registered and registered.get_retry_exception(exception=exc, job=job))
    try:
        await context.app.connector.execute_query_async(
            query="insert into job_failures (job_id, task_name, attempt, error, traceback, "
                  "will_retry, worker) values (%(job_id)s, %(task)s, %(attempt)s, %(error)s, "
                  "%(tb)s, %(retry)s, %(worker)s)",
            job_id=job.id, task=job.task_name, attempt=job.attempts + 1,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            tb="".join(traceback.format_exception(exc))[-20000:], retry=will_retry,
            worker=context.worker_name)
    except Exception:  # the job's own outcome must still be written
        log.exception("could not record the job failure", extra={"job_id": job.id})


def worker_options(settings: Settings, runtime: Runtime, *, once: bool = False,
                   queues: list[str] | None = None) -> dict[str, Any]:
    """The procrastinate worker options the service runs with."""
    return {
        "name": WORKER_NAME, "queues": queues or None, "wait": not once,
        "concurrency": settings.job_concurrency,
        "additional_context": {"runtime": runtime},
        "delete_jobs": jobs.DeleteJobCondition.SUCCESSFUL,
        "update_heartbeat_interval": max(1.0, settings.job_stalled_seconds / 6),
        "stalled_worker_timeout": float(settings.job_stalled_seconds),
        "worker_middleware": [record_failures],
        "shutdown_graceful_timeout": 30.0,
        "fetch_job_polling_interval": 2.0 if once else 5.0,
    }


def run(settings: Settings, *, once: bool = False, queues: list[str] | None = None) -> None:
    """Run a worker in this process (until SIGTERM/SIGINT, or until the queue is empty)."""
    from monitor_api import logging as json_logging

    json_logging.configure(settings.log_level)
    runtime = Runtime.build(settings)
    if settings.metrics_listen:
        serve_metrics(settings.metrics_listen, runtime)
    app: procrastinate.App = make_app(settings)
    log.info("worker starting", extra={"worker": WORKER_NAME,
                                       "concurrency": settings.job_concurrency})
    try:
        app.run_worker(**worker_options(settings, runtime, once=once, queues=queues))
    finally:
        runtime.engine.dispose()


def serve_metrics(listen: str, runtime: Runtime) -> None:
    """Prometheus exposition on an address of its own (no token: bind it privately)."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    host, _, port = listen.rpartition(":")

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        data = metrics.exposition(runtime.engine)
        start_response("200 OK", [("Content-Type", metrics.CONTENT_TYPE_LATEST)])
        return [data]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = make_server(host.strip("[]"), int(port), wsgi, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics served", extra={"listen": listen})
