"""The job queue in one transaction: enqueueing with the request, queueing locks, and the
admins' view of failed jobs (listing with errors, retry; refused to others)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from monitor_api.jobs.queue import defer


def test_a_job_is_enqueued_with_the_transaction_and_a_queueing_lock_dedupes(
        db: Session) -> None:
    first = defer(db, "uploads.clean", queue="maintenance", queueing_lock="test-lock")
    second = defer(db, "uploads.clean", queue="maintenance", queueing_lock="test-lock")
    assert first is not None and second is None  # one waiting job does the work of both
    assert db.scalar(text("select count(*) from procrastinate_jobs where queueing_lock = "
                          "'test-lock'")) == 1  # and the transaction is still usable
    db.rollback()
    assert db.scalar(text("select count(*) from procrastinate_jobs where id = :i"),
                     {"i": first}) == 0  # rolled back with the request: no job


def _failed_job(db: Session) -> int:
    job_id = defer(db, "photos.verify", queue="photos", upload_id="0" * 32)
    assert job_id is not None
    db.execute(text("update procrastinate_jobs set status = 'doing' where id = :i"),
               {"i": job_id})
    db.execute(text("update procrastinate_jobs set status = 'failed', attempts = 8 "
                    "where id = :i"), {"i": job_id})
    for attempt in (1, 2):
        db.execute(text(
            "insert into job_failures (job_id, task_name, attempt, error, traceback, "
            "will_retry, worker) values (:i, 'photos.verify', :a, :e, 'Traceback…', :r, 'w1')"),
            {"i": job_id, "a": attempt, "e": f"EndpointConnectionError: attempt {attempt}",
             "r": attempt == 1})
    db.flush()
    return job_id


def test_admins_list_failed_jobs_with_their_errors_and_retry_them(
        db: Session, make_user: Any) -> None:
    job_id = _failed_job(db)
    _, admin = make_user("admin")
    listed = admin.get("/api/v1/jobs")
    assert listed.status_code == 200, listed.get_json()
    [job] = [j for j in listed.get_json()["items"] if j["id"] == job_id]
    assert job["status"] == "failed" and job["task"] == "photos.verify"
    assert job["error"] == "EndpointConnectionError: attempt 2"
    assert [f["will_retry"] for f in job["failures"]] == [True, False]
    assert admin.get("/api/v1/jobs?status=bogus").status_code == 422
    retried = admin.post(f"/api/v1/jobs/{job_id}/retry")
    assert retried.status_code == 200 and retried.get_json() == {"id": job_id, "status": "todo"}
    assert db.scalar(text("select status::text from procrastinate_jobs where id = :i"),
                     {"i": job_id}) == "todo"
    again = admin.post(f"/api/v1/jobs/{job_id}/retry")
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    assert admin.post("/api/v1/jobs/999999999/retry").status_code == 404


def test_only_admins_see_the_queue(db: Session, make_user: Any, make_device: Any,
                                   client: Any) -> None:
    _failed_job(db)
    _, coordinator = make_user("coordinator")
    assert coordinator.get("/api/v1/jobs").status_code == 403
    admin_user, _ = make_user("admin")
    _, phone = make_device(admin_user, client)
    resp = phone.get("/api/v1/jobs")  # an admin's phone: device tokens are refused
    assert resp.status_code == 403 and "device token" in resp.get_json()["detail"]
