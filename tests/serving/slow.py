"""Slow clients (a slowloris, and phones on 2G) and a latency probe, for the serving tests.

Run by hand against any server to compare set-ups, e.g. gunicorn alone:
    python -m tests.serving.slow http://127.0.0.1:8000 DEVICE_TOKEN
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests


class Drip:
    """Connections that each send one byte every `interval` seconds, in one thread."""

    def __init__(self, url: str, requests: list[tuple[bytes, bytes]],
                 interval: float = 2.0) -> None:
        """`requests`: (sent at once, then dripped) per connection."""
        parts = urlsplit(url)
        self.addr = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.bursts = [burst for burst, _ in requests]
        self.pending = [bytearray(drip) for _, drip in requests]
        self.interval = interval
        self.socks: list[socket.socket | None] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Drip:
        for burst in self.bursts:
            sock = socket.create_connection(self.addr, timeout=10)
            sock.sendall(burst)
            self.socks.append(sock)
        self._send_round()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        for s in self.socks:
            if s is not None:
                s.close()

    def _send_round(self) -> None:
        for i, s in enumerate(self.socks):
            if s is None or not self.pending[i]:
                continue
            try:
                s.send(self.pending[i][:1])
                del self.pending[i][:1]
            except OSError:
                self.socks[i] = None

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            self._send_round()

    def open_count(self) -> int:
        """Connections still open: the server has not dropped them."""
        alive = 0
        for s in self.socks:
            if s is None:
                continue
            try:
                s.setblocking(False)
                alive += s.recv(1, socket.MSG_PEEK) != b""
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
            finally:
                s.setblocking(True)
        return alive


def slow_logins(host: str, n: int) -> list[tuple[bytes, bytes]]:
    """POST /api/v1/auth/login: half drip the request head, half a whole head then the body."""
    body = b'{"username": "someone", "password": "' + b"x" * 60 + b'"}'
    head = (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: " + host.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n")
    return [(head, body) if i % 2 else (b"", head + body) for i in range(n)]


def probe(calls: dict[str, Callable[[], requests.Response]], seconds: float,
          every: float = 1.0) -> dict[str, list[float]]:
    """Call each endpoint every `every` s for `seconds`: its latencies (timeouts count 30 s)."""
    out: dict[str, list[float]] = {name: [] for name in calls}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for name, call in calls.items():
            start = time.monotonic()
            try:
                resp = call()
                ok = resp.status_code == 200
            except requests.RequestException:
                ok = False
            out[name].append(time.monotonic() - start if ok else 30.0)
        time.sleep(every)
    return out


def endpoints(url: str, device_token: str) -> dict[str, Callable[[], requests.Response]]:
    """/healthz and an authenticated first sync pull, each with a 30 s timeout."""
    auth = {"Authorization": f"Bearer {device_token}"}
    return {
        "healthz": lambda: requests.get(url + "/healthz", timeout=30),
        "sync pull": lambda: requests.get(url + "/api/v1/sync?last_pulled_at=null",
                                          headers=auth, timeout=30),
    }


if __name__ == "__main__":
    base, token = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    with Drip(base, slow_logins(urlsplit(base).netloc, n)) as drip:
        time.sleep(4)
        result = probe(endpoints(base, token), 10)
        print(f"{drip.open_count()}/{n} slow connections open")
    for name, values in result.items():
        print(f"{name}: max {max(values):.3f} s, median {sorted(values)[len(values) // 2]:.3f} s")
