"""The `monitor-api` command line, run as a real process against committed data.

Most commands run against a scratch database of their own (created and dropped here), so the
demo seed and the users they create never meet the other tests' data. verify-audit also runs
against the test database itself, where a tampered row is committed, detected and restored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from monitor_api.accounts.models import ROLES, Device, Team, TeamMember, User
from monitor_api.accounts.service import _verify
from monitor_api.audit.models import AuditEntry
from monitor_api.audit.service import record, verify_chain
from monitor_api.cli import main
from monitor_api.db import make_engine

ROOT = Path(__file__).resolve().parent.parent


def run_cli(url: str, *args: str, state_dir: Path | None = None,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m monitor_api.cli ...` as a real process."""
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    if state_dir is not None:
        env["MONITOR_STATE_DIR"] = str(state_dir)
    return subprocess.run([sys.executable, "-m", "monitor_api.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, input=stdin)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run the console script's main() in this process (a process start costs seconds)."""

    def _run(url: str, *args: str, state_dir: Path | None = None
             ) -> subprocess.CompletedProcess[str]:
        monkeypatch.setenv("DATABASE_URL", url)
        if state_dir is not None:
            monkeypatch.setenv("MONITOR_STATE_DIR", str(state_dir))
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse errors, "no such user"
            code = exc.code if isinstance(exc.code, int) else 1
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
        out = capsys.readouterr()
        return subprocess.CompletedProcess(["monitor-api", *args], code, out.out, out.err)

    return _run


@pytest.fixture(scope="module")
def scratch(database_url: str) -> Iterator[tuple[str, Engine]]:
    """A fresh, empty database next to the test database; dropped afterwards."""
    url = make_url(database_url)
    name = f"{url.database}_cli"
    admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
            conn.execute(text(f'create database "{name}"'))
    except Exception as exc:  # e.g. a CI role without CREATEDB
        admin.dispose()
        pytest.skip(f"cannot create a scratch database: {exc}")
    scratch_url = url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(scratch_url)
    yield scratch_url, engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


@pytest.fixture(scope="module")
def migrated(scratch: tuple[str, Engine]) -> tuple[str, Engine]:
    url, engine = scratch
    out = run_cli(url, "migrate")
    assert out.returncode == 0, out.stderr
    assert "migrated to head" in out.stdout
    return url, engine


def test_migrate_is_idempotent_and_at_head(cli: Any, migrated: tuple[str, Engine]) -> None:
    from alembic.script import ScriptDirectory

    from monitor_api.migrate import alembic_config

    url, engine = migrated
    again = cli(url, "migrate")
    assert again.returncode == 0, again.stderr
    with engine.connect() as conn:
        current = set(conn.scalars(text("select version_num from alembic_version")))
    assert current == set(ScriptDirectory.from_config(alembic_config()).get_heads())


def test_seed_demo_once(cli: Any, migrated: tuple[str, Engine], tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    url, engine = migrated
    monkeypatch.setenv("BLOB_DIR", str(tmp_path / "blobs"))  # sample photos: tests/test_demo.py
    out = cli(url, "seed-demo", "--if-empty", state_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    creds_file = tmp_path / f"demo-credentials-{make_url(url).database}.json"
    creds = json.loads(creds_file.read_text())
    assert oct(creds_file.stat().st_mode & 0o777) == "0o600"
    with Session(engine) as s:
        for role in ROLES:
            user = s.scalar(select(User).where(User.username == f"demo-{role.replace('_', '-')}"))
            assert user is not None and user.role == role
            assert _verify(user.password_hash, creds[user.username])
            assert creds[user.username] in out.stdout
        assert s.scalar(text("select count(*) from facilities where is_sample")) > 0
    again = cli(url, "seed-demo", "--if-empty", state_dir=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already present" in again.stdout
    with Session(engine) as s:
        assert s.scalar(text("select count(*) from users where username like 'demo-%'")) == \
            len(ROLES)


def test_create_user(cli: Any, migrated: tuple[str, Engine]) -> None:
    url, engine = migrated
    out = cli(url, "create-user", "cli-alice", "--role", "monitor", "--name", "Alice",
                  "--email", "alice@example.org", "--password", "a long cli password")
    assert out.returncode == 0, out.stderr
    with Session(engine) as s:
        user = s.scalar(select(User).where(User.username == "cli-alice"))
        assert user is not None and str(user.id) == out.stdout.strip()
        assert user.role == "monitor" and user.display_name == "Alice"
        assert _verify(user.password_hash, "a long cli password")
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "user.create",
                                                 AuditEntry.target_id == str(user.id)))
    taken = cli(url, "create-user", "cli-alice", "--role", "monitor", "--password",
                    "another long password")
    assert taken.returncode == 1
    assert "taken" in taken.stderr


@pytest.mark.parametrize("args", [
    ("cli-bob", "--role", "superuser", "--password", "a long cli password"),
    ("Bad Name!", "--role", "monitor", "--password", "a long cli password"),
    ("cli-carol", "--role", "monitor", "--password", "short"),
])
def test_create_user_rejects_bad_input_cleanly(cli: Any, migrated: tuple[str, Engine],
                                               args: tuple[str, ...]) -> None:
    url, engine = migrated
    out = cli(url, "create-user", *args)
    assert out.returncode in (1, 2), out
    assert "Traceback" not in out.stderr
    with Session(engine) as s:
        assert s.scalar(select(User).where(User.username == args[0])) is None


def test_create_team(cli: Any, migrated: tuple[str, Engine]) -> None:
    url, engine = migrated
    for name in ("cli-lead", "cli-mon"):
        role = "coordinator" if name == "cli-lead" else "monitor"
        assert cli(url, "create-user", name, "--role", role, "--password",
                       "a long cli password").returncode == 0
    out = cli(url, "create-team", "CLI team", "--lead", "cli-lead", "--members", "cli-mon")
    assert out.returncode == 0, out.stderr
    with Session(engine) as s:
        team = s.scalar(select(Team).where(Team.name == "CLI team"))
        assert team is not None and str(team.id) == out.stdout.strip()
        members = set(s.scalars(select(User.username).join(TeamMember)
                                .where(TeamMember.team_id == team.id)))
        assert members == {"cli-lead", "cli-mon"}
        lead = s.scalar(select(User.id).where(User.username == "cli-lead"))
        assert team.lead_id == lead
    dup = cli(url, "create-team", "CLI team")
    assert dup.returncode == 1 and "Traceback" not in dup.stderr
    missing = cli(url, "create-team", "Other team", "--members", "nobody-here")
    assert missing.returncode != 0 and "nobody-here" in (missing.stderr + missing.stdout)
    with Session(engine) as s:
        assert s.scalar(select(Team).where(Team.name == "Other team")) is None


def test_register_and_revoke_device(cli: Any, migrated: tuple[str, Engine]) -> None:
    from monitor_api.auth import hash_token

    url, engine = migrated
    assert cli(url, "create-user", "cli-phone-owner", "--role", "monitor", "--password",
                   "a long cli password").returncode == 0
    out = cli(url, "register-device", "cli-phone-owner", "--name", "Redmi",
                  "--platform", "android")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    with Session(engine) as s:
        device = s.get(Device, data["device_id"])
        assert device is not None and device.token_hash == hash_token(data["token"])
    revoked = cli(url, "revoke-device", data["device_id"], "--reason", "lost on a visit")
    assert revoked.returncode == 0, revoked.stderr
    with Session(engine) as s:
        device = s.get(Device, data["device_id"])
        assert device is not None and device.revoked_at is not None
        assert device.revoke_reason == "lost on a visit"
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "device.revoke",
                                                 AuditEntry.target_id == data["device_id"]))
    again = cli(url, "revoke-device", data["device_id"])
    assert again.returncode == 1 and "already revoked" in again.stderr
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        out = cli(url, "revoke-device", bad)
        assert out.returncode in (1, 2) and "Traceback" not in out.stderr, out.stderr
    partner = cli(url, "create-user", "cli-partner", "--role", "partner", "--password",
                      "a long cli password")
    assert partner.returncode == 0
    out = cli(url, "register-device", "cli-partner", "--name", "x")
    assert out.returncode == 1 and "Traceback" not in out.stderr


def test_verify_audit_on_scratch(cli: Any, migrated: tuple[str, Engine]) -> None:
    url, _ = migrated
    out = cli(url, "verify-audit")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "intact" in out.stdout


def test_missing_database_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["verify-audit"]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err


@pytest.fixture
def committed_entries(engine: Engine) -> Iterator[list[int]]:
    """Three committed audit entries in the test database (the log cannot be cleaned up; its
    entries stay valid links of the chain)."""
    with Session(engine) as s:
        for n in range(3):
            record(s, "qa.cli_verify", target_type="test", target_id=n, details={"n": n})
        s.commit()
        ids = list(s.scalars(select(AuditEntry.id).where(AuditEntry.action == "qa.cli_verify")
                             .order_by(AuditEntry.id.desc()).limit(3)))
    yield sorted(ids)


def _set_details(engine: Engine, entry_id: int, details: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text("alter table audit_log disable trigger user"))
        conn.execute(text("update audit_log set details = cast(:d as jsonb) where id = :id"),
                     {"d": json.dumps(details), "id": entry_id})
        conn.execute(text("alter table audit_log enable trigger user"))


def test_verify_audit_names_a_tampered_row(cli: Any, engine: Engine, database_url: str,
                                           committed_entries: list[int]) -> None:
    intact = cli(database_url, "verify-audit")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    victim = committed_entries[1]
    with Session(engine) as s:
        original = s.scalar(select(AuditEntry.details).where(AuditEntry.id == victim))
    _set_details(engine, victim, {"n": 99})
    try:
        broken = run_cli(database_url, "verify-audit")
        assert broken.returncode == 1
        assert f"BROKEN at row {victim}" in broken.stdout
        with Session(engine) as s:
            assert verify_chain(s).broken_id == victim
    finally:
        _set_details(engine, victim, original)
    restored = cli(database_url, "verify-audit")
    assert restored.returncode == 0, restored.stdout
