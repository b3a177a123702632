"""`monitor-api clean-uploads`: expire abandoned uploads and delete their staged bytes."""

from __future__ import annotations

import argparse

from monitor_api.config import Settings


def cmd_clean_uploads(settings: Settings, args: argparse.Namespace) -> int:
    """Expire open uploads past Upload-Expires; print how many."""
    from monitor_api.cli import _session
    from monitor_api.storage import make_blob_store
    from monitor_api.uploads.service import clean_expired

    store = make_blob_store(settings)
    total = 0
    while True:
        with _session(settings) as session:
            count = clean_expired(session, store, limit=args.batch)
        total += count
        if count < args.batch:
            break
    print(f"expired {total} upload(s)")
    return 0


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=500, help="uploads per transaction")


def register() -> None:
    """Add the command to the CLI registry."""
    from monitor_api.cli import _EXTRA

    _EXTRA["clean-uploads"] = ("expire abandoned uploads and delete their staged bytes",
                               cmd_clean_uploads, _configure)
