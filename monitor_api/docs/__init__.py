"""API docs UI served from the installed swagger-ui-bundle package (no CDN: works offline)."""

from __future__ import annotations

from flask import Blueprint, Response, send_from_directory
from flask.typing import ResponseReturnValue
from swagger_ui_bundle import swagger_ui_path

from monitor_api.errors import problem_response

bp = Blueprint("docs", __name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>monitor-api · API docs</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css"></head>
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


# Only what the page loads: the bundle's own index.html and initializer point at a demo API.
_ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                     "favicon-16x16.png", "favicon-32x32.png"})


@bp.get("/api/docs/static/<path:filename>")
def docs_static(filename: str) -> ResponseReturnValue:
    """Swagger UI assets."""
    if filename not in _ASSETS:
        return problem_response(404)
    return send_from_directory(swagger_ui_path, filename)
