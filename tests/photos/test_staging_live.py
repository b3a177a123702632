"""No untracked staged bytes: a killed PATCH, a rejected chunk, then DELETE or clean-uploads."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import text

from tests.photos import images, tus
from tests.photos.conftest import BUCKET, ROOT

MiB = 1024 * 1024


def staged(s3: Any, upload_id: str) -> tuple[list[str], list[str]]:
    """(multipart upload ids, object keys) the bucket holds under staging/<upload_id>/."""
    prefix = f"staging/{upload_id}/"
    mps = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", [])
    objs = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return [m["UploadId"] for m in mps], [o["Key"] for o in objs]


def after_job(s3: Any, upload_id: str, timeout: float = 15) -> tuple[list[str], list[str]]:
    """staged() once the verification job had time to delete the staged copy: it does so
    just after its commit, so the photo may show `verified` a moment before."""
    deadline = time.monotonic() + timeout
    while (found := staged(s3, upload_id)) != ([], []) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def wait_for_part(s3: Any, upload_id: str, timeout: float = 30) -> str:
    """Wait until a part of the upload's multipart upload is in S3; return its upload id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mp_id in staged(s3, upload_id)[0]:
            parts = s3.list_parts(Bucket=BUCKET, Key=f"staging/{upload_id}/assembled",
                                  UploadId=mp_id).get("Parts", [])
            if parts:
                return mp_id
        time.sleep(0.1)
    raise AssertionError("no part reached S3")


def start_patch(url: str, token: str, offset: int, total: int, body: bytes) -> socket.socket:
    """A PATCH announcing `total` bytes that sends only `body` (and keeps the socket open)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.sendall((f"PATCH {parts.path} HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n"
                  f"Upload-Offset: {offset}\r\n"
                  "Content-Type: application/offset+octet-stream\r\n"
                  f"Content-Length: {total}\r\n\r\n").encode() + body)
    return sock


def clean_uploads(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([str(Path(sys.executable).parent / "monitor-api"), "clean-uploads",
                          *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_killed_patch_parts_are_tracked_then_freed_by_delete(new_server: Any, world: Any,
                                                            field: Any, s3: Any) -> None:
    data = images.jpeg(pad=20 * MiB)
    pid = world.photo(field.visit, data)
    first = new_server()
    url = tus.location(first.url, tus.create(first.url, field.token, pid, data))
    upload_id = url.rsplit("/", 1)[1]
    sock = start_patch(url, field.token, 0, len(data), data[:9 * MiB])
    mp_id = wait_for_part(s3, upload_id)  # an 8 MiB part is in S3, the PATCH still open
    # The multipart id is in the row before the PATCH ends, committed on its own.
    assert world.scalar("select staging->>'multipart_id' from uploads where id = :i",
                        i=upload_id) == mp_id
    first.kill()  # SIGKILL mid-PATCH
    sock.close()

    second = new_server()
    url2 = second.url + urlsplit(url).path
    assert tus.head(url2, field.token).headers["Upload-Offset"] == "0"
    assert requests.delete(url2, headers=tus.auth(field.token), timeout=30).status_code == 204
    assert staged(s3, upload_id) == ([], [])  # the part went with the multipart upload


def test_killed_patch_then_resumed_leaves_nothing(new_server: Any, world: Any, field: Any,
                                                 s3: Any) -> None:
    data = images.jpeg(pad=20 * MiB)
    pid = world.photo(field.visit, data)
    first = new_server()
    url = tus.location(first.url, tus.create(first.url, field.token, pid, data))
    upload_id = url.rsplit("/", 1)[1]
    sock = start_patch(url, field.token, 0, len(data), data[:9 * MiB])
    wait_for_part(s3, upload_id)
    first.kill()
    sock.close()

    second = new_server()
    url2 = second.url + urlsplit(url).path
    resp = tus.patch(url2, field.token, 0, data)  # the whole file again, from the offset
    assert resp.status_code == 204, resp.text
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"
    assert after_job(s3, upload_id) == ([], [])  # the killed attempt's part was the same upload's


def test_rejected_chunk_then_delete_leaves_nothing(live: Any, world: Any, field: Any,
                                                  s3: Any) -> None:
    data = images.jpeg(pad=20 * MiB)
    pid = world.photo(field.visit, data)
    url = tus.location(live.url, tus.create(live.url, field.token, pid, data))
    upload_id = url.rsplit("/", 1)[1]
    assert tus.patch(url, field.token, 0, data[:3 * MiB]).status_code == 204  # a tail object
    chunk = data[3 * MiB:15 * MiB]  # fills a part: a multipart upload starts
    resp = tus.patch(url, field.token, 3 * MiB, chunk, checksum=hashlib.sha256(b"x").digest())
    assert resp.status_code == 460, resp.text
    mps, objs = staged(s3, upload_id)
    recorded = world.scalar("select staging from uploads where id = :i", i=upload_id)
    assert mps == [recorded["multipart_id"]]  # tracked, not orphaned
    assert objs == [recorded["tail_key"]]  # the rejected attempt's own tail is gone already
    assert requests.delete(url, headers=tus.auth(field.token), timeout=30).status_code == 204
    assert staged(s3, upload_id) == ([], [])


def test_rejected_chunk_then_resumed_leaves_nothing(live: Any, world: Any, field: Any,
                                                   s3: Any) -> None:
    data = images.jpeg(pad=20 * MiB)
    pid = world.photo(field.visit, data)
    url = tus.location(live.url, tus.create(live.url, field.token, pid, data))
    upload_id = url.rsplit("/", 1)[1]
    bad = tus.patch(url, field.token, 0, data[:12 * MiB], checksum=b"\0" * 32)
    assert bad.status_code == 460
    resp = tus.patch(url, field.token, 0, data, checksum=hashlib.sha256(data).digest())
    assert resp.status_code == 204, resp.text
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"
    assert after_job(s3, upload_id) == ([], [])


def test_patch_holds_no_transaction_while_streaming(live: Any, world: Any, field: Any,
                                                    database_url: str) -> None:
    data = images.jpeg(pad=2 * MiB)
    pid = world.photo(field.visit, data)
    url = tus.location(live.url, tus.create(live.url, field.token, pid, data))
    with start_patch(url, field.token, 0, len(data), data[:MiB]):
        time.sleep(1.0)  # the server is waiting for the rest of the body
        idle = world.scalar("select count(*) from pg_stat_activity where datname = "
                            "current_database() and state like 'idle in transaction%'")
    assert idle == 0


def _orphans(s3: Any, upload_id: str) -> None:
    """A multipart upload with a part and a tail object under staging/<upload_id>/."""
    key = f"staging/{upload_id}/assembled"
    mp = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key=key, UploadId=mp, PartNumber=1, Body=os.urandom(1024))
    s3.put_object(Bucket=BUCKET, Key=f"staging/{upload_id}/tail-{uuid.uuid4().hex}",
                  Body=b"photo bytes")


def test_clean_uploads_sweeps_bytes_of_no_open_upload(live: Any, world: Any, field: Any,
                                                      s3: Any, server_env: dict[str, str]
                                                      ) -> None:
    ids = {}
    for state in ("open", "complete", "processing", "terminated", "expired"):
        data = images.jpeg()
        url = tus.location(live.url, tus.create(live.url, field.token,
                                                world.photo(field.visit, data), data))
        ids[state] = url.rsplit("/", 1)[1]
        if state == "complete":
            assert tus.patch(url, field.token, 0, data).status_code == 204
            world.settle()  # its verification job ran
        elif state == "processing":  # waiting for its verification job (however long)
            with world.engine.begin() as c:
                c.execute(text("update uploads set state = 'processing' where id = :i"),
                          {"i": ids[state]})
        elif state == "terminated":
            assert requests.delete(url, headers=tus.auth(field.token), timeout=10
                                   ).status_code == 204
        elif state == "expired":
            with world.engine.begin() as c:
                c.execute(text("update uploads set state = 'expired' where id = :i"),
                          {"i": ids[state]})
    ids["unknown"] = str(uuid.uuid4())
    for upload_id in ids.values():
        _orphans(s3, upload_id)

    # The safety age: objects written just now stay (moto dates every multipart upload 2010,
    # so only the objects show it here).
    clean_uploads(server_env)
    assert all(len(staged(s3, i)[1]) == 1 for i in ids.values())

    out = clean_uploads(server_env, "--min-age-hours", "0")
    assert "removed" in out
    for state, upload_id in ids.items():
        mps, objs = staged(s3, upload_id)
        if state in ("open", "processing"):  # in flight, or not yet verified: kept
            assert len(mps) == 1 and len(objs) == 1
        else:
            assert (mps, objs) == ([], []), state


def test_local_store_leaves_no_staging_files(new_server: Any, world: Any, field: Any,
                                             server_env: dict[str, str], tmp_path: Path
                                             ) -> None:
    blobs = tmp_path / "blobs"
    env = {"S3_BUCKET": "", "BLOB_DIR": str(blobs)}
    srv = new_server(**env)
    data = images.jpeg(pad=3 * MiB)
    url = tus.location(srv.url, tus.create(srv.url, field.token,
                                           world.photo(field.visit, data), data))
    upload_id = url.rsplit("/", 1)[1]
    staging = blobs / "staging" / upload_id / "data"
    assert tus.patch(url, field.token, 0, data[:3000]).status_code == 204
    bad = tus.patch(url, field.token, 3000, data[3000:MiB], checksum=b"\0" * 32)
    assert bad.status_code == 460
    assert staging.stat().st_size == 3000  # the rejected bytes are cut off at once

    # SIGKILL mid-PATCH: the bytes past the recorded offset are cut by the next attempt,
    # and DELETE removes the directory.
    sock = start_patch(url, field.token, 3000, len(data) - 3000, data[3000:2 * MiB])
    deadline = time.monotonic() + 30
    while staging.stat().st_size < MiB and time.monotonic() < deadline:
        time.sleep(0.05)
    srv.kill()
    sock.close()
    srv = new_server(**env)
    url = srv.url + urlsplit(url).path
    assert tus.head(url, field.token).headers["Upload-Offset"] == "3000"
    assert requests.delete(url, headers=tus.auth(field.token), timeout=30).status_code == 204
    assert not staging.parent.exists()

    # Leftovers of no open upload (a crash between filing and committing, a deleted row)
    # are swept; an open upload's file stays.
    data = images.jpeg()
    url = tus.location(srv.url, tus.create(srv.url, field.token,
                                           world.photo(field.visit, data), data))
    assert tus.patch(url, field.token, 0, data[:100]).status_code == 204
    open_dir = blobs / "staging" / url.rsplit("/", 1)[1]
    for name in (upload_id, str(uuid.uuid4()), "not-an-upload"):
        (blobs / "staging" / name).mkdir(parents=True, exist_ok=True)
        (blobs / "staging" / name / "data").write_bytes(b"photo bytes")
    local_env = {**server_env, **env}
    clean_uploads(local_env)  # younger than the safety age: kept
    assert len(list((blobs / "staging").iterdir())) == 4
    clean_uploads(local_env, "--min-age-hours", "0")
    assert list((blobs / "staging").iterdir()) == [open_dir]
    assert (open_dir / "data").stat().st_size == 100


def test_deploy_lifecycle_rule_is_accepted_by_s3(s3: Any) -> None:
    import json

    rule = json.loads((ROOT / "deploy" / "s3-lifecycle.json").read_text())
    bucket = f"lifecycle-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=rule)
    (got,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert got["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert got["Filter"] == {"Prefix": "staging/"}
    s3.delete_bucket(Bucket=bucket)


def test_delete_waits_for_the_patch_it_aborts(live: Any, world: Any, field: Any,
                                              s3: Any) -> None:
    # tus-js-client's abort(true): the PATCH is cut off and DELETE follows at once. The
    # DELETE must free what that PATCH was still writing, not only what was recorded before.
    data = images.jpeg(pad=20 * MiB)
    pid = world.photo(field.visit, data)
    url = tus.location(live.url, tus.create(live.url, field.token, pid, data))
    upload_id = url.rsplit("/", 1)[1]
    sock = start_patch(url, field.token, 0, len(data), data[:9 * MiB])
    wait_for_part(s3, upload_id)
    answers: list[int] = []
    deleting = threading.Thread(target=lambda: answers.append(requests.delete(
        url, headers=tus.auth(field.token), timeout=30).status_code))
    deleting.start()
    time.sleep(1.0)
    sock.close()  # the PATCH ends early: its 9 MiB are recorded, then the DELETE runs
    deleting.join(30)
    assert answers == [204]
    assert world.scalar("select state from uploads where id = :i", i=upload_id) == "terminated"
    assert staged(s3, upload_id) == ([], [])


def test_parts_lost_by_the_store_expire_the_upload(live: Any, world: Any, field: Any,
                                                   s3: Any) -> None:
    data = images.jpeg(pad=20 * MiB)
    pid = world.photo(field.visit, data)
    url = tus.location(live.url, tus.create(live.url, field.token, pid, data))
    upload_id = url.rsplit("/", 1)[1]
    assert tus.patch(url, field.token, 0, data[:10 * MiB]).status_code == 204
    mp_id = world.scalar("select staging->>'multipart_id' from uploads where id = :i",
                         i=upload_id)
    # What a lifecycle rule does to an upload open for too long.
    s3.abort_multipart_upload(Bucket=BUCKET, Key=f"staging/{upload_id}/assembled",
                              UploadId=mp_id)
    resp = tus.patch(url, field.token, 10 * MiB, data[10 * MiB:])
    assert resp.status_code == 410, resp.text
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert world.scalar("select state from uploads where id = :i", i=upload_id) == "expired"
    assert staged(s3, upload_id) == ([], [])
