"""The front of `make run` (README "Serving"): nginx's configuration, rendered from the one
template docker-compose also uses, sized to this process's file-descriptor limit.

    python -m monitor_api.serving nginx-conf RUNTIME_DIR   # prints nginx.conf

reads HOST and PORT (where nginx listens) and the body limits from the environment (Settings).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import resource
import sys
from collections.abc import Mapping
from pathlib import Path

from monitor_api.config import Settings

TEMPLATE = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf.template"
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# Connections per nginx worker: each slow client holds one, each request in flight a second.
MAX_WORKER_CONNECTIONS = 16384


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill every ${NAME} of the template (nginx's own $variables are left alone)."""
    missing = sorted({m[1] for m in _PLACEHOLDER.finditer(template)} - set(values))
    if missing:
        raise ValueError(f"no value for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m[1]], template)


def listen_address(host: str, port: str) -> str:
    """nginx's listen for HOST and PORT (IPv6 addresses in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def user_directive() -> str:
    """As root, nginx's workers drop to nobody; otherwise they stay who started nginx."""
    if os.geteuid() != 0:
        return ""
    nobody = pwd.getpwnam("nobody")
    return f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"


def values(settings: Settings, runtime_dir: str, *, host: str, port: str) -> dict[str, str]:
    """The template's values for `make run`: gunicorn pools on unix sockets in runtime_dir."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if nofile == resource.RLIM_INFINITY:
        nofile = 2 * MAX_WORKER_CONNECTIONS
    return {
        "NGINX_USER_DIRECTIVE": user_directive(),
        "NGINX_WORKERS": os.environ.get("NGINX_WORKERS", "auto"),
        "NGINX_NOFILE": str(nofile),
        "NGINX_WORKER_CONNECTIONS": str(max(256, min(MAX_WORKER_CONNECTIONS, nofile - 64))),
        "NGINX_RUNTIME_DIR": runtime_dir,
        "NGINX_LISTEN": listen_address(host, port),
        "API_UPSTREAM": f"unix:{runtime_dir}/api.sock",
        "UPLOADS_UPSTREAM": f"unix:{runtime_dir}/uploads.sock",
        "MAX_BODY_BYTES": str(settings.max_body_bytes),
        "SYNC_MAX_BODY_BYTES": str(settings.sync_max_body_bytes),
    }


def main(argv: list[str]) -> int:
    """Command line: `nginx-conf RUNTIME_DIR` prints the rendered configuration."""
    if len(argv) != 2 or argv[0] != "nginx-conf":
        print("usage: python -m monitor_api.serving nginx-conf RUNTIME_DIR", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    conf = render(TEMPLATE.read_text(), values(
        settings, os.path.abspath(argv[1]), host=os.environ.get("HOST", "127.0.0.1"),
        port=os.environ.get("PORT", "8000")))
    sys.stdout.write(conf)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
