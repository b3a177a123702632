"""Freeing staged bytes nobody will finish: expired uploads, then anything left in staging.

Expiring frees what each row records. The sweep then lists the store itself (S3 multipart
uploads and objects under `staging/`, or the local staging directories) and removes what
belongs to no open or processing upload: bytes of finished, terminated, expired or unknown
uploads that a crash, a lost race or an older server version left behind. Bytes of an open
upload, or of one waiting for its verification job, are never touched, and nothing younger
than `min_age` is, so a request still writing is safe.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor_api.audit import service as audit
from monitor_api.db import utcnow
from monitor_api.storage import BlobStore, StagingState
from monitor_api.uploads.models import Upload
from monitor_api.uploads.service import forget_hash, lock_key


def clean_expired(session: Session, store: BlobStore, *, limit: int = 1000) -> int:
    """Expire open uploads past their expiry and delete their staged bytes; say how many."""
    rows = session.scalars(select(Upload).where(Upload.state == "open",
                                                Upload.expires_at <= utcnow())
                           .order_by(Upload.expires_at).limit(limit)
                           .with_for_update(skip_locked=True))
    count = 0
    for upload in rows:
        # A PATCH still writing it (started just before expiry) keeps it until the next run;
        # it is not counted, so the caller's batching ends instead of meeting it again.
        if not session.scalar(select(func.pg_try_advisory_xact_lock(lock_key(upload.id)))):
            continue
        count += 1
        store.stage_abort(str(upload.id), StagingState.from_json(upload.staging))
        upload.state, upload.staging = "expired", {}
        forget_hash(upload.id)
        audit.record(session, "upload.expire", target_type="upload", target_id=upload.id,
                     details={"photo_id": str(upload.photo_id), "offset": upload.offset})
    session.flush()
    return count


@dataclass
class Swept:
    """What the sweep removed."""

    objects: int = 0
    multipart_uploads: int = 0


def sweep_staging(session: Session, store: BlobStore, *, min_age: timedelta,
                  batch: int = 500) -> Swept:
    """Remove staged bytes older than `min_age` that belong to no open upload."""
    swept = Swept()
    items = store.list_staged(utcnow() - min_age)
    while chunk := list(itertools.islice(items, batch)):
        ids = {_as_uuid(item.upload_id) for item in chunk} - {None}
        # An upload waiting for its verification job keeps its staged bytes, however long
        # the queue is.
        live = Upload.state.in_(("open", "processing"))
        open_ids = {str(i) for i in session.scalars(
            select(Upload.id).where(Upload.id.in_(ids), live))} if ids else set()
        for item in chunk:
            if item.upload_id in open_ids:
                continue
            store.discard_staged(item)
            if item.multipart_id is None:
                swept.objects += 1
            else:
                swept.multipart_uploads += 1
        session.rollback()  # a read-only transaction: do not hold it across store calls
    return swept


def _as_uuid(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(name)
    except ValueError:
        return None
