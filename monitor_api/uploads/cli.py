"""`monitor-api clean-uploads`: expire abandoned uploads and delete their staged bytes."""

from __future__ import annotations

import argparse
from datetime import timedelta

from monitor_api.config import Settings


def cmd_clean_uploads(settings: Settings, args: argparse.Namespace) -> int:
    """Expire open uploads past Upload-Expires, then sweep staging; print what went."""
    from monitor_api.cli import _session
    from monitor_api.storage import make_blob_store
    from monitor_api.uploads.cleanup import clean_expired, sweep_staging

    if args.min_age_hours < 0:
        print("--min-age-hours must be >= 0")
        return 2
    store = make_blob_store(settings)
    total = 0
    while True:
        with _session(settings) as session:
            count = clean_expired(session, store, limit=args.batch)
        total += count
        if count < args.batch:
            break
    with _session(settings) as session:
        swept = sweep_staging(session, store, min_age=timedelta(hours=args.min_age_hours))
    print(f"expired {total} upload(s); removed {swept.objects} staged object(s) and "
          f"{swept.multipart_uploads} multipart upload(s) of no open upload")
    return 0


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=500, help="uploads per transaction")
    parser.add_argument("--min-age-hours", type=float, default=24.0,
                        help="sweep only staged bytes older than this (default 24)")


def register() -> None:
    """Add the command to the CLI registry."""
    from monitor_api.cli import _EXTRA

    _EXTRA["clean-uploads"] = ("expire abandoned uploads and delete their staged bytes",
                               cmd_clean_uploads, _configure)
