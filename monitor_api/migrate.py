"""Run Alembic migrations programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def _root() -> Path:
    """The checkout (editable install), else the working directory (the image's /app, where
    alembic.ini and migrations/ sit beside the installed wheel)."""
    for candidate in (ROOT, Path.cwd()):
        if (candidate / "alembic.ini").is_file():
            return candidate
    raise FileNotFoundError("alembic.ini not found next to the package or in the working "
                            "directory; run from the project (or the image's /app)")


def alembic_config(url: str | None = None) -> Config:
    """Alembic config pointing at the project's migrations."""
    root = _root()
    cfg = Config(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision`; at head, also (re)install what the sync
    registry derives in the database: the record JSON triggers (`sync.stored`)."""
    command.upgrade(alembic_config(url), revision)
    if revision == "head":
        install_derived(url)


def install_derived(url: str) -> list[str]:
    """Install the record JSON triggers of the current registry where they changed
    (recomputing those tables' stored JSON); the tables done."""
    from monitor_api.db import make_engine
    from monitor_api.sync_api.registry import registry
    from sync import stored

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            return stored.install(conn, registry())
    finally:
        engine.dispose()
