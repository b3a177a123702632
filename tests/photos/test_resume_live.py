"""Resumable for real: a dropped connection, a killed server, bytes staged in S3 meanwhile."""

from __future__ import annotations

import contextlib
import hashlib
import io
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from tusclient import client as tus_client
from tusclient.uploader import Uploader

from tests.photos import images, tus
from tests.photos.conftest import BUCKET

MiB = 1024 * 1024


class Sha256Uploader(Uploader):
    """tuspy's uploader sending Upload-Checksum with sha256 (tuspy's default is sha1)."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


def uploader(base: str, token: str, data: bytes, *, url: str | None = None,
             metadata: dict[str, str] | None = None, chunk_size: int = 3 * MiB) -> Uploader:
    client = tus_client.TusClient(base + "/api/v1/uploads",
                                  headers={"Authorization": f"Bearer {token}"})
    return Sha256Uploader(file_stream=io.BytesIO(data), client=client, url=url,
                          metadata=metadata, chunk_size=chunk_size, upload_checksum=True)


def send_half_and_drop(url: str, token: str, data: bytes) -> int:
    """PATCH the whole length but close the socket after half the body; return bytes sent."""
    parts = urlsplit(url)
    half = len(data) // 2
    head = (f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
            f"Content-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head + data[:half])
        sock.shutdown(socket.SHUT_WR)  # the link drops: no more bytes will come
        sock.settimeout(30)
        with contextlib.suppress(OSError):
            sock.recv(4096)  # the server notices the early end and keeps what it got
    return half


def download_original(base: str, token: str, photo_id: Any) -> bytes:
    resp = requests.get(f"{base}/api/v1/photos/{photo_id}/original",
                        headers={"Authorization": f"Bearer {token}"}, timeout=60,
                        allow_redirects=False)
    assert resp.status_code == 302, resp.text
    assert "X-Amz-Expires=60" in resp.headers["Location"]  # presigned and short-lived
    return requests.get(resp.headers["Location"], timeout=60).content


def test_dropped_connection_then_tuspy_resumes(live: Any, world: Any, field: Any,
                                               s3: Any) -> None:
    data = images.jpeg(pad=19 * MiB)  # a valid JPEG with trailing bytes: several S3 parts
    sha = hashlib.sha256(data).hexdigest()
    pid = world.photo(field.visit, data)
    url = tus.location(live.url, tus.create(live.url, field.token, pid, data))
    sent = send_half_and_drop(url, field.token, data)

    offset = int(tus.head(url, field.token).headers["Upload-Offset"])
    assert 0 < offset <= sent  # what arrived before the drop is kept, offset in the db
    staged = world.scalar("select staging from uploads where id = :i",
                          i=url.rsplit("/", 1)[1])
    assert staged["size"] == offset and staged["parts"]  # whole parts went to S3 multipart

    up = uploader(live.url, field.token, data, url=url)
    assert up.offset == offset  # tuspy asked the server (HEAD) where to continue
    up.upload()
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"
    assert download_original(live.url, field.token, pid) == data  # byte-identical
    key = world.scalar("select storage_key from blobs where sha256 = :s", s=sha)
    assert key.endswith(sha)
    stored = s3.head_object(Bucket=BUCKET, Key=key)
    assert stored["ObjectLockMode"] == "COMPLIANCE"  # Object Lock retention on the original
    assert stored["ContentLength"] == len(data)


def test_resume_after_server_killed(new_server: Any, world: Any, field: Any) -> None:
    data = images.jpeg(pad=25 * MiB)
    sha = hashlib.sha256(data).hexdigest()
    pid = world.photo(field.visit, data)
    first = new_server()
    up = uploader(first.url, field.token, data,
                  metadata={"photo_id": str(pid), "sha256": sha})
    up.upload(stop_at=len(data) // 2)
    done = up.offset
    assert 0 < done < len(data)
    path = urlsplit(up.url).path
    # A PATCH still streaming when the process dies: a part reaches S3, nothing is committed.
    with socket.create_connection(("127.0.0.1", urlsplit(first.url).port), timeout=30) as sock:
        sock.sendall((f"PATCH {path} HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {field.token}\r\nTus-Resumable: 1.0.0\r\n"
                      f"Upload-Offset: {done}\r\n"
                      "Content-Type: application/offset+octet-stream\r\n"
                      f"Content-Length: {len(data) - done}\r\n\r\n").encode()
                     + data[done:done + 9 * MiB])  # of about 10 MiB still to come
        time.sleep(1.0)
        first.kill()  # SIGKILL: the process and its in-memory hash state are gone

    second = new_server()
    resumed = uploader(second.url, field.token, data, url=second.url + path)
    assert resumed.offset == done  # offsets live in the database, bytes in S3
    resumed.upload()
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"
    upload = world.rows("select * from uploads where photo_id = :p", p=pid)[0]
    assert upload["actual_sha256"] == sha and upload["outcome"] == "verified"
    assert download_original(second.url, field.token, pid) == data


def test_server_side_encryption_and_readiness(new_server: Any, world: Any, field: Any,
                                              s3: Any) -> None:
    srv = new_server(S3_SSE="AES256")
    ready = requests.get(srv.url + "/readyz", timeout=10).json()
    assert ready["checks"]["blob_store"] == "ok"
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    tus.upload(srv.url, field.token, pid, data)
    world.settle()  # the verification job ran
    sha = hashlib.sha256(data).hexdigest()
    keys = [world.scalar("select storage_key from blobs where sha256 = :s", s=sha),
            f"derivatives/{sha[:2]}/{sha}/display.jpg"]
    for key in keys:
        assert s3.head_object(Bucket=BUCKET, Key=key)["ServerSideEncryption"] == "AES256"
