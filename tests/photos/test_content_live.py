"""What happens to the bytes: hostile files, clean derivatives, exact originals, who sees what."""

from __future__ import annotations

import hashlib
import io
import math
import uuid
from collections.abc import Callable
from typing import Any

import pillow_heif
import pytest
import requests
from PIL import Image

from tests.photos import images, tus
from tests.photos.conftest import BUCKET

HOSTILE: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "decompression bomb": (images.bomb, "image/png", "bomb"),
    "truncated jpeg": (images.truncated_jpeg, "image/jpeg", "truncated"),
    "executable renamed .jpg": (images.executable_as_jpg, "image/jpeg", "magic bytes"),
    "png with a huge declared size": (images.huge_declared_png, "image/png", "exceeds"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_rejected_and_kept(name: str, live: Any, world: Any, field: Any,
                                        s3: Any) -> None:
    make, mime, why = HOSTILE[name]
    data = make()
    pid = world.photo(field.visit, data, mime_type=mime)
    tus.upload(live.url, field.token, pid, data, filename="evidence.jpg")
    world.settle()  # the verification job ran
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "rejected"
    blob = world.rows("select * from blobs where sha256 = :s",
                      s=hashlib.sha256(data).hexdigest())[0]
    assert blob["status"] == "rejected" and why in blob["reason"].lower()
    assert blob["storage_key"].startswith("quarantine/")
    kept = s3.get_object(Bucket=BUCKET, Key=blob["storage_key"])["Body"].read()
    assert kept == data  # kept byte for byte, in quarantine
    assert world.scalar("select count(*) from derivatives where sha256 = :s",
                        s=blob["sha256"]) == 0
    monitor = {"Authorization": f"Bearer {field.token}"}
    detail = requests.get(f"{live.url}/api/v1/photos/{pid}", headers=monitor, timeout=10).json()
    assert detail["processing"]["status"] == "rejected" and detail["processing"]["reason"]
    resp = requests.get(f"{live.url}/api/v1/photos/{pid}/display", headers=monitor, timeout=10)
    assert resp.status_code == 409  # nothing to show, and a problem, not a crash
    assert requests.get(live.url + "/healthz", timeout=5).status_code == 200


def _get(base: str, token: str, path: str) -> requests.Response:
    return requests.get(base + path, headers={"Authorization": f"Bearer {token}"},
                        allow_redirects=False, timeout=30)


def _follow(resp: requests.Response) -> bytes:
    if resp.status_code == 302:
        return requests.get(resp.headers["Location"], timeout=30).content
    assert resp.status_code == 200, resp.text
    return resp.content


def _no_metadata(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    assert not img.getexif(), "derivative carries EXIF"
    assert not img.getexif().get_ifd(0x8825), "derivative carries GPS"
    assert b"Exif\x00\x00" not in data and b"GPS" not in data
    assert "exif" not in img.info and "xmp" not in img.info and "icc_profile" not in img.info
    return img


def test_derivatives_clean_original_exact(live: Any, world: Any, field: Any) -> None:
    # 3000 x 2000 landscape stored sideways: EXIF orientation 6 means "rotate 90° to view".
    data = images.jpeg(3000, 2000, gps=(38.5652, 68.7905), orientation=6, make="Samsung",
                       model="SM-A515F")
    pid = world.photo(field.visit, data)
    tus.upload(live.url, field.token, pid, data)
    world.settle()  # the verification job ran
    original = _follow(_get(live.url, field.token, f"/api/v1/photos/{pid}/original"))
    assert original == data and hashlib.sha256(original).hexdigest() == \
        hashlib.sha256(data).hexdigest()
    assert Image.open(io.BytesIO(original)).getexif()[0x0112] == 6  # original untouched
    display = _no_metadata(_follow(_get(live.url, field.token, f"/api/v1/photos/{pid}/display")))
    thumb = _no_metadata(_follow(_get(live.url, field.token, f"/api/v1/photos/{pid}/thumbnail")))
    assert display.size == (1365, 2048)  # orientation applied: portrait, long side 2048
    red = display.convert("RGB").getpixel((display.width - 5, display.height - 5))
    assert red[0] > 200 and red[1] < 80  # the mark stored top-right shows bottom-right
    assert max(thumb.size) == 320 and thumb.size[0] < thumb.size[1]
    detail = _get(live.url, field.token, f"/api/v1/photos/{pid}").json()
    exif = detail["processing"]["exif"]
    assert exif["make"] == "Samsung" and exif["model"] == "SM-A515F"
    assert abs(exif["lat"] - 38.5652) < 1e-4 and abs(exif["lng"] - 68.7905) < 1e-4
    assert exif["captured_at"] == "2026-11-20T10:15:30+05:00"
    # Facility at (38.5598, 68.7870): about 680 m away by the spheroid (PostGIS geography).
    dlat, dlng = math.radians(38.5652 - 38.5598), math.radians(68.7905 - 68.7870)
    approx = 6371000 * math.hypot(dlat, dlng * math.cos(math.radians(38.56)))
    assert detail["exif_distance_m"] == pytest.approx(approx, rel=0.01)
    kinds = {d["kind"]: d for d in detail["derivatives"]}
    assert kinds["display"]["width"] == 1365 and kinds["thumbnail"]["height"] == 320


def test_partner_sees_display_not_original_and_custody_logs_it(
        live: Any, world: Any, field: Any) -> None:
    data = images.jpeg(gps=(38.56, 68.78))
    pid = world.photo(field.visit, data, consent="obtained")
    tus.upload(live.url, field.token, pid, data)
    world.settle()  # the verification job ran
    partner = world.login(live, world.user("partner"))
    hidden = _get(live.url, partner, f"/api/v1/photos/{pid}/display")
    assert hidden.status_code == 404  # not before its visit is published
    with world.engine.begin() as c:
        c.execute(__import__("sqlalchemy").text(
            "update visits set status = 'reported', published_at = now() where id = :v"),
            {"v": str(field.visit.id)})
    shown = _get(live.url, partner, f"/api/v1/photos/{pid}/display")
    assert shown.status_code == 302 and "X-Amz-Signature" in shown.headers["Location"]
    _no_metadata(_follow(shown))
    assert _get(live.url, partner, f"/api/v1/photos/{pid}/thumbnail").status_code == 302
    refused = _get(live.url, partner, f"/api/v1/photos/{pid}/original")
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/forbidden"
    assert _get(live.url, partner, f"/api/v1/photos/{pid}/custody").status_code == 403
    analyst = world.login(live, world.user("analyst"))
    assert _get(live.url, analyst, f"/api/v1/photos/{pid}/display").status_code == 403
    outsider = world.login(live, world.user("monitor"))
    assert _get(live.url, outsider, f"/api/v1/photos/{pid}/original").status_code == 404
    coordinator = world.user("coordinator")
    with world.engine.begin() as c:
        c.execute(__import__("sqlalchemy").text(
            "insert into team_members (team_id, user_id) values (:t, :u)"),
            {"t": field.team.id, "u": coordinator.id})
    coord = world.login(live, coordinator)
    assert _follow(_get(live.url, coord, f"/api/v1/photos/{pid}/original")) == data

    log = _get(live.url, field.token, f"/api/v1/photos/{pid}/custody").json()
    events = [(e["event"], e["details"].get("variant"), e["details"].get("role")) for e in log]
    assert events[0][0] == "captured"
    assert [e[0] for e in events[1:4]] == ["upload_started", "verified", "derivative_made"]
    assert ("viewed", "display", "partner") in events
    assert ("viewed", "thumbnail", "partner") in events
    assert ("exported", "original", "coordinator") in events
    assert not any(e[2] == "analyst" or (e[2] == "monitor" and e[0] == "exported")
                   for e in events)  # refusals are not accesses
    audited = world.rows("select action, actor_user_id from audit_log where target_type = "
                         "'photo' and target_id = :p order by id", p=str(pid))
    assert [a["action"] for a in audited].count("photo.viewed") == 2
    assert "photo.exported" in [a["action"] for a in audited]


def test_partner_cannot_see_unconsented_or_unverified(live: Any, world: Any,
                                                      field: Any) -> None:
    data = images.jpeg()
    no_consent = world.photo(field.visit, data, consent=None)
    tus.upload(live.url, field.token, no_consent, data)
    world.settle()  # the verification job ran
    pending = world.photo(field.visit, images.jpeg())
    partner = world.login(live, world.user("partner"))
    for pid in (no_consent, pending, uuid.uuid4()):
        assert _get(live.url, partner, f"/api/v1/photos/{pid}/display").status_code == 404


def test_local_store_streams_through_the_api(new_server: Any, world: Any, field: Any,
                                             tmp_path: Any) -> None:
    local = new_server(S3_BUCKET="", BLOB_DIR=str(tmp_path / "blobs"))
    data = images.jpeg(pad=9 * 1024 * 1024)  # bigger than one staging part
    pid = world.photo(field.visit, data)
    url = tus.location(local.url, tus.create(local.url, field.token, pid, data))
    half = len(data) // 2
    assert tus.patch(url, field.token, 0, data[:half]).status_code == 204
    assert tus.patch(url, field.token, half, data[half:]).status_code == 204
    world.settle()  # the verification job (with the same local store) ran
    resp = _get(local.url, field.token, f"/api/v1/photos/{pid}/original")
    assert resp.status_code == 200 and resp.content == data  # streamed, not redirected
    assert resp.headers["Content-Length"] == str(len(data))
    sha = hashlib.sha256(data).hexdigest()
    assert (tmp_path / "blobs" / "originals" / sha[:2] / sha).read_bytes() == data
    shown = _get(local.url, field.token, f"/api/v1/photos/{pid}/display")
    assert shown.status_code == 200
    _no_metadata(shown.content)


def test_heic_is_accepted_and_shown_as_jpeg(live: Any, world: Any, field: Any) -> None:
    pillow_heif.register_heif_opener()
    img = Image.frombytes("RGB", (640, 480), bytes(range(256)) * 3600)
    buf = io.BytesIO()
    img.save(buf, "HEIF")
    data = buf.getvalue()
    assert data[4:12] == b"ftypheic"
    pid = world.photo(field.visit, data, mime_type="image/heic")
    tus.upload(live.url, field.token, pid, data, filename="IMG_0001.HEIC")
    world.settle()  # the verification job ran
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"
    shown = _no_metadata(_follow(_get(live.url, field.token, f"/api/v1/photos/{pid}/display")))
    assert shown.format == "JPEG" and shown.size == (640, 480)
    assert _follow(_get(live.url, field.token, f"/api/v1/photos/{pid}/original")) == data
