"""The web face: server-rendered pages over the same services and scoping as the API.

Flask-WTF gives every form a CSRF token (checked on every unsafe request to these pages,
never on the bearer-token API); Flask-Babel picks English, Russian or Tajik. Pages send a
strict Content-Security-Policy: scripts and styles only from this server (vendored Leaflet
and uPlot, no CDN), images from this server and the configured tile server.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from monitor_api.config import Settings

csrf = CSRFProtect()


def secret_key(settings: Settings) -> str:
    """WEB_SECRET_KEY, else one generated once and kept in the state directory (0600), so
    every worker and restart signs CSRF tokens alike."""
    if settings.web_secret_key:
        return settings.web_secret_key
    path = Path(settings.state_dir) / "web-secret-key"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    except FileExistsError:
        pass
    return path.read_text().strip()


def init_app(app: Flask, settings: Settings) -> None:
    """Register the pages, CSRF protection, translations and the page security headers."""
    from monitor_api.web import session
    from monitor_api.web.views import bp

    app.config.update(
        SECRET_KEY=secret_key(settings),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by the pages' blueprint, not on the API
        WTF_CSRF_TIME_LIMIT=settings.session_absolute_seconds,
        WTF_CSRF_SSL_STRICT=True,
        BABEL_DEFAULT_LOCALE="en",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        TILE_URL=settings.web_tile_url,
        TILE_ATTRIBUTION=settings.web_tile_attribution,
        TILE_ORIGIN=_origin(settings.web_tile_url),
    )
    csrf.init_app(app)
    Babel(app, locale_selector=session.select_locale)
    app.register_blueprint(bp)


def _origin(url: str) -> str:
    parts = urlsplit(url.replace("{s}", "a"))
    host = parts.netloc.replace("a.", "*.", 1) if "{s}" in url else parts.netloc
    return f"{parts.scheme}://{host}" if parts.scheme and host else ""
