"""What real WatermelonDB apps send: partial records, `_changed`, unset values, unknown
columns, values the database cannot store, and their own records coming back."""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests

from tests.sync.conftest import World, finding_raw, visit_raw


def _wm(rec: dict[str, Any], status: str = "created", changed: str = "") -> dict[str, Any]:
    """A record as WatermelonDB's fetchLocalChanges sends it (with its bookkeeping)."""
    return {**rec, "_status": status, "_changed": changed}


def _setup(world: World) -> tuple[Any, str, str, dict[str, Any], dict[str, Any]]:
    mon = world.user()
    world.team(mon)
    token = world.device(mon)
    visit = visit_raw(world.facility())
    finding = finding_raw(visit["id"], description="first words")
    resp = world.push(token, {"visits": {"created": [_wm(visit)]},
                              "findings": {"created": [_wm(finding)]}}, world.cursor(token))
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    return mon, token, world.login(world.user("admin")), visit, finding


def _patch(world: World, session: str, finding_id: str, **values: Any) -> None:
    resp = requests.patch(f"{world.base}/api/v1/findings/{finding_id}", json=values, timeout=10,
                          headers={"Authorization": f"Bearer {session}"})
    assert resp.status_code == 200, resp.text


def _row(world: World, finding_id: str) -> Any:
    return world.sql("select * from findings where id = :i", i=finding_id).mappings().one()


def test_a_push_never_resets_what_the_phone_did_not_send(world: World) -> None:
    _mon, token, admin, _visit, finding = _setup(world)
    _patch(world, admin, finding["id"], is_systemic=True)
    cur = world.cursor(token)
    # An older app whose schema lacks is_systemic (and status) edits the description.
    old_app = {k: v for k, v in finding.items() if k not in ("is_systemic", "status")}
    resp = world.push(token, {"findings": {"updated": [
        _wm({**old_app, "description": "edited offline"}, "updated", "description")]}}, cur)
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    row = _row(world, finding["id"])
    assert row["is_systemic"] is True and row["description"] == "edited offline"
    # A client without `_changed` (not WatermelonDB) missing the column: kept too.
    cur = world.cursor(token)
    resp = world.push(token, {"findings": {"updated": [{**old_app, "title": "Renamed"}]}}, cur)
    assert resp.status_code == 200, resp.text
    row = _row(world, finding["id"])
    assert (row["is_systemic"], row["title"], row["status"]) == (True, "Renamed", "draft")


def test_changed_columns_refine_conflicts(world: World) -> None:
    _mon, token, admin, _visit, finding = _setup(world)
    cur = world.cursor(token)
    _patch(world, admin, finding["id"], title="Coordinator's title")  # after the phone's pull
    # The phone edited only the description; its title is a stale copy: merged, no 409, and
    # the stale title never overwrites the coordinator's.
    resp = world.push(token, {"findings": {"updated": [
        _wm({**finding, "description": "phone words"}, "updated", "description")]}}, cur)
    assert resp.status_code == 200, resp.text
    row = _row(world, finding["id"])
    assert (row["title"], row["description"]) == ("Coordinator's title", "phone words")
    # The phone edited the title too: a real conflict, nothing applied.
    resp = world.push(token, {"findings": {"updated": [
        _wm({**finding, "title": "Phone title"}, "updated", "title")]}}, cur)
    assert resp.status_code == 409
    assert resp.json()["conflicts"][0]["server_record"]["title"] == "Coordinator's title"
    # Without `_changed` every column sent is an edit: the stale title conflicts.
    resp = world.push(token, {"findings": {"updated": [{**finding, "description": "x"}]}}, cur)
    assert resp.status_code == 409
    assert _row(world, finding["id"])["title"] == "Coordinator's title"


def test_unset_is_not_invalid(world: World) -> None:
    _mon, token, _admin, visit, _finding = _setup(world)
    cur = world.cursor(token)
    unset = finding_raw(visit["id"], standard_refs=None, status=None, description="",
                        question_id="", room_inspection_id=None, is_systemic=None,
                        sources_count=None)
    room = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "label": "Cell 4",
            "room_kind": "cell", "natural_light": "", "ventilation": None,
            "toilet_partitioned": None, "floor_area_m2": None, "notes": ""}
    wrong = finding_raw(visit["id"], status="bogus")
    resp = world.push(token, {"findings": {"created": [_wm(unset), _wm(wrong)]},
                              "room_inspections": {"created": [_wm(room)]}}, cur)
    assert resp.status_code == 200, resp.text
    assert resp.json()["experimentalRejectedIds"] == {"findings": [wrong["id"]]}
    assert "status" in resp.json()["rejected"][0]["errors"]
    row = _row(world, unset["id"])
    assert row["standard_refs"] == [] and row["status"] == "draft"
    assert row["description"] is None and row["question_id"] is None
    assert row["is_systemic"] is False
    stored = world.sql("select natural_light, ventilation, notes from room_inspections "
                       "where id = :i", i=room["id"]).one()
    assert tuple(stored) == (None, None, None)
    # On an update, unset keeps the server's value of a column with a default.
    world.sql("update findings set status = 'confirmed' where id = :i", i=unset["id"])
    cur = world.cursor(token)
    resp = world.push(token, {"findings": {"updated": [{**unset, "title": "T2"}]}}, cur)
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    assert (_row(world, unset["id"])["status"], _row(world, unset["id"])["title"]) == (
        "confirmed", "T2")


def test_unknown_columns_are_ignored_and_kept(world: World) -> None:
    _mon, token, admin, visit, _finding = _setup(world)
    cur = world.cursor(token)
    rec = finding_raw(visit["id"], local_only_flag=True, schema_v9_note="from the future")
    resp = world.push(token, {"findings": {"created": [_wm(rec)]}}, cur)
    assert resp.status_code == 200 and resp.json()["rejected"] == [], resp.text
    assert resp.json()["ignored_columns"] == {"findings": ["local_only_flag", "schema_v9_note"]}
    ignored = world.sql("select ignored from sync_revisions where record_id = :i",
                        i=rec["id"]).scalar()
    assert ignored == {"local_only_flag": True, "schema_v9_note": "from the future"}
    # An edit of only a local column writes nothing to the row but is kept in the history.
    cur = world.cursor(token)
    resp = world.push(token, {"findings": {"updated": [_wm(
        {**rec, "local_only_flag": False}, "updated", "local_only_flag")]}}, cur)
    assert resp.status_code == 200 and resp.json()["applied"] == {}, resp.text
    history = requests.get(f"{world.base}/api/v1/sync/history/findings/{rec['id']}", timeout=10,
                           headers={"Authorization": f"Bearer {admin}"}).json()
    assert [r["ignored"] for r in history["revisions"]] == [
        {"local_only_flag": True, "schema_v9_note": "from the future"},
        {"local_only_flag": False, "schema_v9_note": "from the future"}]


BAD_TEXT = {"surrogate": '"title": "Cut emoji \\ud83d"',
            "nul": '"title": "bad\\u0000title"',
            "nan": '"sources_count": NaN',
            "infinity": '"sources_count": Infinity',
            "minus_infinity": '"sources_count": -Infinity',
            "huge": '"sources_count": 1e400',
            "big_int": '"sources_count": 123456789012345678901234567890',
            "nul_in_json_text": '"standard_refs": "[{\\"instrument\\":\\"cpt\\",\\"rule\\":'
                                '\\"a\\\\u0000b\\"}]"',
            "nan_in_json_text": '"standard_refs": "[{\\"instrument\\":\\"cpt\\",\\"rule\\":'
                                'NaN}]"',
            "surrogate_in_json_text": '"standard_refs": "[{\\"instrument\\":\\"cpt\\",'
                                      '\\"rule\\":\\"\\\\udc00\\"}]"',
            "deep_json_text": '"standard_refs": "' + "[" * 40 + "]" * 40 + '"',
            "very_deep_json_text": '"standard_refs": "' + "[" * 3000 + "]" * 3000 + '"',
            "nested_value": '"title": [[[["x"]]]]'}


# What the answer says of each (in its errors).
WHY = {"surrogate": "surrogate", "nul": "NUL", "nan": "NaN", "infinity": "infinite",
       "minus_infinity": "infinite", "huge": "infinite", "big_int": "out of range",
       "nul_in_json_text": "NUL", "nan_in_json_text": "NaN", "surrogate_in_json_text":
       "surrogate", "deep_json_text": "deeper than 32", "very_deep_json_text": "deeper than 32",
       "nested_value": "Raw records are flat"}


def test_one_bad_record_never_blocks_the_rest(world: World) -> None:
    _mon, token, admin, visit, _finding = _setup(world)
    cur = world.cursor(token)
    ids = {name: str(uuid.uuid4()) for name in BAD_TEXT}
    bad = [f'{{"id": "{ids[name]}", "visit_id": "{visit["id"]}", "theme": "treatment", '
           f'"severity": "serious", "title": "t", "_status": "created", "_changed": "", '
           f'{text}}}'.replace('"title": "t", "title"', '"title"')
           for name, text in BAD_TEXT.items()]
    room = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "label": "Cell", "room_kind":
            "cell"}
    interview = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "interviewee_code": "D-1",
                 "category": "detainee"}
    allegation = {"id": str(uuid.uuid4()), "visit_id": visit["id"],
                  "interview_id": interview["id"], "narrative": "queued behind the bad ones"}
    body = ('{"findings": {"created": [' + ", ".join(bad) + ']}, '
            '"room_inspections": {"created": [' + json.dumps(room)[:-1]
            + ', "floor_area_m2": NaN, "occupants": Infinity}]}, '
            '"interviews": {"created": [' + json.dumps(interview) + ']}, '
            '"allegations": {"created": [' + json.dumps(allegation) + "]}}")
    resp = world.push(token, None, cur, data=body.encode(),
                      **{"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert set(answer["experimentalRejectedIds"]["findings"]) == set(ids.values())
    assert answer["experimentalRejectedIds"]["room_inspections"] == [room["id"]]
    assert answer["applied"]["allegations"]["created"] == 1
    assert answer["applied"]["interviews"]["created"] == 1
    errors = {r["id"]: json.dumps(r["errors"]) for r in answer["rejected"]}
    assert "surrogate" in errors[ids["surrogate"]] and "NUL" in errors[ids["nul"]]
    assert "NaN" in errors[ids["nan"]] or "nan" in errors[ids["nan"]]
    assert "deeper than 32" in errors[ids["deep_json_text"]]
    assert "deeper than 32" in errors[ids["very_deep_json_text"]]
    # Every bad record is kept, readable, for the coordinator (nothing a monitor sent is lost).
    rows = world.sql("select record_id, raw from sync_quarantine").all()
    kept = {r.record_id: r.raw for r in rows}
    assert set(ids.values()) | {room["id"]} <= set(kept)
    assert kept[ids["surrogate"]]["title"] == "Cut emoji \\ud83d"
    assert kept[ids["nul"]]["title"] == "bad\\u0000title"
    assert kept[ids["nan"]]["sources_count"] == "nan"
    listed = requests.get(f"{world.base}/api/v1/sync/quarantine?per_page=100", timeout=10,
                          headers={"Authorization": f"Bearer {admin}"})
    assert listed.status_code == 200 and listed.json()["meta"]["total"] >= len(ids) + 1


def test_each_bad_value_alone_in_a_body_is_refused_alone(world: World) -> None:
    """A body whose only bad value is a NUL or a nested value is otherwise plain JSON (the
    push then checks its values for nesting only, sync.push `plain`): each bad value, sent
    alone beside a good record, still rejects its record and only it."""
    _mon, token, _admin, visit, _finding = _setup(world)
    for name, text in BAD_TEXT.items():
        bad_id, good = str(uuid.uuid4()), finding_raw(visit["id"], title=f"beside {name}")
        bad = (f'{{"id": "{bad_id}", "visit_id": "{visit["id"]}", "theme": "treatment", '
               f'"severity": "serious", "title": "t", {text}}}').replace(
            '"title": "t", "title"', '"title"')
        body = ('{"findings": {"created": [' + bad + ", " + json.dumps(_wm(good)) + "]}}")
        resp = world.push(token, None, world.cursor(token), data=body.encode(),
                          **{"Content-Type": "application/json"})
        assert resp.status_code == 200, (name, resp.text)
        answer = resp.json()
        assert answer["experimentalRejectedIds"] == {"findings": [bad_id]}, (name, answer)
        assert answer["applied"]["findings"]["created"] == 1, (name, answer)
        assert WHY[name] in json.dumps(answer["rejected"][0]["errors"]), (name, answer)


def test_json_text_comes_back_exactly_as_pushed(world: World) -> None:
    mon, token, _admin, visit, _finding = _setup(world)
    cur = world.cursor(token)
    text = '[ {"rule": "13", "instrument": "mandela"},{"instrument":"cpt","rule":"space"} ]'
    rec = finding_raw(visit["id"], standard_refs=text)
    assert world.push(token, {"findings": {"created": [_wm(rec)]}}, cur).status_code == 200
    own = world.pull(token, cur).json()["changes"]["findings"]
    assert own["created"] == []  # its own record: not "created" (it exists on the phone)
    assert [r["standard_refs"] for r in own["updated"] if r["id"] == rec["id"]] == [text]
    other = world.pull(world.device(mon)).json()["changes"]["findings"]["created"]
    assert [r["standard_refs"] for r in other if r["id"] == rec["id"]] == [text]
    # A replay of the same content in another formatting is no change at all.
    cur = world.cursor(token)
    same = {**rec, "standard_refs": json.dumps(json.loads(text))}
    resp = world.push(token, {"findings": {"updated": [same]}}, cur)
    assert resp.status_code == 200 and resp.json()["applied"] == {}, resp.text
