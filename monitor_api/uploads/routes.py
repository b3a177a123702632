"""tus 1.0 endpoints at /api/v1/uploads (core, creation, creation-with-upload, checksum,
termination, expiration)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from email.utils import format_datetime

from flask import Response, current_app, request, url_for
from flask_smorest import Blueprint
from werkzeug.exceptions import RequestEntityTooLarge

from monitor_api.auth import current_principal, roles_required
from monitor_api.db import get_session
from monitor_api.errors import ApiError, PayloadTooLarge
from monitor_api.storage import BodyEnded
from monitor_api.uploads import creation, service
from monitor_api.uploads.models import Upload

blp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads",
                description="Resumable photo uploads (tus 1.0; see the README's Uploads).")
READ_SIZE = 256 * 1024


@blp.after_request
def _tus_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = service.TUS_VERSION
    return response


@blp.before_request
def _tus_version() -> Response | None:
    if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != \
            service.TUS_VERSION:
        raise ApiError("Send Tus-Resumable: 1.0.0.", status=412,
                       headers={"Tus-Version": service.TUS_VERSION})
    return None


def _upload_headers(upload: Upload) -> dict[str, str]:
    headers = {"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.length),
               "Cache-Control": "no-store"}
    if upload.state == "open":
        headers["Upload-Expires"] = format_datetime(upload.expires_at, usegmt=True)
    return headers


_TUS_OPTIONS = {"204": {"description": "The tus capabilities, in headers only (no body).",
                         "headers": {name: {"schema": {"type": "string"}} for name in (
                             "Tus-Version", "Tus-Extension", "Tus-Max-Size",
                             "Tus-Checksum-Algorithm", "Tus-Resumable")}}}


@blp.route("", methods=["OPTIONS"])
@blp.route("/<uuid:upload_id>", methods=["OPTIONS"])
@blp.doc(responses=_TUS_OPTIONS)
def options(upload_id: uuid.UUID | None = None) -> Response:
    """Advertise the tus version, extensions, maximum size and checksum algorithms."""
    settings = current_app.config["SETTINGS"]
    # 204 with no body and no Content-Type (the after_request hook drops Flask's text/html).
    return Response(status=204, headers={
        "Tus-Version": service.TUS_VERSION, "Tus-Extension": service.EXTENSIONS,
        "Tus-Max-Size": str(settings.upload_max_bytes), "Tus-Checksum-Algorithm": "sha256"})


@blp.route("", methods=["POST"])
@roles_required(device=True)
def create() -> Response:
    """Create an upload (Upload-Length, Upload-Metadata); a body carries its first bytes."""
    settings = current_app.config["SETTINGS"]
    if not _has_body():
        upload = service.create(get_session(), current_principal(), settings,
                                length_header=request.headers.get("Upload-Length"),
                                metadata_header=request.headers.get("Upload-Metadata"))
        return _created(upload)
    upload_id = uuid.uuid4()
    try:
        upload = creation.create_with_upload(
            get_session(), current_principal(), current_app.extensions["db_engine"],
            current_app.extensions["blob_store"], settings, upload_id,
            length_header=request.headers.get("Upload-Length"),
            metadata_header=request.headers.get("Upload-Metadata"),
            content_type=request.mimetype, content_length=request.content_length,
            checksum_header=request.headers.get("Upload-Checksum"), open_body=_open_body)
    except ApiError as exc:
        session = get_session()
        session.rollback()  # whatever this request had not committed is dropped anyway
        if session.get(Upload, upload_id) is not None:  # created; the body was refused
            exc.headers.setdefault("Location", url_for("uploads.head",
                                                       upload_id=upload_id))
        raise
    return _created(upload)


def _has_body() -> bool:
    return (request.content_length or 0) > 0 or "chunked" in request.headers.get(
        "Transfer-Encoding", "")


def _created(upload: Upload) -> Response:
    headers = _upload_headers(upload)
    headers["Location"] = url_for("uploads.head", upload_id=upload.id)
    return Response(status=201, headers=headers)


@blp.route("/<uuid:upload_id>", methods=["HEAD"])
@roles_required(device=True)
def head(upload_id: uuid.UUID) -> Response:
    """Report the upload's offset and length."""
    upload = service.get_visible(get_session(), current_principal(), upload_id)
    return Response(status=200, headers=_upload_headers(upload))


def _open_body(limit: int) -> Iterator[bytes]:
    """The request body as chunks, at most `limit` bytes; an early end raises BodyEnded."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"The body ({declared} bytes) is longer than the {limit} bytes "
                              "this upload still expects.")
    # One byte of slack so that reading to the end of an exact-length body is not an error.
    request.max_content_length = limit + 1
    stream = request.stream
    received = 0
    while True:
        try:
            chunk = stream.read(READ_SIZE)
        except RequestEntityTooLarge:
            raise
        except Exception as exc:  # a dropped connection, whatever the server calls it
            raise BodyEnded() from exc
        if not chunk:
            break
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"The body is longer than the {limit} bytes this upload "
                                  "still expects.")
        yield chunk
    if declared is not None and received < declared:
        raise BodyEnded()


@blp.route("/<uuid:upload_id>", methods=["PATCH"])
@roles_required(device=True)
def append(upload_id: uuid.UUID) -> Response:
    """Append bytes at Upload-Offset (application/offset+octet-stream; Upload-Checksum)."""
    upload = service.append(
        get_session(), current_principal(), current_app.extensions["db_engine"],
        current_app.extensions["blob_store"], current_app.config["SETTINGS"], upload_id,
        offset_header=request.headers.get("Upload-Offset"), content_type=request.mimetype,
        checksum_header=request.headers.get("Upload-Checksum"), open_body=_open_body)
    return Response(status=204, headers=_upload_headers(upload))


@blp.route("/<uuid:upload_id>", methods=["DELETE"])
@roles_required(device=True)
def terminate(upload_id: uuid.UUID) -> Response:
    """Terminate an unfinished upload and free its staged bytes."""
    service.terminate(get_session(), current_principal(), current_app.extensions["blob_store"],
                      upload_id)
    return Response(status=204)
