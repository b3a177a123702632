"""A minimal tus client over requests, for the protocol's edge cases (tuspy does the rest)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import requests


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}


def metadata(photo_id: uuid.UUID, sha256: str, filename: str = "photo.jpg") -> str:
    pairs = {"photo_id": str(photo_id), "sha256": sha256, "filename": filename}
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


def create(base: str, token: str, photo_id: uuid.UUID, data: bytes, *,
           sha256: str | None = None, length: int | None = None,
           filename: str = "photo.jpg") -> requests.Response:
    sha = sha256 or hashlib.sha256(data).hexdigest()
    return requests.post(base + "/api/v1/uploads", timeout=30, headers={
        **auth(token), "Upload-Length": str(len(data) if length is None else length),
        "Upload-Metadata": metadata(photo_id, sha, filename)})


def location(base: str, resp: requests.Response) -> str:
    assert resp.status_code == 201, resp.text
    loc = resp.headers["Location"]
    return loc if loc.startswith("http") else base + loc


def patch(url: str, token: str, offset: int, chunk: bytes, *,
          checksum: bytes | None = None, **headers: str) -> requests.Response:
    h = {**auth(token), "Upload-Offset": str(offset),
         "Content-Type": "application/offset+octet-stream", **headers}
    if checksum is not None:
        h["Upload-Checksum"] = "sha256 " + base64.b64encode(checksum).decode()
    return requests.patch(url, data=chunk, headers=h, timeout=120)


def head(url: str, token: str) -> requests.Response:
    return requests.head(url, headers=auth(token), timeout=30)


def upload(base: str, token: str, photo_id: uuid.UUID, data: bytes, **kw: Any) -> str:
    """Create and send everything in one PATCH; return the upload URL."""
    url = location(base, create(base, token, photo_id, data, **kw))
    resp = patch(url, token, 0, data)
    assert resp.status_code == 204, resp.text
    assert int(resp.headers["Upload-Offset"]) == len(data)
    return url
