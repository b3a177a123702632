"""Photos and tus uploads across teams: existence oracles, hash-as-capability, others' uploads."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from geoalchemy2.elements import WKTElement
from sqlalchemy.orm import Session

from monitor_api.photos.models import Photo
from monitor_api.uploads.models import Blob

V = "/api/v1/uploads"


def _meta(photo_id: Any, sha: str) -> str:
    pairs = {"photo_id": str(photo_id), "sha256": sha, "filename": "p.jpg"}
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


def _create(api: Any, photo_id: Any, sha: str, length: int) -> Any:
    return api.post(V, headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(length),
                                "Upload-Metadata": _meta(photo_id, sha)})


@pytest.fixture
def phones(world: Any, make_device: Any, client: FlaskClient) -> dict[str, Any]:
    return {who: make_device(world.users[who], client)[1] for who in ("mon_a", "mon_b")}


def _team_b_bytes(db: Session, world: Any) -> tuple[str, int]:
    """Team B's photo, verified: its blob (with EXIF GPS) is on the server."""
    sha, size = hashlib.sha256(secrets.token_bytes(32)).hexdigest(), 123_456
    db.add(Blob(sha256=sha, byte_size=size, storage_key=f"originals/{sha[:2]}/{sha}",
                status="ok", mime_type="image/jpeg", width=4000, height=3000,
                exif={"make": "Canon", "model": "EOS", "lat": 37.1, "lng": 72.3},
                exif_location=WKTElement("POINT(72.3 37.1)", srid=4326)))
    photo = db.get(Photo, world.ids["photo_b"])
    photo.sha256, photo.byte_size = sha, size
    db.flush()
    return sha, size


def test_upload_for_other_teams_photo_answers_like_unknown_photo(world: Any,
                                                                  phones: Any) -> None:
    other = _create(phones["mon_a"], world.ids["photo_b"], "a" * 64, 1000)
    unknown = _create(phones["mon_a"], uuid.uuid4(), "a" * 64, 1000)
    assert other.status_code == unknown.status_code, (other.status_code, other.get_json())


def test_dedupe_is_no_oracle_for_other_teams_bytes(world: Any, db: Session,
                                                   phones: Any) -> None:
    sha, size = _team_b_bytes(db, world)
    resp = _create(phones["mon_a"], uuid.uuid4(), sha, size)
    assert resp.status_code == 201
    assert resp.headers["Upload-Offset"] == "0", "the server admitted holding these bytes"


def test_knowing_a_hash_does_not_grant_the_bytes(world: Any, db: Session, phones: Any) -> None:
    sha, size = _team_b_bytes(db, world)
    photo_id = uuid.uuid4()
    _create(phones["mon_a"], photo_id, sha, size)  # never sends a byte
    db.add(Photo(id=photo_id, visit_id=world.visit_a.id, sha256=sha, byte_size=size,
                 mime_type="image/jpeg"))
    db.flush()
    status = db.scalar(sa.select(Photo.upload_status).where(Photo.id == photo_id))
    assert status != "verified"
    detail = world.api["mon_a"].get(f"/api/v1/photos/{photo_id}").get_json()
    assert detail.get("processing") is None


def test_photo_detail_shows_no_bytes_it_never_received(world: Any, db: Session) -> None:
    sha, size = _team_b_bytes(db, world)
    mine = Photo(visit_id=world.visit_a.id, sha256=sha, byte_size=size, mime_type="image/jpeg",
                 location=WKTElement("POINT(69.61 40.29)", srid=4326))
    db.add(mine)
    db.flush()
    resp = world.api["mon_a"].get(f"/api/v1/photos/{mine.id}")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body.get("processing") is None, body.get("processing")
    assert body.get("exif_distance_m") is None


def test_other_users_upload_answers_like_missing(world: Any, db: Session,
                                                 phones: Any) -> None:
    photo = db.get(Photo, world.ids["photo_b"])
    created = _create(phones["mon_b"], photo.id, photo.sha256, photo.byte_size)
    assert created.status_code == 201, created.get_json()
    url = created.headers["Location"]
    missing = f"{V}/{uuid.uuid4()}"
    tus = {"Tus-Resumable": "1.0.0"}
    attacker = phones["mon_a"]
    for method in ("head", "patch", "delete"):
        kw: dict[str, Any] = {"headers": dict(tus)}
        if method == "patch":
            kw["headers"].update({"Upload-Offset": "0",
                                  "Content-Type": "application/offset+octet-stream"})
            kw["data"] = b"x" * 10
        fn = getattr(attacker.client, method)
        auth = {"Authorization": f"Bearer {attacker.token}"}
        a = fn(url, **{**kw, "headers": {**kw["headers"], **auth}})
        b = fn(missing, **{**kw, "headers": {**kw["headers"], **auth}})
        assert a.status_code == b.status_code == 404, (method, a.status_code, b.status_code)
        assert a.data == b.data or a.get_json()["detail"] == b.get_json()["detail"]
    head = phones["mon_b"].client.head(url, headers={**tus,
                                                     "Authorization":
                                                     f"Bearer {phones['mon_b'].token}"})
    assert head.status_code == 200 and head.headers["Upload-Offset"] == "0"


@pytest.mark.parametrize("role", ("mon_a", "coord_a", "partner", "analyst", "legal_aid"))
def test_uploads_need_a_device_token(world: Any, role: str) -> None:
    resp = _create(world.api[role], uuid.uuid4(), "a" * 64, 1000)
    assert resp.status_code == 403
    assert resp.mimetype == "application/problem+json"
