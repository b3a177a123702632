"""Exports through a real gunicorn and the real command line, on committed data (a database
of their own): the audit entry carries the SHA-256 of the bytes the client received; a client
that drops the connection mid-stream leaves `export.aborted`; `monitor-api export` writes
the same file, audited, with a progress bar on a terminal."""

from __future__ import annotations

import hashlib
import io
import os
import pty
import secrets
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from monitor_api.accounts.models import AuthSession, User
from monitor_api.auth import SESSION_PREFIX, new_token
from monitor_api.db import make_engine, utcnow
from monitor_api.migrate import upgrade
from tests.exports.conftest import read_csv
from tests.photos.conftest import Server

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
ROWS = 150_000  # several MiB of CSV: more than socket buffers hold
KEY = "live-test-" + "k" * 40
FILL = f"""
insert into teams (id, name) values (gen_random_uuid(), 'live-' || md5(random()::text));
insert into facilities (id, code, name, facility_type, authority, region, location)
values (gen_random_uuid(), 'LIVE-1', 'IVS live', 'police_custody', 'ministry_of_interior',
        'TJ-SU', 'SRID=4326;POINT(69.6 40.28)');
insert into visits (id, facility_id, team_id, visit_type, announced, joint_with_ombudsman,
                    status, started_at, published_at)
select gen_random_uuid(), (select id from facilities), (select id from teams), 'in_depth',
       false, false, 'reported', timestamptz '2024-01-01 09:00+00' + (g || ' days')::interval,
       now() from generate_series(1, 300) g;
insert into findings (id, visit_id, theme, severity, title, standard_refs, is_systemic,
                      status)
select gen_random_uuid(), v.id, 'treatment', 'serious', 'Finding, "quoted" ' || g,
       '[{{"instrument": "mandela", "rule": "44"}}]', false, 'confirmed'
from visits v, generate_series(1, {ROWS // 300}) g;
"""


@pytest.fixture(scope="module")
def live_db(database_url: str) -> Iterator[tuple[str, str]]:
    """A committed database: 150k findings and an analyst's session token."""
    url = make_url(database_url)
    name = f"{url.database}_exports_live"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        conn.execute(sa.text(f'create database "{name}"'))
    own = url.set(database=name).render_as_string(hide_password=False)
    upgrade(own)
    engine = make_engine(own)
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for statement in FILL.split(";\n"):
            if statement.strip():
                raw.execute(statement)
    with Session(engine) as s:
        user = User(username=f"live-analyst-{secrets.token_hex(3)}", display_name="live",
                    role="analyst", password_hash="!nologin")
        s.add(user)
        s.flush()
        token, token_hash = new_token(SESSION_PREFIX)
        now = utcnow()
        s.add(AuthSession(user_id=user.id, token_hash=token_hash, created_at=now,
                          last_used_at=now, expires_at=now + timedelta(hours=1)))
        s.commit()
    engine.dispose()
    yield own, token
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


@pytest.fixture(scope="module")
def server(live_db: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("exports-live")
    env = {**os.environ, "DATABASE_URL": live_db[0], "LOG_LEVEL": "WARNING",
           "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2", "EXPORT_PSEUDONYM_KEY": KEY,
           "MONITOR_STATE_DIR": str(tmp / "state")}
    srv = Server(env, tmp / "server.log").start()
    yield srv
    srv.stop()


def _audit(url: str, action: str, **match: str) -> dict[str, Any] | None:
    """The newest audit entry of `action` whose details match, waiting up to 30 s."""
    engine = make_engine(url)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                for details, request_id in conn.execute(sa.text(
                        "select details, request_id from audit_log where action = :a "
                        "order by id desc"), {"a": action}):
                    if all(details.get(k) == v for k, v in match.items()):
                        return {**details, "request_id": request_id}
            time.sleep(0.2)
        return None
    finally:
        engine.dispose()


def test_download_over_http_is_audited_with_the_hash_received(
        server: Server, live_db: tuple[str, str]) -> None:
    url, token = live_db
    digest, size = hashlib.sha256(), 0
    with requests.get(f"{server.url}/api/v1/exports/findings?format=csv",
                      headers={"Authorization": f"Bearer {token}"}, stream=True,
                      timeout=120) as resp:
        assert resp.status_code == 200 and resp.headers["Transfer-Encoding"] == "chunked"
        body = io.BytesIO()
        for chunk in resp.iter_content(65536):
            digest.update(chunk)
            size += len(chunk)
            body.write(chunk)
    rows = read_csv(body.getvalue())
    assert len(rows) == ROWS and rows[0]["title"].startswith('Finding, "quoted"')
    entry = _audit(url, "export.findings", sha256=digest.hexdigest())
    assert entry is not None, "no audit entry with the hash of the bytes received"
    assert entry["rows"] == ROWS and entry["bytes"] == size and entry["role"] == "analyst"


def test_client_dropping_the_connection_leaves_export_aborted(
        server: Server, live_db: tuple[str, str]) -> None:
    url, token = live_db
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(f"GET /api/v1/exports/findings?format=csv&lang=ru HTTP/1.1\r\n"
                     f"Host: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        received = b""
        while len(received) < 256 * 1024:
            received += sock.recv(65536)
        assert received.startswith(b"HTTP/1.1 200")
        # The client goes away mid-stream (a reset, as when a laptop loses its network).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    entry = _audit(url, "export.aborted", dataset="findings", reason="client disconnected")
    assert entry is not None and entry["filters"] == {"lang": "ru"}
    assert 0 < entry["bytes"] < 10 * 2**20 and entry["rows"] < ROWS
    # The server is fine and the next export completes.
    again = requests.get(f"{server.url}/api/v1/exports/visits?format=csv",
                         headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert again.status_code == 200 and len(read_csv(again.content)) == 300


def test_command_line_export_is_the_same_file_audited(live_db: tuple[str, str],
                                                      tmp_path: Path) -> None:
    url, _token = live_db
    env = {**os.environ, "DATABASE_URL": url, "EXPORT_PSEUDONYM_KEY": KEY,
           "LOG_LEVEL": "WARNING"}
    out = tmp_path / "findings.csv"
    args = [sys.executable, "-m", "monitor_api.cli", "export", "findings", "--format", "csv",
            "--out", str(out), "--as-role", "analyst", "--region", "TJ-SU"]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "\r[" not in done.stdout  # stdout is not a terminal: no bar
    data = out.read_bytes()
    assert f"{ROWS} rows" in done.stdout and hashlib.sha256(data).hexdigest() in done.stdout
    entry = _audit(url, "export.findings", sha256=hashlib.sha256(data).hexdigest())
    assert entry is not None and entry["request_id"] == "cli"
    assert entry["filters"] == {"region": ["TJ-SU"]} and entry["role"] == "analyst"
    # On a terminal, a progress bar.
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*args[:-4], "--out", str(tmp_path / "again.csv")], cwd=ROOT,
                            env=env, stdout=follower, stderr=subprocess.PIPE)
    os.close(follower)
    screen = b""
    while True:
        try:
            piece = os.read(leader, 4096)
        except OSError:
            break
        if not piece:
            break
        screen += piece
    assert proc.wait(300) == 0
    os.close(leader)
    assert b"\r[" in screen and b"rows/s" in screen and f"{ROWS:,}".encode() in screen
    # Bad input is a message and exit status 1, no file.
    bad = subprocess.run([*args[:4], "visits", "--out", str(tmp_path / "bad.csv"), "--severity",
                          "serious"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 1 and "severity" in bad.stderr
    assert not (tmp_path / "bad.csv").exists()
