"""Sync (real HTTP): another team's visit and children can be neither pulled nor written, nor
referenced; push-only tables never come down; removal from a team ends access."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.sync.conftest import World, finding_raw, visit_raw

SHA = "b" * 64
CHILDREN = ("room_inspections", "answers", "findings", "recommendations",
            "recommendation_reviews", "photos", "access_incidents", "interviews", "allegations")
PUSH_ONLY = ("interviews", "allegations")


@pytest.fixture
def sw(sync_engine: Any, live: str) -> World:
    return World(sync_engine, live)


def _uid() -> str:
    return str(uuid.uuid4())


def _records(visit: dict[str, Any], question_id: str, tag: str) -> dict[str, dict[str, Any]]:
    """One valid raw record of every child table, on `visit`."""
    vid, fac = visit["id"], visit["facility_id"]
    room = {"id": _uid(), "visit_id": vid, "label": f"cell {tag}", "room_kind": "cell"}
    finding = finding_raw(vid, room_inspection_id=room["id"], title=f"Beaten {tag}")
    rec = {"id": _uid(), "visit_id": vid, "facility_id": fac, "finding_id": finding["id"],
           "theme": "material_conditions", "text": f"Stop it {tag}",
           "addressed_to": "ministry_of_justice"}
    interview = {"id": _uid(), "visit_id": vid, "interviewee_code": f"D-{tag}",
                 "category": "detainee", "notes": f"notes {tag}", "consent_to_refer": True}
    return {
        "room_inspections": room,
        "answers": {"id": _uid(), "visit_id": vid, "question_id": question_id,
                    "info_source": "observation", "value": "yes"},
        "findings": finding,
        "recommendations": rec,
        "recommendation_reviews": {"id": _uid(), "visit_id": vid,
                                   "recommendation_id": rec["id"], "status": "implemented"},
        "photos": {"id": _uid(), "visit_id": vid, "finding_id": finding["id"],
                   "room_inspection_id": room["id"], "sha256": SHA, "byte_size": 1000},
        "access_incidents": {"id": _uid(), "visit_id": vid, "kind": "delayed",
                             "target": "place", "minutes_lost": 30},
        "interviews": interview,
        "allegations": {"id": _uid(), "visit_id": vid, "interview_id": interview["id"],
                        "narrative": f"account {tag}", "consent_legal_aid": True,
                        "methods": '["beating"]'},
    }


def _team(sw: World, fac: str, question: str, tag: str) -> dict[str, Any]:
    user = sw.user()
    team = sw.team(user)
    token = sw.device(user)
    visit = visit_raw(fac)
    recs = _records(visit, question, tag)
    changes = {"visits": {"created": [visit]},
               **{t: {"created": [r]} for t, r in recs.items()}}
    resp = sw.push(token, changes, sw.cursor(token))
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    return {"user": user, "team": team, "token": token, "visit": visit, "recs": recs}


@pytest.fixture
def two(sw: World) -> dict[str, Any]:
    fac = sw.facility()
    _tid, questions = sw.template()
    return {"a": _team(sw, fac, questions[0], "a"), "b": _team(sw, fac, questions[0], "b"),
            "fac": fac, "question": questions[0]}


def _pull_all(sw: World, token: str) -> dict[str, Any]:
    cur: Any = "null"
    merged: dict[str, Any] = {}
    while True:
        resp = sw.pull(token, cur)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        for table, group in body["changes"].items():
            m = merged.setdefault(table, {"created": [], "updated": [], "deleted": []})
            for kind in m:
                m[kind] += group.get(kind, [])
        cur = body["timestamp"]
        if not body["has_more"]:
            return {"changes": merged, "text": str(merged), "cursor": cur}


def test_pull_never_sends_other_teams_records_nor_push_only_tables(sw: World, two: Any) -> None:
    a, b = two["a"], two["b"]
    pulled = _pull_all(sw, a["token"])
    text = pulled["text"]
    assert a["visit"]["id"] in text and b["visit"]["id"] not in text
    for table, rec in b["recs"].items():
        assert rec["id"] not in text, table
    for table in CHILDREN:
        if table not in PUSH_ONLY:
            assert a["recs"][table]["id"] in text, table
    for table in PUSH_ONLY:  # not even the pusher's own team gets them back
        group = pulled["changes"].get(table, {"created": [], "updated": [], "deleted": []})
        assert not group["created"] and not group["updated"], table
        assert a["recs"][table]["id"] not in text
    for secret in ("D-a", "D-b", "account a", "account b", "notes a"):
        assert secret not in text


@pytest.mark.parametrize("table", CHILDREN)
def test_push_into_other_teams_visit_is_rejected(sw: World, two: Any, table: str) -> None:
    a, b = two["a"], two["b"]
    fresh = _records(b["visit"], two["question"], "evil")[table]
    # Only the record under test: its references (to B's parents) must fail as well.
    resp = sw.push(a["token"], {table: {"created": [fresh]}}, sw.cursor(a["token"]))
    assert resp.status_code == 200, resp.text
    assert [r["id"] for r in resp.json()["rejected"]] == [fresh["id"]], table
    rows = sw.sql(f'select count(*) from "{table}" where id = :i', i=fresh["id"]).scalar()
    assert rows == 0


@pytest.mark.parametrize("table", CHILDREN)
def test_overwrite_or_delete_other_teams_record_is_refused(sw: World, two: Any,
                                                           table: str) -> None:
    a, b = two["a"], two["b"]
    target = b["recs"][table]
    before = sw.sql(f'select row_to_json(t)::text from "{table}" t where id = :i',
                    i=target["id"]).scalar()
    # Re-home the record onto A's own visit (every reference pointing into A's records).
    hijack = {**a["recs"][table], "id": target["id"]}
    cur = sw.cursor(a["token"])
    resp = sw.push(a["token"], {table: {"updated": [hijack]}}, cur)
    assert resp.status_code == 200, resp.text
    rejected = resp.json()["rejected"]
    assert [(r["id"], list(r["errors"])) for r in rejected] == [(target["id"], ["id"])]
    resp = sw.push(a["token"], {table: {"deleted": [target["id"]]}}, cur)
    assert resp.status_code == 200, resp.text
    after = sw.sql(f'select row_to_json(t)::text from "{table}" t where id = :i',
                   i=target["id"]).scalar()
    assert after == before


# (table of A's record, field, which of B's records it points at)
REFS = [
    ("findings", "room_inspection_id", "room_inspections"),
    ("photos", "finding_id", "findings"),
    ("photos", "room_inspection_id", "room_inspections"),
    ("recommendations", "finding_id", "findings"),
    ("recommendations", "repeats_id", "recommendations"),
    ("recommendation_reviews", "recommendation_id", "recommendations"),
    ("allegations", "interview_id", "interviews"),
]


@pytest.mark.parametrize(("table", "fname", "target"), REFS)
def test_references_to_other_teams_records_answer_like_missing(sw: World, two: Any,
                                                               table: str, fname: str,
                                                               target: str) -> None:
    a, b = two["a"], two["b"]
    cur = sw.cursor(a["token"])
    errors = []
    for ref in (b["recs"][target]["id"], _uid()):
        # A copy of A's own (valid, fully referenced) record, one reference changed.
        rec = {**a["recs"][table], "id": _uid(), fname: ref}
        resp = sw.push(a["token"], {table: {"created": [rec]}}, cur)
        assert resp.status_code == 200, resp.text
        rejected = resp.json()["rejected"]
        assert [r["id"] for r in rejected] == [rec["id"]], (table, fname, rejected)
        errors.append(str(rejected[0]["errors"]).replace(ref, "<ref>"))
    assert errors[0] == errors[1], errors


def test_references_to_draft_template_and_deleted_facility(sw: World, two: Any) -> None:
    a = two["a"]
    _draft, questions = sw.template(status="draft")
    cur = sw.cursor(a["token"])
    answer = _records(a["visit"], questions[0], "draft")["answers"]
    resp = sw.push(a["token"], {"answers": {"created": [answer]}}, cur)
    assert [r["id"] for r in resp.json()["rejected"]] == [answer["id"]]
    gone = sw.facility()
    sw.sql("update facilities set deleted_at = now() where id = :i", i=gone)
    visit = visit_raw(gone)
    resp = sw.push(a["token"], {"visits": {"created": [visit]}}, cur)
    assert [r["id"] for r in resp.json()["rejected"]] == [visit["id"]]


def test_server_set_fields_cannot_be_forged(sw: World, two: Any) -> None:
    a, b = two["a"], two["b"]
    visit = visit_raw(two["fac"], team_id=str(b["team"]), created_by_id=str(b["user"].id))
    photo = {**_records(visit, two["question"], "forge")["photos"], "upload_status": "verified",
             "finding_id": None, "room_inspection_id": None}
    resp = sw.push(a["token"], {"visits": {"created": [visit]}, "photos": {"created": [photo]}},
                   sw.cursor(a["token"]))
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    row = sw.sql("select team_id, created_by_id from visits where id = :i",
                 i=visit["id"]).one()
    assert (row.team_id, row.created_by_id) == (a["team"], a["user"].id)
    assert sw.sql("select upload_status from photos where id = :i",
                  i=photo["id"]).scalar() == "pending"
    assert visit["id"] not in _pull_all(sw, b["token"])["text"]


def test_removed_monitor_loses_the_team(sw: World, two: Any) -> None:
    b = two["b"]
    mole = sw.user()
    sw.join(b["team"], mole)
    token = sw.device(mole)
    pulled = _pull_all(sw, token)
    assert b["visit"]["id"] in pulled["text"]
    sw.leave(b["team"], mole)
    held = sw.pull(token, pulled["cursor"]).json()
    # Nothing of the lost visit comes down, not even its deletes until the phone pushed
    # (its unsent edits must reach the server first).
    for group in held["changes"].values():
        assert not group["created"] and not group["updated"] and not group["deleted"]
    # Writes after removal: the visit itself, a child update, a new child.
    visit = {**b["visit"], "summary": "written after removal"}
    finding = {**b["recs"]["findings"], "title": "changed after removal"}
    new = _records(b["visit"], two["question"], "late")["access_incidents"]
    resp = sw.push(token, {"visits": {"updated": [visit]}, "findings": {"updated": [finding]},
                           "access_incidents": {"created": [new]}}, held["timestamp"])
    assert resp.status_code == 200, resp.text
    assert sorted(r["id"] for r in resp.json()["rejected"]) == sorted(
        [visit["id"], finding["id"], new["id"]])
    assert sw.sql("select summary from visits where id = :i", i=visit["id"]).scalar() is None
    # They wait in the quarantine of the team the mole left, not of any other team.
    teams = sw.sql("select distinct scope_group_id from sync_quarantine where user_id = :u",
                   u=mole.id).scalars().all()
    assert [str(t) for t in teams] == [str(b["team"])]
    body = sw.pull(token, held["timestamp"]).json()
    assert b["visit"]["id"] in body["changes"]["visits"]["deleted"]
    for table in CHILDREN:
        if table not in PUSH_ONLY:
            assert b["recs"][table]["id"] in body["changes"][table]["deleted"], table
    for group in body["changes"].values():
        assert not group["created"] and not group["updated"]


def test_sync_refuses_session_tokens(sw: World, two: Any) -> None:
    session = sw.login(two["a"]["user"])
    pull = sw.pull(session)
    push = sw.push(session, {"findings": {"created": [finding_raw(two["a"]["visit"]["id"])]}},
                   "null")
    assert pull.status_code == push.status_code == 403
    assert "json" in pull.headers["Content-Type"]


def test_other_teams_deletions_do_not_come_down(sw: World, two: Any) -> None:
    a, b = two["a"], two["b"]
    cur_a = _pull_all(sw, a["token"])["cursor"]
    gone = [b["recs"]["photos"]["id"], b["recs"]["access_incidents"]["id"]]
    resp = sw.push(b["token"], {"photos": {"deleted": [gone[0]]},
                                "access_incidents": {"deleted": [gone[1]]}},
                   sw.cursor(b["token"]))
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    body = sw.pull(a["token"], cur_a).json()
    text = str(body["changes"])
    assert not [g for g in gone if g in text]


def test_admin_phone_never_pulls_push_only_tables(sw: World, two: Any) -> None:
    admin = sw.user("admin")
    pulled = _pull_all(sw, sw.device(admin))
    assert two["b"]["visit"]["id"] in pulled["text"]  # admins see every team's visits
    for table in PUSH_ONLY:
        group = pulled["changes"].get(table, {"created": [], "updated": []})
        assert not group["created"] and not group["updated"], table
    for secret in ("D-a", "D-b", "account a", "account b"):
        assert secret not in pulled["text"]


def test_teamless_monitor_pushing_a_visit_with_children_gets_rejections(sw: World,
                                                                        two: Any) -> None:
    loner = sw.user()
    token = sw.device(loner)
    visit = visit_raw(two["fac"])
    recs = _records(visit, two["question"], "loner")
    resp = sw.push(token, {"visits": {"created": [visit]},
                           "findings": {"created": [{**recs["findings"],
                                                     "room_inspection_id": None}]},
                           "interviews": {"created": [recs["interviews"]]}}, "null")
    assert resp.status_code == 200, (resp.status_code, resp.text[:300])
    rejected = {r["id"] for r in resp.json()["rejected"]}
    assert rejected == {visit["id"], recs["findings"]["id"], recs["interviews"]["id"]}
    assert sw.sql("select count(*) from interviews where id = :i",
                  i=recs["interviews"]["id"]).scalar() == 0
