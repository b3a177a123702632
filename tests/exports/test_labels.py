"""Option labels in English, Russian and Tajik: in the starter checklist, through the
template API, and filled in by migration 0008 for a starter already loaded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from monitor_api.checklists.loader import load_checklist, starter_text
from monitor_api.migrate import upgrade
from tests.coordinator.conftest import quick_user  # noqa: F401

BASE = "/api/v1/checklist-templates"


def test_every_starter_option_has_three_labels(db: Any) -> None:
    raw = json.loads(starter_text())
    choices = [q for q in raw["questions"] if q["answer_type"] in ("choice", "multi_choice")]
    assert len(choices) == 5
    for question in choices:
        labels = question["option_labels"]
        assert list(labels) == question["options"], question["code"]  # codes unchanged
        for code, names in labels.items():
            assert set(names) == {"en", "ru", "tg"} and all(names.values()), (question["code"],
                                                                              code)
    template, _ = load_checklist(db, starter_text())
    stored = {q.code: q.option_labels for q in template.questions}
    assert stored["MAT-09"]["seriously_inadequate"]["tg"] == "Ба куллӣ ғайриқаноатбахш"
    assert stored["TRT-01"] is None


def test_template_api_takes_and_checks_labels(quick_user: Any) -> None:  # noqa: F811
    _, admin = quick_user("admin")
    template = admin.post(BASE, json={"code": "labels-test", "title": "Labels"}).get_json()
    choice = {"section": "material_conditions", "code": "F-1", "text_en": "Food",
              "answer_type": "choice", "options": ["ok", "bad"], "info_sources": ["detainee"],
              "option_labels": {"ok": {"en": "Fine", "ru": "Хорошо", "tg": "Нағз"},
                                "bad": {"en": "Bad"}}}
    resp = admin.post(f"{BASE}/{template['id']}/questions", json=choice)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["option_labels"]["ok"]["tg"] == "Нағз"
    for wrong, field in (
            ({**choice, "code": "F-2", "option_labels": {"other": {"en": "x"}}},
             "option_labels"),
            ({**choice, "code": "F-3", "option_labels": {"ok": {"ru": "x"}}}, "option_labels"),
            ({"section": "treatment", "code": "F-4", "text_en": "Yes?", "info_sources":
              ["detainee"], "answer_type": "yes_no_partial",
              "option_labels": {"yes": {"en": "Yes"}}}, "option_labels")):
        resp = admin.post(f"{BASE}/{template['id']}/questions", json=wrong)
        assert resp.status_code == 422 and field in resp.get_json()["errors"], resp.get_json()


@pytest.fixture
def scratch_url(database_url: str) -> Iterator[str]:
    url = make_url(database_url)
    name = f"{url.database}_labels"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        conn.execute(sa.text(f'create database "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


def test_migration_labels_a_starter_loaded_before(scratch_url: str) -> None:
    upgrade(scratch_url, "0007")
    engine = sa.create_engine(scratch_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:  # tj-core v1 as loaded before the labels existed
        template = conn.scalar(sa.text(
            "insert into checklist_templates (id, code, version, title, facility_types, "
            "status) values (gen_random_uuid(), 'tj-core', 1, 'Core', '[]', 'published') "
            "returning id"))
        conn.execute(sa.text(
            "insert into checklist_questions (id, template_id, section, code, position, "
            "text_en, answer_type, options, standard_refs, info_sources) values "
            "(gen_random_uuid(), :t, 'regime_activities', 'REG-06', 1, 'Visits', 'choice', "
            "'[\"weekly_or_more\", \"monthly\", \"quarterly\", \"less_than_quarterly\", "
            "\"none_in_practice\"]', '[]', '[\"management\"]')"), {"t": template})
    upgrade(scratch_url)
    with engine.connect() as conn:
        labels = conn.scalar(sa.text("select option_labels from checklist_questions "
                                     "where code = 'REG-06'"))
    engine.dispose()
    assert labels["monthly"] == {"en": "Monthly", "ru": "Ежемесячно", "tg": "Ҳар моҳ"}
