"""The server as `make run` starts it (scripts/serve.sh: nginx in front of the gunicorn pools),
on a free port, against a migrated database of its own with committed users and devices."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy.orm import Session

from monitor_api.accounts.devices import register_device
from monitor_api.accounts.models import User
from monitor_api.auth import Principal
from monitor_api.db import make_engine
from tests.conftest import _free_port, own_database

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "metrics-token-for-the-tests-0123"


@pytest.fixture(scope="session")
def serve_db_url(database_url: str) -> Iterator[str]:
    """A database of our own next to the test database (dropped at the end)."""
    with own_database(database_url, "serve") as url:
        yield url


@dataclass
class Served:
    """A running scripts/serve.sh: its URL, port and process group."""

    url: str
    port: int
    pgid: int
    log: Path
    db_url: str

    def device_token(self, role: str = "admin") -> str:
        """A committed user of `role` with a registered phone: the device token."""
        engine = make_engine(self.db_url)
        try:
            with Session(engine) as s:
                user = User(username=f"serve-{role}-{secrets.token_hex(4)}", display_name=role,
                            role=role, password_hash="not-used")
                s.add(user)
                s.flush()
                _, token = register_device(s, Principal(user.id, user.role, user.username),
                                           name="phone", platform="android", lifetime_days=1)
                s.commit()
                return token
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def served(serve_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`bash scripts/serve.sh` as scripts/run.sh execs it, stopped (SIGTERM) at the end."""
    port = _free_port()
    tmp = tmp_path_factory.mktemp("served")
    env = {**os.environ, "DATABASE_URL": serve_db_url, "HOST": "127.0.0.1", "PORT": str(port),
           "BLOB_DIR": str(tmp / "blobs"), "MONITOR_STATE_DIR": str(tmp / "state"),
           "LOG_LEVEL": "WARNING", "METRICS_TOKEN": METRICS_TOKEN, "JOB_STALLED_SECONDS": "4",
           # phones of an older and a newer app (tests/serving/test_real_clients_nginx_live.py)
           "SYNC_SCHEMA_MAX": "2"}
    log = tmp / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["bash", "scripts/serve.sh"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if requests.get(url + "/readyz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"scripts/serve.sh did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield Served(url, port, proc.pid, log, serve_db_url)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
