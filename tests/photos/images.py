"""Test images built on the fly: unique bytes per call, with or without EXIF/GPS."""

from __future__ import annotations

import io
import os
import struct
import zlib

from PIL import Image, TiffImagePlugin


def _rational(value: float) -> TiffImagePlugin.IFDRational:
    return TiffImagePlugin.IFDRational(round(value * 10000), 10000)


def _dms(deg: float) -> tuple[TiffImagePlugin.IFDRational, ...]:
    deg = abs(deg)
    d = int(deg)
    m = int((deg - d) * 60)
    s = (deg - d - m / 60) * 3600
    return (_rational(d), _rational(m), _rational(s))


def jpeg(width: int = 1200, height: int = 900, *, gps: tuple[float, float] | None = None,
         make: str = "TestPhone", model: str = "Model X", orientation: int = 1,
         taken: str = "2026:11:20 10:15:30", offset: str = "+05:00", pad: int = 0) -> bytes:
    """A unique JPEG (random pixels in one corner) with EXIF; `pad` appends trailing bytes."""
    img = Image.new("RGB", (width, height), (90, 120, 150))
    noise = Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3))
    img.paste(noise, (0, 0))
    img.paste((255, 0, 0), (width - 100, 0, width, 50))  # a red mark top-right
    exif = Image.Exif()
    exif[271], exif[272], exif[274] = make, model, orientation
    exif[306] = taken
    ifd = exif.get_ifd(0x8769)
    ifd[36867], ifd[36881] = taken, offset
    if gps is not None:
        lat, lng = gps
        g = exif.get_ifd(0x8825)
        g[1], g[2] = ("N" if lat >= 0 else "S"), _dms(lat)
        g[3], g[4] = ("E" if lng >= 0 else "W"), _dms(lng)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue() + os.urandom(pad)


def png(width: int = 400, height: int = 300) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buf, "PNG")
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_declared(width: int, height: int, rows: int | None = None) -> bytes:
    """A 1-bit grayscale PNG whose IHDR says width x height; `rows` of real zero data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    data = bytearray()
    for _ in range(height if rows is None else rows):
        data += comp.compress(row)
    data += comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", bytes(data))
            + _chunk(b"IEND", b"") + os.urandom(16))


def bomb() -> bytes:
    """9000 x 9000 pixels (81 MP) in a few kilobytes: a decompression bomb."""
    return png_declared(9000, 9000)


def huge_declared_png() -> bytes:
    """A PNG whose header claims 1,000,000 x 1,000,000 pixels with almost no data."""
    return png_declared(1_000_000, 1_000_000, rows=1)


def truncated_jpeg() -> bytes:
    data = jpeg(1600, 1200)
    return data[: len(data) // 2]


def executable_as_jpg() -> bytes:
    """An ELF/PE-looking binary someone renamed to .jpg."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + os.urandom(40_000)
