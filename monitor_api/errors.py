"""Domain errors and their RFC 9457 problem+json rendering."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, g, has_app_context, request
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from monitor_api import jsonsafe
from monitor_api.db import is_transient

log = logging.getLogger(__name__)
PROBLEM_MIME = "application/problem+json"

# slug -> (title, description); the description is served at /problems/<slug>.
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "bad-request": ("Bad request", "The request could not be understood (e.g. malformed JSON)."),
    "too-deep": ("JSON nested too deeply", "A JSON value is nested deeper than the documented "
                 f"limit ({jsonsafe.MAX_DEPTH} levels of arrays and objects)."),
    "unauthorized": ("Unauthorized", "No valid bearer token was presented."),
    "token-expired": ("Token expired", "The session passed its idle timeout or absolute lifetime."),
    "device-revoked": ("Device revoked", "This device was revoked; register the phone again."),
    "account-disabled": ("Account disabled", "The account was disabled by an administrator."),
    "forbidden": ("Forbidden", "Your role may not perform this action."),
    "not-found": ("Not found", "No such resource, or it is not visible to you."),
    "method-not-allowed": ("Method not allowed", "The resource does not support this method."),
    "conflict": ("Conflict", "The request conflicts with the current state of the resource."),
    "sync-conflict": ("Sync conflict", "Records changed on the server since your last pull."),
    "precondition-failed": ("Precondition failed", "If-Match does not match the current ETag."),
    "precondition-required": ("Precondition required", "Send If-Match with the ETag you read."),
    "payload-too-large": ("Payload too large", "The request body exceeds the limit."),
    "unsupported-media-type": ("Unsupported media type", "Send the content type documented."),
    "validation-error": ("Validation failed", "One or more fields are invalid; see `errors`."),
    "too-many-requests": ("Too many requests", "Wait for Retry-After seconds, then try again."),
    "upgrade-required": ("Schema version unsupported", "Upgrade the app to a supported schema."),
    "checksum-mismatch": ("Checksum mismatch", "The chunk's checksum does not match its bytes."),
    "gone": ("Gone", "The resource existed but has expired or been terminated."),
    "service-unavailable": ("Service unavailable", "The API is starting, restarting or "
                            "overloaded, or the database was busy with concurrent changes to "
                            "the same records; nothing was applied. Retry after Retry-After "
                            "seconds."),
    "internal-error": ("Internal server error", "An unexpected error; the request id is logged."),
}
STATUS_SLUG = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    410: "gone",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    426: "upgrade-required",
    428: "precondition-required",
    429: "too-many-requests",
    460: "checksum-mismatch",
    503: "service-unavailable",
}


class ApiError(Exception):
    """An error a client may see, rendered as problem+json."""

    status = 400
    slug = "bad-request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        slug: str | None = None,
        errors: Any = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        if status is not None:
            self.status = status
            self.slug = slug or STATUS_SLUG.get(status, "bad-request")
        if slug is not None:
            self.slug = slug
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


class Unauthorized(ApiError):
    status, slug = 401, "unauthorized"


class Forbidden(ApiError):
    status, slug = 403, "forbidden"


class NotFound(ApiError):
    status, slug = 404, "not-found"


class Conflict(ApiError):
    status, slug = 409, "conflict"


class PreconditionFailed(ApiError):
    status, slug = 412, "precondition-failed"


class PreconditionRequired(ApiError):
    status, slug = 428, "precondition-required"


class PayloadTooLarge(ApiError):
    status, slug = 413, "payload-too-large"


class UnsupportedMediaType(ApiError):
    status, slug = 415, "unsupported-media-type"


class ValidationFailed(ApiError):
    status, slug = 422, "validation-error"


class TooDeep(ApiError):
    status, slug = 400, "too-deep"

    def __init__(self, what: str = "The JSON") -> None:
        super().__init__(f"{what} nests arrays or objects deeper than {jsonsafe.MAX_DEPTH} "
                         "levels, the limit.", extra={"limit": jsonsafe.MAX_DEPTH})


class TooManyRequests(ApiError):
    status, slug = 429, "too-many-requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


def problem_response(
    status: int,
    slug: str | None = None,
    detail: str | None = None,
    *,
    errors: Any = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """Build an application/problem+json response."""
    slug = slug or STATUS_SLUG.get(status, "internal-error" if status >= 500 else "bad-request")
    title = PROBLEM_TYPES.get(slug, (slug.replace("-", " ").capitalize(), ""))[0]
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail or PROBLEM_TYPES.get(slug, ("", title))[1],
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    rid = g.get("request_id") if g else None
    if rid:
        body["request_id"] = rid
    # Field names echo what the client sent: a lone surrogate there must not make the answer
    # itself unencodable (dumps_bytes escapes it).
    default = current_app.json.default if has_app_context() else str  # type: ignore[attr-defined]
    resp = Response(jsonsafe.dumps_bytes(body, default=default, sort_keys=True), status=status,
                    mimetype=PROBLEM_MIME)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def transient_response() -> Response:
    """503 for a transaction that lost a database race again and again: nothing applied."""
    return problem_response(503, detail="The database was busy with concurrent changes to the "
                            "same records; nothing was applied. Retry shortly.",
                            headers={"Retry-After": "2"})


def _field_errors(data: Any) -> dict[str, Any] | None:
    """webargs nests messages by location ({"json": {...}}); the client cares about fields."""
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, dict):
        return None
    errors: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            errors.update(fields)
        else:
            errors[location] = fields
    return errors


def _from_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    errors = _field_errors(getattr(exc, "data", None))
    detail = exc.description
    headers: dict[str, str] = {}
    if status == 422:
        detail = "The request failed validation; see `errors`."
    elif status == 400 and errors is not None:
        # webargs' invalid JSON: {"json": ["Invalid JSON body."]} is not a per-field error.
        detail = "The request body is not valid JSON." if "json" in errors else detail
        errors = None
    elif status == 405:
        valid = sorted(getattr(exc, "valid_methods", None) or [])
        if valid:
            headers["Allow"] = ", ".join(valid)
        detail = f"{request.method} is not allowed here; allowed: {', '.join(valid)}."
    elif status == 413:
        limit = request.max_content_length
        detail = f"The request body exceeds the limit of {limit} bytes." if limit else detail
    elif status >= 500:
        return problem_response(status, "internal-error")
    return problem_response(status, detail=detail, errors=errors, headers=headers)


def init_app(app: Flask) -> None:
    """Render every error, ours or Werkzeug's, as problem+json."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return problem_response(
            exc.status, exc.slug, exc.detail, errors=exc.errors, headers=exc.headers,
            extra=exc.extra,
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return _from_http_exception(exc)

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError) -> Response:
        # A race the service's own checks could not see (e.g. two inserts of one unique name).
        log.info("integrity error", extra={"error": str(exc.orig)[:300]})
        return problem_response(409, detail="The change conflicts with existing data.")

    @app.errorhandler(DataError)
    def _data_error(exc: DataError) -> Response:
        # A value the schema let through but the column refuses (range, length): client input.
        log.info("data error", extra={"error": str(exc.orig)[:300]})
        return problem_response(422, detail="A value is out of range for its field.")

    @app.errorhandler(OperationalError)
    def _operational(exc: OperationalError) -> Response:
        if is_transient(exc):  # a deadlock or serialization failure that retries did not cure
            log.warning("transient database error", extra={"error": str(exc.orig)[:300]})
            return transient_response()
        log.exception("database error", extra={"request_id": g.get("request_id")})
        return problem_response(500, "internal-error")

    @app.errorhandler(RecursionError)
    def _too_deep(exc: RecursionError) -> Response:
        # Request bodies are depth-checked (monitor_api.inputs, jsonsafe); this is the net
        # under any other parse of client JSON (e.g. a JSON query parameter).
        log.warning("recursion error", exc_info=exc, extra={"request_id": g.get("request_id")})
        err = TooDeep("The request")
        return problem_response(err.status, err.slug, err.detail, extra=err.extra)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error", extra={"request_id": g.get("request_id")})
        return problem_response(500, "internal-error")

    @app.get("/problems/<slug>")
    def problem_type(slug: str) -> Response:
        """Describe a problem type."""
        if slug not in PROBLEM_TYPES:
            return problem_response(404)
        title, description = PROBLEM_TYPES[slug]
        return Response(jsonsafe.dumps_bytes({"type": f"/problems/{slug}", "title": title,
                                              "description": description}),
                        mimetype="application/json")
