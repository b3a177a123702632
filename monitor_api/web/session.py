"""The web face's sign-in: an opaque login-session token in an HttpOnly cookie.

The token is the same kind the API issues (`mas_…`, hashed in `auth_sessions`, idle and
absolute expiry, the same login throttling and audit); only the web blueprint reads it from
the cookie — the API never accepts a cookie, so no API call can be forged cross-site. Every
form carries a CSRF token (Flask-WTF).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, url_for
from flask_babel import get_locale
from werkzeug.wrappers import Response

from monitor_api.audit.service import Actor, set_actor
from monitor_api.auth import SESSION_PREFIX, Principal, authenticate
from monitor_api.db import get_session
from monitor_api.errors import ApiError, Forbidden

COOKIE = "monitor_session"
LANG_COOKIE = "lang"
LANGUAGES = ("en", "ru", "tg")
F = TypeVar("F", bound=Callable[..., Any])


def web_principal() -> Principal | None:
    """The signed-in principal of this request, or None (cached on `g`)."""
    if "web_principal" in g:
        return g.web_principal  # type: ignore[no-any-return]
    token = request.cookies.get(COOKIE)
    principal = None
    if token and token.startswith(SESSION_PREFIX):
        session = get_session()
        try:
            principal = authenticate(session, token=token)
        except ApiError:
            principal = None
        if principal is not None:
            g.principal = principal  # the services' audit entries name the user
            set_actor(session, Actor(principal.user_id, None, g.get("request_id"),
                                     request.remote_addr))
    g.web_principal = principal
    return principal


def page(*roles: str) -> Callable[[F], F]:
    """A page for signed-in users of `roles` (any when empty): others go to the sign-in
    page, or get the 403 page."""

    def decorator(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = web_principal()
            if principal is None:
                return redirect(url_for("web.login", next=safe_next(request.full_path)))
            if roles and principal.role not in roles:
                raise Forbidden(f"The {principal.role} role may not open this page.")
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def safe_next(target: str | None) -> str:
    """A same-site path to go back to after sign-in (never another host)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target.rstrip("?") or "/"


def set_login_cookie(response: Response, token: str) -> Response:
    settings = current_app.config["SETTINGS"]
    response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", path="/",
                        secure=request.is_secure or settings.web_secure_cookies,
                        max_age=settings.session_absolute_seconds)
    return response


def clear_login_cookie(response: Response) -> Response:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax")
    return response


def select_locale() -> str:
    """?lang=, else the language cookie, else the browser's preference, else English."""
    wanted = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    if wanted in LANGUAGES:
        return wanted
    return request.accept_languages.best_match(LANGUAGES) or "en"


def remember_locale(response: Response) -> Response:
    """Keep a language chosen with ?lang= for the next pages."""
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        response.set_cookie(LANG_COOKIE, wanted, samesite="Lax", path="/",
                            max_age=365 * 86400, secure=request.is_secure)
    return response


def locale() -> str:
    return str(get_locale() or "en")
