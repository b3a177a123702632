"""pg_dump and pg_restore of the configured database (the password goes by environment)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


class ToolError(RuntimeError):
    """pg_dump or pg_restore is missing or failed."""


def tool(name: str) -> str:
    """The newest installed `name` (PG_BINDIR, Debian's /usr/lib/postgresql/<v>/bin, PATH)."""
    candidates = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]) / name)
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(Path(d).parent.name) if Path(d).parent.name.isdigit() else 0)
    candidates += [Path(d) / name for d in reversed(dirs)]
    for path in candidates:
        if path.is_file():
            return str(path)
    found = shutil.which(name)
    if found is None:
        raise ToolError(f"{name} not found: install the PostgreSQL client of the server's "
                        "major version (Debian: postgresql-client-15) or set PG_BINDIR")
    return found


def _conn(database_url: str) -> tuple[list[str], dict[str, str]]:
    url = make_url(database_url)
    args = ["--host", url.host or "localhost", "--port", str(url.port or 5432),
            "--username", url.username or "postgres", "--no-password"]
    env = {**os.environ, "PGPASSWORD": url.password or "", "PGDATABASE": url.database or ""}
    for key, value in (url.query or {}).items():  # sslmode=require and friends
        if key.startswith("ssl") and isinstance(value, str):
            env[f"PG{key.upper()}"] = value
    return args, env


def dump(database_url: str, path: Path) -> None:
    """A custom-format dump (compressed, restorable table by table) of the whole database."""
    args, env = _conn(database_url)
    _run([tool("pg_dump"), *args, "--format=custom", "--compress=6", "--file", str(path),
          "--dbname", env["PGDATABASE"]], env)


def restore(database_url: str, path: Path) -> None:
    """Restore a dump into an empty database, in one transaction (all or nothing)."""
    args, env = _conn(database_url)
    _run([tool("pg_restore"), *args, "--no-owner", "--no-privileges", "--exit-on-error",
          "--single-transaction", "--dbname", env["PGDATABASE"], str(path)], env)


def _run(cmd: list[str], env: dict[str, str]) -> None:
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise ToolError(f"{Path(cmd[0]).name} failed: {out.stderr.strip()[-2000:]}")
