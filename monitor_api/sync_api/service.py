"""Sync service: parse the protocol's parameters, run the engine, audit, map its errors."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import sync
from monitor_api import metrics
from monitor_api.audit.service import record
from monitor_api.auth import Principal
from monitor_api.backup import cursors
from monitor_api.config import Settings
from monitor_api.db import is_transient, retrying
from monitor_api.errors import ApiError, ValidationFailed
from monitor_api.sync_api.registry import registry


def actor_of(principal: Principal) -> sync.Actor:
    """The engine's view of a principal (scopes read it back from `context`)."""
    return sync.Actor(principal.user_id, principal.device_id, context=principal)


def parse_cursor(value: str | None) -> int | None:
    """last_pulled_at: absent, empty or "null" on first sync; else an issued timestamp."""
    if value is None or value.strip() in ("", "null", "undefined"):
        return None
    try:
        cursor = int(value)
    except ValueError:
        cursor = -1
    if not 0 <= cursor <= sync.MAX_CURSOR:
        raise ValidationFailed("last_pulled_at must be a timestamp this server issued.",
                               errors={"last_pulled_at": ["Not a valid sync timestamp."]})
    return cursor


def check_schema_version(value: str | None, settings: Settings) -> None:
    """426 outside [sync_schema_min, sync_schema_max]; absent means the current version."""
    if value is None or value.strip() in ("", "null"):
        return
    try:
        version = int(value)
    except ValueError:
        raise ValidationFailed("schema_version must be an integer.",
                               errors={"schema_version": ["Not an integer."]}) from None
    lo, hi = settings.sync_schema_min, settings.sync_schema_max
    if not lo <= version <= hi:
        raise ApiError(f"Schema version {version} is not supported; this server supports "
                       f"{lo} to {hi}. Update the app.", status=426,
                       extra={"supported": {"min": lo, "max": hi}})


def parse_migration(value: str | None) -> set[str]:
    """WatermelonDB's migration param: the tables (and tables with new columns) to send whole."""
    if value is None or value.strip() in ("", "null"):
        return set()
    try:
        data = json.loads(value)  # too deep: RecursionError → 400 too-deep (errors.py)
    except ValueError:
        raise ApiError("migration is not valid JSON.", status=400) from None
    known = {t.name for t in registry().tables}
    problems: list[str] = []
    if not isinstance(data, dict) or not isinstance(data.get("from"), int) or not isinstance(
            data.get("tables", []), list) or not isinstance(data.get("columns", []), list):
        raise ValidationFailed("migration must be {from, tables, columns}.",
                               errors={"migration": ["Expected {from: int, tables: [...], "
                                                     "columns: [{table, columns}]}."]})
    tables = set()
    for name in data.get("tables", []):
        tables.add(name)
    for item in data.get("columns", []):
        if not isinstance(item, dict) or not isinstance(item.get("columns"), list):
            problems.append("Each columns entry must be {table, columns: [...]}.")
            continue
        tables.add(item.get("table"))
    problems += [f"Unknown table {t!r}." for t in tables if t not in known]
    if problems:
        raise ValidationFailed("migration names unknown tables or is malformed.",
                               errors={"migration": problems})
    return tables


def _map(exc: sync.SyncError) -> ApiError:
    return ApiError(exc.detail, status=exc.status, slug=exc.slug, extra=exc.extra)


def pull_changes(session: Session, principal: Principal, *, settings: Settings,
                 last_pulled_at: str | None, schema_version: str | None,
                 migration: str | None) -> dict[str, Any]:
    """One pull page for the device's user."""
    check_schema_version(schema_version, settings)
    # A cursor of an older restore generation stands for 0: the replacement strategy.
    generation = cursors.generation(session)
    cursor = cursors.to_internal(session, parse_cursor(last_pulled_at), generation)
    req = sync.PullRequest(cursor=cursor, limit=settings.sync_page_records,
                           full=parse_migration(migration), max_bytes=settings.sync_page_bytes,
                           hold_seconds=settings.sync_scope_hold_hours * 3600)
    try:
        body = sync.pull(session, registry(), actor_of(principal), req)
    except sync.SyncError as exc:
        raise _map(exc) from None
    metrics.count_pull(body)
    body["timestamp"] = cursors.to_wire(session, body["timestamp"], generation)
    return body


def push_changes(session: Session, principal: Principal, *, settings: Settings,
                 last_pulled_at: str | None, schema_version: str | None, changes: Any,
                 body: bytes, idempotency_key: str | None,
                 plain: bool = False) -> dict[str, Any]:
    """Apply one push in the request's transaction (the request commits it). `plain`: the
    body's strings and numbers need no check (`jsonsafe.loads_plain`)."""
    check_schema_version(schema_version, settings)
    cursor = parse_cursor(last_pulled_at)
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 200:
        raise ValidationFailed("Idempotency-Key must be 1 to 200 characters.",
                               errors={"Idempotency-Key": ["1 to 200 characters."]})
    request_hash = sync.push_body_hash(body + f"|{cursor}".encode())

    def attempt(assume_new: bool) -> dict[str, Any]:
        return sync.push(session, registry(), actor_of(principal), changes,
                         cursor=lambda: cursors.to_internal(session, cursor),
                         max_records=settings.sync_max_push_records, key=idempotency_key,
                         request_hash=request_hash, assume_new=assume_new, plain=plain)

    try:
        # New records are written without looking for existing rows first, and without a
        # savepoint: before the push the transaction holds only authentication's bookkeeping
        # (a device's last-seen time), which may be lost. If an id exists after all (a
        # resend), or the write lost a race (deadlock), all of it is rolled back and the push
        # runs in full, in a savepoint run again after a deadlock, never lost.
        try:
            result = attempt(True)
        except (sync.NotNew, DBAPIError) as exc:
            if isinstance(exc, DBAPIError) and not is_transient(exc):
                raise
            session.rollback()
            result = retrying(session, lambda: attempt(False))
    except sync.SyncError as exc:
        metrics.count_push(None, conflicts=len(exc.extra.get("conflicts") or ()))
        raise _map(exc) from None
    metrics.count_push(result)
    record(session, "sync.push", target_type="device", target_id=principal.device_id,
           details={"applied": result.get("applied", {}),
                    "rejected": len(result.get("rejected", [])),
                    "idempotency_key": idempotency_key})
    return result


def sync_status(session: Session) -> dict[str, Any]:
    """The horizon and its lag (what holds pulls back)."""
    return sync.horizon_status(session)
