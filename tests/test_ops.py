"""Operations: probes, request ids, JSON logs, the offline docs UI, .env.example."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from monitor_api import logging as json_logging
from monitor_api.app import create_app
from monitor_api.config import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def make_app(settings: Settings) -> Iterator[Any]:
    """Build extra apps with changed settings; their engines are disposed afterwards."""
    built: list[Flask] = []

    def _make(**changes: Any) -> Flask:
        app = create_app(replace(settings, **changes))
        built.append(app)
        return app

    yield _make
    for app in built:
        app.extensions["db_engine"].dispose()


def test_healthz(client: Any) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


def test_readyz_green_when_migrated(client: Any, app: Flask) -> None:
    resp = client.get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == "ok"
    if app.extensions.get("blob_store") is not None:
        assert body["checks"]["blob_store"] == "ok"


def test_readyz_red_on_an_unmigrated_database(make_app: Any, database_url: str) -> None:
    # The cluster's maintenance database exists but has never been migrated.
    url = make_url(database_url).set(database="postgres").render_as_string(hide_password=False)
    resp = make_app(database_url=url).test_client().get("/readyz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"].startswith("at ")


def test_readyz_red_when_the_database_is_unreachable(make_app: Any, database_url: str) -> None:
    url = make_url(database_url).set(port=1).render_as_string(hide_password=False)
    resp = make_app(database_url=url).test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["checks"]["database"].startswith("error")


def _s3(s3_server: dict[str, str], bucket: str) -> dict[str, Any]:
    return {"s3_bucket": bucket, "s3_endpoint_url": s3_server["endpoint_url"],
            "s3_region": s3_server["region"], "s3_access_key_id": s3_server["access_key"],
            "s3_secret_access_key": s3_server["secret_key"]}


def test_readyz_shows_the_blob_store(make_app: Any, s3_server: dict[str, str]) -> None:
    pytest.importorskip("monitor_api.storage")
    boto3.client("s3", endpoint_url=s3_server["endpoint_url"], region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing"
                 ).create_bucket(Bucket="qa-ready")
    ok = make_app(**_s3(s3_server, "qa-ready")).test_client().get("/readyz")
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["checks"]["blob_store"] == "ok"
    missing = make_app(**_s3(s3_server, "qa-no-such-bucket")).test_client().get("/readyz")
    assert missing.status_code == 503
    assert missing.get_json()["checks"]["blob_store"].startswith("error")


def test_request_id_is_honoured_and_echoed(client: Any) -> None:
    resp = client.get("/healthz", headers={"X-Request-ID": "phone-42.sync:7"})
    assert resp.headers["X-Request-ID"] == "phone-42.sync:7"
    problem = client.get("/api/v1/auth/me", headers={"X-Request-ID": "abc-123"})
    assert problem.headers["X-Request-ID"] == "abc-123"
    assert problem.get_json()["request_id"] == "abc-123"


@pytest.mark.parametrize("header", [None, "", "has spaces", "x" * 101, "new\\nline",
                                    "<script>"])
def test_request_id_generated_when_missing_or_invalid(client: Any, header: str | None) -> None:
    headers = {} if header is None else {"X-Request-ID": header}
    first = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    second = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{24}", first)
    assert first != second


def test_standard_response_headers(client: Any) -> None:
    resp = client.get("/api/v1/auth/me")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"


def test_access_log_lines_are_json_with_the_request_id(client: Any) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_logging.JsonFormatter())
    logger = logging.getLogger("monitor_api.request")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        client.get("/api/v1/users", headers={"X-Request-ID": "log-test-1"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["message"] == "request"]
    assert len(access) == 1
    entry = access[0]
    assert entry["request_id"] == "log-test-1"
    assert entry["method"] == "GET" and entry["path"] == "/api/v1/users"
    assert entry["status"] == 401
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    assert entry["level"] == "INFO" and entry["logger"] == "monitor_api.request"
    assert entry["time"].endswith("+00:00")


def test_configure_sends_json_lines_to_stderr(app: Flask,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        json_logging.configure("INFO")
        with app.test_request_context("/x", headers={"X-Request-ID": "ctx-1"}):
            app.preprocess_request()
            logging.getLogger("monitor_api.test").info("hello", extra={"answer": 42})
        logging.getLogger("monitor_api.test").warning("outside a request")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    inside = next(line for line in lines if line["message"] == "hello")
    assert inside["request_id"] == "ctx-1" and inside["answer"] == 42
    outside = next(line for line in lines if line["message"] == "outside a request")
    assert "request_id" not in outside


def test_docs_ui_is_served_locally(client: Any) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "://" not in html and "//cdn" not in html  # nothing from elsewhere
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) >= 3
    for asset in assets:
        assert asset.startswith("/api/docs/static/"), asset
        resp = client.get(asset)
        assert resp.status_code == 200, asset
        assert len(resp.get_data()) > 20
    init = client.get("/api/docs/static/docs-init.js").get_data(as_text=True)
    assert "/api/openapi.json" in init and "validatorUrl: null" in init
    bundle = client.get("/api/docs/static/swagger-ui-bundle.js")
    assert bundle.mimetype in ("text/javascript", "application/javascript")
    assert len(bundle.get_data()) > 500_000
    # A current Swagger UI (5.x, vendored), not PyPI's swagger-ui-bundle's 4.15.5.
    assert b'PACKAGE_VERSION:"5.35.0"' in bundle.get_data()
    assert b"sourceMappingURL" not in bundle.get_data()  # no map shipped, none asked for
    for other in ("../../../etc/passwd", "index.html", "swagger-initializer.js"):
        assert client.get(f"/api/docs/static/{other}").status_code == 404, other


def test_openapi_document_is_served(client: Any) -> None:
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.get_json()["info"]["title"] == "monitor-api"


def _config_env_names() -> set[str]:
    source = (ROOT / "monitor_api" / "config.py").read_text()
    readers = r"(?:env\.get\(|_(?:int|bool|cron|secret|listen)\(env, )"
    return set(re.findall(readers + r'"([A-Z0-9_]+)"', source))


def test_env_example_lists_every_setting() -> None:
    example = (ROOT / ".env.example").read_text()
    listed = dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", example, flags=re.M))
    names = _config_env_names()
    assert "DATABASE_URL" in names and len(names) > 20
    assert names == set(listed), names ^ set(listed)
    for line_no, line in enumerate(example.splitlines()):
        if re.match(r"^[A-Z0-9_]+=", line):  # every setting has a comment above it
            before = example.splitlines()[:line_no]
            assert any(b.startswith("#") for b in before[-3:]), line
    # The example values are valid settings.
    settings = Settings.from_env({k: v for k, v in listed.items()})
    assert settings.session_idle_seconds == int(listed["SESSION_IDLE_SECONDS"])


def test_metrics_are_not_public(make_app: Any, client: Any) -> None:
    resp = client.get("/metrics")  # no METRICS_TOKEN: not served on the API's address
    assert resp.status_code == 404
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert "METRICS_TOKEN" in resp.get_json()["detail"]
    app = make_app(metrics_token="t" * 32)
    with app.test_client() as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer " + "u" * 32}
                     ).status_code == 401
        ok = c.get("/metrics", headers={"Authorization": "Bearer " + "t" * 32})
        assert ok.status_code == 200
        body = ok.get_data(as_text=True)
        assert "monitor_sync_horizon_lag_xids" in body and "monitor_database_up 1.0" in body
        assert "\nmonitor_indicators_due " in body
        assert "\nmonitor_indicators_due_oldest_seconds " in body
        assert 'monitor_http_request_duration_seconds_count{endpoint="metrics.metrics"' in body


def test_sync_record_counters() -> None:
    from prometheus_client import REGISTRY

    from monitor_api import metrics

    def value(direction: str, outcome: str) -> float:
        return REGISTRY.get_sample_value("monitor_sync_records_total", {
            "direction": direction, "outcome": outcome}) or 0.0

    before = {k: value(*k) for k in (("pulled", "sent"), ("pulled", "deleted"),
                                     ("pushed", "applied"), ("pushed", "rejected"),
                                     ("pushed", "conflicting"))}
    metrics.count_pull({"changes": {"visits": {"created": [{}], "updated": [{}, {}],
                                               "deleted": ["x"]}}})
    metrics.count_push({"applied": {"visits": {"created": 2, "updated": 1, "deleted": 1}},
                        "rejected": [{"id": "a"}]})
    metrics.count_push(None, conflicts=3)
    after = {k: value(*k) for k in before}
    assert {k: after[k] - before[k] for k in before} == {
        ("pulled", "sent"): 3, ("pulled", "deleted"): 1, ("pushed", "applied"): 4,
        ("pushed", "rejected"): 1, ("pushed", "conflicting"): 3}


def test_metrics_settings_fail_fast() -> None:
    from monitor_api.config import ConfigError

    base = {"DATABASE_URL": "postgresql://x@y/z"}
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        Settings.from_env({**base, "METRICS_TOKEN": "short"})
    with pytest.raises(ConfigError, match="METRICS_LISTEN"):
        Settings.from_env({**base, "METRICS_LISTEN": "9464"})
    with pytest.raises(ConfigError, match="JOBS_PRUNE_SYNC_CRON"):
        Settings.from_env({**base, "JOBS_PRUNE_SYNC_CRON": "daily"})
    assert Settings.from_env({**base, "METRICS_LISTEN": "0.0.0.0:9464"}).metrics_listen


def test_read_heavy_endpoints_may_read_from_a_replica(make_app: Any, database_url: str) -> None:
    from sqlalchemy import text

    from monitor_api.db import get_read_session, get_session

    plain = make_app()
    with plain.test_request_context("/"):
        assert get_read_session() is get_session()  # no replica: the request's own session
    replica = make_app(database_read_url=database_url)
    with replica.test_request_context("/"):
        read, write = get_read_session(), get_session()
        assert read is not write and read.get_bind() is not write.get_bind()
        assert read.execute(text("select 1")).scalar() == 1
    replica.extensions["db_read_sessionmaker"].kw["bind"].dispose()


def test_the_grafana_dashboard_reads_metrics_the_service_exports() -> None:
    from monitor_api import metrics

    exported = {"monitor_jobs", "monitor_jobs_oldest_waiting_seconds", "monitor_job_workers",
                "monitor_database_up", "monitor_sync_horizon_lag_xids",
                "monitor_sync_oldest_transaction_seconds", "monitor_indicators_due",
                "monitor_indicators_due_oldest_seconds"}  # read from PostgreSQL at scrape
    source = (ROOT / "monitor_api" / "metrics.py").read_text()
    for name in re.findall(r'^\w+ = (?:Counter|Histogram|Gauge)\(\s*"(\w+)"', source, re.M):
        exported |= {name, f"{name}_total", f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    assert "monitor_http_request_duration_seconds_bucket" in exported and metrics.bp
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    used = {m for panel in dashboard["panels"] for target in panel["targets"]
            for m in re.findall(r"\b(monitor_\w+)", target["expr"])}
    assert len(dashboard["panels"]) >= 10 and used and used <= exported, used - exported
    for needed in ("monitor_http_request_duration_seconds_bucket", "monitor_sync_records_total",
                   "monitor_sync_horizon_lag_xids", "monitor_upload_bytes_total",
                   "monitor_photo_verifications_total", "monitor_jobs",
                   "monitor_job_failures_total", "monitor_jobs_oldest_waiting_seconds",
                   "monitor_db_pool_checked_out"):
        assert needed in used, needed
