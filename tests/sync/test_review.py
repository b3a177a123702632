"""Coordinators review quarantined records and read revision histories."""

from __future__ import annotations

import uuid

import requests

from tests.sync.conftest import World, finding_raw, visit_raw


def _api(world: World, token: str, method: str, path: str, **kw: object) -> requests.Response:
    return requests.request(method, world.base + "/api/v1/sync" + path, timeout=10,
                            headers={"Authorization": f"Bearer {token}"}, **kw)


def _scenario(world: World) -> tuple:
    coord, mon = world.user("coordinator"), world.user()
    world.team(coord, mon)
    fac = world.facility()
    token = world.device(mon)
    visit = visit_raw(fac)
    cur = world.cursor(token)
    assert world.push(token, {"visits": {"created": [visit]}}, cur).status_code == 200
    bad = finding_raw(visit["id"], severity="catastrophic")
    fixable = finding_raw(visit["id"], severity="awful")
    junk = finding_raw(visit["id"], theme="weather")
    resp = world.push(token, {"findings": {"created": [bad, fixable, junk]}}, cur)
    assert len(resp.json()["rejected"]) == 3
    return coord, mon, token, visit, bad, fixable, junk, world.login(coord)


def test_review_accept_fix_discard(world: World) -> None:
    _coord, _mon, _token, visit, bad, fixable, junk, ctoken = _scenario(world)
    listed = _api(world, ctoken, "GET", "/quarantine").json()
    assert listed["meta"]["total"] == 3
    by_record = {q["record_id"]: q for q in listed["items"]}
    assert by_record[bad["id"]]["raw"]["severity"] == "catastrophic"
    assert "severity" in by_record[bad["id"]]["errors"]
    # Accepting as sent is refused while it is still invalid.
    q_bad = by_record[bad["id"]]["id"]
    assert _api(world, ctoken, "POST", f"/quarantine/{q_bad}/accept", json={}).status_code == 422
    # Fixing applies the corrected record and keeps the original.
    q_fix = by_record[fixable["id"]]["id"]
    raw = {**fixable, "severity": "serious"}
    resp = _api(world, ctoken, "POST", f"/quarantine/{q_fix}/fix", json={"raw": raw})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "fixed" and resp.json()["raw"]["severity"] == "awful"
    assert world.sql("select severity from findings where id = :i",
                     i=fixable["id"]).scalar() == "serious"
    again = _api(world, ctoken, "POST", f"/quarantine/{q_fix}/discard", json={"reason": "x"})
    assert again.status_code == 409
    # Discarding keeps the record and writes the audit trail.
    q_junk = by_record[junk["id"]]["id"]
    resp = _api(world, ctoken, "POST", f"/quarantine/{q_junk}/discard",
                json={"reason": "duplicate of another finding"})
    assert resp.status_code == 200 and resp.json()["status"] == "discarded"
    assert world.sql("select count(*) from sync_quarantine").scalar() == 3
    audit = world.sql("select details from audit_log where action = "
                      "'sync.quarantine.discarded' and target_id = :q", q=q_junk).scalar()
    assert audit["reason"] == "duplicate of another finding"
    pending = _api(world, ctoken, "GET", "/quarantine").json()
    assert [q["record_id"] for q in pending["items"]] == [bad["id"]]
    # The fixed record's history names the review as its source.
    hist = _api(world, ctoken, "GET", f"/history/findings/{fixable['id']}").json()
    assert [(r["op"], r["source"], r["quarantine_id"]) for r in hist["revisions"]] == [
        ("create", "review", q_fix)]
    assert hist["current"]["severity"] == "serious"
    vh = _api(world, ctoken, "GET", f"/history/visits/{visit['id']}").json()
    assert vh["revisions"][0]["device_id"] is not None


def test_review_is_scoped_to_the_coordinators_teams(world: World) -> None:
    _coord, _mon, _token, visit, bad, _fixable, _junk, _ctoken = _scenario(world)
    stranger = world.user("coordinator")
    world.team(stranger)
    stoken = world.login(stranger)
    assert _api(world, stoken, "GET", "/quarantine").json()["meta"]["total"] == 0
    qid = world.sql("select id from sync_quarantine where record_id = :r", r=bad["id"]).scalar()
    assert _api(world, stoken, "GET", f"/quarantine/{qid}").status_code == 404
    assert _api(world, stoken, "POST", f"/quarantine/{qid}/discard",
                json={"reason": "x"}).status_code == 404
    assert _api(world, stoken, "GET", f"/history/visits/{visit['id']}").status_code == 404
    assert _api(world, stoken, "GET", f"/history/visits/{uuid.uuid4()}").status_code == 404
    monitor = world.login(world.user())
    assert _api(world, monitor, "GET", "/quarantine").status_code == 403
    admin = world.login(world.user("admin"))
    assert _api(world, admin, "GET", "/quarantine").json()["meta"]["total"] == 3


def test_rest_writes_join_the_history_and_conflict_with_stale_pushes(world: World) -> None:
    from sqlalchemy.orm import Session

    from monitor_api.auth import Principal
    from monitor_api.findings.models import Finding
    from monitor_api.sync_api.history import record_change, snapshot

    coord, mon = world.user("coordinator"), world.user()
    world.team(coord, mon)
    token = world.device(mon)
    cur = world.cursor(token)
    visit = visit_raw(world.facility())
    finding = finding_raw(visit["id"])
    assert world.push(token, {"visits": {"created": [visit]},
                              "findings": {"created": [finding]}}, cur).status_code == 200
    cur = world.cursor(token)
    with Session(world.engine) as s:  # what a coordinator REST service does around a write
        fid = uuid.UUID(finding["id"])
        before = snapshot(s, "findings", fid)
        s.get(Finding, fid).status = "confirmed"
        s.flush()
        record_change(s, Principal(coord.id, "coordinator", coord.username), "findings",
                      fid, before)
        s.commit()
    hist = _api(world, world.login(coord), "GET", f"/history/findings/{finding['id']}").json()
    last = hist["revisions"][-1]
    assert (last["source"], last["user_id"]) == ("rest", str(coord.id))
    assert (last["before"]["status"], last["after"]["status"]) == ("draft", "confirmed")
    resp = world.push(token, {"findings": {"updated": [{**finding, "status": "withdrawn"}]}},
                      cur)
    assert resp.status_code == 409


def test_accept_once_the_missing_parent_exists(world: World) -> None:
    coord, mon = world.user("coordinator"), world.user()
    team = world.team(coord, mon)
    token = world.device(mon)
    cur = world.cursor(token)
    fac = world.facility()
    orphan_visit = str(uuid.uuid4())
    finding = finding_raw(orphan_visit)
    resp = world.push(token, {"findings": {"created": [finding]}}, cur)
    assert resp.json()["experimentalRejectedIds"] == {"findings": [finding["id"]]}
    qid = world.sql("select id from sync_quarantine").scalar()
    world.sql("insert into visits (id, facility_id, team_id, visit_type, announced, "
              "joint_with_ombudsman, status) values (:v, :f, :t, 'in_depth', false, false, "
              "'planned')", v=orphan_visit, f=fac, t=team)
    resp = _api(world, world.login(coord), "POST", f"/quarantine/{qid}/accept", json={})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted"
    assert world.sql("select count(*) from findings where id = :i", i=finding["id"]).scalar() == 1
    # The phone still holds the record it sent (WatermelonDB keeps rejected records): it
    # comes back as updated, never as a "created" record that already exists locally.
    assert finding["id"] in {r["id"] for r in world.pull(token, cur).json()["changes"][
        "findings"]["updated"]}
