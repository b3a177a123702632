"""Team scope: gaining and losing visits, and denials across teams."""

from __future__ import annotations

import uuid

from tests.sync.conftest import World, finding_raw, visit_raw


def _team_with_visit(world: World) -> tuple:
    owner = world.user()
    team = world.team(owner)
    fac = world.facility()
    token = world.device(owner)
    visit = visit_raw(fac)
    finding = finding_raw(visit["id"])
    resp = world.push(token, {"visits": {"created": [visit]},
                              "findings": {"created": [finding]}}, world.cursor(token))
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    return owner, team, fac, visit, finding


def _everything(body: dict, table: str) -> set[str]:
    group = body["changes"][table]
    return {r["id"] for r in group["created"] + group["updated"]}


def test_gaining_and_losing_membership(world: World) -> None:
    _owner, team, _fac, visit, finding = _team_with_visit(world)
    newcomer = world.user()
    world.team(newcomer)
    token = world.device(newcomer)
    cur = world.cursor(token)
    world.join(team, newcomer)
    body = world.pull(token, cur).json()
    # Changed long before the cursor, yet sent: the scope-change log brings them, as
    # created (this phone never had them; `updated` would be a WatermelonDB diagnostic).
    assert [v["id"] for v in body["changes"]["visits"]["created"]] == [visit["id"]]
    assert body["changes"]["visits"]["updated"] == []
    assert _everything(body, "findings") == {finding["id"]}
    cur = body["timestamp"]
    assert not _everything(world.pull(token, cur).json(), "visits")  # once only
    world.leave(team, newcomer)
    body = world.pull(token, cur).json()
    # Held back until this phone pushed (WatermelonDB would destroy unsent edits).
    assert body["changes"]["visits"]["deleted"] == []
    assert not _everything(body, "visits")
    world.push(token, {"visits": {"created": [visit_raw(_fac)]}}, body["timestamp"])
    body = world.pull(token, cur).json()
    assert body["changes"]["visits"]["deleted"] == [visit["id"]]
    assert body["changes"]["findings"]["deleted"] == [finding["id"]]


def test_a_gained_visit_that_also_changed_since_the_cursor_comes_as_created(
        world: World) -> None:
    """Found by the convergence test: a visit (and a finding) edited after the newcomer's
    cursor is in the pull's window as well as gained; it must still come as `created`
    (WatermelonDB reports an `updated` record it does not have as a serious bug)."""
    owner, team, _fac, visit, finding = _team_with_visit(world)
    newcomer = world.user()
    world.team(newcomer)
    token = world.device(newcomer)
    cur = world.cursor(token)
    owner_token = world.device(owner)
    resp = world.push(owner_token, {"visits": {"updated": [{**visit, "summary": "Re-visited"}]},
                                    "findings": {"updated": [{**finding, "title": "Worse"}]}},
                      world.cursor(owner_token))
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    world.join(team, newcomer)
    body = world.pull(token, cur).json()
    for table, record in (("visits", visit), ("findings", finding)):
        group = body["changes"][table]
        assert [r["id"] for r in group["created"]] == [record["id"]], table
        assert group["updated"] == [], table
    assert body["changes"]["visits"]["created"][0]["summary"] == "Re-visited"


def test_visit_moved_between_teams(world: World) -> None:
    owner, _team, _fac, visit, finding = _team_with_visit(world)
    other = world.user()
    other_team = world.team(other)
    t_owner, t_other = world.device(owner), world.device(other)
    c_owner, c_other = world.cursor(t_owner), world.cursor(t_other)
    assert not _everything(world.pull(t_other).json(), "visits")
    world.sql("update visits set team_id = :t where id = :v", t=other_team, v=visit["id"])
    gained = world.pull(t_other, c_other).json()
    assert _everything(gained, "visits") == {visit["id"]}
    assert _everything(gained, "findings") == {finding["id"]}
    held = world.pull(t_owner, c_owner).json()
    assert held["changes"]["visits"]["deleted"] == []  # until the phone pushed once more
    # The former team can no longer write it (its coordinators review the late edit).
    resp = world.push(t_owner, {"findings": {"updated": [{**finding, "title": "late"}]}},
                      held["timestamp"])
    assert resp.json()["experimentalRejectedIds"] == {"findings": [finding["id"]]}
    lost = world.pull(t_owner, held["timestamp"]).json()
    assert lost["changes"]["visits"]["deleted"] == [visit["id"]]
    assert lost["changes"]["findings"]["deleted"] == [finding["id"]]


def test_pushed_visit_joins_the_team_the_user_leads(world: World) -> None:
    mon = world.user()
    first = world.team(world.user(), mon, name="a-team")  # mon is a member, not the lead
    led = world.team(mon, name="z-team")  # mon leads this one
    fac = world.facility()
    token = world.device(mon)
    visit = visit_raw(fac, team_id=str(first))  # the pushed team_id is ignored (server-set)
    assert world.push(token, {"visits": {"created": [visit]}},
                      world.cursor(token)).status_code == 200
    team = world.sql("select team_id from visits where id = :i", i=visit["id"]).scalar()
    assert str(team) == str(led)
    loner = world.user()
    t2 = world.device(loner)
    orphan = visit_raw(fac)
    child = finding_raw(orphan["id"])  # refused with its parent, never inserted dangling
    resp = world.push(t2, {"visits": {"created": [orphan]}, "findings": {"created": [child]}},
                      world.cursor(t2))
    assert resp.status_code == 200, resp.text
    assert "no team" in str(resp.json()["rejected"])
    assert resp.json()["experimentalRejectedIds"] == {"visits": [orphan["id"]],
                                                      "findings": [child["id"]]}


def test_a_monitor_cannot_pull_or_write_another_teams_visit(world: World) -> None:
    _owner, _team, fac, visit, finding = _team_with_visit(world)
    intruder = world.user()
    world.team(intruder)
    token = world.device(intruder)
    body = world.pull(token).json()
    assert not _everything(body, "visits") and not _everything(body, "findings")
    cur = body["timestamp"]
    changes = {
        "visits": {"updated": [{**visit, "summary": "hijacked"}]},
        "findings": {"created": [finding_raw(visit["id"])],
                     "updated": [{**finding, "title": "hijacked"}], "deleted": [finding["id"]]},
        "answers": {"created": [{"id": str(uuid.uuid4()), "visit_id": visit["id"],
                                 "question_id": str(uuid.uuid4()),
                                 "info_source": "staff"}]},
    }
    resp = world.push(token, changes, cur)
    assert resp.status_code == 200
    rejected = resp.json()["experimentalRejectedIds"]
    assert rejected["visits"] == [visit["id"]] and len(rejected["findings"]) == 2
    assert len(rejected["answers"]) == 1
    row = world.sql("select summary from visits where id = :i", i=visit["id"]).scalar()
    assert row is None
    assert world.sql("select title from findings where id = :i",
                     i=finding["id"]).scalar() == "Overcrowding"
    assert world.sql("select count(*) from findings").scalar() == 1
    assert not _everything(world.pull(token, cur).json(), "findings")
    # An admin's device sees every team's visits.
    admin = world.user("admin")
    assert visit["id"] in _everything(world.pull(world.device(admin)).json(), "visits")
    _ = fac
