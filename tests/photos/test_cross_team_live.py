"""Uploads across teams over HTTP: dedupe never crosses teams, others' uploads never join."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import requests
import sqlalchemy as sa

from tests.photos import images, tus


def _detail(base: str, token: str, photo_id: uuid.UUID) -> dict[str, Any]:
    resp = requests.get(f"{base}/api/v1/photos/{photo_id}", timeout=10,
                        headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _status(world: Any, photo_id: uuid.UUID) -> str:
    return str(world.scalar("select upload_status from photos where id = :i", i=photo_id))


def test_other_teams_bytes_must_be_sent_and_hashed(live: Any, world: Any, field: Any) -> None:
    other = world.user("monitor")
    _, other_token = world.device(other)
    data = images.jpeg()
    theirs = world.photo(world.visit(world.team(other)), data)
    tus.upload(live.url, other_token, theirs, data)
    world.settle()  # the verification job ran
    assert _status(world, theirs) == "verified"
    mine = world.photo(field.visit, data)
    resp = tus.create(live.url, field.token, mine, data)
    assert resp.status_code == 201 and resp.headers["Upload-Offset"] == "0"
    assert _status(world, mine) == "pending"
    assert _detail(live.url, field.token, mine)["processing"] is None
    url = tus.location(live.url, resp)
    assert tus.patch(url, field.token, 0, data).status_code == 204  # the bytes, hashed
    assert _status(world, mine) == "verified"
    detail = _detail(live.url, field.token, mine)
    assert detail["processing"]["status"] == "ok"
    assert [u["deduplicated"] for u in detail["uploads"]] == [False]
    verified = [e for e in detail["custody"] if e["event"] == "verified"]
    assert [e["details"]["deduplicated"] for e in verified] == [False]  # no "held before"
    assert world.scalar("select count(*) from blobs where sha256 = :s",
                        s=hashlib.sha256(data).hexdigest()) == 1


def test_own_upload_before_the_record_still_dedupes(live: Any, world: Any, field: Any) -> None:
    data = images.png()
    early = uuid.uuid4()
    tus.upload(live.url, field.token, early, data, filename="p.png")  # no record yet
    world.settle()  # the verification job ran
    again = world.photo(field.visit, data, mime_type="image/png")
    resp = tus.create(live.url, field.token, again, data, filename="p.png")
    assert resp.headers["Upload-Offset"] == str(len(data))  # this phone sent these bytes
    assert _status(world, again) == "verified"


def test_outsiders_upload_stays_out_of_the_photos_record(live: Any, world: Any,
                                                         field: Any) -> None:
    outsider = world.user("monitor")
    world.team(outsider)
    _, outsider_token = world.device(outsider)
    data = images.jpeg()
    pid = world.photo(field.visit, data)
    tus.upload(live.url, outsider_token, pid, images.jpeg(pad=1000), sha256="c" * 64)
    world.settle()  # the verification job ran
    tus.upload(live.url, outsider_token, pid, data)  # even the right bytes do not count
    world.settle()  # the verification job ran
    assert _status(world, pid) == "pending"
    detail = _detail(live.url, field.token, pid)
    assert detail["uploads"] == [] and detail["processing"] is None
    assert [e["event"] for e in detail["custody"]] == ["captured"]
    tus.upload(live.url, field.token, pid, data)
    world.settle()  # the verification job ran
    detail = _detail(live.url, field.token, pid)
    assert _status(world, pid) == "verified" and len(detail["uploads"]) == 1
    assert {e["upload_id"] for e in detail["custody"]} == {None, detail["uploads"][0]["id"]}
    # The upload and custody rows of the outsider are still in the database (and audit log).
    assert world.scalar("select count(*) from uploads where photo_id = :i", i=pid) == 3


def test_verified_photo_stays_verified_after_its_uploader_leaves(live: Any, world: Any,
                                                                 field: Any) -> None:
    data = images.jpeg()
    photo = world.photo(field.visit, data)
    tus.upload(live.url, field.token, photo, data)
    world.settle()  # the verification job ran
    assert _status(world, photo) == "verified"
    with world.engine.begin() as c:
        lead = world.user("coordinator")
        c.execute(sa.text("insert into team_members (team_id, user_id) values (:t, :u)"),
                  {"t": field.team.id, "u": lead.id})
        c.execute(sa.text("update teams set lead_id = :u where id = :t"),
                  {"t": field.team.id, "u": lead.id})
        c.execute(sa.text("delete from team_members where team_id = :t and user_id = :u"),
                  {"t": field.team.id, "u": field.monitor.id})
    with world.engine.begin() as c:  # a later sync edit of the record
        c.execute(sa.text("update photos set caption = 'cell 12, east wall' where id = :i"),
                  {"i": photo})
    assert _status(world, photo) == "verified"
    with world.engine.begin() as c:  # a changed hash re-opens the question
        c.execute(sa.text("update photos set sha256 = :s where id = :i"),
                  {"i": photo, "s": "0" * 64})
    assert _status(world, photo) != "verified"
