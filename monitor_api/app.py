"""create_app(): the table of contents of the service."""

from __future__ import annotations

import io
import logging
import re
import secrets
from typing import Any

from flask import Flask, Response, g, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api
from sqlalchemy.exc import DBAPIError, IntegrityError

from monitor_api import db, errors, inputs, jsonsafe, metrics
from monitor_api import logging as json_logging
from monitor_api.audit import service as audit
from monitor_api.config import Settings
from monitor_api.histories import due
from schemas.common import ProblemSchema

log = logging.getLogger("monitor_api.request")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class JsonProvider(DefaultJSONProvider):
    """UTF-8 JSON responses: Cyrillic names and notes are a third of their \\uXXXX-escaped
    size, which matters over weak mobile links; a lone surrogate is sent escaped, never a 500."""

    ensure_ascii = False

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(jsonsafe.dumps_bytes(
            obj, default=self.default, sort_keys=self.sort_keys), mimetype=self.mimetype)


class ProblemApi(Api):
    """flask-smorest Api whose documented error bodies are RFC 9457 problem details."""

    ERROR_SCHEMA = ProblemSchema

    def _init_spec(self, *, extra_plugins: Any = None, **options: Any) -> None:
        from monitor_api.docs.spec import OperationDocsPlugin, ProblemResponsesPlugin

        plugins = [*(extra_plugins or ()), ProblemResponsesPlugin(), OperationDocsPlugin()]
        super()._init_spec(extra_plugins=plugins, **options)

    def _register_responses(self) -> None:
        from monitor_api.docs.spec import register_problem_responses

        register_problem_responses(self.spec, self.ERROR_SCHEMA)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask application from `settings` (default: the environment)."""
    settings = settings or Settings.from_env()
    json_logging.configure(settings.log_level)
    app = Flask(__name__)
    app.json = JsonProvider(app)
    app.config.update(
        SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="monitor-api",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Offline-sync backend for detention monitoring."},
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    )
    db.init_app(app, settings.database_url, settings.database_read_url)
    metrics.instrument_pool(app.extensions["db_engine"], "web")
    # Indicators of the visits a request changed are recomputed after its commit, by this
    # process's background thread (or by the first read that needs them): histories/due.py.
    app.before_request(due.start(app.extensions["db_engine"]).ensure_started)
    _init_blob_store(app, settings)
    api = ProblemApi(app)
    _register_blueprints(app, api)
    errors.init_app(app)  # after Api(): our handlers replace flask-smorest's
    _request_hooks(app, inputs.init_app(app, api))
    if settings.trusted_proxies:
        # Behind N reverse proxies, take the client address (throttling, audit) from
        # X-Forwarded-For; never trust the header without a configured proxy.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,  # type: ignore[method-assign]
                                x_proto=settings.trusted_proxies)
    return app


def _init_blob_store(app: Flask, settings: Settings) -> None:
    try:
        from monitor_api.storage import make_blob_store
    except ImportError:  # storage arrives with the photos feature
        return
    app.extensions["blob_store"] = make_blob_store(settings)


def _register_blueprints(app: Flask, api: Api) -> None:
    from monitor_api import health
    from monitor_api.accounts.routes import blp as accounts_blp
    from monitor_api.audit.routes import blp as audit_blp
    from monitor_api.docs import bp as docs_bp
    from monitor_api.facilities.routes import blp as facilities_blp

    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(docs_bp)
    from monitor_api.jobs.routes import blp as jobs_blp  # admins: failed background jobs

    for blp in (accounts_blp, facilities_blp, audit_blp, jobs_blp):
        api.register_blueprint(blp)
    # Coordinator API: templates, visits, findings, recommendations, restricted records.
    from monitor_api.checklists.routes import blp as checklists_blp
    from monitor_api.findings.routes import blp as findings_blp
    from monitor_api.findings.routes import recs_blp
    from monitor_api.restricted.routes import blp as restricted_blp
    from monitor_api.visits.routes import blp as visits_blp

    for blp in (checklists_blp, visits_blp, findings_blp, recs_blp, restricted_blp):
        api.register_blueprint(blp)
    from monitor_api.photos.routes import blp as photos_blp
    from monitor_api.uploads.routes import blp as uploads_blp

    for blp in (photos_blp, uploads_blp):
        api.register_blueprint(blp)
    from monitor_api.sync_api import openapi as sync_openapi  # record schemas per table
    from monitor_api.sync_api.routes import blp as sync_blp  # sync engine endpoints
    from monitor_api.sync_review.routes import blp as sync_review_blp

    sync_openapi.register(api.spec)
    api.register_blueprint(sync_blp)
    api.register_blueprint(sync_review_blp)
    from monitor_api.histories.routes import blp as histories_blp  # condition histories

    api.register_blueprint(histories_blp)
    from monitor_api.exports.routes import blp as exports_blp  # analyst downloads

    api.register_blueprint(exports_blp)
    from monitor_api import web  # the pages: same services, same scoping

    web.init_app(app, app.config["SETTINGS"])


def _request_hooks(app: Flask, contract: inputs.QueryContract) -> None:
    import time

    from monitor_api.auth import auth_check_for

    @app.before_request
    def _start() -> Response | None:
        g.started = time.monotonic()
        rid = request.headers.get("X-Request-ID", "")
        g.request_id = rid if _REQUEST_ID.match(rid) else secrets.token_hex(12)
        # Authenticate (and check the role) before any body or query is parsed: an anonymous
        # or unauthorised caller gets 401/403, never a validation answer.
        check = auth_check_for(app.view_functions.get(request.endpoint or ""), request.method)
        if check is not None:
            check()
        if request.method in ("POST", "PUT", "PATCH") and not inputs.reads_own_body(
                request.path):
            has_body = (request.content_length or 0) > 0 or "chunked" in request.headers.get(
                "Transfer-Encoding", "")
            if has_body and not (request.mimetype == "application/json"
                                 or request.mimetype.endswith("+json")):
                return errors.problem_response(
                    415, detail="Send the body as application/json.")
            if has_body and request.content_length is None:
                too_large = _buffer_chunked_body()
                if too_large is not None:
                    return too_large
        contract.check()  # undocumented query parameters → 422
        inputs.check_json_body()  # too deep → 400; lone surrogates, NUL → 422
        return None

    def _buffer_chunked_body() -> Response | None:
        # Werkzeug silently truncates a chunked body at MAX_CONTENT_LENGTH (the JSON would
        # then fail as "invalid"); read it here, one byte past the cap, and answer 413.
        limit = request.max_content_length
        raw = request.environ.get("wsgi.input")
        if limit is None or raw is None or "wsgi.input_terminated" not in request.environ:
            return None
        data = raw.read(limit + 1)
        if len(data) > limit:
            return errors.problem_response(
                413, detail=f"The request body exceeds the limit of {limit} bytes.")
        request.environ["wsgi.input"] = io.BytesIO(data)
        request.environ["CONTENT_LENGTH"] = str(len(data))
        return None

    @app.after_request
    def _finish(response: Response) -> Response:
        if response.status_code == 204 or (request.method == "OPTIONS"
                                           and not response.get_data()):
            response.headers.pop("Content-Type", None)  # no body: no (text/html) type either
        session = g.get("db_session")
        if session is not None:
            if response.status_code < 400:
                try:
                    session.commit()
                except IntegrityError as exc:
                    session.rollback()
                    log.info("commit refused", extra={"error": str(exc.orig)[:300]})
                    response = errors.problem_response(
                        409, detail="The change conflicts with existing data.")
                except DBAPIError as exc:
                    session.rollback()
                    if db.is_transient(exc):
                        log.warning("commit lost a race", extra={"error": str(exc.orig)[:300]})
                        response = errors.transient_response()
                    else:
                        log.exception("commit failed")
                        response = errors.problem_response(500, "internal-error")
            else:
                session.rollback()
                audit.flush_after_rollback(session)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        elapsed = time.monotonic() - g.get("started", time.monotonic())
        metrics.observe_request(request.endpoint, request.method, response.status_code, elapsed)
        log.info("request", extra={**_access_fields(response),
                                   "duration_ms": round(elapsed * 1000, 1)})
        return response


def _access_fields(response: Response) -> dict[str, Any]:
    principal = g.get("principal")
    return {
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "user_id": str(principal.user_id) if principal else None,
        "device_id": str(principal.device_id) if principal and principal.device_id else None,
    }
