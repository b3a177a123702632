"""A quarantine that helps: one pending row per device, record and content; later accepted
versions supersede; records reviewed by the right team and applied only within it."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.sync.conftest import World, finding_raw, visit_raw


def _api(world: World, token: str, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(method, world.base + "/api/v1/sync" + path, timeout=10,
                            headers={"Authorization": f"Bearer {token}"}, **kw)


def _rows(world: World, record_id: str) -> list[Any]:
    return world.sql("select status, times_received from sync_quarantine where record_id = :r "
                     "order by received_at", r=record_id).all()


@pytest.mark.parametrize("with_update", [False, True], ids=["created-only", "with-an-update"])
def test_resends_keep_one_pending_row_and_an_accepted_version_supersedes(
        world: World, with_update: bool) -> None:
    """A push of created records only supersedes in its write statement; one that also
    updates a record takes the full path (sync/apply.py: both from one statement)."""
    coord, mon = world.user("coordinator"), world.user()
    world.team(coord, mon)
    token = world.device(mon)
    visit = visit_raw(world.facility())
    cur = world.cursor(token)
    assert world.push(token, {"visits": {"created": [visit]}}, cur).status_code == 200
    bad = {**finding_raw(visit["id"], severity="awful"), "_status": "created", "_changed": ""}
    for _ in range(3):  # WatermelonDB sends a rejected record again on every sync
        resp = world.push(token, {"findings": {"created": [bad]}}, cur)
        assert resp.json()["experimentalRejectedIds"] == {"findings": [bad["id"]]}
    assert [tuple(r) for r in _rows(world, bad["id"])] == [("pending", 3)]
    worse = {**bad, "severity": "dreadful"}  # other content: a row of its own
    world.push(token, {"findings": {"created": [worse]}}, cur)
    assert [r.status for r in _rows(world, bad["id"])] == ["pending", "pending"]
    # The monitor corrects it: accepted, and the pending versions are superseded.
    good = {**bad, "severity": "serious"}
    changes: dict[str, Any] = {"findings": {"created": [good]}}
    if with_update:
        changes["visits"] = {"updated": [{**visit, "summary": "corrected"}]}
    resp = world.push(token, changes, world.cursor(token) if with_update else cur)
    assert resp.json()["rejected"] == [], resp.text
    assert [r.status for r in _rows(world, bad["id"])] == ["superseded", "superseded"]
    listed = _api(world, world.login(coord), "GET", "/quarantine").json()
    assert listed["meta"]["total"] == 0


def test_a_resend_of_discarded_content_is_not_reopened(world: World) -> None:
    coord, mon = world.user("coordinator"), world.user()
    world.team(coord, mon)
    token = world.device(mon)
    visit = visit_raw(world.facility())
    cur = world.cursor(token)
    world.push(token, {"visits": {"created": [visit]}}, cur)
    bad = finding_raw(visit["id"], theme="weather")
    world.push(token, {"findings": {"created": [bad]}}, cur)
    qid = world.sql("select id from sync_quarantine").scalar()
    ctoken = world.login(coord)
    assert _api(world, ctoken, "POST", f"/quarantine/{qid}/discard",
                json={"reason": "duplicate of another finding"}).status_code == 200
    resp = world.push(token, {"findings": {"created": [bad]}}, cur)
    [rejected] = resp.json()["rejected"]
    assert "already discarded" in rejected["quarantine"]
    assert [tuple(r) for r in _rows(world, bad["id"])] == [("discarded", 2)]


def test_a_record_naming_another_teams_visit_stays_with_the_senders_team(
        world: World) -> None:
    coord_a, mon_a = world.user("coordinator"), world.user()
    coord_b, mon_b = world.user("coordinator"), world.user()
    team_a, team_b = world.team(coord_a, mon_a), world.team(coord_b, mon_b)
    fac = world.facility()
    own_visit = world.visit(team_a, fac)
    their_visit = world.visit(team_b, fac)
    token = world.device(mon_a)
    intrusion = finding_raw(their_visit, title="planted by A")
    resp = world.push(token, {"findings": {"created": [intrusion]}}, world.cursor(token))
    assert resp.json()["experimentalRejectedIds"] == {"findings": [intrusion["id"]]}
    qid = world.sql("select id from sync_quarantine").scalar()
    assert str(world.sql("select scope_group_id from sync_quarantine").scalar()) == str(team_a)
    ta, tb = world.login(coord_a), world.login(coord_b)
    # B's coordinators never see what A's member tried to write into B's visit.
    assert _api(world, tb, "GET", f"/quarantine/{qid}").status_code == 404
    assert _api(world, tb, "GET", "/quarantine").json()["meta"]["total"] == 0
    assert _api(world, ta, "GET", f"/quarantine/{qid}").json()["team_id"] == str(team_a)
    # A's coordinator cannot apply it into B's visit, as sent or "fixed".
    accept = _api(world, ta, "POST", f"/quarantine/{qid}/accept", json={})
    assert accept.status_code == 422, accept.text
    fix = _api(world, ta, "POST", f"/quarantine/{qid}/fix", json={"raw": intrusion})
    assert fix.status_code == 422
    assert world.sql("select count(*) from findings where visit_id = :v",
                     v=their_visit).scalar() == 0
    # Fixed into A's own visit, it is applied there.
    fix = _api(world, ta, "POST", f"/quarantine/{qid}/fix",
               json={"raw": {**intrusion, "visit_id": own_visit}})
    assert fix.status_code == 200, fix.text
    assert str(world.sql("select visit_id from findings where id = :i",
                         i=intrusion["id"]).scalar()) == own_visit
