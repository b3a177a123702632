"""Photo bytes: filing verified bytes (format, EXIF, derivatives) and authorised access."""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitor_api import scope
from monitor_api.auth import Principal
from monitor_api.config import Settings
from monitor_api.db import utcnow
from monitor_api.errors import Conflict, Forbidden, NotFound
from monitor_api.photos import custody
from monitor_api.photos.models import Photo
from monitor_api.photos.processing import Inspection, inspect, sniff
from monitor_api.storage import BlobStore, original_key
from monitor_api.uploads.models import Blob, Derivative, Upload
from monitor_api.visits.models import Visit

VARIANTS = ("original", "display", "thumbnail")
PARTNER_VARIANTS = ("display", "thumbnail")


def _file(store: BlobStore, dest: str, *, key: str | None, data: bytes | None,
          lock_until: datetime | None = None) -> None:
    """Put the bytes at `dest` (write once), from a staged object (copied: the staged one
    goes only once the outcome is committed) or from memory."""
    if data is not None:
        store.write_once(dest, data, lock_until=lock_until)
    else:
        store.copy_once(str(key), dest, lock_until=lock_until)


def complete_from_existing(session: Session, upload: Upload, blob: Blob) -> None:
    """Dedupe (bytes the uploader already proved it holds): the upload is complete at once."""
    upload.offset, upload.state, upload.completed_at = upload.length, "complete", utcnow()
    upload.actual_sha256, upload.deduplicated = blob.sha256, True
    record_outcome(session, upload, blob, reused=True)
    session.flush()
    refresh_photo_status(session, upload.photo_id)


def record_outcome(session: Session, upload: Upload, blob: Blob, *, reused: bool) -> None:
    upload.outcome = "verified" if blob.status == "ok" else "rejected"
    upload.reason = blob.reason
    details: dict[str, Any] = {"storage_key": blob.storage_key, "deduplicated": reused}
    if blob.reason:
        details["reason"] = blob.reason
    custody.log(session, upload.photo_id, "verified", upload_id=upload.id, sha256=blob.sha256,
                details=details)
    if blob.status == "rejected":
        custody.log(session, upload.photo_id, "rejected", upload_id=upload.id,
                    sha256=blob.sha256, details=details)
    for der in session.scalars(select(Derivative).where(Derivative.sha256 == blob.sha256)):
        custody.log(session, upload.photo_id, "derivative_made", upload_id=upload.id,
                    sha256=blob.sha256, details={"kind": der.kind, "width": der.width,
                                                 "height": der.height, "reused": reused})


@dataclass
class Filed:
    """Verified bytes filed in the store, and what inspecting them found."""

    insp: Inspection
    key: str
    lock_until: datetime | None


def _derivative_key(digest: str, kind: str) -> str:
    return f"derivatives/{digest[:2]}/{digest}/{kind}.jpg"


def file_blob(store: BlobStore, settings: Settings, digest: str, *, key: str | None = None,
              data: bytes | None = None) -> Filed:
    """Inspect verified bytes; file them as an original (write once) or in quarantine."""
    head = data[:32] if data is not None else store.read_range(str(key), 0, 32)
    if sniff(head) is None:
        insp = inspect("", head=head)  # rejected on the magic bytes alone; nothing to download
    else:
        with tempfile.NamedTemporaryFile(prefix="photo-", suffix=".bin") as tmp:
            if data is not None:
                tmp.write(data)
            else:
                store.download_to(str(key), tmp)
            tmp.flush()
            insp = inspect(tmp.name, head=head)
    lock_until = None
    if insp.ok:
        dest = original_key(digest)
        if settings.s3_object_lock_days:
            lock_until = utcnow() + timedelta(days=settings.s3_object_lock_days)
    else:
        dest = f"quarantine/{digest[:2]}/{digest}"
    _file(store, dest, key=key, data=data, lock_until=lock_until)
    for kind, rendition in insp.renditions.items():
        store.put_bytes(_derivative_key(digest, kind), rendition.data,
                        content_type=rendition.mime_type)
    return Filed(insp, dest, lock_until)


def record_blob(session: Session, filed: Filed, digest: str, size: int) -> Blob:
    """The `blobs` and `derivatives` rows for bytes `file_blob` filed (kept if present)."""
    values = _blob_values(filed.insp, digest, size, filed.key)
    values["retained_until"] = filed.lock_until
    session.execute(insert(Blob).values(**values).on_conflict_do_nothing())
    for kind, rendition in filed.insp.renditions.items():
        session.execute(insert(Derivative).values(
            sha256=digest, kind=kind, storage_key=_derivative_key(digest, kind),
            mime_type=rendition.mime_type, width=rendition.width, height=rendition.height,
            byte_size=len(rendition.data)).on_conflict_do_nothing())
    blob = session.get(Blob, digest)
    assert blob is not None
    return blob


def _blob_values(insp: Inspection, digest: str, size: int, key: str) -> dict[str, Any]:
    location = None
    if insp.lat is not None and insp.lng is not None:
        location = f"SRID=4326;POINT({insp.lng} {insp.lat})"
    return {"sha256": digest, "byte_size": size, "storage_key": key,
            "status": "ok" if insp.ok else "rejected", "reason": insp.reason,
            "mime_type": insp.mime_type, "width": insp.width, "height": insp.height,
            "exif": insp.exif, "exif_captured_at": insp.captured_at, "exif_location": location}


def refresh_photo_status(session: Session, photo_id: uuid.UUID) -> None:
    """Re-derive the photo's upload_status (the trigger computes it) when it would change."""
    session.execute(text(
        "update photos set upload_status = coalesce("
        "photo_upload_status(id, sha256, visit_id), 'pending') where id = :id and "
        "upload_status is distinct from coalesce(photo_upload_status(id, sha256, visit_id), "
        "'pending')"), {"id": photo_id})


# --- access ---------------------------------------------------------------------------

@dataclass
class Download:
    """Where the bytes of one variant are, and how to name them."""

    key: str
    mime_type: str
    filename: str
    size: int
    url: str | None  # a presigned GET (S3); None means stream through the API


def visible_photo(session: Session, principal: Principal, photo_id: uuid.UUID) -> Photo:
    """A photo of a visit the principal's team holds (admins: any), else 404."""
    scope.require_field_role(principal)
    photo = session.scalar(select(Photo).where(
        Photo.id == photo_id, scope.visit_filter(principal, Photo.visit_id)))
    if photo is None:
        raise NotFound("No such photo.")
    return photo


def _photo_for_variant(session: Session, principal: Principal, photo_id: uuid.UUID,
                       variant: str) -> Photo:
    if principal.role == "partner":  # analysts work with pseudonymised data, not media
        if variant not in PARTNER_VARIANTS:
            raise Forbidden("Partners see re-encoded copies only, never the original.")
        # Only photos cleared for use outside the team: of a published visit, verified,
        # with a consent value; anything else answers exactly like a missing photo.
        photo = session.scalar(select(Photo).join(Visit, Visit.id == Photo.visit_id).where(
            Photo.id == photo_id, Visit.published_at.is_not(None),
            Photo.upload_status == "verified", Photo.consent.is_not(None)))
        if photo is None:
            raise NotFound("No such photo.")
        return photo
    return visible_photo(session, principal, photo_id)


def download(session: Session, principal: Principal, store: BlobStore, settings: Settings,
             photo_id: uuid.UUID, variant: str) -> Download:
    """Authorise one variant of a photo, log the access, and say where its bytes are."""
    if variant not in VARIANTS:
        raise NotFound(f"No such variant; one of {', '.join(VARIANTS)}.")
    photo = _photo_for_variant(session, principal, photo_id, variant)
    if photo.upload_status != "verified":
        raise Conflict(f"The photo's bytes are not available (upload_status "
                       f"{photo.upload_status}).")
    blob = session.get(Blob, photo.sha256.lower())
    if blob is None or blob.status != "ok":
        raise Conflict("The photo's bytes are not available.")
    if variant == "original":
        key, mime, size = blob.storage_key, blob.mime_type or "application/octet-stream", \
            blob.byte_size
        ext = (blob.mime_type or "/bin").split("/")[1]
        event = "exported"
    else:
        der = session.get(Derivative, (blob.sha256, variant))
        if der is None:
            raise Conflict("The derivative is not available.")
        key, mime, size, ext, event = der.storage_key, der.mime_type, der.byte_size, "jpg", \
            "viewed"
    filename = f"{photo.id}-{variant}.{ext}"
    custody.log(session, photo.id, event, sha256=blob.sha256,
                details={"variant": variant, "role": principal.role})
    url = store.presigned_get(key, seconds=settings.presign_seconds, filename=filename,
                              content_type=mime)
    return Download(key, mime, filename, size, url)


def detail(session: Session, principal: Principal, photo_id: uuid.UUID) -> dict[str, Any]:
    """The photo record with what the server found in its bytes and its custody log."""
    photo = visible_photo(session, principal, photo_id)
    # Blob-derived details only when this photo's own upload hashed to its sha256 (or was
    # deduplicated against bytes its team had proved): the record alone proves nothing.
    received = photo.upload_status in ("verified", "rejected")
    row = session.execute(text(
        "select ST_Distance(b.exif_location, f.location) as exif_m, "
        "ST_Distance(p.location, f.location) as record_m "
        "from photos p join visits v on v.id = p.visit_id "
        "join facilities f on f.id = v.facility_id "
        "left join blobs b on b.sha256 = lower(p.sha256) and :received "
        "where p.id = :id"), {"id": photo.id, "received": received}).one()
    blob = session.get(Blob, photo.sha256.lower()) if received else None
    uploads = list(session.scalars(select(Upload).where(
        Upload.photo_id == photo.id, Upload.id.in_(custody.counting_uploads(photo)))
        .order_by(Upload.created_at)))
    derivatives = [] if blob is None else list(
        session.scalars(select(Derivative).where(Derivative.sha256 == blob.sha256)))
    return {"photo": photo, "blob": blob, "uploads": uploads, "derivatives": derivatives,
            "exif_distance_m": row.exif_m, "record_distance_m": row.record_m,
            "custody": custody.events(session, photo)}


def custody_log(session: Session, principal: Principal, photo_id: uuid.UUID) -> list[Any]:
    """The custody log of a photo the principal's team holds."""
    photo = visible_photo(session, principal, photo_id)
    return custody.events(session, photo)
