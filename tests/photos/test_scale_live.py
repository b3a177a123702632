"""Several machines: two API instances and two job workers on one PostgreSQL and one S3.

Uploads start on one instance and finish on the other, two phones syncing through different
instances see the same records, and every verification job runs exactly once (counted by the
workers' own metrics) though both workers take jobs from the queue.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import requests

from tests.photos import images, tus
from tests.photos.conftest import JobWorker, free_port
from tests.photos.test_sync_live import _pull, _push, _raw, _status


def _jobs_run(url: str, task: str) -> float:
    body = requests.get(url, timeout=30).text
    total = 0.0
    for line in body.splitlines():
        if line.startswith("monitor_job_duration_seconds_count{") and \
                f'task="{task}"' in line and 'result="succeeded"' in line:
            total += float(line.rsplit(" ", 1)[1])
    assert re.search(r"^monitor_database_up 1\.0$", body, re.M), body[-500:]
    return total


def test_two_instances_two_workers_one_database_one_store(
        new_server: Any, world: Any, field: Any, job_worker: JobWorker,
        server_env: dict[str, str], tmp_path: Any) -> None:
    first, second = new_server(), new_server()
    job_worker.stop()  # only the two workers of this test take jobs
    metrics = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    workers = [JobWorker({**server_env, "METRICS_LISTEN": listen},
                         tmp_path / f"w{i}.log").start() for i, listen in enumerate(metrics)]
    try:
        # A second phone on the same team syncs through the other instance.
        colleague = world.user("monitor")
        world.add_member(field.team, colleague)
        _, other_token = world.device(colleague)
        start_a = _pull(first.url, field.token, None)
        start_b = _pull(second.url, other_token, None)
        uploads, records = 16, []
        for i in range(uploads):
            data = images.jpeg(1600, 1200, pad=300_000 + i)
            raw = _raw(field.visit.id, data)
            records.append(raw["id"])
            world.ids["photos"].append(uuid.UUID(raw["id"]))
            # The record by sync through one instance, the bytes half through each.
            _push((first, second)[i % 2].url, field.token, start_a["timestamp"], raw)
            url = tus.location(first.url, tus.create(first.url, field.token,
                                                     uuid.UUID(raw["id"]), data))
            half = len(data) // 2
            assert tus.patch(url, field.token, 0, data[:half]).status_code == 204
            url_b = second.url + url[len(first.url):]
            assert tus.head(url_b, field.token).headers["Upload-Offset"] == str(half)
            assert tus.patch(url_b, field.token, half, data[half:]).status_code == 204
        world.settle()
        # Each phone, through either instance, sees every record, verified.
        for base, token, start in ((second.url, field.token, start_a),
                                   (first.url, other_token, start_b)):
            pulled = _pull(base, token, start["timestamp"])
            assert [_status(pulled, rid) for rid in records] == ["verified"] * uploads
        # A cursor issued by one instance is valid on the other: nothing new, no replacement.
        again = _pull(first.url, other_token, pulled["timestamp"])
        assert "experimentalStrategy" not in again
        assert all(not v["created"] and not v["updated"] for v in again["changes"].values())
        counts = world.rows(
            "select u.id, count(c.id) as n from uploads u left join photo_custody c "
            "on c.upload_id = u.id and c.event = 'verified' where u.photo_id = any(:p) "
            "group by u.id", p=[uuid.UUID(r) for r in records])
        assert len(counts) == uploads and all(row["n"] == 1 for row in counts)
        per_worker = [_jobs_run(f"http://{listen}/metrics", "photos.verify")
                      for listen in metrics]
        assert sum(per_worker) == uploads, per_worker  # each job ran once, on one worker
        assert all(n > 0 for n in per_worker), per_worker  # both took jobs from the queue
        assert world.scalar("select count(*) from job_failures where task_name = "
                            "'photos.verify'") == 0
    finally:
        for worker in workers:
            worker.stop()
        job_worker.start()
