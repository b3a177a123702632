"""`monitor-api worker` and `monitor-api jobs`: run the queue, list what failed."""

from __future__ import annotations

import argparse
import json

from monitor_api.config import Settings


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Run jobs until stopped (or, with --once, until the queue is empty)."""
    from dataclasses import replace

    from monitor_api.jobs import worker

    if args.concurrency is not None:
        settings = replace(settings, job_concurrency=max(1, args.concurrency))
    worker.run(settings, once=args.once, queues=args.queue or None)
    return 0


def cmd_jobs(settings: Settings, args: argparse.Namespace) -> int:
    """Print jobs in a status (default: failed) with their last error, one JSON per line."""
    from monitor_api.cli import _session
    from monitor_api.jobs.admin import list_jobs

    with _session(settings) as session:
        page = list_jobs(session, status=args.status, task=args.task, after_id=0,
                         limit=args.limit)
    for item in page["items"]:
        item.pop("failures")
        print(json.dumps(item, default=str))
    return 0


def _configure_worker(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, default=None,
                        help="job threads (default JOB_CONCURRENCY, 2)")
    parser.add_argument("--queue", action="append",
                        help="only this queue (repeat; default all: photos, maintenance, "
                             "exports, default)")
    parser.add_argument("--once", action="store_true",
                        help="stop when no job is left (tests, a cron-driven worker)")


def _configure_jobs(parser: argparse.ArgumentParser) -> None:
    from monitor_api.jobs.admin import STATUSES

    parser.add_argument("--status", default="failed", choices=STATUSES)
    parser.add_argument("--task")
    parser.add_argument("--limit", type=int, default=100)


def register() -> None:
    """Add the commands to the CLI registry."""
    from monitor_api.cli import _EXTRA

    _EXTRA["worker"] = ("run background jobs (photo verification, schedules) until stopped",
                        cmd_worker, _configure_worker)
    _EXTRA["jobs"] = ("list background jobs (default: failed, with their last error)",
                      cmd_jobs, _configure_jobs)
