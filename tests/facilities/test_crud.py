"""Create/read/update/delete: ETag and If-Match, history rows, soft-delete, audit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from monitor_api.audit.models import AuditEntry
from monitor_api.facilities.models import Facility, FacilityHistory
from tests.facilities.conftest import URL, assert_problem, payload


def test_create_and_read_round_trip(admin: Any) -> None:
    body = payload(code="ЯС 3/7", lat=38.123456789012, lng=68.987654321098,
                   notes="Колония, ислоҳӣ")
    resp = admin.post(URL, json=body)
    assert resp.status_code == 201
    created = resp.get_json()
    assert resp.headers["ETag"] == '"1"'
    assert resp.headers["Location"] == f"{URL}/{created['id']}"
    for key, value in body.items():
        assert created[key] == value, key
    assert created["version"] == 1 and created["is_sample"] is False
    assert created["deleted_at"] is None and created["created_at"] and created["updated_at"]
    read = admin.get(resp.headers["Location"])
    assert read.status_code == 200 and read.headers["ETag"] == '"1"'
    assert read.get_json() == created


def test_defaults_for_holds_and_status(admin: Any, db: Any) -> None:
    body = payload()
    del body["holds"], body["status"]
    created = admin.post(URL, json=body).get_json()
    assert created["holds"] == {"men": False, "women": False, "minors": False,
                                "foreigners": False}
    assert created["status"] == "active"


def test_stored_as_geography_point(admin: Any, db: Any, create: Any) -> None:
    fac = create(lat=37.4897, lng=71.553)
    row = db.execute(text("select ST_AsText(location), GeometryType(location::geometry), "
                          "ST_SRID(location::geometry) from facilities where id = :id"),
                     {"id": fac["id"]}).one()
    assert row == ("POINT(71.553 37.4897)", "POINT", 4326)


def test_if_match_flow(admin: Any, coordinator: Any, create: Any) -> None:
    fac = create()
    item = f"{URL}/{fac['id']}"
    etag = admin.get(item).headers["ETag"]
    missing = assert_problem(coordinator.patch(item, json={"name": "A"}), 428,
                             "precondition-required")
    assert "If-Match" in missing["detail"]
    stale = coordinator.patch(item, json={"name": "A"}, headers={"If-Match": '"7"'})
    assert_problem(stale, 412, "precondition-failed")
    assert stale.headers["ETag"] == etag
    ok = coordinator.patch(item, json={"name": "A"}, headers={"If-Match": etag})
    assert ok.status_code == 200
    assert ok.get_json()["version"] == 2 and ok.get_json()["name"] == "A"
    assert ok.headers["ETag"] == '"2"' != etag
    assert admin.get(item).headers["ETag"] == '"2"'
    # The ETag read before the change is now stale: a lost update is refused.
    again = admin.patch(item, json={"name": "B"}, headers={"If-Match": etag})
    assert_problem(again, 412)
    assert admin.get(item).get_json()["name"] == "A"
    # A weak form of the current tag, a list containing it, and * are accepted.
    assert admin.patch(item, json={"name": "B"}, headers={"If-Match": 'W/"2"'}
                       ).headers["ETag"] == '"3"'
    assert admin.patch(item, json={"name": "C"}, headers={"If-Match": '"1", "3"'}
                       ).headers["ETag"] == '"4"'
    assert admin.patch(item, json={"name": "D"}, headers={"If-Match": "*"}
                       ).headers["ETag"] == '"5"'
    assert_problem(admin.patch(item, json={"name": "E"}, headers={"If-Match": " "}), 428)


def test_noop_patch_keeps_version_and_writes_nothing(admin: Any, db: Any, create: Any) -> None:
    fac = create()
    resp = admin.patch(f"{URL}/{fac['id']}", json={"name": fac["name"], "lat": fac["lat"],
                                                   "lng": fac["lng"]},
                       headers={"If-Match": '"1"'})
    assert resp.status_code == 200 and resp.headers["ETag"] == '"1"'
    kinds = db.scalars(select(FacilityHistory.kind).where(
        FacilityHistory.facility_id == fac["id"])).all()
    assert kinds == ["created"]


def _history(api: Any, fac_id: str, **params: Any) -> list[dict[str, Any]]:
    resp = api.get(f"{URL}/{fac_id}/history", query_string=params)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]


def test_history_after_rename_and_relocation(admin: Any, coordinator: Any, apis: Any,
                                             create: Any) -> None:
    fac = create(name="Old name", name_ru="Старое", lat=38.5, lng=68.7)
    item = f"{URL}/{fac['id']}"
    r1 = coordinator.patch(item, json={"name": "New name", "name_tg": "Номи нав"},
                           headers={"If-Match": '"1"'})
    assert r1.status_code == 200
    r2 = coordinator.patch(item, json={"lat": 40.28, "lng": 69.62}, headers={"If-Match": '"2"'})
    assert r2.status_code == 200
    r3 = admin.patch(item, json={"status": "relocated", "official_capacity": 10,
                                 "code": "NEW-CODE"}, headers={"If-Match": '"3"'})
    assert r3.status_code == 200
    history = _history(apis["monitor"], fac["id"])
    outside = _history(apis["partner"], fac["id"])
    assert [h["kind"] for h in outside] == [h["kind"] for h in history]
    assert all(h["changed_by"] is None and h["changed_by_id"] is None for h in outside)
    assert [(h["kind"], h["version"]) for h in history] == [
        ("created", 1), ("renamed", 2), ("relocated", 3),
        ("renamed", 4), ("status", 4), ("updated", 4)]
    created, renamed, relocated, recoded, status, updated = history
    assert created["before"] is None
    assert created["after"]["name"] == "Old name" and created["after"]["lat"] == 38.5
    assert set(created["after"]) >= {"code", "name", "name_ru", "name_tg", "facility_type",
                                     "authority", "region", "district", "lat", "lng",
                                     "official_capacity", "holds", "status", "notes"}
    assert renamed["before"] == {"name": "Old name", "name_tg": fac["name_tg"]}
    assert renamed["after"] == {"name": "New name", "name_tg": "Номи нав"}
    assert relocated["before"] == {"lat": 38.5, "lng": 68.7}
    assert relocated["after"] == {"lat": 40.28, "lng": 69.62}
    assert recoded["before"] == {"code": fac["code"]} and recoded["after"] == {"code": "NEW-CODE"}
    assert status["before"] == {"status": "active"} and status["after"] == {"status": "relocated"}
    assert updated["before"] == {"official_capacity": 400}
    assert updated["after"] == {"official_capacity": 10}
    assert renamed["changed_by"] == coordinator.user.username
    assert renamed["changed_by_id"] == str(coordinator.user.id)
    assert status["changed_by"] == admin.user.username
    assert all(h["changed_at"] for h in history)


def test_relocation_to_no_location(admin: Any, create: Any) -> None:
    fac = create(lat=38.5, lng=68.7)
    resp = admin.patch(f"{URL}/{fac['id']}", json={"lat": None, "lng": None},
                       headers={"If-Match": '"1"'})
    assert resp.get_json()["lat"] is None and resp.get_json()["lng"] is None
    last = _history(admin, fac["id"])[-1]
    assert last["kind"] == "relocated" and last["after"] == {"lat": None, "lng": None}


def test_soft_delete(admin: Any, apis: Any, db: Any, create: Any, marker: str) -> None:
    fac = create(name=f"Doomed {marker}")
    keep = create(name=f"Kept {marker}")
    item = f"{URL}/{fac['id']}"
    assert_problem(admin.delete(item, headers={"If-Match": '"9"'}), 412)
    resp = admin.delete(item)
    assert resp.status_code == 204 and resp.get_data() == b""
    # The row stays, as an UPDATE: deleted_at set, status unchanged, version bumped.
    row = db.scalar(select(Facility).where(Facility.id == fac["id"]))
    db.refresh(row)
    assert row.deleted_at is not None and row.status == "active" and row.version == 2
    for role, api in apis.items():
        assert_problem(api.get(item), 404)
        assert_problem(api.get(f"{item}/history"), 404)
        ids = [i["id"] for i in api.get(f"{URL}?q={marker}").get_json()["items"]]
        assert ids == [keep["id"]], role
    for write in (admin.patch(item, json={"name": "x"}, headers={"If-Match": '"2"'}),
                  admin.delete(item)):
        assert_problem(write, 404)
    seen = admin.get(f"{item}?include_deleted=true")
    assert seen.status_code == 200 and seen.get_json()["deleted_at"] is not None
    assert seen.headers["ETag"] == '"2"'
    listed = admin.get(f"{URL}?q={marker}&include_deleted=true").get_json()
    assert {i["id"] for i in listed["items"]} == {fac["id"], keep["id"]}
    assert listed["meta"]["total"] == 2
    last = _history(admin, fac["id"], include_deleted="true")[-1]
    assert last["kind"] == "deleted" and last["version"] == 2
    assert last["before"] == {"deleted_at": None} and last["after"]["deleted_at"]


@pytest.mark.parametrize("action", ["create", "update", "delete"])
def test_every_write_is_audited(action: str, admin: Any, db: Any, create: Any) -> None:
    fac = create()
    if action == "update":
        assert admin.patch(f"{URL}/{fac['id']}", json={"notes": "n"},
                           headers={"If-Match": '"1"'}).status_code == 200
    elif action == "delete":
        assert admin.delete(f"{URL}/{fac['id']}").status_code == 204
    entries = db.scalars(select(AuditEntry).where(AuditEntry.target_id == fac["id"])
                         .order_by(AuditEntry.id)).all()
    assert entries[-1].action == f"facility.{action}"
    assert entries[-1].target_type == "facility"
    assert entries[-1].actor_user_id == admin.user.id
    assert [e.action for e in entries].count("facility.create") == 1


def test_refused_write_is_not_audited(coordinator: Any, db: Any, create: Any) -> None:
    fac = create()
    assert_problem(coordinator.patch(f"{URL}/{fac['id']}", json={"notes": "x"},
                                     headers={"If-Match": '"5"'}), 412)
    actions = db.scalars(select(AuditEntry.action).where(
        AuditEntry.target_id == fac["id"])).all()
    assert actions == ["facility.create"]
