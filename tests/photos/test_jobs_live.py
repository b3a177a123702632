"""Photo verification as a background job: the last PATCH answers at once, the pull shows
`processing` then `verified`, a worker killed mid-job leaves nothing half done and the job
runs again, a failing attempt is kept with its error for the admins."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import requests

from tests.photos import images, tus
from tests.photos.conftest import BUCKET, JobWorker
from tests.photos.test_sync_live import _pull, _push, _raw, _status


def _wait(predicate: Any, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_last_patch_hands_over_and_the_pull_shows_processing_then_verified(
        live: Any, world: Any, field: Any, job_worker: JobWorker) -> None:
    data = images.jpeg()
    raw = _raw(field.visit.id, data)
    world.ids["photos"].append(uuid.UUID(raw["id"]))
    first = _pull(live.url, field.token, None)
    _push(live.url, field.token, first["timestamp"], raw)
    before = _pull(live.url, field.token, first["timestamp"])
    job_worker.stop()  # no worker: the PATCH must not wait for one
    try:
        url = tus.location(live.url, tus.create(live.url, field.token, uuid.UUID(raw["id"]),
                                                data))
        resp = tus.patch(url, field.token, 0, data)
        assert resp.status_code == 204 and resp.headers["Upload-Offset"] == str(len(data))
        assert world.scalar("select upload_status from photos where id = :i", settle=False,
                            i=raw["id"]) == "processing"
        assert tus.head(url, field.token).headers["Upload-Offset"] == str(len(data))
        # A retried last PATCH (its 204 was lost) is answered like the first one.
        again = tus.patch(url, field.token, len(data), b"")
        assert again.status_code == 204, again.text
        assert requests.delete(url, headers=tus.auth(field.token), timeout=30
                               ).status_code == 409  # evidence: no termination
        processing = _pull(live.url, field.token, before["timestamp"])
        assert _status(processing, raw["id"]) == "processing"
    finally:
        job_worker.start()
    world.settle()
    done = _pull(live.url, field.token, processing["timestamp"])
    assert _status(done, raw["id"]) == "verified"  # the pull carries the job's outcome
    events = [r["event"] for r in world.rows(
        "select event from photo_custody where photo_id = :i order by id", i=raw["id"])]
    assert events == ["captured", "upload_started", "verified", "derivative_made",
                      "derivative_made"]


def test_worker_killed_mid_job_leaves_nothing_half_done(
        live: Any, world: Any, field: Any, job_worker: JobWorker, server_env: dict[str, str],
        tmp_path: Any, s3: Any) -> None:
    job_worker.stop()
    try:
        for attempt in range(3):  # until the kill lands mid-job (a busy box may be fast…)
            # 24 MP plus 24 MiB of trailing bytes: the job downloads and decodes a while.
            data = images.jpeg(6000, 4000, pad=24 * 1024 * 1024)
            pid = world.photo(field.visit, data)
            tus.upload(live.url, field.token, pid, data)
            doomed = JobWorker(server_env, tmp_path / f"doomed{attempt}.log").start()
            try:
                _wait(lambda: world.scalar(
                    "select count(*) from procrastinate_jobs where status = 'doing' and "
                    "task_name = 'photos.verify'", settle=False) == 1, what="the job to start")
                time.sleep(0.3)  # into the download and decode
            finally:
                doomed.kill()
            if world.scalar("select upload_status from photos where id = :i", settle=False,
                            i=pid) == "processing":
                break
        else:
            raise AssertionError("the job always finished before the kill")
        sha = hashlib.sha256(data).hexdigest()
        assert world.scalar("select count(*) from blobs where sha256 = :s", settle=False,
                            s=sha) == 0
    finally:
        job_worker.start()
    world.settle()  # the stalled job was put back and run by the other worker
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"
    upload = world.rows("select * from uploads where photo_id = :i", i=pid)[0]
    assert upload["state"] == "complete" and upload["outcome"] == "verified"
    assert world.scalar("select count(*) from photo_custody where photo_id = :i and "
                        "event = 'verified'", i=pid) == 1
    assert world.scalar("select count(*) from derivatives where sha256 = :s", s=sha) == 2
    original = s3.get_object(Bucket=BUCKET, Key=f"originals/{sha[:2]}/{sha}")["Body"].read()
    assert hashlib.sha256(original).hexdigest() == sha
    # The job deletes the staged copy just after its commit: wait for that delete.
    _wait(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix=f"staging/{upload['id']}/").get(
        "KeyCount", 0) == 0, timeout=30, what="the staged copy to be deleted")


def test_failed_attempt_is_kept_with_its_error_for_admins(
        live: Any, world: Any, field: Any, job_worker: JobWorker, s3: Any) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    job_worker.stop()
    try:
        url = tus.upload(live.url, field.token, pid, data)
        upload_id = url.rsplit("/", 1)[1]
        key = world.scalar("select staging->>'final_key' from uploads where id = :i",
                           settle=False, i=upload_id)
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        s3.delete_object(Bucket=BUCKET, Key=key)  # the store lost it (for a while)
    finally:
        job_worker.start()
    _wait(lambda: world.scalar("select count(*) from job_failures where task_name = "
                               "'photos.verify' and job_id in (select id from "
                               "procrastinate_jobs where args->>'upload_id' = :u)",
                               settle=False, u=upload_id) >= 1, what="a failed attempt")
    admin = world.login(live, world.user("admin"))
    listed = requests.get(live.url + "/api/v1/jobs", params={"status": "todo",
                                                             "task": "photos.verify"},
                          headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    assert listed.status_code == 200, listed.text
    [job] = [j for j in listed.json()["items"] if j["args"] == {"upload_id": upload_id}]
    assert "NoSuchKey" in job["error"] and job["failures"][0]["will_retry"] is True
    assert world.scalar("select upload_status from photos where id = :i", settle=False,
                        i=pid) == "processing"  # nothing was written by the failed attempt
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)  # back: the retry (after 3 s) succeeds
    world.settle()
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"
    phone = requests.get(live.url + "/api/v1/jobs",
                         headers={"Authorization": f"Bearer {field.token}"}, timeout=30)
    assert phone.status_code == 403  # a device token never reaches the queue
