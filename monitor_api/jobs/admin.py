"""What admins see of the queue: jobs by status with the errors of their failed attempts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from monitor_api.audit.service import record
from monitor_api.errors import Conflict, NotFound

STATUSES = ("failed", "todo", "doing", "cancelled", "aborted", "succeeded")
TRACEBACK_CHARS = 4000


def list_jobs(session: Session, *, status: str, task: str | None, after_id: int,
              limit: int) -> dict[str, Any]:
    """Jobs in `status` (newest first, paged by id) with their recorded failures."""
    rows = list(session.execute(text(
        "select j.id, j.task_name as task, j.queue_name as queue, j.status::text as status, "
        "j.attempts, j.args, j.lock, j.scheduled_at, "
        "(select min(at) from procrastinate_events e where e.job_id = j.id "
        " and e.type = 'deferred') as deferred_at, "
        "(select max(at) from procrastinate_events e where e.job_id = j.id) as updated_at "
        "from procrastinate_jobs j where j.status::text = :status "
        "and (cast(:task as text) is null or j.task_name = :task) "
        "and (:after = 0 or j.id < :after) order by j.id desc limit :limit"),
        {"status": status, "task": task, "after": after_id, "limit": limit + 1}).mappings())
    more = len(rows) > limit
    rows = rows[:limit]
    failures: dict[int, list[dict[str, Any]]] = {}
    if rows:
        for f in session.execute(text(
                "select job_id, attempt, error, right(traceback, :n) as traceback, "
                "will_retry, worker, failed_at from job_failures "
                "where job_id = any(:ids) order by job_id, id"),
                {"ids": [r["id"] for r in rows], "n": TRACEBACK_CHARS}).mappings():
            failures.setdefault(f["job_id"], []).append(dict(f))
    items = []
    for row in rows:
        errs = failures.get(row["id"], [])
        items.append({**row, "error": errs[-1]["error"] if errs else None, "failures": errs})
    return {"items": items, "next_after_id": rows[-1]["id"] if more else None}


def retry_job(session: Session, job_id: int) -> dict[str, Any]:
    """Put a failed job back in the queue, to run now (its attempts start over)."""
    status = session.scalar(text(
        "select status::text from procrastinate_jobs where id = :id for update"), {"id": job_id})
    if status is None:
        raise NotFound("No such job.")
    if status != "failed":
        raise Conflict(f"Only failed jobs are retried; this one is {status}.")
    session.execute(text(
        "select procrastinate_retry_job_v2(:id, now(), null, null, null)"), {"id": job_id})
    session.execute(text("update procrastinate_jobs set attempts = 0 where id = :id"),
                    {"id": job_id})
    record(session, "job.retry", target_type="job", target_id=job_id)
    return {"id": job_id, "status": "todo"}
