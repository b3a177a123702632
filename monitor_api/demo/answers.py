"""SAMPLE checklist answers for one visit: most questions of the starter checklist, each from
one or two of its information sources. An issue found makes its question non-compliant
(usually by the source that saw for itself, while an official source may deny it); room
measurements and the sanctions register give the measured answers."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from monitor_api.checklists.compliance import Rule, parse

SKIP = {"PER-07"}  # asks for names: nothing of the kind in sample data
NOT_IN = {"REG-04": ("sizo", "ivs"), "REG-05": ("sizo", "ivs")}  # sentenced prisoners only
MEASURED = ("MAT-01", "MAT-02", "MAT-05", "MAT-10", "TRT-05")
INDEPENDENT = ("detainee", "observation", "document")  # sources that saw for themselves
FREE = {"HLT-09": (0, 3), "PER-02": (8, 30), "REG-04": (10, 45), "WOM-04": (0, 5)}
TEXTS = ("SAMPLE: Tense relations; detainees reluctant to speak in front of staff.",
         "SAMPLE: Calm atmosphere; informal hierarchy among detainees reported.",
         "SAMPLE: Staff polite to monitors; detainees reported shouting and threats.")


@dataclass
class Answer:
    code: str
    source: str
    value: str | None = None
    number: float | None = None
    comment: str | None = None


@dataclass
class Context:
    sections: set[str]  # the checklist's sections (and modules) that apply to the facility
    layout: str
    rooms: list[Any]  # plan.Room
    flagged: dict[str, str]  # question code -> "bad" | "partial" for the issues found
    watched: set[str]  # questions of the facility's issues: compliant when not found
    quality: float  # chance that any other question is answered compliantly
    population: int


def answer_visit(rng: random.Random, questions: list[dict[str, Any]],
                 ctx: Context) -> tuple[list[Answer], int]:
    """The visit's answers and the longest solitary confinement recorded (days)."""
    flag = ctx.flagged.get("TRT-05")
    solitary = rng.randint(18, 45) if flag == "bad" else rng.randint(16, 21) \
        if flag == "partial" else rng.randint(0, 14)
    out: list[Answer] = []
    for q in questions:
        code = q["code"]
        if q["section"] not in ctx.sections or code in SKIP \
                or ctx.layout in NOT_IN.get(code, ()):
            continue
        state = ctx.flagged.get(code)
        if state is None and code not in MEASURED and rng.random() < 0.12:
            continue  # not asked at this visit
        sources = _sources(rng, q["info_sources"], state is not None or code in MEASURED)
        if code in MEASURED:
            out += _measured(rng, code, sources, ctx, solitary)
            continue
        rule = parse(q.get("compliance"), q["answer_type"], q.get("options"))
        good = state is None and (code in ctx.watched or rng.random() < ctx.quality)
        # An issue found decides the verdict; otherwise a quarter of the failures are partial.
        failing = state or ("partial" if rng.random() < 0.25 else "bad")
        for i, source in enumerate(sources):
            verdict = "good" if good or (i > 0 and rng.random() < 0.5) else failing
            answer = _answer(rng, q, rule, source, verdict, ctx.population)
            if answer is not None:
                out.append(answer)
    return out, solitary


def _sources(rng: random.Random, sources: list[str], lead: bool) -> list[str]:
    """One or two sources; with `lead`, first one that saw for itself."""
    two = len(sources) > 1 and rng.random() < 0.45
    if not lead:
        return rng.sample(sources, 2 if two else 1)
    first = next((s for s in sources if s in INDEPENDENT), sources[0])
    rest = [s for s in sources if s != first]
    return [first, rng.choice(rest)] if two and rest else [first]


def _answer(rng: random.Random, q: dict[str, Any], rule: Rule | None, source: str,
            verdict: str, population: int) -> Answer | None:
    code, kind = q["code"], q["answer_type"]
    if rule is None:
        if kind == "text":
            return Answer(code, source, value=rng.choice(TEXTS))
        if kind not in ("count", "measure"):
            return None
        low, high = FREE.get(code, (max(2, population // 80), max(4, population // 50)))
        return Answer(code, source, number=float(rng.randint(low, high)))
    if rule.kind == "equals":
        if verdict == "good":
            value = rule.expected
        elif verdict == "partial":
            value = "partial"
        else:
            value = "no" if rule.expected == "yes" else "yes"
        return Answer(code, source, value=value)
    if rule.kind == "compare":
        return Answer(code, source, number=_number(rng, rule, verdict, kind == "count"))
    options = list(q.get("options") or [])
    if rule.kind == "one_of":
        others = [o for o in options if o not in rule.codes]
        pick = rng.choice(sorted(rule.codes)) if verdict == "good" else others[0] \
            if verdict == "partial" else rng.choice(others)
        return Answer(code, source, value=pick)
    allowed = [o for o in options if o not in rule.codes and not o.startswith("none")]
    nothing = [o for o in options if o.startswith("none")]
    if verdict == "good":
        chosen = nothing if nothing and rng.random() < 0.3 else \
            rng.sample(allowed, min(len(allowed), rng.randint(1, 2)))
    else:
        chosen = [*rng.sample(allowed, min(len(allowed), rng.randint(0, 1))),
                  rng.choice(sorted(rule.codes))]
    return Answer(code, source, value=json.dumps(chosen))


def _number(rng: random.Random, rule: Rule, verdict: str, integer: bool) -> float:
    limit = float(rule.number or 0)
    if rule.op == "==":
        value = limit if verdict == "good" else limit + rng.randint(1, 2 if verdict ==
                                                                    "partial" else 6)
    elif rule.op in ("<=", "<"):
        top = limit if rule.op == "<=" else limit - 1
        value = rng.uniform(0, top) if verdict == "good" else limit + rng.uniform(
            1, 3 if verdict == "partial" else max(5, limit))
    else:
        value = limit + rng.uniform(0, max(1, limit / 2)) if verdict == "good" else \
            limit * rng.uniform(0.75 if verdict == "partial" else 0.3, 0.95)
    return float(round(value)) if integer else round(value, 1)


def _measured(rng: random.Random, code: str, sources: list[str], ctx: Context,
              solitary: int) -> list[Answer]:
    """Answers computed from the rooms measured and the sanctions register."""
    living = [r for r in ctx.rooms if r.per_person is not None]
    crowded = sum(r.occupants for r in living if r.per_person < 4)
    no_bed = sum(max(0, r.occupants - r.beds) for r in living if (r.beds or 0) > 1)
    out = []
    for source in sources:
        official = source in ("document", "management", "staff")
        if code == "MAT-01":
            number = round(rng.uniform(4.0, 4.5), 1) if official else \
                round(min(r.per_person for r in living), 1)
        elif code == "MAT-02":
            number = no_bed + (rng.randint(0, 5) if no_bed and source == "detainee" else 0)
        elif code == "MAT-05":
            number = min(r.temperature for r in living)
        elif code == "MAT-10":
            number = 0 if official else crowded
        else:  # TRT-05: detainees tell of longer periods than the register shows
            number = solitary + (rng.randint(0, 5) if solitary and source == "detainee" else 0)
        comment = f"SAMPLE: measured in {len(living)} rooms" if code == "MAT-01" and \
            not official else None
        out.append(Answer(code, source, number=float(number), comment=comment))
    return out
