"""Every background task of the service, registered on a procrastinate App.

Tasks are idempotent: each one reads the state it must change, does its work, and writes
the outcome in one transaction that first checks the work is still to do, so a worker
killed mid-job leaves nothing half done and the job, run again, finishes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import procrastinate

from monitor_api.config import Settings
from monitor_api.jobs.runtime import Runtime, runtime_of

# Photo verification: infrastructure errors (S3 or the database unreachable) are retried,
# after 3, 9, 27 … seconds (about 50 minutes in all); a bad photo is an outcome, not an error.
PHOTO_RETRY = procrastinate.RetryStrategy(max_attempts=8, exponential_wait=3)
# Feature packages add their tasks here (e.g. exports: `exports.build` on queue "exports"),
# each a function (app, settings) -> None that decorates its tasks with `app.task`.
REGISTRARS: list[Callable[[procrastinate.App, Settings], None]] = []


def register(app: procrastinate.App, settings: Settings) -> None:
    """Declare the tasks and the schedule of the periodic ones on `app`."""

    @app.task(name="photos.verify", queue="photos", pass_context=True, retry=PHOTO_RETRY)
    def verify_photo(context: procrastinate.JobContext, upload_id: str) -> str | None:
        from monitor_api.photos.verify import verify_upload

        return verify_upload(runtime_of(context), uuid.UUID(upload_id),
                             job=f"job-{context.job.id}")

    @app.periodic(cron=settings.jobs_clean_uploads_cron)
    @app.task(name="uploads.clean", queue="maintenance", pass_context=True,
              queueing_lock="uploads.clean")
    def clean_uploads(context: procrastinate.JobContext, timestamp: int = 0) -> dict[str, int]:
        return run_clean_uploads(runtime_of(context))

    @app.periodic(cron=settings.jobs_prune_sync_cron)
    @app.task(name="sync.prune", queue="maintenance", pass_context=True,
              queueing_lock="sync.prune")
    def prune_sync(context: procrastinate.JobContext, timestamp: int = 0) -> dict[str, int]:
        return run_prune_sync(runtime_of(context))

    # A worker that died (SIGKILL, lost machine) stops its heartbeat; its running jobs go
    # back to the queue so that another worker runs them again.
    every = max(1, min(59, settings.job_stalled_seconds // 2))

    @app.periodic(cron=f"* * * * * */{every}")
    @app.task(name="jobs.retry_stalled", queue="maintenance", pass_context=True,
              queueing_lock="jobs.retry_stalled")
    async def retry_stalled(context: procrastinate.JobContext, timestamp: int = 0) -> int:
        manager = context.app.job_manager
        stalled = list(await manager.get_stalled_jobs(
            seconds_since_heartbeat=settings.job_stalled_seconds))
        for job in stalled:
            await manager.retry_job(job)
        await manager.prune_stalled_workers(settings.job_stalled_seconds)
        return len(stalled)

    @app.periodic(cron="41 4 * * *")
    @app.task(name="jobs.prune", queue="maintenance", pass_context=True,
              queueing_lock="jobs.prune")
    async def prune_jobs(context: procrastinate.JobContext, timestamp: int = 0) -> None:
        # Successful jobs are deleted when they finish; failed and cancelled ones stay for
        # the admins (GET /api/v1/jobs) this long.
        await context.app.job_manager.delete_old_jobs(
            nb_hours=24 * settings.job_retention_days, include_failed=True,
            include_cancelled=True, include_aborted=True)

    for registrar in REGISTRARS:
        registrar(app, settings)


def run_clean_uploads(rt: Runtime, *, batch: int = 500,
                      min_age: timedelta = timedelta(hours=24)) -> dict[str, int]:
    """`monitor-api clean-uploads` as a job: expire abandoned uploads, sweep staging."""
    from monitor_api.uploads.cleanup import clean_expired, sweep_staging

    total = 0
    while True:
        with rt.session() as session:
            count = clean_expired(session, rt.store, limit=batch)
        total += count
        if count < batch:
            break
    with rt.session() as session:
        swept = sweep_staging(session, rt.store, min_age=min_age)
    return {"expired": total, "objects": swept.objects,
            "multipart_uploads": swept.multipart_uploads}


def run_prune_sync(rt: Runtime) -> dict[str, Any]:
    """`monitor-api prune-sync` as a job: the sync retention."""
    from sync.retention import prune

    with rt.session() as session:
        return prune(session, retention=timedelta(days=rt.settings.sync_retention_days),
                     idempotency_retention=timedelta(days=rt.settings.sync_idempotency_days))
