"""`monitor-api prune-sync`: apply the sync retention (tombstones, scope log, idempotency)."""

from __future__ import annotations

import argparse
from datetime import timedelta

from monitor_api.config import Settings


def cmd_prune_sync(settings: Settings, args: argparse.Namespace) -> int:
    """Prune what is older than SYNC_RETENTION_DAYS / SYNC_IDEMPOTENCY_DAYS; print counts."""
    from monitor_api.cli import _session
    from sync.retention import prune

    days = args.days if args.days is not None else settings.sync_retention_days
    with _session(settings) as session:
        counts = prune(session, retention=timedelta(days=days),
                       idempotency_retention=timedelta(days=settings.sync_idempotency_days))
    print("pruned " + ", ".join(f"{n} {name}" for name, n in counts.items())
          + f" (retention {days} days; older phone cursors get the full dataset)")
    return 0


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=None,
                        help="override SYNC_RETENTION_DAYS for this run (>= 1)")


def register() -> None:
    """Add the command to the CLI registry."""
    from monitor_api.cli import _EXTRA

    _EXTRA["prune-sync"] = ("prune sync tombstones, scope log and idempotency rows past the "
                            "retention", cmd_prune_sync, _configure)
