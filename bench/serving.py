"""The benchmarks' server: gunicorn (1 worker x 2 threads by default) of the venv running the
benchmark, serving this checkout on a free port of 127.0.0.1, started and waited for."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from sqlalchemy import text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
APP = "monitor_api.app:create_app()"


def start_server(url: str, app: str = APP, root: Path = ROOT,
                 **env_extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start `app` (a gunicorn app spec; modules of the checkout at `root` and of its bench/
    importable) on the database `url`, with extra environment; (process, base URL) once
    /healthz answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = [str(root), str(root / "bench"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "DATABASE_URL": url, "PORT": str(port), "LOG_LEVEL": "WARNING",
           "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, path)),
           # its own control socket: a benchmark may run two servers at once
           "GUNICORN_CONTROL_SOCKET": f"{tempfile.gettempdir()}/monitor-bench-{port}.ctl",
           **env_extra}
    log = open(os.environ.get("BENCH_LOG", os.devnull), "a")  # noqa: SIM115 (lives on)
    # The gunicorn of this interpreter's venv (a worktree may have no .venv of its own).
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c",
                             "python:monitor_api.gunicorn_conf", app],
                            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(base + "/healthz", timeout=5)
            return proc, base
        except requests.RequestException:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start")


def settled(engine: Engine, limit: float = 120.0) -> float:
    """Wait until the server's background refresher has recomputed every visit the pushes
    marked (`monitor_api/histories/due.py`), so that its work never overlaps what is timed
    next; seconds waited (not counted in any figure)."""
    t0 = time.perf_counter()
    with engine.connect() as conn:
        while conn.execute(text("select exists (select 1 from indicators_due)")).scalar():
            conn.rollback()
            if time.perf_counter() - t0 > limit:
                raise RuntimeError("the background refresher did not finish")
            time.sleep(0.05)
    return time.perf_counter() - t0
