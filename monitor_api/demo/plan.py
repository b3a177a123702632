"""The SAMPLE condition histories as a plan, without a database: the same on every machine
(one random.Random(seed) drawn in a fixed order over data/history_tj.json)."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from importlib import resources
from typing import Any

from monitor_api.demo.answers import Answer, Context, answer_visit

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://monitor-api.invalid/demo/sample")
TJ = timezone(timedelta(hours=5))  # Tajikistan time
LIVING = ("cell", "dormitory", "disciplinary_cell")  # as histories.models.LIVING_ROOMS


def uid(*parts: object) -> uuid.UUID:
    """A deterministic id for one sample record."""
    return uuid.uuid5(NAMESPACE, "|".join(str(p) for p in parts))


@dataclass
class Room:
    key: str
    label: str
    kind: str
    area: float
    beds: int | None
    occupants: int | None
    ceiling: float
    toilet: bool | None
    light: str
    ventilation: str
    temperature: float

    @property
    def per_person(self) -> float | None:
        """m² per person in a room people live in (None when empty or not living space)."""
        if self.kind not in LIVING or not self.occupants:
            return None
        return round(self.area / self.occupants, 2)


@dataclass
class Incident:
    kind: str
    target: str
    description: str
    minutes: int | None


@dataclass
class Photo:
    key: str
    caption: str
    consent: str | None
    room: str | None = None
    issue: str | None = None


@dataclass
class VisitPlan:
    n: int
    started: datetime
    ended: datetime
    published: datetime
    visit_type: str
    announced: bool
    joint: bool
    population: dict[str, int]
    population_source: str
    declared_capacity: int | None
    rooms: list[Room]
    issues: dict[str, str]  # issue key -> "bad" | "partial" (found at this visit)
    reviews: dict[str, str]  # issue key -> status of the previous visit's recommendation
    figures: dict[str, Any]
    answers: list[Answer] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    photos: list[Photo] = field(default_factory=list)
    summary: str = ""


@dataclass
class FacilityPlan:
    code: str
    name: str
    authority: str
    lat: float
    lng: float
    visits: list[VisitPlan]


def _json(name: str) -> Any:
    return json.loads(resources.files("monitor_api.demo").joinpath(f"data/{name}").read_text())


def build() -> tuple[list[FacilityPlan], dict[str, Any]]:
    """The whole sample history (every facility of the data file) and the issue catalogue."""
    from monitor_api.checklists.loader import starter_text

    data, registry = _json("history_tj.json"), {f["code"]: f for f in _json("facilities_tj.json")}
    questions = json.loads(starter_text())["questions"]
    rng = random.Random(data["seed"])
    start, end = (date.fromisoformat(d) for d in data["period"])
    plans = [_facility(rng, profile, registry[profile["code"]], questions, (start, end),
                       data["issues"], data["layouts"][profile["layout"]])
             for profile in data["facilities"]]
    return plans, data["issues"]


def _days(rng: random.Random, count: int, start: date, end: date) -> list[date]:
    step = (end - start).days / (count - 1)
    out = []
    for n in range(count):
        jitter = rng.randint(0 if n == 0 else -30, 0 if n == count - 1 else 30)
        day = start + timedelta(days=round(n * step) + jitter)
        while day.weekday() >= 5:  # visits on working days
            day -= timedelta(days=1)
        out.append(day)
    return out


def _issue_states(rng: random.Random, profile: dict[str, Any], n: int) -> dict[str, str]:
    states = {}
    for key, (first, resolved) in profile["issues"].items():
        if first <= n and (resolved is None or n < resolved):
            states[key] = "bad" if n == first or rng.random() >= 0.35 else "partial"
    return states


def _facility(rng: random.Random, profile: dict[str, Any], fac: dict[str, Any],
              questions: list[dict[str, Any]], period: tuple[date, date],
              catalogue: dict[str, Any], layout: list[list[Any]]) -> FacilityPlan:
    visits: list[VisitPlan] = []
    for n, day in enumerate(_days(rng, len(profile["over"]), *period)):
        issues = _issue_states(rng, profile, n)
        total = fac["official_capacity"] + profile["over"][n]
        rooms = _rooms(rng, profile, fac, total, day, issues, layout)
        below = [r for r in rooms if r.per_person is not None and r.per_person < 4]
        if total > fac["official_capacity"] or below:
            shrinking = visits and "overcrowding" in visits[-1].issues and \
                total < visits[-1].population["total"]
            issues = {"overcrowding": "partial" if shrinking else "bad", **issues}
        previous = visits[-1].issues if visits else {}
        reviews = {key: ("implemented" if key not in issues else "partially_implemented"
                         if issues[key] == "partial" else "not_implemented")
                   for key in previous}
        visit = _visit(rng, n, day, profile, fac, total, rooms, issues, reviews)
        visit.figures = {
            "population": total, "capacity": fac["official_capacity"],
            "min_space": min((r.per_person for r in rooms if r.per_person), default=None),
            "rooms_below": len(below),
            "temperature": min(r.temperature for r in rooms if r.per_person is not None)}
        ctx = Context(sections=_modules(fac), layout=profile["layout"], rooms=rooms,
                      flagged={catalogue[k]["question"]: s for k, s in issues.items()},
                      watched={catalogue[k]["question"] for k in profile["issues"]},
                      quality=min(0.9, profile["quality"] + 0.04 * n), population=total)
        visit.answers, visit.figures["solitary_days"] = answer_visit(rng, questions, ctx)
        visit.incidents = _incidents(rng, profile, n)
        visit.photos = _photos(rooms, issues, n, catalogue)
        visits.append(visit)
    return FacilityPlan(fac["code"], fac["name"], fac["authority"], fac["lat"], fac["lng"],
                        visits)


def _modules(fac: dict[str, Any]) -> set[str]:
    out = {"treatment", "safeguards", "material_conditions", "regime_activities",
           "health_care", "personnel"}
    if fac["holds"].get("women"):
        out.add("women")
    if fac["holds"].get("minors"):
        out.add("children")
    if fac["facility_type"] == "police_custody":
        out.add("police_custody")
    return out


def _visit(rng: random.Random, n: int, day: date, profile: dict[str, Any], fac: dict[str, Any],
           total: int, rooms: list[Room], issues: dict[str, str],
           reviews: dict[str, str]) -> VisitPlan:
    layout = profile["layout"]
    visit_type = "in_depth" if n == 0 else rng.choices(
        ("follow_up", "thematic", "reactive", "in_depth"), (5, 2, 1, 2))[0]
    length = 2 if visit_type == "in_depth" and layout in ("colony", "sizo") else 1
    started = datetime.combine(day, time(9, 30), TJ)
    ended = datetime.combine(day + timedelta(days=length - 1), time(17, 30), TJ)
    share = {"colony": 0.0, "juvenile": 0.0, "sizo": rng.uniform(0.78, 0.9), "ivs": 1.0}
    holds = fac["holds"]
    women = total if not holds.get("men") else (
        round(total * rng.uniform(0.04, 0.07)) if holds.get("women") else 0)
    minors = total if layout == "juvenile" else (
        round(total * rng.uniform(0.01, 0.03)) if holds.get("minors") else 0)
    population = {"total": total, "remand": round(total * share[layout]), "women": women,
                  "minors": minors,
                  "foreigners": round(total * rng.uniform(0.01, 0.04))
                  if holds.get("foreigners") else 0}
    declared = profile.get("declared_capacity", {}).get(str(n))
    announced, joint = rng.random() < 0.25, rng.random() < 0.7
    visit = VisitPlan(
        n=n, started=started, ended=ended,
        published=datetime.combine(ended.date() + timedelta(days=rng.randint(21, 45)),
                                   time(10, 0), TJ),
        visit_type=visit_type, announced=announced, joint=joint, population=population,
        population_source="monitor_count" if layout == "ivs" else rng.choice(
            ("register", "register", "admin_declared")),
        declared_capacity=declared, rooms=rooms, issues=issues, reviews=reviews, figures={})
    implemented = sum(status == "implemented" for status in reviews.values())
    visit.summary = (
        f"SAMPLE — {visit_type.replace('_', ' ')} visit "
        f"({'announced' if announced else 'unannounced'}"
        f"{', joint with the Ombudsman' if joint else ''}): {total} people held for "
        f"{declared or fac['official_capacity']} places; {len(issues)} issue(s) found, "
        f"{implemented} of {len(reviews)} earlier recommendation(s) found implemented.")
    return visit


def _temperature(rng: random.Random, month: int, cold: bool) -> float:
    if cold:
        low, high = 10.5, 16.5
    elif month in (12, 1, 2):
        low, high = 18.0, 20.5
    elif month in (6, 7, 8):
        low, high = 27.0, 34.0
    else:
        low, high = 19.0, 25.0
    return round(rng.uniform(low, high), 1)


def _rooms(rng: random.Random, profile: dict[str, Any], fac: dict[str, Any], total: int,
           day: date, issues: dict[str, str], layout: list[list[Any]]) -> list[Room]:
    space = profile["space"] * fac["official_capacity"] / total
    crowded = total > fac["official_capacity"]
    rooms = []
    for key, label, kind, area, beds in layout:
        if kind == "disciplinary_cell":
            held = "solitary" in issues or "child_isolation" in issues or rng.random() < 0.5
            occupants: int | None = 1 if held else 0
        elif kind == "cell" and beds == 1:
            occupants = 2 if crowded and rng.random() < 0.4 else 1
        elif kind in LIVING:
            occupants = max(1, round(area / (space * rng.uniform(0.85, 1.15))))
        else:
            occupants = rng.randint(1, beds) if beds else None
        bad_cell = kind == "disciplinary_cell" and "disciplinary_cells" in issues
        rooms.append(Room(
            key=key, label=label, kind=kind, area=area, beds=beds, occupants=occupants,
            ceiling=round(rng.uniform(2.6, 3.2), 2),
            toilet=None if kind in ("other", "medical") else
            not ("sanitation" in issues and kind == "dormitory") and rng.random() < 0.85,
            light="none" if bad_cell else rng.choice(("adequate", "adequate", "insufficient")),
            ventilation="none" if bad_cell else rng.choice(("adequate", "insufficient")),
            temperature=_temperature(rng, day.month, "cold" in issues)))
    return rooms


def _incidents(rng: random.Random, profile: dict[str, Any], n: int) -> list[Incident]:
    risk, out = profile["access"], []
    if rng.random() < risk:
        out.append(Incident("delayed", "place", "SAMPLE: Entry held at the checkpoint until "
                            "the head of the facility authorised the visit.",
                            rng.choice((20, 30, 45, 60, 90, 120))))
    if rng.random() < risk * 0.5:
        out.append(Incident("restricted", "document", "SAMPLE: The register of disciplinary "
                            "sanctions was not shown to the monitors.", None))
    if rng.random() < risk * 0.3:
        out.append(Incident("restricted", "person", "SAMPLE: A private interview was allowed "
                            "only with an officer present.", 15))
    if profile.get("refused_at") == n:
        out.append(Incident("refused", "place", "SAMPLE: Access to the punishment block was "
                            "refused, citing repairs.", 240))
    return out


def most_crowded(rooms: list[Room]) -> Room:
    """The shared living room with the least space per person."""
    shared = [r for r in rooms if r.per_person is not None and r.kind != "disciplinary_cell"]
    return min(shared, key=lambda r: r.per_person or 0.0)


def _photos(rooms: list[Room], issues: dict[str, str], n: int,
            catalogue: dict[str, Any]) -> list[Photo]:
    room = most_crowded(rooms)
    out = [Photo("room", f"SAMPLE: {room.label}, {room.area:g} m² for {room.occupants} "
                 f"people", "not_needed", room=room.key,
                 issue="overcrowding" if "overcrowding" in issues else None)]
    other = [key for key in issues if key != "overcrowding"]
    if other:  # people in the picture: consent obtained (not yet recorded at second visits)
        out.append(Photo("finding", f"SAMPLE: {catalogue[other[0]]['photo']}",
                         None if n == 1 else "obtained", issue=other[0]))
    return out
