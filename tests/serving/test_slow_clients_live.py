"""Slow clients cannot take the service down (issue 7, item 9), with the server started as
`make run` starts it: 256 connections dripping one byte every 2 s into POST /auth/login, or a
dozen phones uploading photos over a stalled link, and /healthz and a sync pull still answer
within 1 s. Uploads still stream: a link that drops mid-chunk keeps the bytes that arrived.

(gunicorn alone, as `make run` served before: every probe timed out with 16 such connections;
`python -m tests.serving.slow URL DEVICE_TOKEN` measures any server.)"""

from __future__ import annotations

import hashlib
import socket
import time
import uuid

import requests
import sqlalchemy as sa

from monitor_api.db import make_engine
from tests.photos import tus
from tests.serving.conftest import Served
from tests.serving.slow import Drip, endpoints, probe, slow_logins

LIMIT_S = 1.0  # the acceptance criterion of the issue


def _assert_fast(latencies: dict[str, list[float]]) -> None:
    for name, values in latencies.items():
        assert len(values) >= 5, (name, values)
        assert max(values) < LIMIT_S, f"{name} answered in {max(values):.2f} s: {values}"


def test_256_slow_logins_do_not_starve_healthz_or_sync(served: Served) -> None:
    token = served.device_token()
    n = 256
    with Drip(served.url, slow_logins(f"127.0.0.1:{served.port}", n)) as drip:
        time.sleep(4)  # two drips: a gunicorn thread per connection would be stuck by now
        latencies = probe(endpoints(served.url, token), seconds=10)
        still_open = drip.open_count()
    assert still_open == n  # the attack lasted the whole window: nothing was simply dropped
    _assert_fast(latencies)


def _create_upload(served: Served, token: str, length: int) -> str:
    data = b"\0" * length  # the declared hash does not matter: the bytes never all arrive
    resp = tus.create(served.url, token, uuid.uuid4(), data,
                      sha256=hashlib.sha256(data).hexdigest())
    return tus.location(served.url, resp)


def _patch_head(served: Served, location: str, token: str, length: int) -> bytes:
    path = location.removeprefix(served.url)
    return (f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
            f"Authorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
            f"Content-Type: application/offset+octet-stream\r\nContent-Length: {length}\r\n"
            "\r\n").encode()


def test_slow_uploads_queue_among_themselves_not_before_sync(served: Served) -> None:
    token = served.device_token("monitor")
    length = 1024 * 1024
    phones = [(_patch_head(served, _create_upload(served, token, length), token, length)
               + b"\xff" * 4096, b"\xff" * 64) for _ in range(12)]  # twice the upload threads
    with Drip(served.url, phones) as drip:
        time.sleep(2)
        latencies = probe(endpoints(served.url, token), seconds=8)
        still_open = drip.open_count()
    assert still_open == len(phones)
    _assert_fast(latencies)


def test_an_upload_cut_mid_chunk_keeps_the_bytes_that_arrived(served: Served) -> None:
    token = served.device_token("monitor")
    length, sent = 1024 * 1024, 300 * 1024
    location = _create_upload(served, token, length)
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(_patch_head(served, location, token, length) + b"\x01" * sent)
        time.sleep(1)  # the bytes travel through nginx as they arrive, not at the end
    deadline = time.monotonic() + 20
    while True:
        offset = int(tus.head(location, token).headers["Upload-Offset"])
        if offset == sent or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert offset == sent
    # and the phone resumes from there
    resp = tus.patch(location, token, sent, b"\x01" * 1024)
    assert resp.status_code == 204, resp.text
    assert int(resp.headers["Upload-Offset"]) == sent + 1024


def test_nginx_answers_its_own_errors_as_problem_json(served: Served) -> None:
    too_big = requests.post(served.url + "/api/v1/users", data=b"{" + b" " * (3 << 20) + b"}",
                            headers={"Content-Type": "application/json"}, timeout=30)
    assert too_big.status_code == 413
    assert too_big.headers["Content-Type"] == "application/problem+json"
    assert too_big.json()["limit"] == 2 * 1024 * 1024
    options = requests.options(served.url + "/api/v1/uploads", timeout=10)
    assert options.status_code == 204 and options.content == b""
    assert "Content-Type" not in options.headers


def test_the_client_address_is_nginxs_peer_not_a_forged_header(served: Served) -> None:
    # Login throttling and the audit log key on it: a client must not choose it.
    resp = requests.post(served.url + "/api/v1/auth/login", timeout=30,
                         json={"username": f"nobody-{uuid.uuid4().hex[:8]}", "password": "x" * 12},
                         headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.status_code == 401, resp.text
    engine = make_engine(served.db_url)
    try:
        with engine.connect() as conn:
            ip = conn.scalar(sa.text("select ip from audit_log where action = "
                                     "'auth.login_failed' order by id desc limit 1"))
    finally:
        engine.dispose()
    assert ip == "127.0.0.1"
