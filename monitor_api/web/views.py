"""Pages everyone signed in uses: sign-in, the facility map, facility histories, the
recommendation tracker, annual statistics and photo copies. Views are thin: they call the
same services as the API (same scoping, same audit) and render."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from monitor_api import db
from monitor_api.accounts import service as accounts
from monitor_api.errors import ApiError, Forbidden
from monitor_api.facilities import service as facilities
from monitor_api.facilities.models import AUTHORITIES, FACILITY_TYPES, REGIONS
from monitor_api.histories import queries, service, tracker
from monitor_api.photos import service as photos
from monitor_api.web import charts, csrf
from monitor_api.web.session import (
    clear_login_cookie,
    page,
    remember_locale,
    safe_next,
    set_login_cookie,
    web_principal,
)

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")
VIEWERS = ("admin", "coordinator", "monitor", "partner", "analyst")


@bp.before_request
def _protect() -> None:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()  # 400 page when the form's token is missing or wrong


@bp.after_request
def _headers(response: Response) -> Response:
    tiles = current_app.config.get("TILE_ORIGIN", "")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data: {tiles}".rstrip() + "; connect-src 'self'; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.path.startswith("/assets/"):
        response.headers["Cache-Control"] = "public, max-age=86400"
    return remember_locale(response)


@bp.app_template_filter("indicator")
def indicator_label(name: str) -> str:
    """An indicator's label: `compliance_rate.health_care` → "Compliance · Health care"."""
    head, _dot, tail = name.partition(".")
    return f"{_(head)} · {_(tail)}" if tail else _(head)


@bp.app_template_filter("value")
def indicator_value(value: Any, name: str = "", signed: bool = False) -> str:
    """Rates as percentages, other numbers as they are; — for none."""
    if value is None:
        return "—"
    if isinstance(value, int | float) and ("rate" in name.split(".")[0]):
        return f"{value * 100:+.0f} %" if signed else f"{value * 100:.0f} %"
    if isinstance(value, float):
        return f"{value:+.2f}" if signed else f"{value:.2f}"
    return f"{value:+d}" if signed and isinstance(value, int) else str(value)


@bp.app_template_global()
def me() -> Any:
    return web_principal()


@bp.app_template_global()
def lang_url(code: str) -> str:
    args = {**request.args, "lang": code}
    return url_for(request.endpoint or "web.home", **(request.view_args or {}), **args)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> tuple[str, int]:
    return render_template("error.html", status=exc.status, detail=exc.detail), exc.status


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    return render_template("error.html", status=400, detail=_(
        "The form expired or was not sent from this site. Go back, reload and try again.")), 400


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in (the API's login: same throttling, same audit)."""
    nxt = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=nxt)
    try:
        token, _auth, _user = accounts.login(
            db.get_session(), settings=current_app.config["SETTINGS"],
            username=(request.form.get("username") or "")[:150],
            password=(request.form.get("password") or "")[:1000],
            ip=request.remote_addr, user_agent=request.headers.get("User-Agent"),
            own_session=db.new_session)
    except ApiError as exc:
        headers = exc.headers if exc.status == 429 else {}
        return render_template("login.html", next=nxt, error=exc.detail), exc.status, headers
    return set_login_cookie(redirect(nxt), token)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    principal = web_principal()
    if principal is not None:
        accounts.logout(db.get_session(), principal)
    return clear_login_cookie(redirect(url_for("web.login")))


def _filters() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, allowed in (("region", REGIONS), ("facility_type", FACILITY_TYPES),
                          ("authority", AUTHORITIES)):
        value = request.args.get(name)
        if value in allowed:
            out[name] = [value]
    q = (request.args.get("q") or "").strip()[:200]
    if q and "\x00" not in q:
        out["q"] = q
    return out


@bp.route("/")
@page(*VIEWERS)
def home() -> Any:
    """The facility map and list with filters."""
    items, total = facilities.list_facilities(db.get_session(), web_principal(), page=1,
                                              per_page=500, **_filters())
    return render_template("map.html", facilities=items, total=total, filters=request.args,
                           regions=REGIONS, types=FACILITY_TYPES, authorities=AUTHORITIES)


@bp.route("/map.json")
@page(*VIEWERS)
def map_data() -> Any:
    """Facility markers with their latest occupancy and open recommendations."""
    session, principal = db.get_session(), web_principal()
    filters = _filters()
    items, _total = facilities.list_facilities(session, principal, page=1, per_page=500,
                                               **filters)
    latest: dict[str, dict[str, Any]] = {}
    scoped = {k: v for k, v in filters.items() if k != "q"}
    for name in ("occupancy_rate", "recommendations_open"):
        for item in queries.indicators(session, principal, indicator=name, mode="latest",
                                       **scoped):
            latest.setdefault(str(item["facility"]["id"]), {})[name] = item["value"]
    return charts.markers(items, latest)


@bp.route("/facilities/<uuid:facility_id>")
@page(*VIEWERS)
def facility(facility_id: uuid.UUID) -> Any:
    """A facility's condition history: charts, what changed, recommendations, photos."""
    session, principal = db.get_session(), web_principal()
    history = service.conditions(session, principal, facility_id)
    recs = service.recommendations(session, principal, facility_id)
    try:
        gallery = service.photos(session, principal, facility_id)["items"]
    except Forbidden:  # analysts: no media
        gallery = None
    return render_template("facility.html", history=history, recs=recs["items"],
                           photos=gallery, chart_data=charts.history(history),
                           latest=history["visits"][-1] if history["visits"] else None)


@bp.route("/photos/<uuid:photo_id>/<any(thumbnail, display, original):variant>")
@page(*VIEWERS)
def photo(photo_id: uuid.UUID, variant: str) -> Any:
    """A photo copy through this site (same rules as the API; same custody log)."""
    store = current_app.extensions["blob_store"]
    found = photos.download(db.get_session(), web_principal(), store,
                            current_app.config["SETTINGS"], photo_id, variant)
    # Streamed through this site (never a redirect to the store): the page's CSP allows
    # images from here only, and the bytes stay behind the same sign-in.
    return Response(stream_with_context(store.iter_bytes(found.key)), mimetype=found.mime_type,
                    headers={"Cache-Control": "private, no-store",
                             "Content-Length": str(found.size)})


@bp.route("/recommendations")
@page(*VIEWERS)
def recommendations() -> Any:
    """Recommendations per addressee authority, with implementation rates."""
    authority = request.args.get("authority")
    data = tracker.tracker(db.get_session(), web_principal(),
                           addressed_to=authority if authority in AUTHORITIES else None,
                           open_only=request.args.get("open") == "1")
    return render_template("tracker.html", data=data, authorities=AUTHORITIES,
                           authority=authority, open_only=request.args.get("open") == "1")


@bp.route("/statistics")
@page(*VIEWERS)
def statistics() -> Any:
    """A year's figures."""
    try:
        year = int(request.args.get("year") or date.today().year)
    except ValueError:
        year = date.today().year
    year = min(max(year, 1990), 2100)
    data = queries.annual(db.get_session(), web_principal(), year=year)
    return render_template("statistics.html", data=data, year=year)


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"request_id": g.get("request_id"), "get_locale": get_locale,
            "url_rules": current_app.view_functions}


from monitor_api.web import exports, review  # noqa: E402,F401  (forms and coordinators' pages)
