"""Live fixtures: a bucket on moto's S3 server, real server processes, committed test data."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from sqlalchemy import Engine, text
from sqlalchemy.orm import sessionmaker

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "photo-evidence-test"
MAX_BYTES = 64 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3(s3_server: dict[str, str]) -> Any:
    """A boto3 client on moto's server, with the test bucket (Object Lock enabled)."""
    client = boto3.client("s3", endpoint_url=s3_server["endpoint_url"],
                          region_name=s3_server["region"],
                          aws_access_key_id=s3_server["access_key"],
                          aws_secret_access_key=s3_server["secret_key"])
    client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    return client


class ProcessGroup:
    """A process of ours in its own process group: killed as in a crash, or stopped."""

    GRACE = 15.0  # seconds a SIGTERM is given before SIGKILL

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def kill(self) -> None:
        """SIGKILL the whole process group: no graceful shutdown, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(self.GRACE)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None


class Server(ProcessGroup):
    """monitor-api under gunicorn in its own process group, on a free port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        super().__init__(env, log)
        self.url = ""

    def start(self) -> Server:
        port = free_port()
        env = {**self.env, "HOST": "127.0.0.1", "PORT": str(port)}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "python:monitor_api.gunicorn_conf",
                 "monitor_api.app:create_app()"], cwd=ROOT, env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.url + "/healthz", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.kill()
                raise RuntimeError(f"server did not start; see {self.log}")
            time.sleep(0.2)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


class JobWorker(ProcessGroup):
    """`monitor-api worker` (photo verification and the schedules) in its own process group."""

    GRACE = 40.0  # a job under way finishes first

    def start(self) -> JobWorker:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor_api.cli", "worker"], cwd=ROOT, env=self.env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker did not start; see {self.log}")
        return self


# The schedules of a real deployment never fire during a test run (tests run them by hand).
NEVER = "0 0 1 1 *"


@pytest.fixture(scope="session")
def server_env(database_url: str, s3_server: dict[str, str], s3: Any,
               tmp_path_factory: pytest.TempPathFactory, engine: Engine) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING",
            "S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": s3_server["endpoint_url"],
            "S3_REGION": s3_server["region"], "S3_ACCESS_KEY_ID": s3_server["access_key"],
            "S3_SECRET_ACCESS_KEY": s3_server["secret_key"], "S3_OBJECT_LOCK_DAYS": "1",
            "UPLOAD_MAX_BYTES": str(MAX_BYTES), "PRESIGN_SECONDS": "60",
            "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4",
            "JOB_CONCURRENCY": "2", "JOB_STALLED_SECONDS": "4",
            "JOBS_CLEAN_UPLOADS_CRON": NEVER, "JOBS_PRUNE_SYNC_CRON": NEVER,
            "MONITOR_STATE_DIR": str(tmp_path_factory.mktemp("state"))}


@pytest.fixture(scope="session")
def job_worker(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[JobWorker]:
    """One job worker for the session: the last PATCH only hands the bytes over to it."""
    worker = JobWorker(server_env, tmp_path_factory.mktemp("worker") / "worker.log").start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def live(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
         job_worker: JobWorker) -> Iterator[Server]:
    """One server process on S3 for the session."""
    srv = Server(server_env, tmp_path_factory.mktemp("srv") / "server.log").start()
    yield srv
    srv.stop()


@pytest.fixture
def new_server(server_env: dict[str, str], tmp_path: Path, job_worker: JobWorker
               ) -> Iterator[Any]:
    """Start extra servers (e.g. to kill one); every one is stopped after the test. A server
    with settings of its own (another store) gets a job worker with the same settings in
    place of the session's, as a deployment runs both from one configuration."""
    started: list[Server] = []
    workers: dict[tuple[tuple[str, str], ...], JobWorker] = {}

    def _start(**extra: str) -> Server:
        env = {**server_env, **extra}
        if extra and tuple(sorted(extra.items())) not in workers:
            job_worker.stop()
            for other in workers.values():
                other.stop()
            workers[tuple(sorted(extra.items()))] = JobWorker(
                env, tmp_path / f"worker{len(workers)}.log").start()
        srv = Server(env, tmp_path / f"server{len(started)}.log").start()
        started.append(srv)
        return srv

    yield _start
    for srv in started:
        srv.stop()
    if workers:
        for worker in workers.values():
            worker.stop()
        job_worker.start()


class World:
    """Users, teams, devices, facilities, visits and photos committed for a live server."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.factory = sessionmaker(engine, expire_on_commit=False)
        self.ids: dict[str, list[Any]] = {k: [] for k in (
            "users", "teams", "facilities", "visits", "photos")}

    def user(self, role: str) -> Any:
        from monitor_api.accounts.service import create_user

        with self.factory.begin() as s:
            name = f"photo-{role}-{uuid.uuid4().hex[:8]}"
            user = create_user(s, username=name, display_name=name, role=role,
                               password="correct horse battery staple")
            s.flush()
        self.ids["users"].append(user.id)
        return user

    def team(self, *users: Any) -> Any:
        from monitor_api.accounts.models import Team, TeamMember

        with self.factory.begin() as s:
            team = Team(name=f"photo-team-{uuid.uuid4().hex[:8]}", lead_id=users[0].id)
            s.add(team)
            s.flush()
            for u in users:
                s.add(TeamMember(team_id=team.id, user_id=u.id))
        self.ids["teams"].append(team.id)
        return team

    def add_member(self, team: Any, user: Any) -> None:
        from monitor_api.accounts.models import TeamMember

        with self.factory.begin() as s:
            s.add(TeamMember(team_id=team.id, user_id=user.id))

    def device(self, user: Any) -> tuple[uuid.UUID, str]:
        from monitor_api.accounts.devices import register_device
        from monitor_api.auth import Principal

        with self.factory.begin() as s:
            device, token = register_device(s, Principal(user.id, user.role, user.username),
                                            name="phone", platform="android", lifetime_days=30)
        return device.id, token

    def revoke(self, device_id: uuid.UUID) -> None:
        with self.engine.begin() as c:
            c.execute(text("update devices set revoked_at = now() where id = :id"),
                      {"id": device_id})

    def login(self, server: Server, user: Any) -> str:
        resp = requests.post(server.url + "/api/v1/auth/login", json={
            "username": user.username, "password": "correct horse battery staple"}, timeout=10)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["token"])

    def facility(self, lat: float = 38.5598, lng: float = 68.7870) -> Any:
        from monitor_api.facilities.models import Facility

        with self.factory.begin() as s:
            fac = Facility(code=f"PH-{uuid.uuid4().hex[:8]}", name="SIZO test",
                           facility_type="pretrial_detention", authority="ministry_of_justice",
                           region="TJ-DU", location=f"SRID=4326;POINT({lng} {lat})")
            s.add(fac)
        self.ids["facilities"].append(fac.id)
        return fac

    def visit(self, team: Any, facility: Any | None = None) -> Any:
        from monitor_api.visits.models import Visit

        facility = facility or self.facility()
        with self.factory.begin() as s:
            visit = Visit(facility_id=facility.id, team_id=team.id, status="in_progress")
            s.add(visit)
        self.ids["visits"].append(visit.id)
        return visit

    def photo(self, visit: Any, data: bytes, *, sha256: str | None = None,
              consent: str | None = "obtained", photo_id: uuid.UUID | None = None,
              mime_type: str = "image/jpeg") -> uuid.UUID:
        """Insert a photos record as the sync engine would (a plain INSERT)."""
        from datetime import UTC, datetime

        from monitor_api.photos.models import Photo

        with self.factory.begin() as s:
            photo = Photo(id=photo_id or uuid.uuid4(), visit_id=visit.id,
                          sha256=sha256 or hashlib.sha256(data).hexdigest(),
                          byte_size=len(data), mime_type=mime_type, consent=consent,
                          captured_at=datetime(2026, 11, 20, 5, 15, 30, tzinfo=UTC),
                          location="SRID=4326;POINT(68.79 38.56)")
            s.add(photo)
        self.ids["photos"].append(photo.id)
        return photo.id

    def settle(self, timeout: float = 90) -> None:
        """Wait until the verification jobs of this world's uploads have run."""
        deadline = time.monotonic() + timeout
        while True:
            with self.engine.connect() as c:
                waiting = c.execute(text(
                    "select count(*) from uploads where user_id = any(:u) "
                    "and state = 'processing'"), {"u": self.ids["users"]}).scalar()
                if not waiting:
                    return
                if time.monotonic() > deadline:
                    errors = c.execute(text(
                        "select task_name, error from job_failures order by id desc limit 5"
                    )).all()
                    raise AssertionError(f"{waiting} upload(s) still processing; {errors}")
            time.sleep(0.1)

    def scalar(self, sql: str, settle: bool = True, **params: Any) -> Any:
        """One value; by default once this world's uploads are verified (the job ran)."""
        if settle:
            self.settle()
        with self.engine.connect() as c:
            return c.execute(text(sql), params).scalar()

    def rows(self, sql: str, settle: bool = True, **params: Any) -> list[Any]:
        """Rows as mappings; by default once this world's uploads are verified."""
        if settle:
            self.settle()
        with self.engine.connect() as c:
            return list(c.execute(text(sql), params).mappings())

    def cleanup(self) -> None:
        users, visits = self.ids["users"], self.ids["visits"]
        with self.engine.begin() as c:
            # with the photo records phones synced into this world's visits
            photos = [*self.ids["photos"], *c.execute(text(
                "select id from photos where visit_id = any(:v)"), {"v": visits}).scalars()]
            shas = [r[0] for r in c.execute(text(
                "select coalesce(actual_sha256, declared_sha256) from uploads "
                "where user_id = any(:u)"), {"u": users})]
            c.execute(text("delete from photo_custody where photo_id = any(:p) or "
                           "photo_id in (select photo_id from uploads where user_id = any(:u))"),
                      {"p": photos, "u": users})
            c.execute(text("delete from uploads where user_id = any(:u)"), {"u": users})
            c.execute(text("delete from blobs where sha256 = any(:s)"), {"s": shas})
            c.execute(text("delete from photos where id = any(:i)"), {"i": photos})
            # What phones synced into this world's visits, children first.
            synced = ("findings", "room_inspections", "interviews")
            for table in synced:
                c.execute(text(f"delete from sync_revisions where record_id in "
                               f"(select id from {table} where visit_id = any(:v))"),
                          {"v": visits})
            for table in (*synced, "visit_indicators"):
                c.execute(text(f"delete from {table} where visit_id = any(:v)"), {"v": visits})
            c.execute(text("delete from sync_quarantine where user_id = any(:u)"), {"u": users})
            c.execute(text("delete from sync_tombstones where user_id = any(:u)"), {"u": users})
            for table in ("visits", "facilities"):
                c.execute(text(f"delete from {table} where id = any(:i)"),
                          {"i": self.ids[table]})
            c.execute(text("delete from sync_revisions where record_id = any(:i)"),
                      {"i": photos + self.ids["visits"]})
            c.execute(text("delete from devices where user_id = any(:u)"), {"u": users})
            c.execute(text("delete from auth_sessions where user_id = any(:u)"), {"u": users})
            c.execute(text("delete from team_members where user_id = any(:u)"), {"u": users})
            c.execute(text("delete from teams where id = any(:t)"), {"t": self.ids["teams"]})
            c.execute(text("delete from sync_scope_changes where user_id = any(:u) or "
                           "team_id = any(:t)"), {"u": users, "t": self.ids["teams"]})
            c.execute(text("delete from users where id = any(:u)"), {"u": users})


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    w = World(engine)
    yield w
    w.cleanup()


@pytest.fixture
def field(world: World) -> Any:
    """A monitor with a registered phone on a team with a visit at a facility."""

    class Field:
        monitor = world.user("monitor")
        device_id, token = world.device(monitor)
        team = world.team(monitor)
        facility = world.facility()
        visit = world.visit(team, facility)

    return Field
