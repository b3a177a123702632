"""Filters (period, region, facility type, authority, facility, theme, severity, standard,
recommendation status, lang) and their validation: problem+json, never half a file."""

from __future__ import annotations

from typing import Any

import pytest

from monitor_api.errors import PROBLEM_MIME
from tests.exports.conftest import HOSTILE, World, export, read_csv


def _rows(world: World, dataset: str, who: str = "analyst", **params: Any) -> list[dict]:
    resp = export(world.api[who], dataset, **params)
    assert resp.status_code == 200, resp.get_json()
    return read_csv(resp.get_data())


def _visits(world: World, **params: Any) -> list[str]:
    return sorted(r["visit_date"] for r in _rows(world, "visits", **params))


def test_period_and_place_filters(world: World) -> None:
    assert _visits(world) == ["2023-05-01", "2024-03-10", "2024-04-02", "2024-07-07"]
    assert _visits(world, **{"from": "2024-01-01", "to": "2024-12-31"}) == [
        "2024-03-10", "2024-04-02", "2024-07-07"]
    assert _visits(world, **{"to": "2024-03-10"}) == ["2023-05-01", "2024-03-10"]
    assert _visits(world, region="TJ-DU") == ["2024-04-02"]
    assert _visits(world, region="TJ-DU,TJ-KT") == ["2024-04-02", "2024-07-07"]
    assert _visits(world, facility_type="pretrial_detention") == ["2024-04-02"]
    assert _visits(world, authority="ministry_of_interior") == [
        "2023-05-01", "2024-03-10", "2024-07-07"]
    sizo = world.facilities["sizo_du"].id
    assert _visits(world, facility=str(sizo)) == ["2024-04-02"]
    assert {r["facility_id"] for r in _rows(world, "indicators", facility=str(sizo))} == {
        str(sizo)}


def test_theme_severity_and_standard(world: World) -> None:
    def titles(**params: Any) -> list[str]:
        return sorted(r["title"] for r in _rows(world, "findings", **params))

    assert titles(theme="treatment") == sorted(["'" + HOSTILE, "Dushanbe finding",
                                                "Khatlon finding", "Solitary in 2023"])
    assert titles(severity="moderate") == ["'-2+3"]
    assert titles(theme="health_care", severity="minor,serious") == ["'@SUM(A1)"]
    assert titles(standard="cpt") == ["'-2+3"]
    assert titles(standard="mandela:44", region="TJ-SU") == sorted([
        "'" + HOSTILE, "Solitary in 2023"])
    assert titles(standard="bangkok:6,cpt:space") == sorted(["'-2+3", "'@SUM(A1)"])
    answers = _rows(world, "answers", standard="bangkok:6")
    assert sorted(a["info_source"] for a in answers) == ["detainee", "management"]
    assert {a["question_code"] for a in _rows(world, "answers", theme="health_care")} == {
        "HLT-06"}
    recs = _rows(world, "recommendations", theme="health_care")
    assert [r["text"] for r in recs] == ["Screen every admission"]


def test_recommendation_status(world: World) -> None:
    def texts(status: str) -> list[str]:
        return sorted(r["text"] for r in _rows(world, "recommendations",
                                               recommendation_status=status))

    assert texts("not_implemented") == ["Record every detention"]
    assert texts("not_reviewed") == ["Record every detention (again)",
                                     "Screen every admission"]
    assert texts("implemented") == []
    first = _rows(world, "recommendations", recommendation_status="not_implemented")[0]
    assert first["status_history"] == "2024-03-10 not_implemented"
    assert (first["latest_status"], first["latest_reviewed_on"], first["open"],
            first["reviews"]) == ("not_implemented", "2024-03-10", "true", "1")


def test_lang_for_question_texts_option_labels_and_names(world: World) -> None:
    def answers(lang: str) -> dict[tuple[str, str], dict[str, str]]:
        return {(a["question_code"], a["info_source"]): a
                for a in _rows(world, "answers", lang=lang, region="TJ-SU")}

    en, ru, tg = answers("en"), answers("ru"), answers("tg")
    assert en[("MAT-09", "observation")]["value_label"] == "Insufficient"
    assert ru[("MAT-09", "observation")]["value_label"] == "Недостаточное"
    assert tg[("MAT-09", "observation")]["value_label"] == "Нокифоя"
    assert tg[("TRT-04", "observation")]["value_label"] == "Занҷирҳо; Дастбандҳо"
    assert ru[("HLT-06", "detainee")]["value_label"] == "Нет"
    assert ru[("HLT-06", "detainee")]["question_text"] == "Медосмотр при поступлении?"
    assert tg[("HLT-06", "detainee")]["question_text"] == "Муоинаи тиббӣ ҳангоми қабул?"
    assert ru[("TRT-04", "observation")]["question_text"] == "Restraints found"  # fallback
    assert ru[("HLT-06", "detainee")]["facility_name"] == "ИВС Худжанд"
    # Codes stay codes; compliance from checklists/compliance.py.
    assert (en[("MAT-09", "observation")]["value"],
            en[("MAT-09", "observation")]["compliant"]) == ("insufficient", "false")
    assert en[("TRT-04", "observation")]["compliant"] == "false"  # chains found
    assert (en[("HLT-06", "management")]["compliant"], en[("SOL-01", "document")]
            ["compliant"]) == ("true", "false")


@pytest.mark.parametrize(("path", "field"), [
    ("/api/v1/exports/visits?severity=serious", "severity"),
    ("/api/v1/exports/answers?recommendation_status=implemented", "recommendation_status"),
    ("/api/v1/exports/findings?region=XX", "region"),
    ("/api/v1/exports/findings?from=2024-02-01&to=2024-01-01", "from"),
    ("/api/v1/exports/findings?format=pdf", "format"),
    ("/api/v1/exports/findings?standard=nelson:1", "standard"),
    ("/api/v1/exports/findings?facility=not-a-uuid", "facility"),
    ("/api/v1/exports/findings?lang=fr", "lang"),
    ("/api/v1/exports/findings?colour=red", None),
    ("/api/v1/exports/all?format=csv", "format"),
])
def test_bad_requests_are_problems_not_files(world: World, path: str,
                                             field: str | None) -> None:
    resp = world.api["analyst"].get(path)
    assert resp.status_code == 422, resp.get_data()[:300]
    assert resp.mimetype == PROBLEM_MIME
    body = resp.get_json()
    assert body["status"] == 422 and body["title"] and body["detail"]
    if field is not None:
        assert field in str(body.get("errors")), body


def test_unknown_dataset_is_404(world: World) -> None:
    resp = world.api["analyst"].get("/api/v1/exports/interviews")
    assert resp.status_code == 404 and resp.mimetype == PROBLEM_MIME
