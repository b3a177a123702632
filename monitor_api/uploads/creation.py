"""tus creation-with-upload: a POST whose body carries the first bytes, or the whole file.

The body is handled exactly as a PATCH at offset 0 would be (checksum, early end, size),
in one request instead of two. A body shorter than one staging part (8 MiB, every phone
photo) takes a short path: with no transaction open it is read into memory, hashed on the
way in and staged (S3 checks the staged object against that hash), then one transaction
writes the upload's row, its custody and audit events and - when the whole file came - the
hand-over to the verification job. A crash between the store and that commit leaves only an
object under `staging/<unknown id>/`, which `clean-uploads` sweeps. A longer body (or one of
unknown length) may need S3 multipart parts, whose id must be committed on the upload's row
before any part is sent: the row is committed first, then the body is appended as by PATCH.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from monitor_api import metrics
from monitor_api.auth import Principal
from monitor_api.config import Settings
from monitor_api.errors import ApiError, PayloadTooLarge, UnsupportedMediaType
from monitor_api.photos import verify
from monitor_api.storage import PART_SIZE, BlobStore, BodyEnded, StagingState
from monitor_api.uploads import service
from monitor_api.uploads.models import Upload

OCTETS = "application/offset+octet-stream"


def create_with_upload(session: Session, principal: Principal, engine: Engine,
                       store: BlobStore, settings: Settings, upload_id: uuid.UUID, *,
                       length_header: str | None, metadata_header: str | None,
                       content_type: str | None, content_length: int | None,
                       checksum_header: str | None,
                       open_body: Callable[[int], Iterator[bytes]]) -> Upload:
    """Create an upload and append the request's body at offset 0."""
    if content_type != OCTETS:
        raise UnsupportedMediaType(f"A POST with a body takes Content-Type: {OCTETS}.")
    expected = service.parse_checksum(checksum_header)
    checked = service.check_creation(session, principal, settings, length_header=length_header,
                                     metadata_header=metadata_header)
    if content_length is not None and content_length > checked.length:
        raise PayloadTooLarge(f"The body ({content_length} bytes) is longer than "
                              f"Upload-Length ({checked.length}).")
    if service.held_blob(session, principal, checked.sha256, checked.length) is not None:
        # Bytes the caller already proved it holds: complete at once, the body is not read.
        upload = service.new_upload(session, principal, settings, checked, upload_id=upload_id)
        service.complete_if_held(session, principal, upload)
        return upload
    if content_length is not None and content_length < PART_SIZE:
        return _small(session, principal, store, settings, upload_id, checked, expected,
                      open_body)
    upload = service.new_upload(session, principal, settings, checked, upload_id=upload_id)
    session.commit()  # the row exists before any multipart part is sent
    return service.append(session, principal, engine, store, settings, upload_id,
                          offset_header="0", content_type=content_type,
                          checksum_header=checksum_header, open_body=open_body)


def _small(session: Session, principal: Principal, store: BlobStore, settings: Settings,
           upload_id: uuid.UUID, checked: service.Creation, expected: bytes | None,
           open_body: Callable[[int], Iterator[bytes]]) -> Upload:
    """A body under one part: read it, stage it, then write every row in one transaction."""
    # End the transaction of the authentication and the checks: none may stay open while
    # the body arrives over a slow link (it would hold back every client's sync cursor).
    session.commit()
    hasher = hashlib.sha256()  # at offset 0 the chunk's hash is also the whole file's
    chunks: list[bytes] = []
    ended = False
    try:
        for chunk in open_body(checked.length):
            hasher.update(chunk)
            chunks.append(chunk)
    except BodyEnded:
        ended = True
    if expected is not None and (ended or hasher.digest() != expected):
        # As a PATCH with a bad checksum: the upload exists (offset 0), these bytes do not.
        service.new_upload(session, principal, settings, checked, upload_id=upload_id)
        session.commit()
        if ended:
            raise ApiError("The body ended before its declared length.", status=400)
        raise ApiError("Upload-Checksum does not match the bytes of this request; they were "
                       "discarded.", status=460, headers={"Upload-Offset": "0"})
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)  # one copy at most
    del chunks
    state, key, digest = StagingState(), None, None
    # Store calls only, no transaction open: the rows come after.
    if len(data) == checked.length:
        digest = hasher.hexdigest()
        key = store.stage_whole(str(upload_id), data, sha256=digest)
        state.size = len(data)
    elif data:
        state = store.stage_append(str(upload_id), StagingState(), [data],
                                   final_size=checked.length, track=_no_multipart)
    upload = service.new_upload(session, principal, settings, checked, upload_id=upload_id)
    metrics.UPLOAD_BYTES.inc(state.size)
    if key is not None:
        verify.hand_over(session, store, upload, digest, state, key=key)
        return upload
    upload.offset, upload.staging = state.size, state.to_json()
    service.remember_hash(upload_id, state.size, hasher)
    session.flush()
    return upload


def _no_multipart(multipart_id: str) -> None:
    raise AssertionError("a body under one part never starts a multipart upload")
