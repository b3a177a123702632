"""Settings read from the environment only; bad values fail at start-up, not at first use."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field


class ConfigError(ValueError):
    """A setting is missing or malformed."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean, got {raw!r}")


def _licence(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,63}", raw):
        raise ConfigError(f"EXPORT_LICENCE must be a licence identifier such as CC-BY-4.0, "
                          f"got {raw!r}")
    return raw


def _pg_url(url: str, name: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not url.startswith("postgresql+psycopg://"):
        raise ConfigError(f"{name} must be a PostgreSQL URL")
    return url


def _cron(env: Mapping[str, str], name: str, default: str) -> str:
    value = (env.get(name) or default).strip()
    if len(value.split()) not in (5, 6):
        raise ConfigError(f"{name} must be a cron expression of 5 (or 6) fields, got {value!r}")
    return value


def _secret(env: Mapping[str, str], name: str, minimum: int = 16) -> str | None:
    value = env.get(name) or None
    if value is not None and len(value) < minimum:
        raise ConfigError(f"{name} must be at least {minimum} characters "
                          "(e.g. the output of `openssl rand -hex 32`)")
    return value


def _listen(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name) or None
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name} must be HOST:PORT, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Every tunable of the service; build with `Settings.from_env()`."""

    database_url: str
    blob_dir: str = "var/blobs"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_path_style: bool = True
    s3_sse: str | None = None
    s3_object_lock_days: int = 0
    presign_seconds: int = 120
    max_body_bytes: int = 2 * 1024 * 1024
    session_idle_seconds: int = 30 * 60
    session_absolute_seconds: int = 12 * 3600
    device_token_days: int = 180
    login_max_failures: int = 5
    login_window_seconds: int = 15 * 60
    login_lockout_seconds: int = 60
    sync_page_records: int = 20000
    sync_page_bytes: int = 4 * 1024 * 1024
    sync_max_push_records: int = 5000
    sync_max_body_bytes: int = 16 * 1024 * 1024
    sync_schema_min: int = 1
    sync_schema_max: int = 1
    sync_scope_hold_hours: int = 14 * 24
    sync_retention_days: int = 365
    sync_idempotency_days: int = 30
    upload_max_bytes: int = 512 * 1024 * 1024
    upload_expiry_hours: int = 72
    log_level: str = "INFO"
    trusted_proxies: int = 0
    web_secret_key: str | None = None
    web_secure_cookies: bool = False
    web_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    web_tile_attribution: str = "© OpenStreetMap contributors"
    state_dir: str = "var"
    # Exports: the key of the HMAC pseudonyms (unset: generated once into state_dir), the
    # licence of exported data (an SPDX id) and who to attribute it to.
    export_pseudonym_key: str | None = field(default=None, repr=False)
    export_licence: str = "CC-BY-4.0"
    export_attribution: str | None = None
    job_concurrency: int = 2
    job_stalled_seconds: int = 60
    job_retention_days: int = 30
    jobs_clean_uploads_cron: str = "7 * * * *"
    jobs_prune_sync_cron: str = "23 3 * * *"
    metrics_token: str | None = None
    metrics_listen: str | None = None
    database_read_url: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate settings from `env` (default: the process environment)."""
        env = os.environ if env is None else env
        url = env.get("DATABASE_URL", "")
        if not url:
            raise ConfigError("DATABASE_URL is required (make run provisions one when unset)")
        url = _pg_url(url, "DATABASE_URL")
        level = env.get("LOG_LEVEL", "INFO").upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        settings = cls(
            database_url=url,
            blob_dir=env.get("BLOB_DIR") or "var/blobs",
            s3_bucket=env.get("S3_BUCKET") or None,
            s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
            s3_region=env.get("S3_REGION") or "us-east-1",
            s3_access_key_id=env.get("S3_ACCESS_KEY_ID") or None,
            s3_secret_access_key=env.get("S3_SECRET_ACCESS_KEY") or None,
            s3_path_style=_bool(env, "S3_PATH_STYLE", True),
            s3_sse=env.get("S3_SSE") or None,
            s3_object_lock_days=_int(env, "S3_OBJECT_LOCK_DAYS", 0),
            presign_seconds=_int(env, "PRESIGN_SECONDS", 120, minimum=10),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 2 * 1024 * 1024, minimum=1024),
            session_idle_seconds=_int(env, "SESSION_IDLE_SECONDS", 1800, minimum=1),
            session_absolute_seconds=_int(env, "SESSION_ABSOLUTE_SECONDS", 43200, minimum=1),
            device_token_days=_int(env, "DEVICE_TOKEN_DAYS", 180, minimum=1),
            login_max_failures=_int(env, "LOGIN_MAX_FAILURES", 5, minimum=1),
            login_window_seconds=_int(env, "LOGIN_WINDOW_SECONDS", 900, minimum=1),
            login_lockout_seconds=_int(env, "LOGIN_LOCKOUT_SECONDS", 60, minimum=1),
            sync_page_records=_int(env, "SYNC_PAGE_RECORDS", 20000, minimum=1),
            # Bytes of a pull page's records (JSON, before gzip); 0: records bound only.
            sync_page_bytes=_int(env, "SYNC_PAGE_BYTES", 4 * 1024 * 1024),
            sync_max_push_records=_int(env, "SYNC_MAX_PUSH_RECORDS", 5000, minimum=1),
            sync_max_body_bytes=_int(env, "SYNC_MAX_BODY_BYTES", 16 * 1024 * 1024, minimum=1024),
            upload_max_bytes=_int(env, "UPLOAD_MAX_BYTES", 512 * 1024 * 1024, minimum=1),
            upload_expiry_hours=_int(env, "UPLOAD_EXPIRY_HOURS", 72, minimum=1),
            sync_schema_min=_int(env, "SYNC_SCHEMA_MIN", 1, minimum=1),
            sync_schema_max=_int(env, "SYNC_SCHEMA_MAX", 1, minimum=1),
            sync_scope_hold_hours=_int(env, "SYNC_SCOPE_HOLD_HOURS", 336),
            sync_retention_days=_int(env, "SYNC_RETENTION_DAYS", 365, minimum=1),
            sync_idempotency_days=_int(env, "SYNC_IDEMPOTENCY_DAYS", 30, minimum=1),
            log_level=level,
            trusted_proxies=_int(env, "TRUSTED_PROXIES", 0),
            web_secret_key=env.get("WEB_SECRET_KEY") or None,
            web_secure_cookies=_bool(env, "WEB_SECURE_COOKIES", False),
            web_tile_url=env.get("WEB_TILE_URL") or "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            web_tile_attribution=env.get("WEB_TILE_ATTRIBUTION") or "© OpenStreetMap contributors",
            state_dir=env.get("MONITOR_STATE_DIR") or "var",
            export_pseudonym_key=_secret(env, "EXPORT_PSEUDONYM_KEY", minimum=32),
            export_licence=_licence(env.get("EXPORT_LICENCE") or "CC-BY-4.0"),
            export_attribution=env.get("EXPORT_ATTRIBUTION") or None,
            job_concurrency=_int(env, "JOB_CONCURRENCY", 2, minimum=1),
            job_stalled_seconds=_int(env, "JOB_STALLED_SECONDS", 60, minimum=2),
            job_retention_days=_int(env, "JOB_RETENTION_DAYS", 30, minimum=1),
            jobs_clean_uploads_cron=_cron(env, "JOBS_CLEAN_UPLOADS_CRON", "7 * * * *"),
            jobs_prune_sync_cron=_cron(env, "JOBS_PRUNE_SYNC_CRON", "23 3 * * *"),
            metrics_token=_secret(env, "METRICS_TOKEN"),
            metrics_listen=_listen(env, "METRICS_LISTEN"),
            database_read_url=_pg_url(env.get("DATABASE_READ_URL") or "", "DATABASE_READ_URL")
            if env.get("DATABASE_READ_URL") else None,
        )
        if settings.sync_schema_min > settings.sync_schema_max:
            raise ConfigError("SYNC_SCHEMA_MIN must not exceed SYNC_SCHEMA_MAX")
        return settings
