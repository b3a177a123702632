"""DOMAIN.md scenarios 5 and 6 over HTTP, every file opened by a real reader."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor_api.audit.models import AuditEntry
from monitor_api.exports.datasets import DATASETS
from tests.exports.conftest import (
    HOSTILE,
    World,
    all_text,
    export,
    read_csv,
    read_xlsx,
)

SCENARIO_6 = {"from": "2024-01-01", "to": "2024-12-31", "facility_type": "police_custody",
              "region": "TJ-SU"}
FORMATS = ("csv", "xlsx", "geojson", "parquet", "zip")


def test_scenario_6_analyst_downloads_2024_police_custody_findings_in_sughd(
        world: World, db: Session) -> None:
    analyst = world.api["analyst"]
    csv_resp = export(analyst, "findings", format="csv", **SCENARIO_6)
    assert csv_resp.status_code == 200, csv_resp.get_data()[:500]
    assert csv_resp.mimetype == "text/csv"
    assert "attachment" in csv_resp.headers["Content-Disposition"]
    rows = read_csv(csv_resp.get_data())
    # Confirmed findings of the published 2024 visit to the IVS in Sughd; not 2023, not
    # Dushanbe or Khatlon, not drafts or withdrawn ones, not unpublished visits (A's or B's).
    assert sorted(r["title"] for r in rows) == sorted(["'" + HOSTILE, "'-2+3", "'@SUM(A1)"])
    assert {r["facility_type"] for r in rows} == {"police_custody"}
    assert {r["region"] for r in rows} == {"TJ-SU"}
    assert {r["visit_date"] for r in rows} == {"2024-03-10"}
    by_theme = {r["theme"]: r["standard_refs"] for r in rows}
    assert by_theme == {"treatment": "mandela:44", "material_conditions": "mandela:13; cpt:space",
                        "health_care": "bangkok:6"}
    assert {r["published"] for r in rows} == {"true"}
    # By Mandela rule: the same download narrowed to the Mandela Rules.
    mandela = read_csv(export(analyst, "findings", format="csv", standard="mandela",
                              **SCENARIO_6).get_data())
    assert sorted(r["theme"] for r in mandela) == ["material_conditions", "treatment"]
    rule_44 = read_csv(export(analyst, "findings", format="csv", standard="mandela:44",
                              **SCENARIO_6).get_data())
    assert [r["title"] for r in rule_44] == ["'" + HOSTILE]
    # The same as XLSX, read by openpyxl.
    xlsx_resp = export(analyst, "findings", format="xlsx", **SCENARIO_6)
    assert xlsx_resp.status_code == 200
    sheet = read_xlsx(xlsx_resp.get_data())
    assert sorted(r["title"] for r in sheet) == sorted(r["title"] for r in rows)
    assert [r["finding_ref"] for r in sorted(sheet, key=lambda r: r["finding_ref"])] == [
        r["finding_ref"] for r in sorted(rows, key=lambda r: r["finding_ref"])]
    # No names, no interview text, no ids of people or devices, in either file.
    for fmt, resp in (("csv", csv_resp), ("xlsx", xlsx_resp)):
        found = all_text(fmt, resp.get_data())
        leaked = [s for s in world.forbidden() if s in found]
        assert not leaked, (fmt, leaked)
    # Audited: who, what, filters, rows, and the SHA-256 of exactly the bytes received.
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "export.findings",
                                               AuditEntry.details["format"].astext == "xlsx"))
    assert entry is not None and entry.actor_user_id == world.users["analyst"].id
    assert entry.details["sha256"] == hashlib.sha256(xlsx_resp.get_data()).hexdigest()
    assert entry.details["rows"] == 3 and entry.details["bytes"] == len(xlsx_resp.get_data())
    assert entry.details["filters"] == {"date_from": "2024-01-01", "date_to": "2024-12-31",
                                        "facility_type": ["police_custody"],
                                        "region": ["TJ-SU"]}


def test_scenario_5_allegation_for_legal_aid_only_reaches_no_export(world: World) -> None:
    legal = world.api["legal_aid"].get("/api/v1/allegations")
    assert legal.status_code == 200
    assert str(world.ids["legal_allegation"]) in legal.get_data(as_text=True)
    for role in ("analyst", "partner", "coordinator_a", "admin"):
        api = world.api["coord_a" if role == "coordinator_a" else role]
        for dataset in DATASETS:
            for fmt in FORMATS:
                resp = export(api, dataset, format=fmt)
                if resp.status_code == 403:
                    assert role == "partner", (role, dataset)
                    continue
                assert resp.status_code == 200, (role, dataset, fmt, resp.get_data()[:300])
                found = all_text(fmt, resp.get_data())
                assert "LEGAL-AID-ONLY-NARRATIVE" not in found
                assert str(world.ids["legal_allegation"]) not in found
    # It is not even counted: 5 allegations consented for publication on that visit.
    visits = read_csv(export(world.api["analyst"], "visits").get_data())
    a24 = [v for v in visits if v["visit_date"] == "2024-03-10"]
    assert [(v["allegations_published"], v["allegations_published_suppressed"])
            for v in a24] == [("5", "false")]
    du = [v for v in visits if v["facility_name"] == "SIZO 1 Dushanbe"]
    assert [(v["allegations_published"], v["allegations_published_suppressed"])
            for v in du] == [("", "true")]  # 2: under 5, withheld
