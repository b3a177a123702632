"""Settings come only from the environment and fail fast on bad values."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from monitor_api.app import create_app
from monitor_api.config import ConfigError, Settings

URL = "postgresql://u:p@127.0.0.1:1/x"


def test_url_is_normalised_to_psycopg() -> None:
    assert Settings.from_env({"DATABASE_URL": URL}).database_url.startswith(
        "postgresql+psycopg://")


@pytest.mark.parametrize("env, message", [
    ({}, "DATABASE_URL is required"),
    ({"DATABASE_URL": "mysql://x/y"}, "must be a PostgreSQL URL"),
    ({"DATABASE_URL": URL, "SESSION_IDLE_SECONDS": "soon"}, "must be an integer"),
    ({"DATABASE_URL": URL, "SESSION_IDLE_SECONDS": "0"}, "must be >= 1"),
    ({"DATABASE_URL": URL, "S3_PATH_STYLE": "maybe"}, "must be a boolean"),
    ({"DATABASE_URL": URL, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ({"DATABASE_URL": URL, "SYNC_SCHEMA_MIN": "3", "SYNC_SCHEMA_MAX": "2"}, "must not exceed"),
])
def test_bad_settings_fail_fast(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_forwarded_for_is_trusted_only_behind_a_configured_proxy(settings: Settings,
                                                                 engine: Any) -> None:
    def remote(app: Any) -> str:
        seen: list[str] = []

        @app.get("/_test/addr")
        def addr() -> str:
            from flask import request

            seen.append(request.remote_addr or "")
            return "ok"

        app.test_client().get("/_test/addr", headers={"X-Forwarded-For": "203.0.113.9"})
        return seen[0]

    assert remote(create_app(settings)) == "127.0.0.1"
    assert remote(create_app(replace(settings, trusted_proxies=1))) == "203.0.113.9"
