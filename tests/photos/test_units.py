"""In-process checks of the pieces: magic bytes, EXIF parsing, metadata decoding, local staging."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from monitor_api.errors import ValidationFailed
from monitor_api.photos.processing import inspect, sniff
from monitor_api.storage import BodyEnded, LocalBlobStore, StagingInterrupted, StagingState
from monitor_api.uploads.service import parse_metadata
from tests.photos import images


@pytest.mark.parametrize(("head", "mime"), [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00", "image/heic"),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00", None),  # a video is not a photo
    (b"GIF89a\x01\x00", None),
    (b"MZ\x90\x00", None),
    (b"%PDF-1.7", None),
    (b"", None),
])
def test_sniff_allow_list(head: bytes, mime: str | None) -> None:
    assert sniff(head) == mime


def test_exif_without_offset_keeps_local_time_only(tmp_path: Path) -> None:
    path = tmp_path / "p.jpg"
    path.write_bytes(images.jpeg(offset="", gps=(-33.9, -70.5)))
    result = inspect(str(path))
    assert result.ok and result.captured_at is None  # no zone: not guessed
    assert result.exif["captured_at_local"] == "2026:11:20 10:15:30"
    assert result.lat == pytest.approx(-33.9) and result.lng == pytest.approx(-70.5)


def test_webp_and_transparent_png_render(tmp_path: Path) -> None:
    webp = io.BytesIO()
    Image.new("RGBA", (3000, 100), (0, 0, 0, 0)).save(webp, "WEBP")
    path = tmp_path / "p.webp"
    path.write_bytes(webp.getvalue())
    result = inspect(str(path))
    assert result.ok and result.mime_type == "image/webp"
    display = Image.open(io.BytesIO(result.renditions["display"].data))
    assert display.size == (2048, 68) and display.mode == "RGB"
    assert display.getpixel((10, 10)) == (255, 255, 255)  # transparency flattened on white


def test_png_claiming_to_be_jpeg_is_judged_by_bytes(tmp_path: Path) -> None:
    path = tmp_path / "really-a-png.jpg"
    path.write_bytes(images.png())
    assert inspect(str(path)).mime_type == "image/png"


def test_parse_metadata() -> None:
    assert parse_metadata("photo_id YWJj,empty,sha256 ZGVm") == {
        "photo_id": "abc", "empty": "", "sha256": "def"}
    with pytest.raises(ValidationFailed):
        parse_metadata("photo_id !!notbase64")


def _chunks(*parts: bytes, drop: bool = False):  # type: ignore[no-untyped-def]
    yield from parts
    if drop:
        raise BodyEnded()


def test_local_staging_append_interrupt_and_retry(tmp_path: Path) -> None:
    store = LocalBlobStore(str(tmp_path))
    state = store.stage_append("u1", StagingState(), _chunks(b"abc", b"def"), final_size=12)
    assert state.size == 6
    with pytest.raises(StagingInterrupted) as exc:
        store.stage_append("u1", state, _chunks(b"gh", drop=True), final_size=12)
    assert exc.value.state.size == 8  # what arrived before the drop is kept
    # An attempt never acknowledged (e.g. checksum mismatch) is cut off by the next one.
    store.stage_append("u1", exc.value.state, _chunks(b"XXXX"), final_size=12)
    state = store.stage_append("u1", exc.value.state, _chunks(b"ijkl"), final_size=12)
    key = store.stage_finish("u1", state)
    assert b"".join(store.iter_bytes(key)) == b"abcdefghijkl"
    assert store.promote(key, "originals/x") and not store.exists(key)
    assert not store.write_once("originals/x", b"other")  # written once
    assert store.read_range("originals/x", 3, 3) == b"def"
    with pytest.raises(ValueError):
        store.exists("../escape")


def test_local_stage_whole_is_one_staged_file_the_sweep_sees(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    store = LocalBlobStore(str(tmp_path))
    key = store.stage_whole("u2", b"whole photo", sha256="0" * 64)
    assert key == "staging/u2/data"  # where stage_finish would have put it
    assert b"".join(store.iter_bytes(key)) == b"whole photo"
    # Staged before its row commits: a crash in between leaves what clean-uploads sweeps.
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert [item.upload_id for item in store.list_staged(later)] == ["u2"]
    store.stage_abort("u2", StagingState())
    assert not store.exists(key)


def test_s3_bodies_are_sent_in_blocks_of_a_mebibyte_or_more() -> None:
    from monitor_api.storage.s3 import SEND_BLOCK, _Body

    data = bytes(range(256)) * (10 * 1024)  # 2.5 MiB
    body = _Body(data)
    blocks = list(iter(lambda: body.read(16384), b""))  # as urllib3 asks for them
    assert [len(b) for b in blocks] == [SEND_BLOCK, SEND_BLOCK, len(data) - 2 * SEND_BLOCK]
    assert b"".join(blocks) == data
    body.seek(0)  # a retry rewinds, as botocore does
    assert body.read() == data and body.tell() == len(data)
    body.seek(5)
    assert body.read(None) == data[5:]
