"""The sync push never answers 5xx for deep JSON (issue 7, item 10): wire.py parses without a
recursion limit; a value nested too deeply reaches the engine as jsonsafe.TOO_DEEP."""

from __future__ import annotations

import json

import pytest

from tests.sync.conftest import World, finding_raw, visit_raw

DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize("body", [
    DEEP,
    '{"visits": ' + DEEP + "}",
    '{"visits": {"created": ' + DEEP + "}}",
])
def test_a_deeply_nested_push_body_is_never_a_server_error(world: World, body: str) -> None:
    token = world.device(world.user("admin"))
    resp = world.push(token, None, world.cursor(token), data=body.encode())
    assert resp.status_code < 500, resp.text
    assert resp.headers["Content-Type"].startswith(("application/json",
                                                     "application/problem+json"))


def test_a_deep_value_inside_one_record_is_never_a_server_error(world: World) -> None:
    mon = world.user()
    world.team(mon)
    token = world.device(mon)
    deep = visit_raw(world.facility())
    ok = visit_raw(world.facility())
    text = json.dumps({"visits": {"created": [deep, ok]}})
    text = text.replace(f'"id": "{deep["id"]}"', f'"id": "{deep["id"]}", "notes": {DEEP}', 1)
    resp = world.push(token, None, world.cursor(token), data=text.encode())
    assert resp.status_code < 500, resp.text
    json.loads(resp.content)  # answered as JSON (UTF-8 or escaped), whatever the engine decided



def test_a_deep_json_text_column_is_never_a_server_error(world: World) -> None:
    mon = world.user()
    team = world.team(mon)
    token = world.device(mon)
    visit = world.visit(team, world.facility())
    record = finding_raw(visit, standard_refs=DEEP)  # JSON text: the engine parses it
    resp = world.push(token, {"findings": {"created": [record]}}, world.cursor(token))
    assert resp.status_code < 500, resp.text
