"""The starter checklist: valid, complete, loaded idempotently by seeder, CLI and API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from monitor_api.checklists.compliance import parse
from monitor_api.checklists.loader import load_checklist, seed_starter_checklist, starter_text
from monitor_api.checklists.models import SECTIONS, ChecklistTemplate
from monitor_api.demo import seed
from monitor_api.errors import ValidationFailed
from schemas.checklists import QuestionCreate, TemplateFile


def test_starter_file_is_valid_and_complete() -> None:
    raw = json.loads(starter_text())
    data = TemplateFile().load(raw)  # every question through the API's schema
    questions = data["questions"]
    assert len(questions) >= 40
    assert {q["section"] for q in questions} == set(SECTIONS)  # six sections + three modules
    for question in questions:
        QuestionCreate().load({k: v for k, v in question.items()})
        rule = parse(question.get("compliance"), question["answer_type"], question.get("options"))
        assert rule is not None or question.get("compliance") is None
        assert question["text_ru"] and question["info_sources"]
    measurable = [q for q in questions if q["answer_type"] in ("count", "measure")]
    assert sum(q.get("compliance") is None for q in measurable) == 5
    mandela_44 = [q for q in questions if {"instrument": "mandela", "rule": "44"}
                  in q["standard_refs"]]
    assert mandela_44, "solitary confinement (Mandela 44) must be checkable"


def test_load_idempotent_and_published(db: Any) -> None:
    template, created = load_checklist(db, starter_text())
    assert created and template.status == "published" and template.published_at
    again, created_again = load_checklist(db, starter_text())
    assert again.id == template.id and not created_again
    count = db.scalar(select(func.count()).select_from(ChecklistTemplate).where(
        ChecklistTemplate.code == template.code, ChecklistTemplate.version == template.version))
    assert count == 1
    assert len(template.questions) == len(json.loads(starter_text())["questions"])


def test_seeder_registered(db: Any) -> None:
    assert seed_starter_checklist in seed._EXTRA_SEEDERS
    seed_starter_checklist(db)
    seed_starter_checklist(db)
    code = json.loads(starter_text())["code"]
    assert db.scalar(select(func.count()).select_from(ChecklistTemplate).where(
        ChecklistTemplate.code == code)) == 1


def test_bad_file_rejected(db: Any) -> None:
    raw = json.loads(starter_text())
    raw["questions"][0]["compliance"] = "maybe"
    with pytest.raises(ValidationFailed) as exc:
        load_checklist(db, json.dumps(raw))
    assert "questions" in exc.value.errors
    with pytest.raises(ValidationFailed):
        load_checklist(db, "{not json")


def test_loaded_template_is_readable_by_partner(db: Any, make_user: Any) -> None:
    template, _ = load_checklist(db, starter_text())
    _, partner = make_user("partner")
    resp = partner.get(f"/api/v1/checklist-templates/{template.id}")
    assert resp.status_code == 200
    body = resp.get_json()
    assert len(body["questions"]) >= 40 and body["status"] == "published"


def test_cli_command(settings: Any, engine: Any, tmp_path: Any, monkeypatch: Any,
                     capsys: Any) -> None:
    """`monitor-api load-checklist <file>` commits a template; a second run finds it."""
    from monitor_api import cli

    raw = json.loads(starter_text())
    raw["code"] = "cli-test-" + tmp_path.name[-8:].replace("_", "-").lower()
    path = tmp_path / "checklist.json"
    path.write_text(json.dumps(raw))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    try:
        assert cli.main(["load-checklist", str(path)]) == 0
        assert "loaded" in capsys.readouterr().out
        assert cli.main(["load-checklist", str(path)]) == 0
        assert "already present" in capsys.readouterr().out
    finally:
        with engine.begin() as conn:
            conn.execute(ChecklistTemplate.__table__.delete().where(
                ChecklistTemplate.code == raw["code"]))


def test_cli_bad_input(settings: Any, tmp_path: Any, monkeypatch: Any, capsys: Any) -> None:
    from monitor_api import cli

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    assert cli.main(["load-checklist", str(tmp_path / "missing.json")]) == 1
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"code": "x", "version": 1, "title": "t", "questions": [
        {"section": "kitchen", "code": "K1", "text_en": "?", "answer_type": "text",
         "info_sources": ["observation"]}]}))
    assert cli.main(["load-checklist", str(bad)]) == 1
    assert "section" in capsys.readouterr().err
