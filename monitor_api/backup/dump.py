"""`monitor-api backup`: a PostgreSQL dump and a manifest of every stored blob with its SHA-256.

Blobs are copied to the target's shared `blobs/` folder, each hashed as it is copied (an
original whose bytes no longer match its name stops the backup: the store is damaged), and
only when the target lacks them: originals and derivatives are write-once, so a daily
backup copies only the day's photos. The store is listed after the dump: blobs are never
deleted, so every blob a row of the dump names is in the backup's `blobs/`.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from monitor_api.backup import pgtools
from monitor_api.backup.targets import Target
from monitor_api.config import Settings
from monitor_api.db import make_engine
from monitor_api.storage import BlobStore, make_blob_store

FORMAT = 1
# What a backup keeps of the store: everything but staging, except the assembled bytes of
# uploads waiting for their verification job (they are evidence too).
KEPT_PREFIXES = ("originals/", "derivatives/", "quarantine/")


class BackupError(RuntimeError):
    """The backup could not be made (nothing usable was written under its stamp)."""


def backup(settings: Settings, target: Target, *, copy_blobs: bool = True) -> dict[str, Any]:
    """Make one backup under `target/<stamp>/`; the manifest."""
    store = make_blob_store(settings)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with tempfile.TemporaryDirectory(prefix="monitor-backup-") as tmp:
        engine = make_engine(settings.database_url)
        try:
            with engine.connect() as conn:
                heads = list(conn.execute(text("select version_num from alembic_version"))
                             .scalars())
                xid = int(conn.execute(text("select pg_current_xact_id()::text")).scalar_one())
            dump = Path(tmp) / "database.dump"
            pgtools.dump(settings.database_url, dump)
            with engine.connect() as conn:
                processing = [str(k) for k in conn.execute(text(
                    "select staging->>'final_key' from uploads where state = 'processing'"
                )).scalars() if k]
        finally:
            engine.dispose()
        digest, size = _file_hash(dump)
        blobs = _blobs(store, target, processing, copy_blobs)
        manifest = {
            "format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "stamp": stamp,
            "database": {"file": "database.dump", "sha256": digest, "bytes": size,
                         "alembic_heads": heads, "xid_before_dump": xid},
            "blob_store": store.kind, "blobs_copied": copy_blobs,
            "blobs": blobs,
        }
        folder = target.child(stamp)
        folder.put_file("database.dump", dump)
        path = Path(tmp) / "manifest.json"
        path.write_text(json.dumps(manifest, indent=1))
        folder.put_file("manifest.json", path)  # last: a backup with a manifest is whole
    return manifest


def _blobs(store: BlobStore, target: Target, processing: list[str],
           copy: bool) -> list[dict[str, Any]]:
    """Hash (and copy, when the target lacks it) every kept object of the store."""
    held = target.sizes("blobs/") if copy else {}
    keys = [kv for prefix in KEPT_PREFIXES for kv in store.list_keys(prefix)]
    keys += [(key, store.size(key)) for key in processing if store.exists(key)]
    out = []
    for key, size in keys:
        if key.startswith("originals/") and held.get(f"blobs/{key}") == size:
            digest = key.rsplit("/", 1)[1]  # content-addressed and verified when it was copied
        else:
            digest = _copy(store, target, key) if copy else _hash_object(store, key)
            if key.startswith("originals/") and digest != key.rsplit("/", 1)[1]:
                raise BackupError(f"{key} no longer hashes to its name (it hashes to {digest}): "
                                  "the blob store is damaged; restore that original first")
        out.append({"key": key, "sha256": digest, "bytes": size})
    return out


def _copy(store: BlobStore, target: Target, key: str) -> str:
    with tempfile.NamedTemporaryFile(prefix="blob-") as tmp:
        hasher = hashlib.sha256()
        for chunk in store.iter_bytes(key):
            hasher.update(chunk)
            tmp.write(chunk)
        tmp.flush()
        target.put_file(f"blobs/{key}", Path(tmp.name))
        return hasher.hexdigest()


def _hash_object(store: BlobStore, key: str) -> str:
    hasher = hashlib.sha256()
    for chunk in store.iter_bytes(key):
        hasher.update(chunk)
    return hasher.hexdigest()


def _file_hash(path: Path) -> tuple[str, int]:
    hasher, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size
