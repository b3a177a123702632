"""`monitor-api export DATASET --format … --out FILE [filters]`: offline handovers.

The same validation, rules, writers and audit entry as the HTTP endpoint; the command runs as
the system principal (an admin) unless `--as-role analyst|partner` asks for exactly what
that role would download. A progress bar is drawn when stdout is a terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from monitor_api.config import Settings

FILTER_OPTIONS = (  # (option, ExportArgs key, help)
    ("--from", "from", "visits on or after (YYYY-MM-DD)"),
    ("--to", "to", "visits on or before (YYYY-MM-DD)"),
    ("--region", "region", "ISO 3166-2:TJ region(s)"),
    ("--facility-type", "facility_type", "facility type(s)"),
    ("--authority", "authority", "authority(ies)"),
    ("--facility", "facility", "facility id(s)"),
    ("--theme", "theme", "checklist section(s)"),
    ("--severity", "severity", "finding severity(ies)"),
    ("--standard", "standard", "instrument or instrument:rule, e.g. mandela:44"),
    ("--recommendation-status", "recommendation_status", "latest review status(es)"),
)
DEST = {"from": "date_from", "to": "date_to"}


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """Validate, stream the export into FILE (atomically), print rows, bytes and SHA-256."""
    from sqlalchemy.orm import sessionmaker

    from monitor_api.audit.service import Actor
    from monitor_api.auth import SYSTEM_USER_ID, Principal
    from monitor_api.db import make_engine
    from monitor_api.exports import service
    from schemas.exports import ExportArgs, to_filters

    raw: dict[str, Any] = {"format": args.format, "lang": args.lang,
                           "published_only": args.published_only}
    for _option, key, _help in FILTER_OPTIONS:
        value = getattr(args, DEST.get(key, key))
        if value:
            raw[key] = value
    loaded = ExportArgs().load(raw)
    fmt = loaded.pop("format")
    principal = Principal(SYSTEM_USER_ID, args.as_role, "cli")
    plan = service.plan(principal, args.dataset, fmt, to_filters(loaded))
    engine = make_engine(settings.database_url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    bar = Progress(_count(sessions, plan)) if sys.stdout.isatty() else None
    out = Path(args.out)
    partial = out.with_name(f".{out.name}.part")
    stream = service.ExportStream(plan, sessions, settings, Actor(request_id="cli"))
    try:
        with open(partial, "wb") as file:
            for chunk in stream:
                file.write(chunk)
                if bar is not None:
                    bar.show(stream.rows, stream.size)
        os.replace(partial, out)
    finally:
        stream.close()
        partial.unlink(missing_ok=True)
        engine.dispose()
    if bar is not None:
        bar.done()
    print(f"{out}: {stream.rows} rows, {stream.size} bytes, "
          f"sha256 {stream.digest.hexdigest()} ({plan.dataset}, {fmt}, as {args.as_role})")
    return 0


def _count(sessions: Any, plan: Any) -> int:
    """Rows to expect (for the bar): one count per dataset."""
    import sqlalchemy as sa

    with sessions() as session:
        return sum(session.scalar(sa.select(sa.func.count()).select_from(
            query.select().subquery())) or 0 for _d, query in plan.parts)


class Progress:
    """`[#####     ]  52%  520,000/1,000,000 rows  48.1 MiB  61,000 rows/s` on one line."""

    def __init__(self, total: int) -> None:
        self.total, self.start, self.last = total, time.monotonic(), 0.0

    def show(self, rows: int, size: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        share = min(rows / self.total, 1.0) if self.total else 1.0
        filled = int(share * 30)
        rate = rows / max(now - self.start, 1e-6)
        sys.stdout.write(f"\r[{'#' * filled}{' ' * (30 - filled)}] {share:4.0%}  "
                         f"{rows:,}/{self.total:,} rows  {size / 2**20:.1f} MiB  "
                         f"{rate:,.0f} rows/s ")
        sys.stdout.flush()

    def done(self) -> None:
        sys.stdout.write("\n")


def _configure(parser: argparse.ArgumentParser) -> None:
    from monitor_api.exports.columns import LANGS
    from monitor_api.exports.datasets import BUNDLE, DATASETS
    from monitor_api.exports.service import FORMATS

    parser.add_argument("dataset", choices=[*DATASETS, BUNDLE])
    parser.add_argument("--format", default="csv", choices=FORMATS)
    parser.add_argument("--out", required=True, help="the file to write")
    for option, key, help_ in FILTER_OPTIONS:
        dest = DEST.get(key, key)
        if key in ("from", "to"):
            parser.add_argument(option, dest=dest, help=help_)
        else:
            parser.add_argument(option, dest=dest, action="append",
                                help=f"{help_}; repeat or comma-separate")
    parser.add_argument("--lang", default="en", choices=LANGS)
    parser.add_argument("--published-only", action="store_true",
                        help="leave out visits under review")
    parser.add_argument("--as-role", default="admin", choices=("admin", "analyst", "partner"),
                        help="export what this role may (default: admin, everything)")


def register() -> None:
    """Add the command to the CLI registry."""
    from monitor_api.cli import _EXTRA

    _EXTRA["export"] = ("export a dataset to a file (CSV, XLSX, GeoJSON, Parquet, ZIP)",
                        cmd_export, _configure)
