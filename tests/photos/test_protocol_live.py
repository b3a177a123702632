"""tus protocol errors over HTTP: offsets, checksums, hashes, sizes, expiry, scope, revocation."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.photos import images, tus
from tests.photos.conftest import BUCKET, MAX_BYTES, ROOT

PROBLEM = "application/problem+json"


def _problem(resp: requests.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith(PROBLEM)
    if resp.request.method == "HEAD":
        return {}  # HEAD answers carry no body
    body = resp.json()
    assert body["status"] == status
    if slug:
        assert body["type"] == f"/problems/{slug}"
    return body


def test_options_advertises_tus(live: Any) -> None:
    resp = requests.options(live.url + "/api/v1/uploads", timeout=10)
    assert resp.status_code == 204
    assert resp.headers["Tus-Version"] == "1.0.0"
    assert set(resp.headers["Tus-Extension"].split(",")) == {
        "creation", "creation-with-upload", "checksum", "termination", "expiration"}
    assert resp.headers["Tus-Max-Size"] == str(MAX_BYTES)
    assert resp.headers["Tus-Checksum-Algorithm"] == "sha256"


def test_missing_tus_resumable_is_412(live: Any, field: Any) -> None:
    resp = requests.post(live.url + "/api/v1/uploads", timeout=10,
                         headers={"Authorization": f"Bearer {field.token}", "Upload-Length": "1"})
    _problem(resp, 412)
    assert resp.headers["Tus-Version"] == "1.0.0"


def test_wrong_offset_is_409(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    url = tus.location(live.url, tus.create(live.url, field.token, pid, data))
    assert tus.patch(url, field.token, 0, data[:1000]).status_code == 204
    resp = tus.patch(url, field.token, 0, data[:1000])  # a replay of an acknowledged chunk
    _problem(resp, 409, "conflict")
    assert resp.headers["Upload-Offset"] == "1000"
    _problem(tus.patch(url, field.token, 5000, data[5000:6000]), 409)
    assert tus.head(url, field.token).headers["Upload-Offset"] == "1000"
    assert tus.patch(url, field.token, 1000, data[1000:]).status_code == 204
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"


def test_wrong_chunk_checksum_is_460_and_discarded(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    url = tus.location(live.url, tus.create(live.url, field.token, pid, data))
    chunk = data[:5000]
    bad = hashlib.sha256(b"something else").digest()
    _problem(tus.patch(url, field.token, 0, chunk, checksum=bad), 460, "checksum-mismatch")
    assert tus.head(url, field.token).headers["Upload-Offset"] == "0"  # nothing kept
    resp = tus.patch(url, field.token, 0, chunk, checksum=hashlib.sha256(chunk).digest())
    assert resp.status_code == 204 and resp.headers["Upload-Offset"] == "5000"
    unsupported = tus.patch(url, field.token, 5000, data[5000:],
                            **{"Upload-Checksum": "md5 AAAA"})
    _problem(unsupported, 400)
    assert tus.patch(url, field.token, 5000, data[5000:]).status_code == 204


def test_wrong_whole_file_hash_is_quarantined(live: Any, world: Any, field: Any,
                                              s3: Any) -> None:
    declared = images.jpeg()
    sent = bytearray(declared)
    sent[len(sent) // 2] ^= 0xFF  # one flipped byte in transit
    pid = world.photo(field.visit, declared)
    tus.upload(live.url, field.token, pid, bytes(sent),
               sha256=hashlib.sha256(declared).hexdigest())
    world.settle()  # the verification job ran
    assert world.scalar("select upload_status from photos where id = :i",
                        i=pid) == "hash_mismatch"
    row = world.rows("select * from uploads where photo_id = :p", p=pid)[0]
    assert row["outcome"] == "hash_mismatch"
    assert row["actual_sha256"] == hashlib.sha256(bytes(sent)).hexdigest()
    kept = s3.get_object(Bucket=BUCKET, Key=row["quarantine_key"])["Body"].read()
    assert kept == bytes(sent)  # the bytes are kept, in quarantine, not as an original
    events = [e["event"] for e in world.rows(
        "select event from photo_custody where photo_id = :p order by id", p=pid)]
    assert "hash_mismatch" in events and "verified" not in events


def test_over_size_is_413(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    _problem(tus.create(live.url, field.token, pid, data, length=MAX_BYTES + 1), 413)
    url = tus.location(live.url, tus.create(live.url, field.token, pid, data))
    _problem(tus.patch(url, field.token, 0, data + b"extra bytes"), 413)  # longer than declared
    assert tus.head(url, field.token).headers["Upload-Offset"] == "0"


def test_expired_upload_is_410_and_cleaned(live: Any, world: Any, field: Any, s3: Any,
                                           server_env: dict[str, str]) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    url = tus.location(live.url, tus.create(live.url, field.token, pid, data))
    assert "Upload-Expires" in tus.head(url, field.token).headers
    assert tus.patch(url, field.token, 0, data[:3000]).status_code == 204
    upload_id = url.rsplit("/", 1)[1]
    tail = world.scalar("select staging->>'tail_key' from uploads where id = :i", i=upload_id)
    assert s3.head_object(Bucket=BUCKET, Key=tail)["ContentLength"] == 3000
    with world.engine.begin() as c:
        c.execute(__import__("sqlalchemy").text(
            "update uploads set expires_at = now() - interval '1 minute' where id = :i"),
            {"i": upload_id})
    _problem(tus.head(url, field.token), 410)
    _problem(tus.patch(url, field.token, 3000, data[3000:]), 410, "gone")
    out = subprocess.run([str(Path(sys.executable).parent / "monitor-api"), "clean-uploads"],
                         cwd=ROOT, env=server_env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "expired" in out.stdout
    assert world.scalar("select state from uploads where id = :i", i=upload_id) == "expired"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"staging/{upload_id}/")
    assert listed.get("KeyCount", 0) == 0  # staged bytes deleted


def test_termination(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    url = tus.location(live.url, tus.create(live.url, field.token, pid, data))
    assert tus.patch(url, field.token, 0, data[:2000]).status_code == 204
    assert requests.delete(url, headers=tus.auth(field.token), timeout=10).status_code == 204
    _problem(tus.head(url, field.token), 410)


def test_another_teams_photo_answers_like_unknown(live: Any, world: Any, field: Any) -> None:
    other = world.user("monitor")
    other_visit = world.visit(world.team(other))
    data = images.jpeg()
    pid = world.photo(other_visit, data)
    # No existence oracle: 201 at offset 0 as for an unknown id, even with another hash
    # (a visible record with another hash would be a 409).
    for resp in (tus.create(live.url, field.token, pid, data),
                 tus.create(live.url, field.token, uuid.uuid4(), data),
                 tus.create(live.url, field.token, pid, data, sha256="b" * 64)):
        assert resp.status_code == 201, resp.text
        assert resp.headers["Upload-Offset"] == "0"
    # Someone else's upload is not visible either, even by its URL.
    mine = world.photo(field.visit, data)
    url = tus.location(live.url, tus.create(live.url, field.token, mine, data))
    _, other_token = world.device(other)
    _problem(tus.head(url, other_token), 404)
    _problem(tus.patch(url, other_token, 0, data), 404)
    # An upload that arrives before the record, from outside the visit's team, never joins it.
    early = uuid.uuid4()
    tus.upload(live.url, other_token, early, data)
    world.settle()  # the verification job ran
    world.photo(field.visit, data, photo_id=early)
    assert world.scalar("select upload_status from photos where id = :i", i=early) == "pending"


def test_revoked_device_is_401(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    url = tus.location(live.url, tus.create(live.url, field.token, pid, data))
    world.revoke(field.device_id)
    _problem(tus.patch(url, field.token, 0, data), 401, "device-revoked")
    _problem(tus.create(live.url, field.token, pid, data), 401, "device-revoked")
    session_only = world.login(live, field.monitor)  # a session token is not a device
    _problem(tus.create(live.url, session_only, pid, data), 403)


def test_upload_before_record_joins_on_arrival(live: Any, world: Any, field: Any) -> None:
    data = images.png()
    pid = uuid.uuid4()
    tus.upload(live.url, field.token, pid, data, filename="p.png")
    world.settle()  # the verification job ran
    world.photo(field.visit, data, photo_id=pid, mime_type="image/png")  # sync brings it later
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"


def test_dedupe_second_upload_complete_at_creation(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg()
    first = world.photo(field.visit, data)
    tus.upload(live.url, field.token, first, data)
    world.settle()  # the verification job ran
    second = world.photo(field.visit, data)  # the same picture attached to another finding
    resp = tus.create(live.url, field.token, second, data)
    assert resp.status_code == 201
    assert resp.headers["Upload-Offset"] == resp.headers["Upload-Length"] == str(len(data))
    assert world.scalar("select upload_status from photos where id = :i", i=second) == "verified"
    assert world.scalar("select deduplicated from uploads where photo_id = :i", i=second)
    assert world.scalar("select count(*) from blobs where sha256 = :s",
                        s=hashlib.sha256(data).hexdigest()) == 1


def test_garbage_metadata_is_422(live: Any, field: Any) -> None:
    resp = requests.post(live.url + "/api/v1/uploads", timeout=10, headers={
        **tus.auth(field.token), "Upload-Length": "10",
        "Upload-Metadata": "photo_id bm90LWEtdXVpZA==,sha256 " + base64.b64encode(
            os.urandom(3).hex().encode()).decode()})
    body = _problem(resp, 422)
    assert {"photo_id", "sha256"} <= set(body["errors"])


def test_concurrent_patch_is_409(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg(pad=300_000)
    pid = world.photo(field.visit, data)
    url = tus.location(live.url, tus.create(live.url, field.token, pid, data))
    parts = urlsplit(url)
    head = (f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {field.token}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as slow:
        slow.sendall(head + data[:1000])  # a phone on a slow link, mid-request
        key = int.from_bytes(uuid.UUID(url.rsplit("/", 1)[1]).bytes[:8], "big")
        deadline = time.monotonic() + 20
        while not world.scalar(
                "select count(*) from pg_locks where locktype = 'advisory' and granted and "
                "classid::bigint = :hi and objid::bigint = :lo and objsubid = 1",
                hi=key >> 32, lo=key & 0xFFFFFFFF):
            assert time.monotonic() < deadline, "the first PATCH never took the lock"
            time.sleep(0.05)
        _problem(tus.patch(url, field.token, 0, data), 409, "conflict")  # a second writer
        slow.sendall(data[1000:])
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += slow.recv(4096)
        assert answer.startswith(b"HTTP/1.1 204"), answer
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"
