"""Inspect uploaded bytes: magic-byte allow-list, decompression-bomb limits, EXIF, derivatives.

Only the file on disk is read; the original is never rewritten. Derivatives are built from
freshly created images (no `info` carried over), so no EXIF, GPS, XMP or ICC data survives.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pillow_heif
from PIL import Image

from monitor_api.photos.memory import BUDGET, MiB

pillow_heif.register_heif_opener()

MAX_PIXELS = 50_000_000  # beyond this a "photo" is a decompression bomb, not evidence
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
SIZES = {"display": 2048, "thumbnail": 320}
# A big image is first box-shrunk by a whole factor while at least this many times the display
# size remains, then resampled with Lanczos (Pillow's `reducing_gap` idea).
REDUCING_GAP = 1.5
BAND_ROWS = 256  # rows flattened and shrunk at a time
RENDER_WORK = 40 * MiB  # the Lanczos passes and JPEG encoders of the derivatives
HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
PIL_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP",
              "image/heic": "HEIF"}


@dataclass
class Rendition:
    """A re-encoded derivative, ready to store."""

    data: bytes
    width: int
    height: int
    mime_type: str = "image/jpeg"


@dataclass
class Inspection:
    """What inspecting a file found; `reason` says why it was rejected."""

    ok: bool
    reason: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    exif: dict[str, Any] = field(default_factory=dict)
    captured_at: datetime | None = None
    lat: float | None = None
    lng: float | None = None
    renditions: dict[str, Rendition] = field(default_factory=dict)


def sniff(head: bytes) -> str | None:
    """The allowed image type the first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIC_BRANDS:
        return "image/heic"
    return None


def inspect(path: str, *, head: bytes | None = None) -> Inspection:
    """Check the file at `path` and, when it is a sound image, build its derivatives."""
    if head is None:
        with open(path, "rb") as fh:
            head = fh.read(32)
    mime = sniff(head)
    if mime is None:
        return Inspection(False, "Not an allowed image format (JPEG, PNG, WebP, HEIC) by its "
                                 f"magic bytes (starts with {head[:8].hex()}).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decode(path, mime)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return Inspection(False, f"Decompression bomb refused: {exc}", mime_type=mime)
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        # Pillow reports truncated or corrupt data as OSError/SyntaxError/ValueError.
        return Inspection(False, f"Corrupt or truncated {mime} data: {exc}", mime_type=mime)


def _decode(path: str, mime: str) -> Inspection:
    with Image.open(path, formats=[PIL_FORMAT[mime]]) as im:
        width, height = im.size
        if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
            return Inspection(False, f"Declared size {width}x{height} exceeds the limit of "
                                     f"{MAX_PIXELS} pixels.", mime_type=mime)
        if im.format == "JPEG":
            # Decode at 1/2, 1/4 or 1/8 scale when the result still exceeds half the display
            # box: a 12 MP photo decodes to 2000x1500 with a quarter of the memory and CPU.
            half = SIZES["display"] // 2 + 1
            im.draft("RGB", (half, half))
        factor = _factor(im.size)
        with BUDGET.hold(decode_cost(im, factor)):
            im.load()  # decodes every byte: a truncated or corrupt file fails here
            exif = read_exif(im)  # after load(): a PNG may keep its eXIf chunk after the pixels
            base = _shrink(im, factor)
            if base is not im:
                im.close()  # the full-size pixels go now, before the derivatives are made
            renditions = make_renditions(base, exif.get("orientation"))
            del base
    captured = exif.pop("_captured_at", None)
    return Inspection(True, mime_type=mime, width=width, height=height, exif=exif,
                      captured_at=captured, lat=exif.get("lat"), lng=exif.get("lng"),
                      renditions=renditions)


def _factor(size: tuple[int, int]) -> int:
    """The whole factor a decoded image is first shrunk by (box filter, band by band)."""
    return max(1, int(max(size) / (SIZES["display"] * REDUCING_GAP)))


def decode_cost(im: Image.Image, factor: int) -> int:
    """Bytes decoding and rendering `im` (after any draft) will hold at its peak."""
    width, height = im.size
    pixel = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}.get(im.mode, 4)
    decoded = width * height * pixel
    if im.format in ("WEBP", "HEIF"):
        decoded *= 2  # decoded into a buffer of their own first, then copied
    shrunk = 0 if factor == 1 and im.mode in ("RGB", "L") else \
        -(-width // factor) * -(-height // factor) * 4
    return decoded + shrunk + RENDER_WORK


def _shrink(im: Image.Image, factor: int) -> Image.Image:
    """`im` flattened to RGB or L and shrunk by `factor`, built a band of rows at a time so
    that no second full-size copy exists; `im` itself when there is nothing to do."""
    if factor == 1 and im.mode in ("RGB", "L"):
        return im
    width, height = im.size
    band = factor * max(1, BAND_ROWS // factor)
    out: Image.Image | None = None
    for top in range(0, height, band):
        part = _flatten(im.crop((0, top, width, min(height, top + band))))
        if factor > 1:
            part = part.reduce(factor)
        if out is None:
            out = Image.new(part.mode, (-(-width // factor), -(-height // factor)))
        out.paste(part, (0, top // factor))
    assert out is not None
    return out


def make_renditions(im: Image.Image, orientation: int | None = None) -> dict[str, Rendition]:
    """Display and thumbnail JPEGs: orientation applied, every metadata field left behind."""
    out: dict[str, Rendition] = {}
    source = im
    for kind in ("display", "thumbnail"):
        box = SIZES[kind]
        scale = min(1.0, box / max(source.size))
        size = (max(1, round(source.width * scale)), max(1, round(source.height * scale)))
        img = source if size == source.size else source.resize(
            size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        source = img
        img = _flatten(img)
        if orientation in _TRANSPOSE:
            img = img.transpose(_TRANSPOSE[orientation])
        clean = Image.frombytes(img.mode, img.size, img.tobytes())  # no info, no exif
        buf = io.BytesIO()
        clean.save(buf, "JPEG", quality=85)
        out[kind] = Rendition(buf.getvalue(), clean.width, clean.height)
    return out


_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}


def _flatten(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if img.mode not in ("RGB", "L"):
        return img.convert("RGB")
    return img


def read_exif(im: Image.Image) -> dict[str, Any]:
    """Capture time, GPS, make, model and orientation from EXIF, as plain JSON values."""
    try:
        exif = im.getexif()
    except Exception:  # malformed EXIF must not reject an otherwise sound photo
        return {"error": "unreadable EXIF"}
    out: dict[str, Any] = {}
    ifd = exif.get_ifd(0x8769)
    for key, tag, src in (("make", 271, exif), ("model", 272, exif)):
        value = _text(src.get(tag))
        if value:
            out[key] = value
    if exif.get(274):
        out["orientation"] = int(exif.get(274))
    when = _text(ifd.get(36867) or exif.get(306))
    if when:
        out["captured_at_local"] = when
        out["_captured_at"] = _when(when, _text(ifd.get(36881)))
        if out["_captured_at"] is not None:
            out["captured_at"] = out["_captured_at"].isoformat()
    gps = exif.get_ifd(0x8825)
    lat, lng = _degrees(gps.get(2), gps.get(1)), _degrees(gps.get(4), gps.get(3))
    if lat is not None and lng is not None and -90 <= lat <= 90 and -180 <= lng <= 180:
        out["lat"], out["lng"] = round(lat, 7), round(lng, 7)
    return out


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return None
    return str(value).replace("\x00", "").strip()[:200] or None


def _when(local: str, offset: str | None) -> datetime | None:
    """EXIF time with its OffsetTimeOriginal; without an offset the zone is unknown: None."""
    try:
        naive = datetime.strptime(local[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if not offset or len(offset) < 6 or offset[0] not in "+-":
        return None
    try:
        sign = 1 if offset[0] == "+" else -1
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    except ValueError:
        return None
    return naive.replace(tzinfo=timezone(sign * delta))


def _degrees(dms: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(x) for x in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    return -value if _text(ref) in ("S", "W") else value
