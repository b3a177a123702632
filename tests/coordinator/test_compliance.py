"""The compliance grammar: what parses, what does not, and how answers evaluate."""

from __future__ import annotations

from typing import Any

import pytest

from monitor_api.checklists.compliance import ComplianceError, evaluate, parse, question_errors

OPTS = ["a", "b", "c", "none_found"]

EVALUATIONS: list[tuple[str | None, str, Any, float | None, bool | None]] = [
    # expr, answer_type, value, number_value, expected
    ("yes", "yes_no_partial", "yes", None, True),
    ("yes", "yes_no_partial", "no", None, False),
    ("yes", "yes_no_partial", "partial", None, False),
    ("yes", "yes_no_partial", " YES ", None, True),
    ("yes", "yes_no_partial", "n/a", None, None),
    ("yes", "yes_no_partial", None, None, None),
    ("no", "yes_no_partial", "no", None, True),
    ("no", "yes_no_partial", "yes", None, False),
    ("no", "yes_no_partial", "partial", None, False),
    (">= 4", "measure", None, 4.0, True),
    (">= 4", "measure", None, 3.99, False),
    (">= 4", "measure", "4,5", None, True),
    (">= 4", "measure", "n/a", None, None),
    (">= 4", "measure", None, None, None),
    ("<= 15", "count", None, 15, True),
    ("<= 15", "count", None, 16, False),
    ("> 0", "count", "1", None, True),
    ("> 0", "count", "0", None, False),
    ("< 2.5", "measure", None, 2.4, True),
    ("< 2.5", "measure", None, 2.5, False),
    ("== 0", "count", None, 0, True),
    ("== 0", "count", None, 1, False),
    (">= -5", "measure", None, -4, True),
    ("one_of:a|b", "choice", "a", None, True),
    ("one_of:a|b", "choice", "c", None, False),
    ("one_of:a|b", "choice", "", None, None),
    ("none_of:a|b", "multi_choice", ["c"], None, True),
    ("none_of:a|b", "multi_choice", ["c", "b"], None, False),
    ("none_of:a|b", "multi_choice", "c|a", None, False),
    ("none_of:a|b", "multi_choice", '["none_found"]', None, True),
    ("none_of:a|b", "multi_choice", "c,none_found", None, True),
    ("none_of:a|b", "multi_choice", [], None, None),
    (None, "measure", None, 1.0, None),
    (None, "text", "anything", None, None),
]


@pytest.mark.parametrize(("expr", "answer_type", "value", "number", "expected"), EVALUATIONS)
def test_evaluate(expr: str | None, answer_type: str, value: Any, number: float | None,
                  expected: bool | None) -> None:
    assert evaluate(expr, answer_type, value, number, OPTS) is expected


@pytest.mark.parametrize(("expr", "answer_type"), [
    ("Yes", "yes_no_partial"), ("partial", "yes_no_partial"), (">= 4", "yes_no_partial"),
    (">=4", "measure"), ("=> 4", "measure"), ("= 4", "count"), (">= four", "count"),
    (">= 4 m2", "measure"), ("yes", "count"), ("one_of:a", "multi_choice"),
    ("none_of:a", "choice"), ("one_of:", "choice"), ("one_of:a|zzz", "choice"),
    ("one_of:a|a", "choice"), ("yes", "text"), ("yes", "date"), ("", "yes_no_partial"),
])
def test_rejects(expr: str, answer_type: str) -> None:
    with pytest.raises(ComplianceError):
        parse(expr, answer_type, OPTS)


def test_parse_result() -> None:
    rule = parse(">= 4", "measure")
    assert rule is not None and (rule.op, rule.number) == (">=", 4.0)
    rule = parse("none_of:a|b", "multi_choice", OPTS)
    assert rule is not None and rule.codes == {"a", "b"}
    assert parse(None, "choice", OPTS) is None
    with pytest.raises(ComplianceError):
        parse("yes", "essay")


@pytest.mark.parametrize(("question", "bad_fields"), [
    ({"answer_type": "choice", "options": None, "compliance": None}, {"options"}),
    ({"answer_type": "multi_choice", "options": ["a", "a"]}, {"options"}),
    ({"answer_type": "yes_no_partial", "options": ["a"]}, {"options"}),
    ({"answer_type": "yes_no_partial", "unit": "m2"}, {"unit"}),
    ({"answer_type": "text", "compliance": "yes"}, {"compliance"}),
    ({"answer_type": "choice", "options": ["a", "b"], "compliance": "one_of:x"}, {"compliance"}),
    ({"answer_type": "count", "unit": "persons", "compliance": "== 0"}, set()),
    ({"answer_type": "choice", "options": ["a", "b"], "compliance": "one_of:a"}, set()),
])
def test_question_errors(question: dict[str, Any], bad_fields: set[str]) -> None:
    assert set(question_errors(question)) == bad_fields
