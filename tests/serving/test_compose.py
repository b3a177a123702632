"""docker-compose.yml mirrors `make run` (Docker does not run here, so this checks it
statically): nginx in front, an api pool and an uploads pool of the same image, healthchecks,
and the one nginx template rendered with the compose values passes `nginx -t`."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor_api import serving
from monitor_api.config import Settings
from tests.conftest import _free_port

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = (ROOT / "deploy" / "nginx.conf.template").read_text()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _nginx() -> str:
    out = subprocess.run(["bash", "scripts/front.sh", "path"], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, f"nginx is missing (make test installs it): {out.stderr}"
    return out.stdout.strip()


def _nginx_t(conf: str, tmp: Path) -> None:
    (tmp / "nginx.conf").write_text(conf)
    out = subprocess.run([_nginx(), "-t", "-p", str(tmp), "-c", str(tmp / "nginx.conf"),
                          "-e", "stderr", "-g", "daemon off;"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_services_and_their_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"db", "s3", "create-bucket", "api", "uploads", "worker", "front"} <= set(services)
    for name in ("db", "s3", "api", "uploads", "worker", "front"):
        assert services[name]["healthcheck"]["test"], name
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"front"} and services["front"]["ports"] == ["127.0.0.1:8000:8000"]
    front, uploads = services["front"], services["uploads"]
    assert front["image"].startswith("nginx:")
    assert {k: v["condition"] for k, v in front["depends_on"].items()} == {
        "api": "service_healthy", "uploads": "service_healthy"}
    assert uploads["depends_on"]["api"]["condition"] == "service_healthy"  # api migrates


def test_api_and_uploads_are_the_two_pools_of_one_image(compose: dict[str, Any]) -> None:
    api, uploads = compose["services"]["api"], compose["services"]["uploads"]
    assert api["build"] == uploads["build"] == "." and api["image"] == uploads["image"]
    assert api["environment"]["MONITOR_POOL"] == "api"
    assert uploads["environment"]["MONITOR_POOL"] == "uploads"
    assert api["command"] == ["api"] and uploads["command"] == ["uploads"]
    for svc in (api, uploads):
        env = svc["environment"]
        assert env["TRUSTED_PROXIES"] == "1" and env["DATABASE_URL"].startswith("postgresql")
        assert env["S3_BUCKET"] == "monitor-api"
    entrypoint = (ROOT / "deploy" / "docker-entrypoint.sh").read_text()
    assert entrypoint.count("exec gunicorn -c python:monitor_api.gunicorn_conf") == 2
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    assert re.search(r"^ENV .*HOST=0\.0\.0\.0 PORT=8000", dockerfile, re.M)


def test_the_front_renders_the_one_template(compose: dict[str, Any], tmp_path: Path) -> None:
    front = compose["services"]["front"]
    source, target, _ = front["volumes"][0].split(":")
    assert (ROOT / source).resolve() == ROOT / "deploy" / "nginx.conf.template"
    assert target == "/etc/nginx/templates/nginx.conf.template"
    env = dict(front["environment"])
    assert env["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx"  # → /etc/nginx/nginx.conf
    assert env["API_UPSTREAM"] == "api:8000" and env["UPLOADS_UPSTREAM"] == "uploads:8000"
    defaults = Settings(database_url="postgresql+psycopg://x@y/z")
    assert int(env["MAX_BODY_BYTES"]) == defaults.max_body_bytes
    assert int(env["SYNC_MAX_BODY_BYTES"]) == defaults.sync_max_body_bytes
    serving.render(TEMPLATE, env)  # every placeholder has a value
    # The same values where this machine can check them: local upstreams, user and paths.
    env.update(API_UPSTREAM="127.0.0.1:1", UPLOADS_UPSTREAM="127.0.0.1:2",
               NGINX_USER_DIRECTIVE=serving.user_directive(), NGINX_RUNTIME_DIR=str(tmp_path),
               NGINX_LISTEN=f"127.0.0.1:{_free_port()}")
    _nginx_t(serving.render(TEMPLATE, env), tmp_path)


def test_make_run_renders_a_valid_configuration(tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql+psycopg://x@y/z")
    values = serving.values(settings, str(tmp_path), host="127.0.0.1", port=str(_free_port()))
    assert int(values["NGINX_WORKER_CONNECTIONS"]) >= 512  # 256 slow clients + their requests
    conf = serving.render(TEMPLATE, values)
    assert f"server unix:{tmp_path}/uploads.sock;" in conf
    _nginx_t(conf, tmp_path)


def test_uploads_stream_to_their_own_pool_everything_else_is_buffered() -> None:
    uploads = re.search(r"location /api/v1/uploads \{(.*?)\}", TEMPLATE, re.S)
    assert uploads is not None
    assert "proxy_request_buffering off;" in uploads[1]
    assert "proxy_pass http://monitor_uploads;" in uploads[1]
    assert TEMPLATE.count("proxy_request_buffering") == 1  # on (nginx's default) elsewhere
    assert "listen ${NGINX_LISTEN}" in TEMPLATE


def test_listen_addresses_and_placeholders() -> None:
    assert serving.listen_address("::", "8000") == "[::]:8000"
    assert serving.listen_address("10.1.2.3", "80") == "10.1.2.3:80"
    assert serving.render("a ${X} $uri ${Y}", {"X": "1", "Y": "2"}) == "a 1 $uri 2"
    with pytest.raises(ValueError, match="NGINX_LISTEN"):
        serving.render(TEMPLATE, {})


@pytest.mark.parametrize(("env", "expected"), [
    ({}, ("127.0.0.1:8000", 2, 4)),
    ({"MONITOR_POOL": "uploads", "GUNICORN_BIND": "unix:/tmp/u.sock", "UPLOAD_THREADS": "3"},
     ("unix:/tmp/u.sock", 1, 3)),
    ({"HOST": "10.1.2.3", "WEB_CONCURRENCY": "3"}, ("10.1.2.3:8000", 3, 4)),
])
def test_gunicorn_pools(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                        expected: tuple[str, int, int]) -> None:
    for name in ("MONITOR_POOL", "GUNICORN_BIND", "HOST", "PORT", "WEB_CONCURRENCY",
                 "GUNICORN_THREADS", "UPLOAD_WORKERS", "UPLOAD_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("monitor_api.gunicorn_conf", None)
    conf = importlib.import_module("monitor_api.gunicorn_conf")
    assert (conf.bind, conf.workers, conf.threads) == expected
    assert conf.worker_class == "gthread"


def test_the_worker_shares_the_image_database_and_store(compose: dict[str, Any]) -> None:
    services = compose["services"]
    worker, api = services["worker"], services["api"]
    assert worker["image"] == api["image"] and worker["build"] == "."
    assert worker["command"] == ["worker"]
    assert worker["depends_on"]["api"]["condition"] == "service_healthy"  # migrated first
    for key in ("DATABASE_URL", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_ACCESS_KEY_ID"):
        assert worker["environment"][key] == api["environment"][key], key
    listen = worker["environment"]["METRICS_LISTEN"]
    port = listen.rsplit(":", 1)[1]
    assert worker["expose"] == [port] and not worker.get("ports")  # never published
    assert f"127.0.0.1:{port}/metrics" in " ".join(worker["healthcheck"]["test"])
    assert not any(svc.get("ports") for name, svc in services.items() if name != "front")


def _stages(dockerfile: str) -> dict[str, str]:
    parts = re.split(r"^FROM ", dockerfile, flags=re.M)[1:]
    return {part.split("\n", 1)[0].split(" AS ")[-1].strip(): part for part in parts}


def test_the_image_is_multi_stage_runtime_only_non_root_with_a_healthcheck() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = _stages(dockerfile)
    assert list(stages) == ["build", "runtime"]
    build, runtime = stages["build"], stages["runtime"]
    assert "pip install --require-hashes" in build and "requirements/runtime.lock" in build
    assert "dev.lock" not in dockerfile and "[dev]" not in dockerfile
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    assert "pip install" not in runtime  # nothing is resolved in the final image
    assert "COPY tests" not in dockerfile and "COPY . ." not in dockerfile
    user = re.findall(r"^USER (\S+)", runtime, re.M)
    assert user and user[-1] not in ("root", "0")
    assert "useradd --system --uid 10001" in runtime
    assert re.search(r"^HEALTHCHECK .*\n.*healthz", runtime, re.M)
    assert "postgresql-client-15" in runtime  # pg_dump/pg_restore for backup and restore
    assert 'ENTRYPOINT ["docker-entrypoint.sh"]' in runtime and 'CMD ["api"]' in runtime
    # The server's major version is the client's.
    db_image = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["db"]
    assert db_image["image"].startswith("postgis/postgis:15-")


def test_demo_data_only_when_asked() -> None:
    entrypoint = (ROOT / "deploy" / "docker-entrypoint.sh").read_text()
    seeds = [line.strip() for line in entrypoint.splitlines() if "seed-demo" in line]
    assert seeds == ['if [ "${DEMO:-0}" = 1 ]; then monitor-api seed-demo --if-empty; fi']
    assert "seed-demo" not in (ROOT / "Dockerfile").read_text()
    out = subprocess.run(["sh", "-n", str(ROOT / "deploy" / "docker-entrypoint.sh")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for role in ("api)", "uploads)", "worker)"):
        assert role in entrypoint


def _pins(path: Path) -> dict[str, list[str]]:
    """package -> its --hash lines, from a pip-compile lock."""
    pins: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==\S+", line)
        if match:
            current = re.sub(r"[-_.]+", "-", match.group(1)).lower()
            pins[current] = []
        elif current and line.strip().startswith("--hash=sha256:"):
            pins[current].append(line.strip())
        elif line and not line.startswith(" "):
            current = None
    return pins


def test_runtime_and_development_locks_are_separate_and_hashed() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _pins(ROOT / "requirements" / "runtime.lock")
    dev = _pins(ROOT / "requirements" / "dev.lock")
    assert runtime and dev and not set(runtime) & set(dev)
    assert all(hashes for hashes in runtime.values()), "every runtime pin has its hashes"
    assert all(hashes for hashes in dev.values()), "every development pin has its hashes"

    def names(requirements: list[str]) -> set[str]:
        return {re.sub(r"[-_.]+", "-", re.split(r"[<>=\[; ]", r, maxsplit=1)[0]).lower()
                for r in requirements}

    assert names(project["dependencies"]) <= set(runtime)
    assert names(project["optional-dependencies"]["dev"]) <= set(dev)
    for tool in ("pytest", "moto", "schemathesis", "ruff", "cfn-lint", "playwright"):
        assert tool not in runtime, f"{tool} would be in the image"
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    assert "--require-hashes" in bootstrap
    assert "-r requirements/runtime.lock -r requirements/dev.lock" in bootstrap


def test_the_readme_names_every_service_and_role(compose: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text()
    for name in compose["services"]:
        assert f"`{name}`" in readme, name
    for text in ("`monitor-api worker`", "`DEMO=1`", "requirements/runtime.lock",
                 "requirements/dev.lock", "`make lock`"):
        assert text in readme, text
