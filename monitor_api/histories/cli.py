"""`monitor-api rebuild-indicators`: recompute every visit's condition-history indicators."""

from __future__ import annotations

import argparse

from monitor_api.config import Settings


def cmd_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    """Recompute indicators (all visits, or only those without any); print how many."""
    from monitor_api.cli import _session
    from monitor_api.histories.refresh import rebuild

    with _session(settings) as session:
        count = rebuild(session, reapply_thresholds=args.reapply_thresholds,
                        missing_only=args.missing)
    print(f"indicators recomputed for {count} visit(s)"
          + (" with the thresholds in force on each visit's day" if args.reapply_thresholds
             else ""))
    return 0


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--missing", action="store_true",
                        help="only visits without (current) indicators: none yet, or "
                             "computed before they were stored rendered (migration 0007)")
    parser.add_argument("--reapply-thresholds", action="store_true",
                        help="use the threshold versions in force on each visit's day instead "
                             "of the versions each result recorded (after adding a version)")


def register() -> None:
    """Add the command to the CLI registry."""
    from monitor_api.cli import _EXTRA

    _EXTRA["rebuild-indicators"] = ("recompute the condition-history indicators of every visit",
                                    cmd_rebuild, _configure)
