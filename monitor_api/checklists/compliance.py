"""The compliance grammar of checklist questions: parse once, evaluate answers against it.

    yes_no_partial   "yes" | "no"                  the compliant answer
    count, measure   "<op> <number>"               op in >=, <=, >, <, ==  (e.g. ">= 4")
    choice           "one_of:a|b"                  compliant when the answer is one of the codes
    multi_choice     "none_of:a|b"                 compliant when no selected code is listed
    any type         null                          not measurable: evaluates to None

Codes must be among the question's options. `evaluate` answers True (compliant), False (not
compliant) or None (no rule, or the answer does not say: unanswered, "not applicable", text).
Condition histories reuse it to compute compliance per section.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from monitor_api import jsonsafe
from monitor_api.checklists.models import ANSWER_TYPES

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq,
}
CHOICE_TYPES = ("choice", "multi_choice")
UNIT_TYPES = ("count", "measure")
OPTION_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")
_COMPARE = re.compile(r"^(>=|<=|==|>|<) (-?\d{1,9}(?:\.\d{1,6})?)$")
_SET = re.compile(r"^(one_of|none_of):(.+)$")
YES_NO_PARTIAL = ("yes", "no", "partial")


class ComplianceError(ValueError):
    """The expression does not follow the grammar for the question's answer type."""


@dataclass(frozen=True)
class Rule:
    """A parsed compliance expression."""

    answer_type: str
    kind: str  # "equals" | "compare" | "one_of" | "none_of"
    expected: str | None = None
    op: str | None = None
    number: float | None = None
    codes: frozenset[str] = frozenset()

    def evaluate(self, value: Any, number_value: float | None = None) -> bool | None:
        """Whether an answer complies: True, False, or None when it cannot say."""
        if self.kind == "equals":
            text = _text(value)
            return None if text not in YES_NO_PARTIAL else text == self.expected
        if self.kind == "compare":
            number = _number(value if number_value is None else number_value)
            if number is None:
                return None
            assert self.op is not None and self.number is not None
            return OPERATORS[self.op](number, self.number)
        if self.kind == "one_of":
            text = _text(value)
            return None if not text else text in self.codes
        selected = _codes(value)
        if not selected:
            return None
        return not (selected & self.codes)


def parse(expr: str | None, answer_type: str,
          options: Sequence[str] | None = None) -> Rule | None:
    """Parse `expr` for a question of `answer_type` (codes checked against `options`)."""
    if answer_type not in ANSWER_TYPES:
        raise ComplianceError(f"Unknown answer type {answer_type!r}.")
    if expr is None:
        return None
    if not isinstance(expr, str):
        raise ComplianceError("Must be a string or null.")
    if answer_type == "yes_no_partial":
        if expr not in ("yes", "no"):
            raise ComplianceError('For yes_no_partial write "yes" or "no".')
        return Rule(answer_type, "equals", expected=expr)
    if answer_type in UNIT_TYPES:
        match = _COMPARE.match(expr)
        if not match:
            raise ComplianceError(
                'For count and measure write "<op> <number>" with op one of '
                '>=, <=, >, <, == (e.g. ">= 4").')
        return Rule(answer_type, "compare", op=match[1], number=float(match[2]))
    if answer_type in CHOICE_TYPES:
        want = "one_of" if answer_type == "choice" else "none_of"
        match = _SET.match(expr)
        if not match or match[1] != want:
            raise ComplianceError(f'For {answer_type} write "{want}:code|code".')
        codes = match[2].split("|")
        if any(not OPTION_CODE.match(code) for code in codes) or len(set(codes)) != len(codes):
            raise ComplianceError("Codes must be distinct option codes separated by '|'.")
        unknown = sorted(set(codes) - set(options or ()))
        if unknown:
            raise ComplianceError(f"Codes not among the options: {', '.join(unknown)}.")
        return Rule(answer_type, want, codes=frozenset(codes))
    raise ComplianceError(f"A {answer_type} question has no compliance rule; use null.")


def evaluate(expr: str | None, answer_type: str, value: Any, number_value: float | None = None,
             options: Sequence[str] | None = None) -> bool | None:
    """Parse and evaluate in one call (None when there is no rule)."""
    rule = parse(expr, answer_type, options)
    return None if rule is None else rule.evaluate(value, number_value)


def question_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    """Cross-field checks of a whole question: options, unit and compliance by answer type."""
    errors: dict[str, list[str]] = {}
    answer_type = data.get("answer_type")
    if answer_type not in ANSWER_TYPES:
        return {"answer_type": [f"Must be one of: {', '.join(ANSWER_TYPES)}."]}
    options = data.get("options")
    if answer_type in CHOICE_TYPES:
        if not options:
            errors["options"] = [f"A {answer_type} question needs a list of option codes."]
        elif not _valid_options(options):
            errors["options"] = ["Options must be distinct codes (letters, digits, _ . -)."]
    elif options is not None:
        errors["options"] = [f"Only choice and multi_choice questions take options, "
                             f"not {answer_type}."]
    labels = data.get("option_labels")
    if labels is not None and "options" not in errors:
        unknown = sorted(set(labels) - set(options or ()))
        if unknown:
            errors["option_labels"] = [f"Labels for codes that are not options: "
                                       f"{', '.join(unknown)}."]
    if data.get("unit") is not None and answer_type not in UNIT_TYPES:
        errors["unit"] = ["Only count and measure questions take a unit."]
    if "options" not in errors:
        try:
            parse(data.get("compliance"), answer_type, options)
        except ComplianceError as exc:
            errors["compliance"] = [str(exc)]
    return errors


def _valid_options(options: Any) -> bool:
    return (isinstance(options, list) and all(isinstance(o, str) and OPTION_CODE.match(o)
                                              for o in options)
            and len(set(options)) == len(options))


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text.lower() if text.lower() in YES_NO_PARTIAL else text or None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _codes(value: Any) -> frozenset[str]:
    """Selected codes of a multi_choice answer: a list, a JSON array, or 'a|b' / 'a,b' text."""
    items: Iterable[Any]
    if value is None:
        return frozenset()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        text = str(value).strip()
        if text.startswith("["):
            try:
                loaded = jsonsafe.loads(text)  # phone text: never a RecursionError
            except ValueError:
                loaded = None
            items = loaded if isinstance(loaded, list) else []
        else:
            items = re.split(r"[|,]", text)
    return frozenset(str(item).strip() for item in items if str(item).strip())
