"""Pure indicator arithmetic (no database): living space, compliance, recommendation
follow-up, and the change of each indicator against the previous published visit."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from monitor_api.checklists.compliance import ComplianceError, Rule, parse

IMPLEMENTED, PARTIAL = "implemented", "partially_implemented"
CLOSED = ("implemented", "no_longer_relevant")  # a recommendation no longer open


@dataclass(frozen=True)
class Room:
    kind: str
    area: float | None
    occupants: int | None


def occupancy(population: int | None, declared: int | None,
              official: int | None) -> tuple[int | None, str | None, float | None]:
    """(capacity, its source, population / capacity): the visit's declared capacity wins."""
    capacity, source = ((declared, "declared") if declared is not None
                        else (official, "official") if official is not None else (None, None))
    rate = (round(population / capacity, 4) if population is not None and capacity
            else None)
    return capacity, source, rate


def living_space(rooms: Iterable[Room], living_kinds: tuple[str, ...],
                 thresholds: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """m² per person over occupied living rooms: count, minimum, median, and per threshold
    source the rooms below it (a room with one occupant is a single cell)."""
    measured = [(r.area / r.occupants, r.occupants) for r in rooms
                if r.kind in living_kinds and r.area and r.area > 0 and r.occupants]
    per_person = [round(m, 4) for m, _ in measured]
    below = {}
    for source, t in thresholds.items():
        below[source] = {**t, "rooms_below": sum(
            1 for m, n in measured if m < (t["single_m2"] if n == 1 else t["shared_m2"]))}
    return {"rooms_measured": len(measured),
            "space_min_m2": min(per_person) if per_person else None,
            "space_median_m2": round(statistics.median(per_person), 4) if per_person else None,
            "space_thresholds": below}


def _counts(asked: int, answered: int, compliant: int) -> dict[str, Any]:
    return {"asked": asked, "answered": answered, "compliant": compliant,
            "rate": round(compliant / answered, 4) if answered else None}


@lru_cache(maxsize=4096)
def _rule(expr: str | None, answer_type: str, options: tuple[str, ...] | None) -> Rule | None:
    try:
        return parse(expr, answer_type, options)
    except ComplianceError:  # a rule that no longer parses measures nothing
        return None


@dataclass(frozen=True)
class Question:
    """A question with a compliance rule, parsed once: its rule and the groups it counts in."""

    rule: Rule | None
    keys: tuple[tuple[str, str], ...]


# Checklist modules asked only where they apply: women's and children's questions where the
# facility holds them, police-custody questions at police custody (answered ones always count).
def applies(section: str, facility_type: str, holds: Mapping[str, Any] | None) -> bool:
    """Whether a question of `section` is asked at such a facility."""
    holds = holds or {}
    if section == "women":
        return bool(holds.get("women"))
    if section == "children":
        return bool(holds.get("minors")) or facility_type in ("juvenile_colony",
                                                              "children_institution")
    if section == "police_custody":
        return facility_type == "police_custody"
    return True


def prepare(q: Mapping[str, Any]) -> Question:
    """{section, standard_refs, compliance, answer_type, options} -> Question."""
    options = q.get("options")
    rule = _rule(q["compliance"], q["answer_type"],
                 tuple(options) if isinstance(options, list) else options)
    standards = [("standards", f"{r['instrument']}:{r['rule']}")
                 for r in q.get("standard_refs") or []
                 if isinstance(r, dict) and "instrument" in r and "rule" in r]
    keys = (("sections", q["section"]), *standards)
    return Question(rule, keys)


def compliance(questions: Mapping[Any, Mapping[str, Any] | Question],
               answers: Iterable[tuple[Any, Any, float | None]]) -> dict[str, Any]:
    """Share of answered questions meeting their rule, per section, per standard and overall.

    `questions`: id -> {section, standard_refs, compliance, answer_type} (or its `prepare`d
    Question) for every question asked (those with a rule). A question is answered when at
    least one source's answer says something; it complies only when every such answer
    complies: sources are cross-checked, and one detainee's "no" against the management's
    "yes" is what monitors look for."""
    prepared = {qid: q if isinstance(q, Question) else prepare(q)
                for qid, q in questions.items()}
    verdicts: dict[Any, bool] = {}  # question -> every verdict so far complies
    for qid, value, number in answers:
        q = prepared.get(qid)
        verdict = q.rule.evaluate(value, number) if q is not None and q.rule else None
        if verdict is not None:
            verdicts[qid] = verdicts.get(qid, True) and verdict
    groups: dict[str, dict[str, list[int]]] = {"sections": {}, "standards": {}}
    overall = [0, 0, 0]
    for qid, q in prepared.items():
        said = verdicts.get(qid)
        answered, compliant = said is not None, said is True
        overall[0] += 1
        overall[1] += answered
        overall[2] += compliant
        for group, key in q.keys:
            acc = groups[group].get(key)
            if acc is None:
                acc = groups[group][key] = [0, 0, 0]
            acc[0] += 1
            acc[1] += answered
            acc[2] += compliant
    return {"overall": _counts(*overall),
            **{g: {k: _counts(*v) for k, v in sorted(d.items())} for g, d in groups.items()}}


def implementation(reviews: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Implementation rate per addressee authority from (authority, latest status) of the
    recommendations reviewed: (implemented + ½ partially implemented) / reviewed."""
    by: dict[str, list[int]] = {}
    for authority, status in reviews:
        acc = by.setdefault(authority, [0, 0, 0])
        acc[0] += 1
        acc[1] += status == IMPLEMENTED
        acc[2] += status == PARTIAL
    return {a: {"reviewed": n, "implemented": i, "partially_implemented": p,
                "rate": round((i + p / 2) / n, 4)} for a, (n, i, p) in sorted(by.items())}


# Indicator values compared with the previous published visit ("what changed").
def scalars(ind: Mapping[str, Any]) -> dict[str, float | None]:
    """Every comparable value of a visit's indicators, by name (see INDICATORS)."""
    out: dict[str, float | None] = {
        "population_total": ind.get("population_total"),
        "occupancy_rate": ind.get("occupancy_rate"),
        "space_min_m2": ind.get("space_min_m2"),
        "space_median_m2": ind.get("space_median_m2"),
        "compliance_rate": (ind.get("compliance") or {}).get("overall", {}).get("rate"),
        "findings_total": (ind.get("findings") or {}).get("total"),
        "access_incidents_total": (ind.get("access_incidents") or {}).get("total"),
        "recommendations_open": (ind.get("recommendations") or {}).get("open"),
        "recommendations_repeated": (ind.get("recommendations") or {}).get("repeated"),
    }
    for source, t in (ind.get("space_thresholds") or {}).items():
        out[f"rooms_below_{source}"] = t.get("rooms_below")
    for section, c in ((ind.get("compliance") or {}).get("sections") or {}).items():
        out[f"compliance_rate.{section}"] = c.get("rate")
    for severity, n in ((ind.get("findings") or {}).get("by_severity") or {}).items():
        out[f"findings.{severity}"] = n
    for authority, r in ((ind.get("recommendations") or {}).get("by_authority") or {}).items():
        out[f"implementation_rate.{authority}"] = r.get("rate")
    return out


def changes(current: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """{indicator: {"from", "to", "change"}} for every indicator that differs from the
    previous published visit's (None when there is no previous visit)."""
    return {} if previous is None else diff(scalars(current), scalars(previous))


def diff(now: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    """The changes between two visits' `scalars`."""
    out = {}
    for key in sorted(set(now) | set(before)):
        a, b = before.get(key), now.get(key)
        if a == b:
            continue
        change = round(b - a, 4) if isinstance(a, int | float) and isinstance(b, int | float) \
            else None
        out[key] = {"from": a, "to": b, "change": change}
    return out


INDICATORS = ("population_total", "occupancy_rate", "space_min_m2", "space_median_m2",
              "rooms_below_tj_law", "rooms_below_cpt", "rooms_below_icrc", "compliance_rate",
              "findings_total", "access_incidents_total", "recommendations_open",
              "recommendations_repeated")


def scalar(ind: Mapping[str, Any], name: str) -> float | None:
    """One named indicator of a visit (see INDICATORS, or a dotted per-group name)."""
    return scalars(ind).get(name)
