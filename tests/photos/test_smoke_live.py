"""First light: one photo through the live server."""

from __future__ import annotations

from typing import Any

from tests.photos import images, tus


def test_one_photo(live: Any, world: Any, field: Any) -> None:
    data = images.jpeg(gps=(38.56, 68.78))
    pid = world.photo(field.visit, data)
    tus.upload(live.url, field.token, pid, data)
    assert world.scalar("select upload_status from photos where id = :i", i=pid) == "verified"
