"""What no export may contain, formula injection, small-count suppression, pseudonyms."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from pathlib import Path

import pytest

from monitor_api.config import ConfigError, Settings
from monitor_api.exports.pseudonyms import KEY_FILE, pseudonym_key
from tests.exports.conftest import (
    HOSTILE,
    World,
    all_text,
    export,
    read_csv,
    read_geojson,
    read_parquet,
    read_xlsx,
)

DATASETS = ("visits", "findings", "recommendations", "answers", "room_inspections",
            "indicators")
FORMATS = ("csv", "xlsx", "geojson", "parquet", "zip")


def test_no_export_contains_people_ids_or_free_text(world: World) -> None:
    """Every dataset, every format, every role that may export: no user, device, team,
    interviewee or record id, no username, comment, note, description, evidence, interview
    or allegation text, no free-text answer."""
    forbidden = world.forbidden()
    checked = 0
    for role in ("analyst", "partner", "coord_a", "coord_b", "admin"):
        for dataset in (*DATASETS, "all"):
            for fmt in FORMATS if dataset != "all" else ("zip",):
                resp = export(world.api[role], dataset, format=fmt)
                if role == "partner" and dataset in ("answers", "room_inspections"):
                    assert resp.status_code == 403
                    continue
                assert resp.status_code == 200, (role, dataset, fmt)
                found = all_text(fmt, resp.get_data())
                leaked = [s for s in forbidden if s in found]
                assert not leaked, (role, dataset, fmt, leaked)
                checked += 1
    assert checked == 5 * 31 - 2 * 5  # partners: answers and rooms refused in 5 formats


def test_formula_injection_neutralised_in_csv_and_xlsx_numbers_stay_numbers(
        world: World) -> None:
    analyst = world.api["analyst"]
    csv_rows = read_csv(export(analyst, "findings", format="csv").get_data())
    xlsx_rows = read_xlsx(export(analyst, "findings", format="xlsx").get_data())
    for rows in (csv_rows, xlsx_rows):
        titles = {r["title"] for r in rows}
        assert {"'" + HOSTILE, "'-2+3", "'@SUM(A1)"} <= titles
        assert not any(str(t).startswith(("=", "+", "-", "@")) for t in titles)
    # Parquet and GeoJSON are not spreadsheets: the text stays as recorded.
    assert HOSTILE in {r["title"] for r in read_parquet(
        export(analyst, "findings", format="parquet").get_data())}
    # Answers go through Python's csv writer (computed columns): neutralised there too.
    rooms_csv = read_csv(export(analyst, "room_inspections", format="csv").get_data())
    rooms_xlsx = read_xlsx(export(analyst, "room_inspections", format="xlsx").get_data())
    for rooms in (rooms_csv, rooms_xlsx):
        labels = {r["label"] for r in rooms}
        assert "'=cmd|' /C calc'!A0" in labels
    # A negative number is a number, not text to neutralise.
    cold = next(r for r in rooms_xlsx if r["label"] == "Cell 1")
    assert cold["temperature_c"] == -3.5 and isinstance(cold["floor_area_m2"], float)
    assert [r["temperature_c"] for r in rooms_csv if r["label"] == "Cell 1"] == ["-3.5"]
    answers = read_xlsx(export(analyst, "answers", format="xlsx").get_data())
    assert {a["number_value"] for a in answers if a["question_code"] == "SOL-01"} == {21}


def test_small_counts_of_people_are_suppressed_for_outsiders(world: World) -> None:
    visits = read_csv(export(world.api["analyst"], "visits").get_data())
    a24 = next(v for v in visits if v["visit_date"] == "2024-03-10")
    assert (a24["population_women"], a24["population_women_suppressed"]) == ("", "true")
    assert (a24["population_minors"], a24["population_minors_suppressed"]) == ("0", "false")
    assert a24["population_foreigners"] == "7" and a24["population_total"] == "12"
    # The visit's own coordinator sees the figure; the allegation count is withheld for all.
    own = read_csv(export(world.api["coord_a"], "visits").get_data())
    mine = next(v for v in own if v["visit_date"] == "2024-03-10")
    assert (mine["population_women"], mine["population_women_suppressed"]) == ("2", "false")
    du = next(v for v in own if v["facility_name"] == "SIZO 1 Dushanbe")
    assert (du["allegations_published"], du["allegations_published_suppressed"]) == ("",
                                                                                     "true")
    other = read_csv(export(world.api["coord_b"], "visits").get_data())
    theirs = next(v for v in other if v["visit_date"] == "2024-03-10")
    assert theirs["population_women"] == "" and theirs["population_women_suppressed"] == "true"
    # Answers counting people: 3 withheld, 12 shown; free text never.
    answers = read_csv(export(world.api["analyst"], "answers").get_data())
    trt = {(a["facility_name"], a["number_value"], a["suppressed"]) for a in answers
           if a["question_code"] == "TRT-02"}
    assert trt == {("IVS Khujand", "", "true"), ("SIZO 1 Dushanbe", "12.0", "false")}
    head = [a for a in answers if a["question_code"] == "PER-07"]
    assert [(a["value"], a["value_withheld"], a["value_label"]) for a in head] == [
        ("", "true", "")]
    # The compliance verdict is still there for the withheld count (0 alleging complies).
    assert {a["compliant"] for a in answers if a["question_code"] == "TRT-02"} == {"false"}


def test_pseudonyms_are_keyed_hmacs_stable_across_downloads(world: World,
                                                            settings: Settings) -> None:
    first = read_csv(export(world.api["analyst"], "visits").get_data())
    second = read_csv(export(world.api["partner"], "visits").get_data())
    assert [v["visit_ref"] for v in first] == [v["visit_ref"] for v in second]
    key = (Path(settings.state_dir) / KEY_FILE).read_text().strip().encode()
    a24 = str(world.visits["a24"].id).encode()
    expected = hmac.new(key, b"visit:" + a24, hashlib.sha256).hexdigest()[:20]
    assert expected in {v["visit_ref"] for v in first}
    team = hmac.new(key, b"team:" + str(world.teams["a"].id).encode(),
                    hashlib.sha256).hexdigest()[:20]
    assert {v["team_ref"] for v in first} == {team}
    # Findings point at rooms and recommendations at findings by pseudonym.
    findings = read_csv(export(world.api["analyst"], "findings").get_data())
    recs = read_csv(export(world.api["analyst"], "recommendations").get_data())
    again = next(r for r in recs if r["text"] == "Record every detention (again)")
    hostile = next(f for f in findings if f["title"] == "'" + HOSTILE)
    assert again["finding_ref"] == hostile["finding_ref"]
    original = next(r for r in recs if r["text"] == "Record every detention")
    assert again["repeats_ref"] == original["recommendation_ref"]
    assert again["chain_length"] == "2"
    # A draft finding's ref is not shown to outsiders.
    screen = next(r for r in recs if r["text"] == "Screen every admission")
    assert screen["finding_ref"] == ""


def test_pseudonym_key_from_environment_or_state_dir(tmp_path: Path) -> None:
    base = Settings.from_env({"DATABASE_URL": "postgresql://x@localhost/x",
                              "MONITOR_STATE_DIR": str(tmp_path / "state")})
    generated = pseudonym_key(base)
    assert (tmp_path / "state" / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert pseudonym_key(replace(base)) == generated  # kept and reused
    fixed = Settings.from_env({"DATABASE_URL": "postgresql://x@localhost/x",
                               "EXPORT_PSEUDONYM_KEY": "k" * 40})
    assert pseudonym_key(fixed) == b"k" * 40 != generated
    with pytest.raises(ConfigError, match="EXPORT_PSEUDONYM_KEY"):
        Settings.from_env({"DATABASE_URL": "postgresql://x@localhost/x",
                           "EXPORT_PSEUDONYM_KEY": "short"})
    with pytest.raises(ConfigError, match="EXPORT_LICENCE"):
        Settings.from_env({"DATABASE_URL": "postgresql://x@localhost/x",
                           "EXPORT_LICENCE": "CC BY; drop table"})


def test_geojson_features_sit_on_the_facility(world: World) -> None:
    doc = read_geojson(export(world.api["analyst"], "visits", format="geojson").get_data())
    assert doc["type"] == "FeatureCollection" and doc["metadata"]["licence"]
    assert {tuple(f["geometry"]["coordinates"]) for f in doc["features"]} == {(69.6, 40.28)}
    assert {f["properties"]["region"] for f in doc["features"]} == {"TJ-SU", "TJ-DU",
                                                                    "TJ-KT"}
    xlsx = read_xlsx(export(world.api["analyst"], "visits", format="xlsx").get_data())
    assert all(not str(v).startswith("=") for row in xlsx for v in row.values())
