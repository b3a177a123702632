"""The files themselves: datapackage.json in the ZIP, Parquet types and metadata, the XLSX
workbook, the dataset list; audit entries for every format and for an aborted stream."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import openpyxl
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor_api.audit.models import AuditEntry
from tests.exports.conftest import (
    World,
    export,
    read_csv,
    read_parquet,
    read_zip,
)


def test_zip_bundle_with_datapackage(world: World) -> None:
    resp = export(world.api["analyst"], "all", format="zip", region="TJ-SU", lang="ru",
                  theme="treatment")
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    files = read_zip(resp.get_data())
    package = json.loads(files["datapackage.json"])
    assert package["profile"] == "tabular-data-package"
    assert package["filters"] == {"region": ["TJ-SU"], "theme": ["treatment"], "lang": "ru"}
    assert package["created"] and package["licenses"][0]["name"] == "CC-BY-4.0"
    assert "CC-BY-4.0" in package["licence"] and package["exported_for_role"] == "analyst"
    names = [r["name"] for r in package["resources"]]
    assert names == ["visits", "findings", "recommendations", "answers", "room_inspections",
                     "indicators"]
    for res in package["resources"]:
        data = files[res["path"]]
        assert res["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert res["bytes"] == len(data)
        rows = read_csv(data)
        assert res["rows"] == len(rows)
        fields = res["schema"]["fields"]
        assert [f["name"] for f in fields] == list(rows[0]) if rows else True
        assert all(f["type"] in ("string", "integer", "number", "boolean", "date")
                   and f["description"] for f in fields)
        for f in fields:  # enumerations hold every value found
            if "constraints" in f:
                assert {r[f["name"]] for r in rows} - {""} <= set(f["constraints"]["enum"])
        # theme narrows findings, recommendations and answers only; region narrows all.
        applied = res["filters_applied"]
        assert ("theme" in applied) == (res["name"] in ("findings", "recommendations",
                                                        "answers"))
        assert applied["region"] == ["TJ-SU"]
    fields = {f["name"]: f for r in package["resources"] for f in r["schema"]["fields"]}
    assert fields["floor_area_m2"]["unit"] == "m2"
    assert fields["severity"]["constraints"]["enum"][0] == "critical_urgent"
    assert fields["published"]["trueValues"] == ["true"]
    findings = read_csv(files["findings.csv"])
    assert {f["theme"] for f in findings} == {"treatment"}


def test_parquet_keeps_types_and_describes_itself(world: World) -> None:
    data = export(world.api["analyst"], "room_inspections", format="parquet").get_data()
    table = pq.read_table(io.BytesIO(data))
    types = {f.name: str(f.type) for f in table.schema}
    assert types["floor_area_m2"] == "double" and types["occupants"] == "int64"
    assert types["inspected_on"] == "date32[day]" and types["living_space"] == "bool"
    meta = json.loads(table.schema.metadata[b"datapackage"])
    assert meta["resource"]["name"] == "room_inspections" and meta["licence"]
    rows = {r["label"]: r for r in read_parquet(data)}
    single = rows["Cell 2"]  # 5 m² for one person: Tajik law 4 met, CPT 6 and ICRC 5.4 not
    assert (single["m2_per_person"], single["single_occupancy"]) == (5.0, True)
    assert (single["meets_tj_law"], single["meets_cpt"], single["meets_icrc"]) == (
        True, False, False)
    assert single["cpt_threshold_m2"] == 6.0 and single["cpt_version"] == 1
    shared = rows["Cell 1"]  # 12 m² for four: 3 m² each
    assert (shared["m2_per_person"], shared["meets_tj_law"], shared["meets_icrc"]) == (
        3.0, False, False)
    visiting = rows["=cmd|' /C calc'!A0"]  # not living space: no verdicts
    assert visiting["living_space"] is False and visiting["meets_cpt"] is None


def test_xlsx_workbook_has_typed_cells_and_an_about_sheet(world: World) -> None:
    data = export(world.api["analyst"], "indicators", format="xlsx", lang="tg").get_data()
    book = openpyxl.load_workbook(io.BytesIO(data))  # the full (validating) reader too
    sheet, about = book["indicators"], book["about"]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    row = {h: c.value for h, c in zip(header, sheet[2], strict=False)}
    assert row["visit_date"].year in (2023, 2024) and sheet["D2"].number_format == "yyyy-mm-dd"
    assert isinstance(row["findings_total"], int)
    notes = {r[0].value: r[3].value for r in about.iter_rows(min_row=2) if r[0].value}
    assert notes["dataset"] == "indicators" and "CC-BY-4.0" in notes["licence"]
    assert json.loads(notes["filters"]) == {"lang": "tg"}
    assert notes["occupancy_rate"] == "population_total / capacity."


def test_dataset_list_describes_columns(world: World) -> None:
    body = world.api["analyst"].get("/api/v1/exports").get_json()
    assert body["formats"] == ["csv", "xlsx", "parquet", "geojson", "zip"]
    findings = next(d for d in body["datasets"] if d["name"] == "findings")
    assert "severity" in findings["filters"] and "from" not in findings["filters"]
    assert {c["name"] for c in findings["columns"]} >= {"finding_ref", "visit_ref", "title"}


def _audit(db: Session, action: str) -> list[AuditEntry]:
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)
                           .order_by(AuditEntry.id)))


def test_every_format_is_audited_with_the_hash_of_the_bytes_sent(world: World,
                                                                 db: Session) -> None:
    for fmt in ("csv", "xlsx", "geojson", "parquet", "zip"):
        resp = export(world.api["coord_a"], "recommendations", format=fmt,
                      recommendation_status="not_reviewed")
        entry = _audit(db, "export.recommendations")[-1]
        assert entry.actor_user_id == world.users["coord_a"].id
        assert entry.details["format"] == fmt and entry.details["role"] == "coordinator"
        assert entry.details["sha256"] == hashlib.sha256(resp.get_data()).hexdigest()
        assert entry.details["bytes"] == len(resp.get_data())
        assert entry.details["rows"] == 2  # r2 and r3 (team B's r4 is not theirs)
        assert entry.details["filters"] == {"recommendation_status": ["not_reviewed"]}
    bundle = export(world.api["admin"], "all", format="zip")
    entry = _audit(db, "export.all")[-1]
    assert entry.details["rows_by_dataset"]["visits"] == 6
    assert entry.details["sha256"] == hashlib.sha256(bundle.get_data()).hexdigest()


def test_a_client_that_goes_away_leaves_export_aborted(world: World, db: Session) -> None:
    resp = world.api["analyst"].client.get(
        "/api/v1/exports/answers?format=csv", buffered=False,
        headers={"Authorization": f"Bearer {world.api['analyst'].token}"})
    assert resp.status_code == 200
    chunks: Any = iter(resp.response)
    first = next(chunks)
    assert first.startswith(b"visit_ref,")
    resp.close()  # what the server does when the client's connection drops
    entry = _audit(db, "export.aborted")[-1]
    assert entry.details["dataset"] == "answers" and entry.details["reason"] == (
        "client disconnected")
    assert entry.details["bytes"] == len(first)
    assert not _audit(db, "export.answers")


def test_a_failure_before_the_first_byte_is_a_problem_not_a_file(
        world: World, db: Session, monkeypatch: Any) -> None:
    from monitor_api.exports import service

    def broken(job: Any) -> Any:
        raise RuntimeError("the database went away")
        yield b""

    monkeypatch.setitem(service.WRITERS, "csv", broken)
    resp = export(world.api["analyst"], "findings", format="csv")
    assert resp.status_code == 500 and resp.mimetype == "application/problem+json"
    entry = _audit(db, "export.aborted")[-1]
    assert entry.details["reason"] == "server error" and entry.details["bytes"] == 0
