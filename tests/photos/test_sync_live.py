"""Photo record by sync and bytes by tus meet in either order; the pull carries upload_status."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import requests

from tests.photos import images, tus


def _pull(base: str, token: str, cursor: int | None) -> dict[str, Any]:
    resp = requests.get(base + "/api/v1/sync", timeout=30,
                        headers={"Authorization": f"Bearer {token}"},
                        params={"last_pulled_at": "null" if cursor is None else cursor,
                                "schema_version": 1})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _push(base: str, token: str, cursor: int, photo: dict[str, Any]) -> None:
    resp = requests.post(base + "/api/v1/sync", timeout=30, params={"last_pulled_at": cursor},
                         json={"photos": {"created": [photo], "updated": [], "deleted": []}},
                         headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and not resp.json().get("rejected"), resp.text


def _raw(visit_id: Any, data: bytes) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "visit_id": str(visit_id),
            "sha256": hashlib.sha256(data).hexdigest(), "byte_size": len(data),
            "mime_type": "image/jpeg", "captured_at": 1_764_000_000_000, "consent": "obtained",
            "lat": 38.56, "lng": 68.79}


def _status(changes: dict[str, Any], photo_id: str) -> str | None:
    table = changes["changes"]["photos"]
    for rec in table["created"] + table["updated"]:
        if rec["id"] == photo_id:
            return str(rec["upload_status"])
    return None


def test_record_first_then_bytes(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg()
    raw = _raw(field.visit.id, data)
    world.ids["photos"].append(uuid.UUID(raw["id"]))
    first = _pull(live.url, field.token, None)
    _push(live.url, field.token, first["timestamp"], raw)
    after_push = _pull(live.url, field.token, first["timestamp"])
    assert _status(after_push, raw["id"]) == "pending"
    tus.upload(live.url, field.token, uuid.UUID(raw["id"]), data)
    world.settle()  # the verification job ran
    after_upload = _pull(live.url, field.token, after_push["timestamp"])
    assert _status(after_upload, raw["id"]) == "verified"  # the pull carries the new status


def test_bytes_first_then_record(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg()
    raw = _raw(field.visit.id, data)
    world.ids["photos"].append(uuid.UUID(raw["id"]))
    tus.upload(live.url, field.token, uuid.UUID(raw["id"]), data)
    world.settle()  # the verification job ran
    first = _pull(live.url, field.token, None)
    assert _status(first, raw["id"]) is None
    raw["upload_status"] = "pending"  # server-set: whatever the phone says is ignored
    _push(live.url, field.token, first["timestamp"], raw)
    assert _status(_pull(live.url, field.token, first["timestamp"]), raw["id"]) == "verified"
    assert world.scalar("select upload_status from photos where id = :i",
                        i=raw["id"]) == "verified"
