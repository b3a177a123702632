"""`monitor-api restore`: the dump into an empty database, the blobs back into the store,
then what makes the restored service safe for phones that kept syncing after the backup.

After `pg_restore`: every stored xid8 stamp is an xid of the *old* cluster. Stamps at or
above the new cluster's counter are set to the restore's own transaction (else their rows
would stay above the horizon, invisible to every pull, until the counter caught up); a new
cursor generation begins and `sync_state.pruned_below` moves past every restored stamp, so
every cursor issued before gets the replacement strategy (`monitor_api/backup/cursors.py`);
lost-scope holds are dropped (a replacement is never held back); the old workers are
forgotten, so their running jobs count as stalled and run again.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from monitor_api.backup import pgtools
from monitor_api.backup.cursors import GENERATION_KEY
from monitor_api.backup.dump import FORMAT, _file_hash
from monitor_api.backup.targets import Target
from monitor_api.config import Settings
from monitor_api.db import make_engine
from monitor_api.storage import BlobStore, make_blob_store


class RestoreError(RuntimeError):
    """The restore was refused or failed (the message says what to do)."""


def latest(target: Target) -> Target:
    """The newest complete backup under `target` (or `target` itself when it is one)."""
    names = target.sizes("")
    if "manifest.json" in names:
        return target
    stamps = sorted(k.split("/", 1)[0] for k in names if k.endswith("/manifest.json"))
    if not stamps:
        raise RestoreError(f"no backup (manifest.json) under {target.description}")
    return target.child(stamps[-1])


def restore(settings: Settings, source: Target, blobs_root: Target, *,
            force: bool = False, verify: bool = True) -> dict[str, Any]:
    """Restore the backup at `source` (its blobs under `blobs_root`); a report."""
    with tempfile.TemporaryDirectory(prefix="monitor-restore-") as tmp:
        path = Path(tmp) / "manifest.json"
        source.get_file("manifest.json", path)
        manifest = json.loads(path.read_text())
        if manifest.get("format") != FORMAT:
            raise RestoreError(f"unknown backup format {manifest.get('format')!r}")
        dump = Path(tmp) / "database.dump"
        source.get_file(manifest["database"]["file"], dump)
        if _file_hash(dump)[0] != manifest["database"]["sha256"]:
            raise RestoreError("database.dump does not match its SHA-256 in the manifest")
        engine = make_engine(settings.database_url)
        try:
            _empty(engine, force)
            pgtools.restore(settings.database_url, dump)
            store = make_blob_store(settings)
            copied = _blobs(store, blobs_root, manifest["blobs"], Path(tmp), verify)
            with Session(engine) as session:
                fixed = after_restore(session, store, manifest)
                session.commit()
        finally:
            engine.dispose()
    return {"backup": manifest["stamp"], "blobs": len(manifest["blobs"]),
            "blobs_copied": copied, **fixed}


def _empty(engine: Engine, force: bool) -> None:
    """Refuse a database that holds anything, unless `force`: then drop its schema."""
    with engine.begin() as conn:
        tables = conn.execute(text(
            "select count(*) from pg_tables where schemaname = 'public' "
            "and tablename <> 'spatial_ref_sys'")).scalar_one()
        if tables and not force:
            raise RestoreError(f"the database holds {tables} table(s); restore into an empty "
                               "database, or pass --force to drop everything in it first")
        if tables:
            conn.execute(text("drop schema public cascade"))
            conn.execute(text("create schema public"))


def _blobs(store: BlobStore, root: Target, blobs: list[dict[str, Any]], tmp: Path,
           verify: bool) -> int:
    """Put back every blob the store lacks (or holds with other bytes), checking hashes."""
    copied = 0
    held = dict(store.list_keys(""))
    for blob in blobs:
        key, want = blob["key"], blob["sha256"]
        if held.get(key) == blob["bytes"] and (not verify or _hash(store, key) == want):
            continue
        local = tmp / "blob"
        root.get_file(f"blobs/{key}", local)
        if _file_hash(local)[0] != want:
            raise RestoreError(f"the backup's copy of {key} does not match its SHA-256")
        if held.get(key) is not None:
            store.delete(key)  # damaged in the store (only possible without Object Lock)
        store.write_once(key, local.read_bytes())
        local.unlink()
        copied += 1
    return copied


def _hash(store: BlobStore, key: str) -> str:
    hasher = hashlib.sha256()
    for chunk in store.iter_bytes(key):
        hasher.update(chunk)
    return hasher.hexdigest()


def xid8_columns(session: Session) -> list[tuple[str, str]]:
    """(table, column) of every xid8 column of the schema."""
    return [(t, c) for t, c in session.execute(text(
        "select c.table_name, c.column_name from information_schema.columns c "
        "join information_schema.tables t using (table_schema, table_name) "
        "where c.table_schema = current_schema() and c.udt_name = 'xid8' "
        "and t.table_type = 'BASE TABLE' order by 1, 2"))]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def after_restore(session: Session, store: BlobStore, manifest: dict[str, Any]) -> dict[str, Any]:
    """Make the restored database safe for phones' old cursors (module docstring)."""
    now = int(session.scalar(text("select pg_current_xact_id()::text")) or 0)
    restamped = 0
    for table, column in xid8_columns(session):
        t, c = _ident(table), _ident(column)  # names from the catalog, quoted
        # Triggers off (the owner may): a restamp is no edit, nothing may log or re-stamp it.
        session.execute(text(f"alter table {t} disable trigger user"))
        restamped += session.execute(text(
            f"update {t} set {c} = pg_current_xact_id() "  # noqa: S608
            f"where {c} >= pg_current_xact_id()")).rowcount or 0
        session.execute(text(f"alter table {t} enable trigger user"))
    generation = int(session.scalar(text(
        "select value from sync_state where key = :k"), {"k": GENERATION_KEY}) or 0) + 1
    for key, value in ((GENERATION_KEY, generation), ("pruned_below", now + 1),
                       ("restored_at_xid", now)):
        session.execute(text(
            "insert into sync_state (key, value, updated_at) values (:k, :v, now()) "
            "on conflict (key) do update set value = greatest(sync_state.value, :v), "
            "updated_at = now()"), {"k": key, "v": value})
    holds = session.execute(text("delete from sync_scope_holds")).rowcount or 0
    # Paged pulls under way were paged in the old cluster's xids: every phone starts over.
    session.execute(text("update sync_devices set pull_from = null, pull_next = null,"
                         " pull_origin = null, pull_bound = null"))
    session.execute(text("delete from procrastinate_workers"))  # their jobs run again
    expired = _orphaned_processing(session, store)
    from monitor_api.audit.service import Actor, record, set_actor

    set_actor(session, Actor(request_id="cli"))
    record(session, "system.restore", details={
        "backup": manifest.get("stamp"), "generation": generation, "restamped": restamped,
        "holds_dropped": holds, "uploads_expired": expired})
    session.flush()  # the audit event is chained when the caller commits
    return {"generation": generation, "restamped": restamped, "holds_dropped": holds,
            "uploads_expired": expired}


def _orphaned_processing(session: Session, store: BlobStore) -> int:
    """Uploads waiting for verification whose staged bytes the backup did not hold: expired
    (the photo goes back to `pending`, so the phone sends it again)."""
    count = 0
    for upload_id, key, photo_id in session.execute(text(
            "select id, staging->>'final_key', photo_id from uploads "
            "where state = 'processing'")).all():
        if key and store.exists(key):
            continue
        session.execute(text("update uploads set state = 'expired', staging = '{}' "
                             "where id = :i"), {"i": upload_id})
        from monitor_api.photos.service import refresh_photo_status

        refresh_photo_status(session, photo_id)
        count += 1
    return count
