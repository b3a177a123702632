"""`monitor-api backup` and `monitor-api restore` (README "Backups")."""

from __future__ import annotations

import argparse
import json
import sys

from monitor_api.config import Settings


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    """Dump the database and copy (or list) every blob with its SHA-256 to the target."""
    from monitor_api.backup.dump import BackupError, backup
    from monitor_api.backup.pgtools import ToolError
    from monitor_api.backup.targets import open_target

    target = open_target(args.to, settings)
    try:
        manifest = backup(settings, target, copy_blobs=not args.no_blobs)
    except (BackupError, ToolError) as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    total = sum(b["bytes"] for b in manifest["blobs"])
    print(f"backup {manifest['stamp']} in {target.description}: database "
          f"{manifest['database']['bytes']} bytes, {len(manifest['blobs'])} blob(s), "
          f"{total} bytes" + ("" if not args.no_blobs else " (listed, not copied)"))
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    """Restore a backup into an empty database and put back the blobs the store lacks."""
    from monitor_api.audit.service import verify_chain
    from monitor_api.backup.pgtools import ToolError
    from monitor_api.backup.restore import RestoreError, latest, restore
    from monitor_api.backup.targets import open_target
    from monitor_api.cli import _session

    root = open_target(args.source, settings)
    try:
        source = latest(root)
        blobs_root = root if source is not root else open_target(args.blobs or _parent(
            args.source), settings)
        report = restore(settings, source, blobs_root, force=args.force,
                         verify=not args.no_verify)
    except (RestoreError, ToolError) as exc:
        print(f"restore failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report))
    with _session(settings) as session:
        result = verify_chain(session)
    if not result.ok:
        print(f"audit chain BROKEN at row {result.broken_id}: {result.reason}", file=sys.stderr)
        return 1
    print(f"audit chain intact: {result.checked} rows verified; phones get the full dataset "
          "(replacement) at their next pull")
    return 0


def _parent(spec: str) -> str:
    return spec.rstrip("/").rsplit("/", 1)[0]


def _configure_backup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", required=True,
                        help="a folder, or s3://bucket/prefix (the S3_* endpoint and keys)")
    parser.add_argument("--no-blobs", action="store_true",
                        help="list the blobs with their SHA-256 but copy nothing (the store "
                             "is replicated or versioned by other means)")


def _configure_restore(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a backup (folder or s3://…/<stamp>) or the target "
                                       "holding backups (the newest is restored)")
    parser.add_argument("--blobs", help="where the backup's blobs/ folder is (default: the "
                                        "folder above the backup)")
    parser.add_argument("--force", action="store_true",
                        help="drop everything in a database that is not empty first")
    parser.add_argument("--no-verify", action="store_true",
                        help="trust blobs already in the store by their size (no re-hash)")


def register() -> None:
    """Add the commands to the CLI registry."""
    from monitor_api.cli import _EXTRA

    _EXTRA["backup"] = ("dump the database and every blob with its SHA-256 (folder or S3)",
                        cmd_backup, _configure_backup)
    _EXTRA["restore"] = ("restore a backup into an empty database; phones re-sync in full",
                         cmd_restore, _configure_restore)
