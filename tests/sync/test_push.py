"""Push rules: conflicts, replays, Idempotency-Key, rejections with quarantine, directions."""

from __future__ import annotations

import json
import uuid

from monitor_api.auth import hash_token
from tests.sync.conftest import World, finding_raw, visit_raw


def _setup(world: World) -> tuple:
    a, b = world.user(), world.user()
    team = world.team(a, b)
    fac = world.facility()
    ta, tb = world.device(a), world.device(b)
    cur = world.cursor(ta)
    visit = visit_raw(fac)
    finding = finding_raw(visit["id"])
    resp = world.push(ta, {"visits": {"created": [visit]}, "findings": {"created": [finding]}},
                      cur)
    assert resp.status_code == 200, resp.text
    return a, b, team, fac, ta, tb, visit, finding


def test_conflict_replay_and_own_changes(world: World) -> None:
    a, b, _team, fac, ta, tb, _visit, finding = _setup(world)
    ca, cb = world.cursor(ta), world.cursor(tb)
    assert world.push(ta, {"findings": {"updated": [{**finding, "title": "X"}]}},
                      ca).status_code == 200
    # B edited the same finding offline from an older pull: 409 naming the server's record.
    resp = world.push(tb, {"findings": {"updated": [{**finding, "title": "Y"}]}}, cb)
    assert resp.status_code == 409
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["type"] == "/problems/sync-conflict"
    [conflict] = problem["conflicts"]
    assert conflict["table"] == "findings" and conflict["id"] == finding["id"]
    assert conflict["server_record"]["title"] == "X"
    assert world.sql("select title from findings where id = :i", i=finding["id"]).scalar() == "X"
    # One transaction: a conflict anywhere means nothing of the push is applied.
    extra = visit_raw(fac)
    resp = world.push(tb, {"visits": {"created": [extra]},
                           "findings": {"updated": [{**finding, "title": "Y"}]}}, cb)
    assert resp.status_code == 409
    assert world.sql("select count(*) from visits where id = :i", i=extra["id"]).scalar() == 0
    # The same values again are a replay, not a conflict.
    resp = world.push(tb, {"findings": {"updated": [{**finding, "title": "X"}]}}, cb)
    assert resp.status_code == 200, resp.text
    # A's own later change over its own earlier push is not a conflict either.
    resp = world.push(ta, {"findings": {"updated": [{**finding, "title": "Z"}]}}, ca)
    assert resp.status_code == 200, resp.text
    # A server-side change (coordinator, SQL) after B's pull conflicts too.
    cb = world.cursor(tb)
    world.sql("update findings set status = 'confirmed' where id = :i", i=finding["id"])
    resp = world.push(tb, {"findings": {"updated": [{**finding, "title": "W"}]}}, cb)
    assert resp.status_code == 409
    # B pulls, merges and pushes again: accepted; the history keeps every version.
    cb = world.cursor(tb)
    assert world.push(tb, {"findings": {"updated": [{**finding, "title": "W"}]}},
                      cb).status_code == 200
    rows = world.sql("select op, before->>'title' b, after->>'title' a, user_id, device_id "
                     "from sync_revisions where record_id = :i order by id",
                     i=finding["id"]).all()
    assert [(r.op, r.b, r.a) for r in rows] == [
        ("create", None, "Overcrowding"), ("update", "Overcrowding", "X"),
        ("update", "X", "Z"), ("update", "Z", "W")]
    assert [str(r.user_id) for r in rows] == [str(a.id)] * 3 + [str(b.id)]
    assert all(r.device_id is not None for r in rows)


def test_delete_conflicts_when_someone_else_changed_it(world: World) -> None:
    _a, _b, _team, _fac, ta, tb, _visit, finding = _setup(world)
    cb = world.cursor(tb)
    ca = world.cursor(ta)
    assert world.push(ta, {"findings": {"updated": [{**finding, "title": "X"}]}},
                      ca).status_code == 200
    resp = world.push(tb, {"findings": {"deleted": [finding["id"]]}}, cb)
    assert resp.status_code == 409


def test_idempotency_key_returns_the_first_result(world: World) -> None:
    _a, _b, _team, fac, ta, _tb, _visit, _finding = _setup(world)
    cur = world.cursor(ta)
    visit = visit_raw(fac)
    changes = {"visits": {"created": [visit]}, "facilities": {"created": [{"id": fac}]}}
    first = world.push(ta, changes, cur, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 200
    again = world.push(ta, changes, cur, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again.json() == first.json()
    n = world.sql("select count(*) from sync_revisions where record_id = :i", i=visit["id"])
    assert n.scalar() == 1
    q = world.sql("select count(*) from sync_quarantine where record_id = :i", i=fac)
    assert q.scalar() == 1  # the rejected record was quarantined once, not twice
    other = world.push(ta, {"visits": {"created": [visit_raw(fac)]}}, cur,
                       **{"Idempotency-Key": "k-1"})
    assert other.status_code == 422


def test_a_clean_push_keeps_its_answer_for_its_key_in_its_write(world: World) -> None:
    """A push of new records that rejects nothing knows its answer before it writes: the
    answer kept for its Idempotency-Key goes in the write statement, and a retry gets it."""
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

    _a, _b, _team, fac, ta, _tb, visit, _finding = _setup(world)
    cur = world.cursor(ta)
    changes = {"visits": {"created": [{**visit_raw(fac), "app_only": 7}]},
               "findings": {"created": [finding_raw(visit["id"])]}}
    statements: list[str] = []

    def listen(_c: object, _cur: object, stmt: str, *_rest: object) -> None:
        statements.append(stmt)

    sa.event.listen(Engine, "before_cursor_execute", listen)
    try:
        first = world.push(ta, changes, cur, **{"Idempotency-Key": "k-early"})
    finally:
        sa.event.remove(Engine, "before_cursor_execute", listen)
    assert first.status_code == 200 and first.json()["rejected"] == [], first.text
    assert first.json()["ignored_columns"] == {"visits": ["app_only"]}
    assert not [s for s in statements if s.lstrip().upper().startswith(
        "INSERT INTO SYNC_IDEMPOTENCY")]  # no statement of its own
    kept = world.sql("select body from sync_idempotency where key = 'k-early'").scalar()
    assert kept == first.json()
    again = world.push(ta, changes, cur, **{"Idempotency-Key": "k-early"})
    assert again.status_code == 200 and again.json() == first.json()
    assert world.sql("select count(*) from findings where id = :i",
                     i=changes["findings"]["created"][0]["id"]).scalar() == 1


def test_invalid_records_are_rejected_one_by_one_and_quarantined(world: World) -> None:
    a, _b, _team, fac, ta, _tb, visit, _finding = _setup(world)
    outsider = world.user()
    other_team = world.team(outsider)
    foreign_visit = world.visit(other_team, fac)
    foreign_finding = str(uuid.uuid4())
    world.sql("insert into findings (id, visit_id, theme, severity, title, standard_refs, "
              "is_systemic, status) values (:i, :v, 'treatment', 'minor', 'theirs', '[]', "
              "false, 'draft')", i=foreign_finding, v=foreign_visit)
    cur = world.cursor(ta)
    good = finding_raw(visit["id"])
    bad_enum = finding_raw(visit["id"], severity="catastrophic")
    bad_refs = finding_raw(visit["id"], standard_refs='[{"instrument":"nope","rule":"1"}]')
    foreign = finding_raw(foreign_visit)
    steal = finding_raw(visit["id"], id=foreign_finding)
    no_question = {"id": str(uuid.uuid4()), "visit_id": visit["id"],
                   "question_id": str(uuid.uuid4()), "info_source": "observation"}
    unknown_col = finding_raw(visit["id"], secret_column=1)
    nul = finding_raw(visit["id"], title="bad\x00title")
    upper = finding_raw(visit["id"].upper())
    changes = {"findings": {"created": [good, bad_enum, bad_refs, foreign, steal, unknown_col,
                                        nul, upper, {**good, "id": good["id"].upper()}],
                            "deleted": [foreign_finding]},
               "answers": {"created": [no_question]},
               "facilities": {"created": [{"id": fac, "name": "renamed"}]},
               "checklist_questions": {"updated": [{"id": str(uuid.uuid4())}]},
               "no_such_table": {"created": [{"id": "x"}], "deleted": ["y"]}}
    resp = world.push(ta, changes, cur)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    rejected = body["experimentalRejectedIds"]
    assert set(rejected["findings"]) == {bad_enum["id"], bad_refs["id"], foreign["id"],
                                         steal["id"], nul["id"], upper["id"],
                                         good["id"].upper()}
    # An unknown column is ignored, not fatal: the record is taken and the column named.
    assert body["ignored_columns"] == {"findings": ["secret_column"]}
    assert rejected["answers"] == [no_question["id"]]
    assert rejected["facilities"] == [fac] and len(rejected["checklist_questions"]) == 1
    assert set(rejected["no_such_table"]) == {"x", "y"}
    errors = {(r["table"], r["id"]): r["errors"] for r in body["rejected"]}
    assert "severity" in errors[("findings", bad_enum["id"])]
    assert "pull-only" in json.dumps(errors[("facilities", fac)])
    assert "visit_id" in errors[("findings", foreign["id"])]
    # The good record went in; nothing of the other team's was touched or deleted.
    assert world.sql("select count(*) from findings where id = :i", i=good["id"]).scalar() == 1
    assert world.sql("select title from findings where id = :i",
                     i=foreign_finding).scalar() == "theirs"
    assert world.sql("select name from facilities where id = :i", i=fac).scalar() == "SIZO 1"
    quarantined = world.sql("select table_name, record_id, raw, errors, user_id, device_id, "
                            "status from sync_quarantine").all()
    assert len(quarantined) == 12  # the delete of their finding is ignored, like unknown
    assert all(str(q.user_id) == str(a.id) and q.device_id and q.status == "pending"
               for q in quarantined)
    raws = {q.record_id: q.raw for q in quarantined}
    assert raws[bad_enum["id"]]["severity"] == "catastrophic"  # kept as sent


def test_push_only_tables_are_accepted_and_never_sent_down(world: World) -> None:
    a, _b, _team, _fac, ta, _tb, visit, _finding = _setup(world)
    cur = world.cursor(ta)
    interview = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "interviewee_code": "D-17",
                 "category": "detainee", "consent_to_refer": True}
    allegation = {"id": str(uuid.uuid4()), "visit_id": visit["id"],
                  "interview_id": interview["id"], "methods": '["beating","threats"]',
                  "reprisal_risk": "high", "narrative": "..."}
    resp = world.push(ta, {"interviews": {"created": [interview]},
                           "allegations": {"created": [allegation]}}, cur)
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    assert resp.json()["applied"]["allegations"]["created"] == 1
    admin = world.user("admin")
    for token in (ta, world.device(a), world.device(admin)):
        body = world.pull(token).json()
        assert body["changes"]["interviews"] == {"created": [], "updated": [], "deleted": []}
        assert body["changes"]["allegations"] == {"created": [], "updated": [], "deleted": []}
    assert world.sql("select methods from allegations").scalar() == ["beating", "threats"]


def test_deleting_a_parent_still_referenced_is_rejected(world: World) -> None:
    _a, _b, _team, _fac, ta, _tb, visit, finding = _setup(world)
    cur = world.cursor(ta)
    resp = world.push(ta, {"visits": {"deleted": [visit["id"]]}}, cur)
    assert resp.status_code == 200
    assert resp.json()["experimentalRejectedIds"] == {"visits": [visit["id"]]}
    # Deleting the child and the parent together works (children first).
    resp = world.push(ta, {"visits": {"deleted": [visit["id"]]},
                           "findings": {"deleted": [finding["id"]]}}, cur)
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    assert world.sql("select count(*) from sync_tombstones").scalar() == 2


def test_concurrent_pushes_of_one_record_never_overwrite_silently(world: World) -> None:
    import threading
    import time

    import sqlalchemy as sa

    _a, _b, _team, _fac, ta, tb, _visit, finding = _setup(world)
    ca, cb = world.cursor(ta), world.cursor(tb)
    results: dict[str, int] = {}

    def push(token: str, cur: int, title: str) -> None:
        resp = world.push(token, {"findings": {"updated": [{**finding, "title": title}]}}, cur)
        results[title] = resp.status_code

    with world.engine.connect() as holder:  # hold the row so both pushes queue up on it
        holder.execute(sa.text("select 1 from findings where id = :i for update"),
                       {"i": finding["id"]})
        threads = [threading.Thread(target=push, args=(ta, ca, "P")),
                   threading.Thread(target=push, args=(tb, cb, "Q"))]
        for t in threads:
            t.start()
        time.sleep(0.8)
        holder.rollback()
    for t in threads:
        t.join(30)
    assert sorted(results.values()) == [200, 409], results
    winner = next(k for k, v in results.items() if v == 200)
    assert world.sql("select title from findings where id = :i",
                     i=finding["id"]).scalar() == winner


def test_revisions_name_who_wrote_them(world: World) -> None:
    """Who wrote a push's revisions (user, device, source) goes once for the whole push: each
    row, created, updated or deleted, names the pushing device and user."""
    a, _b, _team, _fac, ta, _tb, _visit, finding = _setup(world)
    device = world.sql("select id from devices where token_hash = :h",
                       h=hash_token(ta)).scalar()
    cur = world.cursor(ta)
    assert world.push(ta, {"findings": {"updated": [{**finding, "title": "X"}]}},
                      cur).status_code == 200
    assert world.push(ta, {"findings": {"deleted": [finding["id"]]}},
                      world.cursor(ta)).status_code == 200
    rows = world.sql("select op, before->>'title' b, after->>'title' a, user_id, device_id, "
                     "source, ignored from sync_revisions where record_id = :i order by id",
                     i=finding["id"]).all()
    assert [(r.op, r.b, r.a) for r in rows] == [
        ("create", None, "Overcrowding"), ("update", "Overcrowding", "X"), ("delete", "X", None)]
    assert {(str(r.user_id), r.device_id, r.source, r.ignored) for r in rows} == {
        (str(a.id), device, "sync", None)}


def test_created_records_are_written_without_a_probe_unless_one_exists(world: World) -> None:
    """A push of `created` records only is written without first looking for existing rows;
    an id that exists after all (a resend, another team's record) or was deleted on the
    server rolls that attempt back and the push runs in full: same answers as ever."""
    from collections.abc import Iterator
    from contextlib import contextmanager

    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

    a, _b, _team, fac, ta, _tb, visit, finding = _setup(world)
    cur = world.cursor(ta)

    @contextmanager
    def probes() -> Iterator[list[str]]:
        """The statements that read tombstones (the probe does, and a fresh write does)."""
        seen: list[str] = []

        def listen(_c: object, _cur: object, stmt: str, *_rest: object) -> None:
            if "sync_tombstones" in stmt:
                seen.append(stmt)

        sa.event.listen(Engine, "before_cursor_execute", listen)
        try:
            yield seen
        finally:
            sa.event.remove(Engine, "before_cursor_execute", listen)

    def revisions(rid: str) -> list[str]:
        return [r.op for r in world.sql("select op from sync_revisions where record_id = :i "
                                        "order by id", i=rid)]

    new = finding_raw(visit["id"], title="New")
    with probes() as seen:
        resp = world.push(ta, {"findings": {"created": [new]}}, cur)
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    assert len(seen) == 1 and seen[0].lstrip().startswith("with w0")  # the write alone
    device = world.sql("select id from devices where token_hash = :h", h=hash_token(ta)).scalar()
    assert world.sql("select origin_device_id from findings where id = :i",
                     i=new["id"]).scalar() == device  # its pulls leave it out as its own
    # A resend of a created record (its answer was lost, no Idempotency-Key) beside a new
    # one: the first attempt's writes are rolled back, the full path finds the replay.
    again = finding_raw(visit["id"], title="Again")
    with probes() as seen:
        resp = world.push(ta, {"findings": {"created": [finding, again]}}, cur)
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    # The fresh write (refused), then the full path's probe (its write reads no tombstone).
    assert len(seen) == 2 and not seen[1].lstrip().startswith("with w0")
    assert resp.json()["applied"] == {"findings": {"created": 1, "updated": 0, "deleted": 0}}
    assert revisions(finding["id"]) == ["create"] and revisions(again["id"]) == ["create"]
    # An id deleted on the server is refused, not resurrected; the others are written.
    assert world.push(ta, {"findings": {"deleted": [new["id"]]}},
                      world.cursor(ta)).status_code == 200
    more = finding_raw(visit["id"], title="More")
    resp = world.push(ta, {"findings": {"created": [new, more]}}, cur)
    assert resp.json()["experimentalRejectedIds"] == {"findings": [new["id"]]}, resp.text
    assert "deleted on the server" in json.dumps(resp.json()["rejected"])
    assert world.sql("select count(*) from findings where id = :i", i=new["id"]).scalar() == 0
    assert revisions(more["id"]) == ["create"] and revisions(new["id"]) == ["create", "delete"]
    # Another team's record under a created id is neither overwritten nor revealed.
    c = world.user()
    world.team(c)
    tc = world.device(c)
    theirs = visit_raw(fac)
    resp = world.push(tc, {"visits": {"created": [theirs]}}, world.cursor(tc))
    assert resp.status_code == 200, resp.text
    resp = world.push(ta, {"visits": {"created": [{**theirs, "summary": "mine now"}]}}, cur)
    assert resp.json()["experimentalRejectedIds"] == {"visits": [theirs["id"]]}, resp.text
    assert "cannot write" in json.dumps(resp.json()["rejected"])
    assert world.sql("select summary from visits where id = :i", i=theirs["id"]).scalar() is None
    assert str(a.id) not in {str(r.user_id) for r in world.sql(
        "select user_id from sync_revisions where record_id = :i", i=theirs["id"])}
