"""Photo verification off the request path: the last PATCH hands over, a job verifies.

The last PATCH assembles the staged bytes into one staged object, marks the upload
`processing` and enqueues `photos.verify` in the same transaction, and answers at once. The
job hashes (unless the receiving process already did), inspects, files and derives, then
writes every row in one transaction that first checks the upload is still `processing`.
Until then nothing but content-addressed objects was written (originals and derivatives are
keyed by SHA-256 and written once; the staged object is only copied), so a worker killed
mid-job leaves no row half written and the job, run again, converges to the same result.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from typing import Any

from sqlalchemy.orm import Session

from monitor_api import metrics
from monitor_api.audit.service import Actor, set_actor
from monitor_api.db import utcnow
from monitor_api.jobs.queue import defer
from monitor_api.jobs.runtime import Runtime
from monitor_api.photos import custody
from monitor_api.photos.service import (
    file_blob,
    record_blob,
    record_outcome,
    refresh_photo_status,
)
from monitor_api.storage import BlobStore, StagingState
from monitor_api.uploads.models import Blob, Upload

log = logging.getLogger("monitor_api.photos")
TASK = "photos.verify"


def assemble(store: BlobStore, upload_id: uuid.UUID, state: StagingState,
             digest: str | None) -> str:
    """All bytes are staged: make them one staged object (store calls only); its key."""
    if state.final_bytes is not None:  # arrived whole in this request: stage it as one object
        # With the digest hashed on the way in, S3 checks the stored bytes against it.
        key = f"staging/{upload_id}/assembled"
        store.put_bytes(key, state.final_bytes, sha256=digest)
        return key
    return store.stage_finish(str(upload_id), state)


def hand_over(session: Session, store: BlobStore, upload: Upload, digest: str | None,
              state: StagingState, *, key: str | None = None) -> None:
    """All bytes are staged: assemble them, mark the upload processing, enqueue its job."""
    if key is None:
        key = assemble(store, upload.id, state, digest)
    upload.state, upload.offset = "processing", upload.length
    upload.staging = {"size": upload.length, "final_key": key, "digest": digest}
    session.flush()
    # One job per upload (this runs once: the upload leaves `open` under its advisory lock,
    # or is created `processing` when its whole body came with the POST); uploads of the
    # same bytes take turns (procrastinate's lock), so the second one finds the blob filed
    # by the first.
    defer(session, TASK, queue="photos", upload_id=str(upload.id),
          lock=f"blob:{upload.declared_sha256}")
    refresh_photo_status(session, upload.photo_id)


def verify_upload(rt: Runtime, upload_id: uuid.UUID, *, job: str = "job") -> str | None:
    """The job: verify, inspect and file one upload; its outcome, or None if done already."""
    with rt.factory() as session:
        upload = session.get(Upload, upload_id)
        if upload is None or upload.state != "processing":
            return None  # finished by an earlier run (or terminated): nothing to do
        staged = dict(upload.staging)
        declared, length = upload.declared_sha256, upload.length
        known = session.get(Blob, declared) is not None
    started = time.monotonic()
    key = str(staged["final_key"])
    digest = staged.get("digest") or _hash(rt.store, key)
    filed = None
    if digest == declared and not known:
        # No transaction is open while the photo waits for the decode budget and decodes.
        filed = file_blob(rt.store, rt.settings, digest, key=key)
    quarantine = f"quarantine/uploads/{upload_id}"
    if digest != declared:
        rt.store.copy_once(key, quarantine)
    with rt.factory() as session:
        upload = session.get_one(Upload, upload_id, with_for_update=True,
                                 populate_existing=True)
        if upload.state != "processing":
            session.rollback()
            return None  # another run (a stalled job retried meanwhile) got here first
        set_actor(session, Actor(upload.user_id, upload.device_id, request_id=job))
        outcome = _record(session, rt, upload, digest, filed, key, quarantine)
        session.commit()
    rt.store.stage_abort(str(upload_id), StagingState())  # the staged copy; sweeps catch it too
    metrics.PHOTO_VERIFICATIONS.labels(outcome=outcome).inc()
    metrics.PHOTO_PROCESSING_SECONDS.observe(time.monotonic() - started)
    log.info("photo verified", extra={"upload_id": str(upload_id), "outcome": outcome,
                                      "bytes": length})
    return outcome


def _record(session: Session, rt: Runtime, upload: Upload, digest: str, filed: Any,
            key: str, quarantine: str) -> str:
    """Write the outcome: the upload's row, the blob's rows, custody, the photo's status."""
    upload.actual_sha256, upload.state, upload.completed_at = digest, "complete", utcnow()
    upload.staging = {}
    if digest != upload.declared_sha256:
        upload.quarantine_key = quarantine
        upload.outcome = "hash_mismatch"
        upload.reason = f"The bytes hash to {digest}, not the declared {upload.declared_sha256}."
        custody.log(session, upload.photo_id, "hash_mismatch", upload_id=upload.id,
                    sha256=digest, details={"declared": upload.declared_sha256,
                                            "quarantine_key": quarantine})
    else:
        blob = session.get(Blob, digest)
        if blob is None:
            if filed is None:  # filed by an upload whose row vanished since: file again
                filed = file_blob(rt.store, rt.settings, digest, key=key)
            blob = record_blob(session, filed, digest, upload.length)
        # This upload carried its own bytes: never say whether they were stored before.
        record_outcome(session, upload, blob, reused=False)
    session.flush()
    refresh_photo_status(session, upload.photo_id)
    return str(upload.outcome)


def _hash(store: BlobStore, key: str) -> str:
    """SHA-256 of a staged object (the receiving process's hash state was not at hand)."""
    hasher = hashlib.sha256()
    for chunk in store.iter_bytes(key):
        hasher.update(chunk)
    return hasher.hexdigest()
