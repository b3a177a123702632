"""The sync bodies as the OpenAPI document describes them (one record schema per table), checked
against what a live server really sends and accepts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from openapi_schema_validator import OAS30Validator

from monitor_api.sync_api.openapi import pascal
from monitor_api.sync_api.registry import registry
from tests.sync.conftest import World, finding_raw, visit_raw


@pytest.fixture(scope="module")
def document(live: str) -> dict[str, Any]:
    resp = requests.get(live + "/api/openapi.json", timeout=30)
    assert resp.status_code == 200
    return resp.json()


def _check(document: dict[str, Any], name: str, value: Any) -> None:
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    errors = sorted(OAS30Validator(schema).iter_errors(value), key=str)
    assert not errors, f"{name}: {errors[0].message} at {list(errors[0].absolute_path)}"


def test_every_synced_table_has_its_record_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for st in registry().tables:
        name = pascal(st.name)
        assert (f"{name}Record" in schemas) == st.pull, st.name
        assert (f"{name}PushRecord" in schemas) == st.push, st.name
        if st.pull:  # the pulled shape lists every raw field the server sends
            assert set(schemas[f"{name}Record"]["properties"]) == {f.name for f in st.fields}
    sync = document["paths"]["/api/v1/sync"]
    assert sync["get"]["operationId"] == "pullChanges"
    assert sync["post"]["operationId"] == "pushChanges"
    pull = sync["get"]["responses"]["200"]["content"]["application/json"]
    assert pull["schema"] == {"$ref": "#/components/schemas/SyncPull"}
    _check(document, "SyncPull", pull["example"])
    push = sync["post"]["requestBody"]["content"]["application/json"]
    _check(document, "SyncPush", push["example"])


def test_what_a_live_server_sends_and_takes_matches_the_document(
        world: World, document: dict[str, Any]) -> None:
    mon = world.user()
    world.team(mon)
    fac = world.facility()
    world.template()
    token = world.device(mon)
    first = world.pull(token).json()
    _check(document, "SyncPull", first)
    visit = visit_raw(fac, population_total=120, summary="Tour, 14 interviews")
    finding = finding_raw(visit["id"], description="Measured", is_systemic=True)
    room = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "label": "Cell 4",
            "room_kind": "cell", "floor_area_m2": 14.5, "occupants": 6, "beds": 4}
    photo = {"id": str(uuid.uuid4()), "visit_id": visit["id"], "sha256": "ab" * 32,
             "byte_size": 1200, "mime_type": "image/jpeg", "captured_at": 1_732_000_000_000,
             "lat": 38.56, "lng": 68.79, "consent": "not_needed"}
    changes = {"visits": {"created": [visit]}, "findings": {"created": [finding]},
               "room_inspections": {"created": [room]}, "photos": {"created": [photo]},
               "answers": {"created": [], "updated": [], "deleted": []}}
    _check(document, "SyncPush", changes)
    resp = world.push(token, changes, first["timestamp"])
    assert resp.status_code == 200, resp.text
    _check(document, "SyncPushResult", resp.json())
    # A record the server refuses (and with a column it does not know): the answer is still
    # the documented one.
    bad = {"findings": {"created": [finding_raw(visit["id"], severity="catastrophic",
                                                local_only_flag=True)]}}
    with pytest.raises(AssertionError, match="catastrophic"):  # refused by the document too
        _check(document, "SyncPush", bad)
    resp = world.push(token, bad, first["timestamp"])
    assert resp.status_code == 200 and resp.json()["rejected"], resp.text
    _check(document, "SyncPushResult", resp.json())
    # Another phone of the team gets them as created, with the server-set values.
    theirs = world.pull(world.device(mon)).json()
    assert theirs["changes"]["photos"]["created"]
    _check(document, "SyncPull", theirs)
    status = requests.get(world.base + "/api/v1/sync/status", timeout=10, headers={
        "Authorization": f"Bearer {world.login(world.user('admin'))}"})
    assert status.status_code == 200, status.text
    _check(document, "SyncStatus", status.json())


def test_a_pushed_record_outside_its_schema_is_not_documented_as_valid(
        document: dict[str, Any]) -> None:
    # The document is no looser than the validator on what the issue names: enums and types.
    visit = visit_raw(str(uuid.uuid4()))
    with pytest.raises(AssertionError):
        _check(document, "SyncPush", {"visits": {"created": [{**visit, "visit_type": "x"}]}})
    with pytest.raises(AssertionError):
        _check(document, "SyncPush", {"visits": {"created": [{**visit, "announced": "no"}]}})
    with pytest.raises(AssertionError):
        _check(document, "SyncPush", {"facilities": {"created": [{"id": visit["id"]}]}})
