"""SAMPLE photos: small JPEGs drawn deterministically (a gradient and the word SAMPLE), filed
through the real upload pipeline so that they are verified and have their derivatives."""

from __future__ import annotations

import hashlib
import io
import textwrap
import uuid
from datetime import datetime, timedelta
from typing import Any

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy.orm import Session

from monitor_api.config import Settings
from monitor_api.db import utcnow
from monitor_api.photos import custody
from monitor_api.photos.models import Photo
from monitor_api.photos.service import (
    file_blob,
    record_blob,
    record_outcome,
    refresh_photo_status,
)
from monitor_api.storage import BlobStore
from monitor_api.uploads.models import Blob, Upload

SIZE = (640, 480)


def draw(key: str, lines: list[str]) -> bytes:
    """A 640x480 JPEG: a gradient coloured by `key`, "SAMPLE" and a few lines of text."""
    seed = hashlib.sha256(key.encode()).digest()
    ramp = Image.linear_gradient("L").resize(SIZE)
    across = Image.linear_gradient("L").rotate(90).resize(SIZE)
    base = Image.new("RGB", SIZE, (seed[0] // 2, seed[1] // 2, seed[2] // 2))
    tint = Image.new("RGB", SIZE, (128 + seed[3] // 2, 128 + seed[4] // 2, 128 + seed[5] // 2))
    img = Image.composite(tint, base, Image.blend(ramp, across, 0.5))
    pen = ImageDraw.Draw(img)
    pen.text((32, 40), "SAMPLE", fill=(255, 255, 255), font=ImageFont.load_default(size=96))
    small, y = ImageFont.load_default(size=22), 200
    for line in lines:
        for part in textwrap.wrap(line.replace("²", "2"), 48):
            pen.text((34, y), part, fill=(255, 255, 255), font=small)
            y += 30
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


def file_photo(session: Session, store: BlobStore, settings: Settings, *,
               photo_id: uuid.UUID, upload_id: uuid.UUID, data: bytes, uploader: uuid.UUID,
               captured_at: datetime, **record: Any) -> Photo:
    """The photo record, then its bytes as one complete upload by a team member: hashed,
    inspected, filed, derivatives made, custody logged — what the `photos.verify` job does,
    done here at once (the seed's bytes are in memory and need no queue)."""
    digest = hashlib.sha256(data).hexdigest()
    photo = Photo(id=photo_id, sha256=digest, byte_size=len(data), mime_type="image/jpeg",
                  captured_at=captured_at, **record)
    session.add(photo)
    upload = Upload(id=upload_id, photo_id=photo_id, declared_sha256=digest, length=len(data),
                    offset=len(data), state="open", staging={}, user_id=uploader,
                    meta={"photo_id": str(photo_id), "sha256": digest, "source": "demo seed"},
                    expires_at=utcnow() + timedelta(hours=1))
    session.add(upload)
    session.flush()
    custody.log(session, photo_id, "upload_started", upload_id=upload_id, sha256=digest,
                details={"length": len(data), "photo_record": True})
    blob = session.get(Blob, digest)
    if blob is None:
        blob = record_blob(session, file_blob(store, settings, digest, data=data), digest,
                           len(data))
    upload.actual_sha256, upload.state, upload.completed_at = digest, "complete", utcnow()
    upload.staging = {}
    record_outcome(session, upload, blob, reused=False)
    session.flush()
    refresh_photo_status(session, photo_id)
    return photo
