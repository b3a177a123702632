"""API docs UI: Swagger UI 5.35.0 vendored from npm's swagger-ui-dist (no CDN: works offline).

PyPI's swagger-ui-bundle stopped at Swagger UI 4.15.5 (2022); the vendored files are the
release's own `swagger-ui-bundle.js` and `swagger-ui.css` (Apache-2.0, LICENSE and NOTICE
beside them), with their source-map comments removed (the maps are not shipped).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory
from flask.typing import ResponseReturnValue

from monitor_api.errors import problem_response

bp = Blueprint("docs", __name__)
SWAGGER_UI = Path(__file__).parent / "static" / "swagger-ui"
SWAGGER_UI_VERSION = "5.35.0"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>monitor-api · API docs</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css">
<link rel="icon" type="image/png" href="/api/docs/static/favicon-32x32.png"></head>
<body><div id="ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script src="/api/docs/static/docs-init.js"></script>
</body></html>"""

# Kept out of the page so a strict Content-Security-Policy (no inline script) holds.
# validatorUrl: null, or Swagger UI would ask validator.swagger.io for a badge (offline sites).
_INIT = """window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#ui",
  deepLinking: true, persistAuthorization: false, validatorUrl: null});"""
# Everything the page needs comes from this server.
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'")


@bp.get("/api/docs")
def docs_page() -> ResponseReturnValue:
    """The Swagger UI page."""
    return Response(_PAGE, mimetype="text/html", headers={"Content-Security-Policy": _CSP})


@bp.get("/api/docs/static/docs-init.js")
def docs_init() -> ResponseReturnValue:
    """Swagger UI start-up script."""
    return Response(_INIT, mimetype="text/javascript")


# Only what the page loads (the release's index.html and initializer point at a demo API).
_ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-16x16.png",
                     "favicon-32x32.png"})


@bp.get("/api/docs/static/<path:filename>")
def docs_static(filename: str) -> ResponseReturnValue:
    """Swagger UI assets."""
    if filename not in _ASSETS:
        return problem_response(404)
    return send_from_directory(SWAGGER_UI, filename)
