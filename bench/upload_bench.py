"""Upload benchmark: tus through a real server process vs boto3 straight to the same S3.

    .venv/bin/python bench/upload_bench.py [--photos 200] [--big-mb 200] [--workers 4]
                                           [--png48 8] [--phases big,photos,png48]

Starts moto's S3 server and monitor-api under gunicorn (2 workers x 4 threads) on a fresh
database (`scripts/pg.sh recreate monitor_api_bench`, or BENCH_DATABASE_URL), uploads
200 JPEGs of 3-5 MB and one 200 MB file through /api/v1/uploads, then the same bytes with
boto3 `upload_fileobj`, and prints throughput, the ratio and the server's peak RSS
(sampled every 20 ms) per phase: it must not grow with file size. The tus client sends the
bytes with the POST (creation-with-upload, as phones should); the photos are also sent as
an empty POST plus PATCH (200 other photos) for comparison. The three photo clients take
turns in 4 rounds of 50 photos, the order rotating, and each phase's figures add up its
rounds: moto keeps every object in memory and slows down as it fills (a phase run first on
an empty store was up to 1.8x faster than the same phase later), so each client meets the
store in the same states. Before the rounds, 16 small photos are uploaded untimed (both
kinds, 4 at once) so that no phase pays a cold worker's first requests; boto3's client is
warm too. CPU seconds of the client, moto, gunicorn and the bench database's PostgreSQL
backends are printed per phase.
`--server-log FILE` keeps the server's INFO log (request durations). Verification runs in the
job worker (`monitor-api worker`, 2 threads), started once the uploads are in: the
`processing` phase is the time it takes to verify and derive everything queued, reported
separately. The `png48` phase uploads 8 distinct 48 MP (8000x6000) PNGs at once and reports
every server and worker process's RSS idle before, at its peak, and settled afterwards
(target: all < 512 MiB, back within 50 MiB of idle). The last line is all figures as one
JSON object.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import requests
from PIL import Image
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MiB = 1024 * 1024
CHUNK = 16 * MiB  # the tus client's PATCH size (a multiple of the server's 8 MiB part)
ROUNDS = 4  # the photo phases take turns in this many rounds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    raise SystemExit(f"{what} did not start")


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def backend_cpu(engine: Any) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the bench database (the
    cluster is shared with other jobs: only ours count)."""
    with engine.connect() as c:
        pids = [int(r[0]) for r in c.execute(text(
            "select pid from pg_stat_activity where datname = current_database() "
            "and pid <> pg_backend_pid()"))]
    return {pid: cpu_seconds([pid]) for pid in pids}


class RssSampler(threading.Thread):
    """Peak RSS of the gunicorn worker(s) under `master`, per named phase; and per process."""

    def __init__(self, master: int) -> None:
        super().__init__(daemon=True)
        self.master, self.phase, self.peaks = master, "idle", {}
        self.extra: list[int] = []  # the job worker, once started
        self.per_process: dict[str, dict[int, int]] = {}  # phase -> pid -> peak KiB
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            rss = {p: rss_kib(p) for p in [self.master, *children(self.master), *self.extra]}
            worst = max((v for p, v in rss.items() if p != self.master), default=0)
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), worst)
            peaks = self.per_process.setdefault(self.phase, {})
            for pid, kib in rss.items():
                peaks[pid] = max(peaks.get(pid, 0), kib)
            time.sleep(0.02)

    def now(self) -> dict[int, int]:
        """Every server process's RSS (KiB) right now."""
        return {p: rss_kib(p) for p in [self.master, *children(self.master), *self.extra]}


def base_jpegs() -> list[bytes]:
    """Three 12 MP photo-like JPEGs of about 3.2, 4.0 and 4.8 MB (3.1-4.6 MiB)."""
    rng = random.Random(7)
    out = []
    w, h = 4000, 3000
    grad = Image.linear_gradient("L").resize((w, h))
    for quality, noise in ((75, 16), (80, 20), (85, 20)):
        tile = Image.frombytes("L", (500, 500), bytes(rng.randrange(256) for _ in range(250000)))
        noise_img = Image.new("L", (w, h))
        for x in range(0, w, 500):
            for y in range(0, h, 500):
                noise_img.paste(tile, (x, y))
        r = Image.blend(grad, noise_img, noise / 100)
        img = Image.merge("RGB", (r, grad.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise_img))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        out.append(buf.getvalue())
    return out


def png48(count: int) -> list[bytes]:
    """`count` distinct 48 MP (8000x6000) photo-like PNGs: gradients under a noise tile."""
    w, h = 8000, 6000
    grad = Image.linear_gradient("L").resize((w, h))
    out = []
    for _ in range(count):
        tile = Image.frombytes("L", (512, 512), os.urandom(512 * 512))
        noise = Image.new("L", (w, h))
        for x in range(0, w, 512):
            for y in range(0, h, 512):
                noise.paste(tile, (x, y))
        img = Image.merge("RGB", (Image.blend(grad, noise, 0.15),
                                  grad.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise))
        buf = io.BytesIO()
        img.save(buf, "PNG", compress_level=1)
        out.append(buf.getvalue())
    return out


def memory_phase(base: str, token: str, db_url: str, visit_id: Any, sampler: RssSampler,
                 count: int) -> dict[str, Any]:
    """Upload `count` 48 MP PNGs at once; every server process's RSS before, peak, after."""
    t0 = time.monotonic()
    files = png48(count)
    print(f"generated {count} PNGs of 8000x6000 ({sum(map(len, files)) / MiB:.0f} MiB) in "
          f"{time.monotonic() - t0:.1f}s")
    ids = insert_photos(db_url, visit_id, files, mime="image/png")
    sampler.phase = "png48 idle"
    time.sleep(2)
    idle = sampler.now()
    sampler.phase = "png48"
    start = time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(lambda x: tus_upload(base, token, x[0], x[1]),
                      zip(ids, files, strict=True)))
    seconds = time.monotonic() - start
    wait_processed(db_url)  # the decodes run in the job worker
    seconds_processed = time.monotonic() - start
    sampler.phase = "png48 after"
    time.sleep(10)  # let the workers settle
    after = sampler.now()
    peaks = sampler.per_process["png48"]
    master = sampler.master
    rows = {("master" if pid == master else "job worker" if pid in sampler.extra
             else f"worker {pid}"): {
        "idle_mib": round(idle.get(pid, 0) / 1024), "peak_mib": round(peaks.get(pid, 0) / 1024),
        "after_mib": round(after.get(pid, 0) / 1024)} for pid in sorted(peaks)}
    print(f"{count} x 48 MP PNG at once: uploaded in {seconds:.1f}s, verified after "
          f"{seconds_processed:.1f}s; RSS per process (MiB):")
    print(f"{'process':16s} {'idle':>6s} {'peak':>6s} {'after':>6s}")
    for name, row in rows.items():
        print(f"{name:16s} {row['idle_mib']:6d} {row['peak_mib']:6d} {row['after_mib']:6d}")
    return {"count": count, "seconds": round(seconds, 1),
            "seconds_to_verified": round(seconds_processed, 1), "processes": rows,
            "max_peak_mib": max(r["peak_mib"] for r in rows.values()),
            "max_after_minus_idle_mib": max(r["after_mib"] - r["idle_mib"]
                                            for r in rows.values())}


def wait_processed(db_url: str, timeout: float = 3600) -> None:
    """Until no upload waits for its verification job."""
    engine = create_engine(db_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as c:
                if not c.execute(text("select count(*) from uploads "
                                      "where state = 'processing'")).scalar():
                    return
            time.sleep(0.1)
        raise SystemExit("the job worker did not finish in time")
    finally:
        engine.dispose()


def small_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.linear_gradient("L").resize((1200, 900)).convert("RGB").save(buf, "JPEG")
    return buf.getvalue()


def unique(jpeg: bytes) -> bytes:
    """The same picture with a random JPEG comment segment: a new hash, no re-encode."""
    payload = os.urandom(16)
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def setup_world(db_url: str) -> tuple[str, Any]:
    """A monitor, team, facility, visit and device; returns (device token, visit id)."""
    from sqlalchemy.orm import sessionmaker

    import monitor_api.models  # noqa: F401
    from monitor_api.accounts.devices import register_device
    from monitor_api.accounts.models import Team, TeamMember
    from monitor_api.accounts.service import create_user
    from monitor_api.auth import Principal
    from monitor_api.db import make_engine
    from monitor_api.facilities.models import Facility
    from monitor_api.visits.models import Visit

    factory = sessionmaker(make_engine(db_url), expire_on_commit=False)
    with factory.begin() as s:
        user = create_user(s, username="bench-monitor", display_name="bench", role="monitor",
                           password="bench bench bench")  # noqa: S106
        s.flush()
        team = Team(name="bench team", lead_id=user.id)
        s.add(team)
        s.flush()
        s.add(TeamMember(team_id=team.id, user_id=user.id))
        fac = Facility(code="BENCH-1", name="bench SIZO", facility_type="pretrial_detention",
                       authority="ministry_of_justice", region="TJ-DU",
                       location="SRID=4326;POINT(68.787 38.5598)")
        s.add(fac)
        s.flush()
        visit = Visit(facility_id=fac.id, team_id=team.id, status="in_progress")
        s.add(visit)
        s.flush()
        _, token = register_device(s, Principal(user.id, user.role, user.username),
                                   name="bench phone", platform="android", lifetime_days=1)
    return token, visit.id


def insert_photos(db_url: str, visit_id: Any, files: list[bytes],
                  mime: str = "image/jpeg") -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in files]
    engine = create_engine(db_url)
    with engine.begin() as c:
        for pid, data in zip(ids, files, strict=True):
            c.execute(text("insert into photos (id, visit_id, sha256, byte_size, mime_type, "
                           "consent) values (:i, :v, :s, :n, :m, 'obtained')"),
                      {"i": pid, "v": visit_id, "s": hashlib.sha256(data).hexdigest(),
                       "n": len(data), "m": mime})
    engine.dispose()
    return ids


def tus_upload(base: str, token: str, photo_id: uuid.UUID, data: bytes, *,
               with_upload: bool = True) -> None:
    """One upload as a phone sends it: by default creation-with-upload (the POST carries the
    first CHUNK bytes: a whole photo), else an empty POST and PATCHes."""
    headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in
                    {"photo_id": str(photo_id),
                     "sha256": hashlib.sha256(data).hexdigest()}.items())
    first = data[:CHUNK] if with_upload else b""
    body = {"Content-Type": "application/offset+octet-stream"} if first else {}
    with requests.Session() as http:
        resp = http.post(base + "/api/v1/uploads", data=first, timeout=600, headers={
            **headers, **body, "Upload-Length": str(len(data)), "Upload-Metadata": meta})
        if resp.status_code != 201:
            raise SystemExit(f"POST failed: {resp.status_code} {resp.text}")
        url = base + resp.headers["Location"]
        offset = int(resp.headers["Upload-Offset"])
        view = memoryview(data)
        while offset < len(data):
            chunk = view[offset:offset + CHUNK]
            resp = http.patch(url, data=bytes(chunk), timeout=600, headers={
                **headers, "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream"})
            if resp.status_code != 204:
                raise SystemExit(f"PATCH failed: {resp.status_code} {resp.text}")
            offset = int(resp.headers["Upload-Offset"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4, help="concurrent photo uploads")
    parser.add_argument("--png48", type=int, default=8, help="48 MP PNGs uploaded at once")
    parser.add_argument("--phases", default="big,photos,png48",
                        help="comma-separated subset of big,photos,png48")
    parser.add_argument("--server-log", default=None,
                        help="write the server's INFO log (request durations) to this file")
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    db_url = os.environ.get("BENCH_DATABASE_URL") or subprocess.run(
        ["bash", "scripts/pg.sh", "recreate", "monitor_api_bench"], cwd=ROOT, check=True,
        capture_output=True, text=True).stdout.strip()
    from monitor_api.migrate import upgrade

    upgrade(db_url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        s3_port, api_port = free_port(), free_port()
        s3_url = f"http://127.0.0.1:{s3_port}"
        procs.append(subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                       "-p", str(s3_port)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
        wait_http(s3_url + "/moto-api/", procs[-1], "moto")
        s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                          aws_access_key_id="bench",
                          aws_secret_access_key="bench")  # noqa: S106
        for bucket in ("bench-api", "bench-direct"):
            s3.create_bucket(Bucket=bucket)
        env = {**os.environ, "DATABASE_URL": db_url, "S3_BUCKET": "bench-api",
               "S3_ENDPOINT_URL": s3_url, "S3_ACCESS_KEY_ID": "bench",
               "S3_SECRET_ACCESS_KEY": "bench",
               "LOG_LEVEL": "INFO" if args.server_log else "WARNING", "HOST": "127.0.0.1",
               "PORT": str(api_port), "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4",
               "UPLOAD_MAX_BYTES": str(512 * MiB), "GUNICORN_TIMEOUT": "600"}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:monitor_api.gunicorn_conf",
             "monitor_api.app:create_app()"], cwd=ROOT, env=env, start_new_session=True,
            stderr=open(args.server_log, "wb") if args.server_log else None))  # noqa: SIM115
        base = f"http://127.0.0.1:{api_port}"
        wait_http(base + "/healthz", procs[-1], "monitor-api")
        token, visit_id = setup_world(db_url)

        sampler = RssSampler(procs[-1].pid)
        sampler.start()
        worker: list[subprocess.Popen[bytes]] = []

        def start_worker() -> None:
            if not worker:
                worker.append(subprocess.Popen(
                    [sys.executable, "-m", "monitor_api.cli", "worker"], cwd=ROOT,
                    env={**env, "JOB_CONCURRENCY": "2"}, start_new_session=True))
                procs.append(worker[0])
                sampler.extra.append(worker[0].pid)
        time.sleep(0.5)
        results: dict[str, tuple[int, float]] = {}
        report: dict[str, Any] = {"bench": "upload"}

        cpu: dict[str, dict[str, float]] = {}

        pg_engine = create_engine(db_url)

        def cpu_now() -> dict[str, Any]:
            server = procs[1].pid
            return {"client": sum(os.times()[:2]), "moto": cpu_seconds([procs[0].pid]),
                    "gunicorn": cpu_seconds([server, *children(server)]),
                    "postgres": backend_cpu(pg_engine)}

        def spent(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
            out = {k: round(after[k] - before[k], 2) for k in after if k != "postgres"}
            pg_before, pg_after = before["postgres"], after["postgres"]
            # A backend that started meanwhile counts whole; one that ended is missed.
            out["postgres"] = round(sum(v - pg_before.get(p, 0.0) for p, v in pg_after.items()),
                                    2)
            return out

        def run(name: str, fn: Any, items: list[Any], workers: int) -> None:
            sampler.phase = name
            before = cpu_now()
            start = time.monotonic()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(fn, items))
            size, secs = sum(len(x[-1]) for x in items), time.monotonic() - start
            done = spent(before, cpu_now())
            # A phase run in several rounds adds up.
            old_size, old_secs = results.get(name, (0, 0.0))
            results[name] = (old_size + size, old_secs + secs)
            cpu[name] = {k: round(cpu.get(name, {}).get(k, 0.0) + v, 2) for k, v in done.items()}
            sampler.phase = "idle"

        if phases & {"big", "photos"}:
            t0 = time.monotonic()
            bases = base_jpegs()
            photos = [unique(bases[i % len(bases)]) for i in range(args.photos)]
            big = os.urandom(args.big_mb * MiB)
            print(f"generated {len(photos)} photos ({sum(map(len, photos)) / MiB:.0f} MiB, "
                  f"{min(map(len, photos)) / MiB:.1f}-{max(map(len, photos)) / MiB:.1f} MiB "
                  f"each) and a {len(big) // MiB} MiB file in {time.monotonic() - t0:.1f}s")
            photo_ids = insert_photos(db_url, visit_id, photos)
            # The same pictures again (new hashes) for the plain POST + PATCH client.
            plain = [unique(bases[i % len(bases)]) for i in range(args.photos)]
            plain_pairs = list(zip(insert_photos(db_url, visit_id, plain), plain, strict=True))
            big_id = insert_photos(db_url, visit_id, [big])[0]
            pairs = list(zip(photo_ids, photos, strict=True))
            warm: list[bytes] = []  # untimed uploads before the photo phases
            # The big file first, on fresh workers: its peak shows what streaming 200 MB costs.
            if "big" in phases:
                run("tus big file", lambda x: tus_upload(base, token, x[0], x[1]),
                    [(big_id, big)], 1)
            if "photos" in phases:
                # Untimed: every server thread has served both kinds of upload (a cold
                # worker's first requests compile statements, as boto3's client is warm too).
                warm += [unique(small_jpeg()) for _ in range(16)]
                warm_pairs = list(zip(insert_photos(db_url, visit_id, warm), warm, strict=True))
                with ThreadPoolExecutor(args.workers) as pool:
                    list(pool.map(lambda x: tus_upload(base, token, x[1][0], x[1][1],
                                                       with_upload=x[0] % 2 == 0),
                                  enumerate(warm_pairs)))
                # The three clients take turns, a quarter of the photos each per round, the
                # order rotating: moto slows down as its store fills up (every PUT of the run
                # stays in its memory), so each must meet the store in the same states.
                clients = [
                    ("boto3 photos", lambda x: s3.upload_fileobj(
                        io.BytesIO(x[1]), "bench-direct", f"p/{x[0]}"), pairs),
                    ("tus photos", lambda x: tus_upload(base, token, x[0], x[1]), pairs),
                    ("tus photos POST+PATCH", lambda x: tus_upload(
                        base, token, x[0], x[1], with_upload=False), plain_pairs)]
                for r in range(ROUNDS):
                    turn = r % len(clients)
                    for name, fn, items in clients[turn:] + clients[:turn]:
                        run(name, fn, items[r::ROUNDS], args.workers)
            if "big" in phases:
                run("boto3 big file", lambda x: s3.upload_fileobj(
                    io.BytesIO(x[1]), "bench-direct", "big"), [(big_id, big)], 1)
            print(f"{'phase':22s} {'MiB':>8s} {'seconds':>8s} {'MiB/s':>8s}")
            for name, (size, secs) in results.items():
                print(f"{name:22s} {size / MiB:8.0f} {secs:8.1f} {size / MiB / secs:8.1f}")
                report[name] = {"mib": round(size / MiB), "seconds": round(secs, 1)}
            print("CPU seconds per phase: " + json.dumps(cpu))
            report["cpu_seconds"] = cpu
            for kind in ("big file", "photos", "photos POST+PATCH"):
                if f"tus {kind}" in results:
                    tus_rate = results[f"tus {kind}"][0] / results[f"tus {kind}"][1]
                    size, secs = results["boto3 big file" if kind == "big file"
                                         else "boto3 photos"]
                    s3_rate = size / secs
                    print(f"ratio tus/boto3 ({kind}): {tus_rate / s3_rate:.2f}")
                    report[f"ratio tus/boto3 ({kind})"] = round(tus_rate / s3_rate, 2)
            # Verification, reported apart: the worker drains what the uploads queued.
            sampler.phase = "processing"
            start = time.monotonic()
            start_worker()
            wait_processed(db_url)
            secs = time.monotonic() - start
            done = (2 * len(photos) + len(warm)) * ("photos" in phases) + ("big" in phases)
            mib = (sum(map(len, photos + plain + warm)) * ("photos" in phases)
                   + len(big) * ("big" in phases)) / MiB
            print(f"processing (job worker, 2 threads): {done} uploads, {mib:.0f} MiB in "
                  f"{secs:.1f}s: {done / secs:.1f} photos/s, {mib / secs:.1f} MiB/s")
            report["processing"] = {"uploads": done, "mib": round(mib), "seconds": round(
                secs, 1), "photos_per_second": round(done / secs, 2)}
            sampler.phase = "idle"
            peaks = {k: round(v / 1024) for k, v in sampler.peaks.items()
                     if v and not k.startswith("boto3")}
            print("server worker peak RSS (MiB): " + ", ".join(
                f"{k} {v}" for k, v in peaks.items()))
            report["worker_peak_rss_mib"] = peaks
        if "png48" in phases:
            start_worker()
            warm = [unique(small_jpeg()) for _ in range(4)]  # both workers have served
            for pid, data in zip(insert_photos(db_url, visit_id, warm), warm, strict=True):
                tus_upload(base, token, pid, data)
            report["png48"] = memory_phase(base, token, db_url, visit_id, sampler, args.png48)
        sampler.stop_event.set()

        engine = create_engine(db_url)
        with engine.connect() as c:
            statuses = dict(c.execute(text(
                "select upload_status, count(*) from photos group by 1")).all())
        engine.dispose()
        print(f"photo statuses after the run: {statuses} (the big file is random bytes: "
              "verified hash, then rejected by the magic-byte allow-list)")
        report["statuses"] = statuses
        print(json.dumps(report))
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
