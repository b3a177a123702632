"""Photo detail, custody log and downloads (presigned on S3, streamed from a local store)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, current_app, redirect, stream_with_context
from flask_smorest import Blueprint

from monitor_api.auth import current_principal, roles_required
from monitor_api.db import get_session
from monitor_api.photos import service
from schemas import photos as s

blp = Blueprint("photos", __name__, url_prefix="/api/v1/photos",
                description="Photo evidence: verified bytes, derivatives, chain of custody.")


@blp.route("/<uuid:photo_id>", methods=["GET"])
@roles_required()
@blp.response(200, s.PhotoDetailSchema)
def detail(photo_id: uuid.UUID) -> Any:
    """A photo: record, processing results, EXIF, distance from the facility, custody."""
    return service.detail(get_session(), current_principal(), photo_id)


@blp.route("/<uuid:photo_id>/custody", methods=["GET"])
@roles_required()
@blp.response(200, s.CustodyEventSchema(many=True))
def custody(photo_id: uuid.UUID) -> Any:
    """The photo's chain of custody, oldest first."""
    return service.custody_log(get_session(), current_principal(), photo_id)


@blp.route("/<uuid:photo_id>/<any(original, display, thumbnail):variant>", methods=["GET"])
@roles_required()
@blp.doc(responses={"200": {"description": "The bytes (local store)"},
                    "302": {"description": "A short-lived presigned GET (S3)"}})
def download(photo_id: uuid.UUID, variant: str) -> Response:
    """Download a variant: original (team, coordinators, admins) or display/thumbnail."""
    store = current_app.extensions["blob_store"]
    ticket = service.download(get_session(), current_principal(), store,
                              current_app.config["SETTINGS"], photo_id, variant)
    if ticket.url is not None:
        return redirect(ticket.url, code=302)
    return Response(stream_with_context(store.iter_bytes(ticket.key)), mimetype=ticket.mime_type,
                    headers={"Content-Length": str(ticket.size),
                             "Content-Disposition": f'attachment; filename="{ticket.filename}"'})
