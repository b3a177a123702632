"""tus creation-with-upload: the POST's body is handled as a PATCH at offset 0 would be."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import uuid
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.photos import images, tus
from tests.photos.conftest import BUCKET

MiB = 1024 * 1024
OCTETS = {"Content-Type": "application/offset+octet-stream"}


def post(base: str, token: str, photo_id: uuid.UUID, body: bytes, *, whole: bytes,
         checksum: bytes | None = None, **headers: str) -> requests.Response:
    """POST an upload of `whole` whose body carries `body`."""
    h = {**tus.auth(token), **OCTETS, "Upload-Length": str(len(whole)),
         "Upload-Metadata": tus.metadata(photo_id, hashlib.sha256(whole).hexdigest()),
         **headers}
    if checksum is not None:
        h["Upload-Checksum"] = "sha256 " + base64.b64encode(checksum).decode()
    return requests.post(base + "/api/v1/uploads", data=body, headers=h, timeout=120)


def staged_keys(s3: Any, upload_id: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"staging/{upload_id}/")
    return [o["Key"] for o in listed.get("Contents", [])]


def test_options_advertise_it(live: Any) -> None:
    resp = requests.options(live.url + "/api/v1/uploads", timeout=10)
    assert "creation-with-upload" in resp.headers["Tus-Extension"].split(",")


def test_whole_photo_in_the_post_is_verified(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    resp = post(live.url, field.token, pid, data, whole=data,
                checksum=hashlib.sha256(data).digest())
    assert resp.status_code == 201, resp.text
    assert resp.headers["Upload-Offset"] == str(len(data))
    url = tus.location(live.url, resp)
    # Handed over in the same request: processing until the job ran, then verified.
    assert world.scalar("select upload_status from photos where id = :i", settle=False,
                        i=pid) in ("processing", "verified")
    assert tus.head(url, field.token).headers["Upload-Offset"] == str(len(data))
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"
    row = world.rows("select * from uploads where photo_id = :p", p=pid)[0]
    assert row["state"] == "complete" and row["outcome"] == "verified"
    assert row["actual_sha256"] == hashlib.sha256(data).hexdigest()
    events = [e["event"] for e in world.rows(
        "select event from photo_custody where photo_id = :p order by id", p=pid)]
    assert events[:3] == ["captured", "upload_started", "verified"]
    audited = world.scalar("select count(*) from audit_log where target_id = :p and "
                           "action = 'photo.upload_started'", p=str(pid))
    assert audited == 1
    # A repeated POST of the same bytes is deduplicated (the body is not needed).
    again = post(live.url, field.token, pid, data, whole=data)
    assert again.status_code == 201 and again.headers["Upload-Offset"] == str(len(data))


def test_partial_body_then_patch_resumes(live: Any, world: Any, field: Any, s3: Any) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    resp = post(live.url, field.token, pid, data[:5000], whole=data)
    assert resp.status_code == 201, resp.text
    assert resp.headers["Upload-Offset"] == "5000"
    url = tus.location(live.url, resp)
    assert tus.head(url, field.token).headers["Upload-Offset"] == "5000"
    upload_id = url.rsplit("/", 1)[1]
    assert staged_keys(s3, upload_id)  # the first bytes are staged (a tail object)
    assert tus.patch(url, field.token, 5000, data[5000:]).status_code == 204
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"


def test_wrong_checksum_is_460_and_nothing_kept(live: Any, world: Any, field: Any,
                                                s3: Any) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    resp = post(live.url, field.token, pid, data, whole=data,
                checksum=hashlib.sha256(b"something else").digest())
    assert resp.status_code == 460, resp.text
    assert resp.headers["Upload-Offset"] == "0"
    url = live.url + resp.headers["Location"]  # created; only the bytes were refused
    upload_id = url.rsplit("/", 1)[1]
    assert tus.head(url, field.token).headers["Upload-Offset"] == "0"  # nothing kept
    assert staged_keys(s3, upload_id) == []
    assert world.scalar("select upload_status from photos where id = :i", settle=False,
                        i=pid) == "pending"
    # The upload exists: the phone may send the bytes again by PATCH.
    assert tus.patch(url, field.token, 0, data).status_code == 204
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"


def test_body_longer_than_upload_length_is_413(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    h = {**tus.auth(field.token), **OCTETS, "Upload-Length": str(len(data)),
         "Upload-Metadata": tus.metadata(pid, hashlib.sha256(data).hexdigest())}
    resp = requests.post(live.url + "/api/v1/uploads", data=data + b"extra", headers=h,
                         timeout=60)
    assert resp.status_code == 413, resp.text
    assert world.scalar("select count(*) from uploads where photo_id = :p", settle=False,
                        p=pid) == 0


def test_wrong_content_type_is_415(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    resp = post(live.url, field.token, pid, data, whole=data,
                **{"Content-Type": "application/json"})
    assert resp.status_code == 415, resp.text


def test_dropped_post_keeps_the_bytes_that_arrived(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    parts = urlsplit(live.url)
    half = len(data) // 2
    head = (f"POST /api/v1/uploads HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {field.token}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Length: {len(data)}\r\n"
            f"Upload-Metadata: {tus.metadata(pid, hashlib.sha256(data).hexdigest())}\r\n"
            f"Content-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head + data[:half])
        sock.shutdown(socket.SHUT_WR)  # the link drops: no more bytes will come
        with contextlib.suppress(OSError):
            sock.recv(4096)
    row = world.rows("select id, \"offset\", state from uploads where photo_id = :p",
                     settle=False, p=pid)
    assert len(row) == 1 and row[0]["state"] == "open"
    assert 0 < row[0]["offset"] <= half  # what arrived is kept, its offset in the db
    url = f"{live.url}/api/v1/uploads/{row[0]['id']}"
    offset = int(tus.head(url, field.token).headers["Upload-Offset"])
    assert offset == row[0]["offset"]
    assert tus.patch(url, field.token, offset, data[offset:]).status_code == 204
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"


def test_body_over_one_part_goes_the_patch_way(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg(pad=9 * MiB)  # over the 8 MiB part: the row is committed first
    pid = world.photo(field.visit, data)
    resp = post(live.url, field.token, pid, data, whole=data)
    assert resp.status_code == 201, resp.text
    assert resp.headers["Upload-Offset"] == str(len(data))
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"


def test_refused_like_a_plain_post(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    session_token = world.login(live, field.monitor)  # a password session, not a phone
    assert post(live.url, session_token, pid, data, whole=data).status_code == 403
    assert requests.post(live.url + "/api/v1/uploads", data=data, timeout=30, headers={
        **tus.auth("md_not-a-token"), **OCTETS, "Upload-Length": str(len(data))}
    ).status_code == 401
    # Another team's photo: created as for an unknown id, never joins that record.
    other = world.user("monitor")
    other_visit = world.visit(world.team(other))
    theirs = world.photo(other_visit, data)
    resp = post(live.url, field.token, theirs, data, whole=data)
    assert resp.status_code == 201, resp.text
    assert world.scalar("select upload_status from photos where id = :i", i=theirs) == \
        "pending"
    assert world.scalar("select count(*) from uploads where photo_id = :p", p=pid) == 0
