"""The tus 1.0 server's logic: create, report, append, terminate and expire uploads.

Offsets and staging state live in the database and bytes in the blob store, so any server
process can continue an upload. An append holds a PostgreSQL advisory lock on a separate
autocommit connection (released by the server if the process dies) and no open
transaction while the body streams in: a slow phone must not hold back the sync horizon.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from monitor_api import metrics, scope
from monitor_api.audit import service as audit
from monitor_api.auth import Principal
from monitor_api.config import Settings
from monitor_api.db import utcnow
from monitor_api.errors import (
    ApiError,
    Conflict,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from monitor_api.photos import custody, verify
from monitor_api.photos import service as photos
from monitor_api.photos.models import Photo
from monitor_api.storage import (
    BlobStore,
    StagingInterrupted,
    StagingLost,
    StagingState,
    TrackMultipart,
)
from monitor_api.uploads.models import Blob, Upload

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,checksum,termination,expiration"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Whole-file hash state of uploads this process is receiving, keyed by id -> (offset, hasher);
# another process (or a restart) re-reads the staged bytes instead.
_HASHERS: OrderedDict[uuid.UUID, tuple[int, Any]] = OrderedDict()
_HASHERS_LOCK = threading.Lock()


def parse_metadata(header: str | None) -> dict[str, str]:
    """Decode `Upload-Metadata` ("key base64value,key2 base64value2")."""
    out: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in (header or "").split(","))):
        key, _, value = pair.partition(" ")
        try:
            out[key] = base64.b64decode(value.strip(), validate=True).decode() if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise ValidationFailed("Upload-Metadata values must be base64.",
                                   errors={"Upload-Metadata": [f"bad value for {key!r}"]}) from None
    return out


def create(session: Session, principal: Principal, settings: Settings, *,
           length_header: str | None, metadata_header: str | None) -> Upload:
    """Start an upload for a photo; answer complete at once when the bytes are stored."""
    checked = check_creation(session, principal, settings, length_header=length_header,
                             metadata_header=metadata_header)
    upload = new_upload(session, principal, settings, checked)
    complete_if_held(session, principal, upload)
    return upload


@dataclass
class Creation:
    """A POST's checked headers: what the new upload will be."""

    photo_id: uuid.UUID
    sha256: str
    length: int
    meta: dict[str, str]
    photo_record: bool


def check_creation(session: Session, principal: Principal, settings: Settings, *,
                   length_header: str | None, metadata_header: str | None) -> Creation:
    """Validate Upload-Length and Upload-Metadata, the role and the photo record (no writes)."""
    if length_header is None:
        raise ApiError("Send Upload-Length (deferred lengths are not supported).", status=400)
    try:
        length = int(length_header)
    except ValueError:
        length = -1
    if length < 0:
        raise ApiError("Upload-Length must be a non-negative integer.", status=400)
    if length == 0:
        raise ValidationFailed("An empty file is not a photo.",
                               errors={"Upload-Length": ["must be > 0"]})
    if length > settings.upload_max_bytes:
        raise PayloadTooLarge(f"Upload-Length {length} exceeds Tus-Max-Size "
                              f"{settings.upload_max_bytes}.")
    meta = parse_metadata(metadata_header)
    errors: dict[str, list[str]] = {}
    try:
        photo_id = uuid.UUID(meta.get("photo_id", ""))
    except ValueError:
        errors["photo_id"] = ["Upload-Metadata must carry photo_id, a UUID."]
    sha = meta.get("sha256", "").lower()
    if not _SHA256.match(sha):
        errors["sha256"] = ["Upload-Metadata must carry sha256, 64 hex digits."]
    if errors:
        raise ValidationFailed("Upload-Metadata is incomplete.", errors=errors)
    scope.require_field_role(principal)
    # A photo the caller cannot see is treated exactly like an unknown one (no existence
    # oracle): the upload is created, and photo_upload_status() never joins it to that
    # record because the uploader is not on its visit's team.
    photo = session.scalar(select(Photo).where(
        Photo.id == photo_id, scope.visit_filter(principal, Photo.visit_id)))
    if photo is not None and (photo.sha256.lower() != sha or photo.byte_size != length):
        raise Conflict("The photo record declares another sha256 or byte_size.",
                       extra={"sha256": photo.sha256, "byte_size": photo.byte_size})
    return Creation(photo_id, sha, length, {k: v[:200] for k, v in meta.items()},
                    photo is not None)


def new_upload(session: Session, principal: Principal, settings: Settings,
               checked: Creation, *, upload_id: uuid.UUID | None = None) -> Upload:
    """Add the upload's row (open, offset 0) and its `upload_started` custody event."""
    upload = Upload(id=upload_id or uuid.uuid4(), photo_id=checked.photo_id,
                    declared_sha256=checked.sha256, length=checked.length, offset=0,
                    state="open", staging={}, meta=checked.meta, user_id=principal.user_id,
                    device_id=principal.device_id, deduplicated=False,
                    expires_at=utcnow() + timedelta(hours=settings.upload_expiry_hours))
    session.add(upload)
    custody.log(session, checked.photo_id, "upload_started", upload_id=upload.id,
                sha256=checked.sha256, details={"length": checked.length,
                                                "photo_record": checked.photo_record})
    return upload


def held_blob(session: Session, principal: Principal, sha: str, length: int) -> Blob | None:
    """The stored blob of these bytes when the caller already proved it holds them."""
    # Dedupe only against bytes the caller's teams already hold verified: another team's
    # blob must neither be admitted (an oracle) nor granted for a known hash. Otherwise the
    # bytes are received and hashed as usual (filing them again is a no-op).
    blob = session.get(Blob, sha)
    if blob is not None and blob.byte_size == length and _holds_verified(session, principal,
                                                                        sha, length):
        return blob
    return None


def complete_if_held(session: Session, principal: Principal, upload: Upload) -> bool:
    """Dedupe: complete the new upload at once when the caller already holds its bytes."""
    session.flush()
    blob = held_blob(session, principal, upload.declared_sha256, upload.length)
    if blob is None:
        return False
    photos.complete_from_existing(session, upload, blob)
    return True


def _holds_verified(session: Session, principal: Principal, sha: str, length: int) -> bool:
    """Whether the caller already proved these bytes: a photo it may see (admins: any) got
    them by upload, or one of its own uploads hashed to them (the record may come later)."""
    seen = select(Photo.id).where(
        func.lower(Photo.sha256) == sha, Photo.byte_size == length,
        Photo.upload_status.in_(("verified", "rejected")),  # the hash was verified either way
        scope.visit_filter(principal, Photo.visit_id))
    own = select(Upload.id).where(Upload.user_id == principal.user_id,
                                  Upload.state == "complete", Upload.actual_sha256 == sha,
                                  Upload.length == length)
    return bool(session.scalar(select(seen.exists() | own.exists())))


def get_visible(session: Session, principal: Principal, upload_id: uuid.UUID) -> Upload:
    """The caller's own upload; 404 for others', 410 once terminated or expired."""
    upload = session.get(Upload, upload_id)
    if upload is None or (upload.user_id != principal.user_id and not principal.is_admin):
        raise NotFound("No such upload.")
    if upload.state in ("terminated", "expired") or (
            upload.state == "open" and upload.expires_at <= utcnow()):
        raise ApiError("This upload expired or was terminated; create a new one.", status=410)
    return upload


def lock_key(upload_id: uuid.UUID) -> int:
    """The advisory lock a request holds while it writes the upload's staged bytes."""
    return int.from_bytes(upload_id.bytes[:8], "big", signed=True)


def append(session: Session, principal: Principal, engine: Engine, store: BlobStore,
           settings: Settings, upload_id: uuid.UUID, *, offset_header: str | None,
           content_type: str | None, checksum_header: str | None,
           open_body: Callable[[int], Iterator[bytes]]) -> Upload:
    """Stream a PATCH body into staging at the expected offset; finish when complete."""
    if content_type != "application/offset+octet-stream":
        raise UnsupportedMediaType("PATCH takes Content-Type: application/offset+octet-stream.")
    try:
        offset = int(offset_header or "")
    except ValueError:
        raise ApiError("Send Upload-Offset as a non-negative integer.", status=400) from None
    expected = parse_checksum(checksum_header)
    upload = get_visible(session, principal, upload_id)
    _check_offset(upload, offset)
    # Commit the authentication bookkeeping now so no transaction stays open while bytes
    # arrive over a slow link (it would hold back every client's sync cursor).
    session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock_conn:
        key = lock_key(upload_id)
        if not lock_conn.scalar(text("select pg_try_advisory_lock(:k)"), {"k": key}):
            raise Conflict("Another request is writing this upload; HEAD it and retry.")
        try:
            upload, superseded = _append_locked(
                session, store, settings, upload_id, offset, expected, open_body,
                track=lambda mp_id: _track_multipart(lock_conn, upload_id, mp_id))
            session.commit()
        finally:
            lock_conn.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
    if superseded:
        with contextlib.suppress(Exception):  # the upload's end deletes it anyway
            store.delete(superseded)
    return upload


def _track_multipart(conn: Connection, upload_id: uuid.UUID, multipart_id: str) -> None:
    """Record a new multipart upload id at once (autocommit), before any part is sent."""
    done = conn.execute(text(
        "update uploads set staging = jsonb_set(staging, '{multipart_id}', to_jsonb("
        "cast(:mp as text))) where id = :id and state = 'open'"),
        {"mp": multipart_id, "id": upload_id}).rowcount
    if not done:
        raise ApiError("This upload expired or was terminated; create a new one.", status=410)


def _append_locked(session: Session, store: BlobStore, settings: Settings,
                   upload_id: uuid.UUID, offset: int, expected: bytes | None,
                   open_body: Callable[[int], Iterator[bytes]],
                   track: TrackMultipart) -> tuple[Upload, str | None]:
    upload = session.scalar(select(Upload).where(Upload.id == upload_id)
                            .execution_options(populate_existing=True))
    assert upload is not None
    _check_offset(upload, offset)
    if upload.state in ("processing", "complete"):
        return upload, None
    if upload.state != "open":  # terminated or expired while this request waited
        raise ApiError("This upload expired or was terminated; create a new one.", status=410)
    # End the read transaction: none may stay open while the body streams in or the photo is
    # decoded (idle_in_transaction_session_timeout, and the sync horizon).
    session.commit()
    hasher = _hasher_at(upload.id, offset)
    chunk_hash = hashlib.sha256() if expected is not None else None

    def chunks() -> Iterator[bytes]:
        for chunk in open_body(upload.length - offset):
            if hasher is not None:
                hasher.update(chunk)
            if chunk_hash is not None:
                chunk_hash.update(chunk)
            yield chunk

    kept = StagingState.from_json(upload.staging)
    interrupted = False
    try:
        state = store.stage_append(str(upload.id), kept, chunks(), final_size=upload.length,
                                   track=track)
    except StagingInterrupted as exc:
        state, interrupted = exc.state, True
        if expected is not None:  # a partial chunk cannot match its checksum: drop it
            store.stage_rollback(str(upload.id), kept, state)
            raise ApiError("The body ended before its declared length.", status=400) from None
    except StagingLost:
        _lose(session, store, upload)
    if chunk_hash is not None and chunk_hash.digest() != expected:
        store.stage_rollback(str(upload.id), kept, state)
        raise ApiError("Upload-Checksum does not match the bytes of this request; they were "
                       "discarded.", status=460, headers={"Upload-Offset": str(offset)})
    upload.offset, upload.staging = state.size, state.to_json()
    upload.expires_at = utcnow() + timedelta(hours=settings.upload_expiry_hours)
    remember_hash(upload.id, state.size, hasher)
    metrics.UPLOAD_BYTES.inc(state.size - offset)
    if upload.offset == upload.length and not interrupted:
        digest = hasher.hexdigest() if hasher is not None else None
        try:  # the job verifies and files the bytes (README "Uploads"); answer at once
            verify.hand_over(session, store, upload, digest, state)
        except StagingLost:
            _lose(session, store, upload)
        forget_hash(upload.id)
    session.flush()
    superseded = kept.tail_key if kept.tail_key not in (None, state.tail_key) else None
    return upload, superseded


def _lose(session: Session, store: BlobStore, upload: Upload) -> NoReturn:
    """The store lost the staged parts (a lifecycle rule): expire the upload, answer 410."""
    session.rollback()
    upload = session.get_one(Upload, upload.id, populate_existing=True)
    store.stage_abort(str(upload.id), StagingState.from_json(upload.staging))
    upload.state, upload.staging = "expired", {}
    forget_hash(upload.id)
    audit.record(session, "upload.expire", target_type="upload", target_id=upload.id,
                 details={"photo_id": str(upload.photo_id), "offset": upload.offset,
                          "reason": "staged parts lost by the store"})
    session.commit()
    raise ApiError("The staged bytes of this upload expired in storage; create a new upload.",
                   status=410)


def _check_offset(upload: Upload, offset: int) -> None:
    if offset != upload.offset:
        raise Conflict(f"Upload-Offset {offset} does not match the server's offset "
                       f"{upload.offset}; HEAD the upload and resume from there.",
                       headers={"Upload-Offset": str(upload.offset)})


def parse_checksum(header: str | None) -> bytes | None:
    """The digest of `Upload-Checksum: sha256 <base64>`, or None when absent."""
    if not header:
        return None
    algorithm, _, value = header.strip().partition(" ")
    if algorithm.lower() != "sha256":
        raise ApiError(f"Checksum algorithm {algorithm!r} is not supported; use sha256.",
                       status=400, headers={"Tus-Checksum-Algorithm": "sha256"})
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != 32:
        raise ApiError("Upload-Checksum must be 'sha256 <base64 of 32 bytes>'.", status=400)
    return digest


def _hasher_at(upload_id: uuid.UUID, offset: int) -> Any:
    if offset == 0:
        return hashlib.sha256()
    with _HASHERS_LOCK:
        cached = _HASHERS.get(upload_id)
    if cached is None or cached[0] != offset:
        return None
    return cached[1].copy()  # a copy: a failed attempt must not advance the stored state


def remember_hash(upload_id: uuid.UUID, offset: int, hasher: Any) -> None:
    """Keep this process's whole-file hash state of an upload at `offset`."""
    if hasher is None:
        return
    with _HASHERS_LOCK:
        _HASHERS[upload_id] = (offset, hasher)
        _HASHERS.move_to_end(upload_id)
        while len(_HASHERS) > 256:
            _HASHERS.popitem(last=False)


def forget_hash(upload_id: uuid.UUID) -> None:
    """Drop this process's whole-file hash state of a finished or abandoned upload."""
    with _HASHERS_LOCK:
        _HASHERS.pop(upload_id, None)


def terminate(session: Session, principal: Principal, store: BlobStore,
              upload_id: uuid.UUID) -> None:
    """Terminate an unfinished upload and free its staged bytes."""
    upload = get_visible(session, principal, upload_id)
    if upload.state in ("processing", "complete"):
        raise Conflict("A complete upload is evidence and cannot be terminated.")
    # Wait for a PATCH still writing it (a client aborts its request, then DELETEs): its
    # bytes are recorded by then and freed below, instead of landing after the abort.
    session.execute(text("set local lock_timeout = '10s'"))
    try:
        session.execute(select(func.pg_advisory_xact_lock(lock_key(upload_id))))
    except OperationalError:
        raise Conflict("Another request is writing this upload; retry the DELETE.") from None
    session.refresh(upload)
    if upload.state in ("processing", "complete"):
        raise Conflict("A complete upload is evidence and cannot be terminated.")
    if upload.state != "open":
        return  # terminated or expired meanwhile: its bytes are freed already
    store.stage_abort(str(upload.id), StagingState.from_json(upload.staging))
    upload.state, upload.staging = "terminated", {}
    forget_hash(upload.id)
    audit.record(session, "upload.terminate", target_type="upload", target_id=upload.id,
                 details={"photo_id": str(upload.photo_id), "offset": upload.offset})
