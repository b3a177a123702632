"""A year of monitoring for the exports: police custody in Sughd (2023, 2024), a SIZO in
Dushanbe, an IVS in Khatlon; hostile finding titles; names hidden in every free-text field
that must never leave (comments, notes, descriptions, evidence, interview text, narratives);
allegations with and without consent to publication; team A's and team B's unpublished
visits. Built with the ORM like tests/histories, published over HTTP."""

from __future__ import annotations

import csv
import io
import json
import secrets
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session

from monitor_api.checklists.service import build_template
from monitor_api.findings.models import Finding, Recommendation, RecommendationReview
from monitor_api.restricted.models import Allegation, Interview
from monitor_api.visits.models import AccessIncident, Answer, RoomInspection, Visit
from tests.coordinator.conftest import make_facility, quick_user  # noqa: F401

LABELS = {"adequate": {"en": "Adequate", "ru": "Удовлетворительное", "tg": "Қаноатбахш"},
          "insufficient": {"en": "Insufficient", "ru": "Недостаточное", "tg": "Нокифоя"},
          "handcuffs": {"en": "Handcuffs", "ru": "Наручники", "tg": "Дастбандҳо"},
          "chains": {"en": "Chains", "ru": "Цепи", "tg": "Занҷирҳо"},
          "none_found": {"en": "None found", "ru": "Ничего", "tg": "Ёфт нашуд"}}
QUESTIONS = [
    {"section": "regime_activities", "code": "SOL-01", "answer_type": "count", "unit": "days",
     "text_en": "Longest solitary confinement (days)", "text_ru": "Самое долгое одиночное "
     "содержание (дней)", "info_sources": ["document"],
     "standard_refs": [{"instrument": "mandela", "rule": "44"}], "compliance": "<= 15"},
    {"section": "treatment", "code": "TRT-02", "answer_type": "count", "unit": "persons",
     "text_en": "Detainees alleging ill-treatment", "info_sources": ["detainee"],
     "standard_refs": [{"instrument": "mandela", "rule": "1"}], "compliance": "== 0"},
    {"section": "material_conditions", "code": "MAT-09", "answer_type": "choice",
     "text_en": "Food", "options": ["adequate", "insufficient"],
     "option_labels": {k: LABELS[k] for k in ("adequate", "insufficient")},
     "info_sources": ["observation"], "standard_refs": [{"instrument": "mandela",
                                                         "rule": "22"}],
     "compliance": "one_of:adequate"},
    {"section": "treatment", "code": "TRT-04", "answer_type": "multi_choice",
     "text_en": "Restraints found", "options": ["handcuffs", "chains", "none_found"],
     "option_labels": {k: LABELS[k] for k in ("handcuffs", "chains", "none_found")},
     "info_sources": ["observation"], "compliance": "none_of:chains"},
    {"section": "health_care", "code": "HLT-06", "answer_type": "yes_no_partial",
     "text_en": "Health screening on admission?", "text_ru": "Медосмотр при поступлении?",
     "text_tg": "Муоинаи тиббӣ ҳангоми қабул?", "info_sources": ["detainee", "management"],
     "standard_refs": [{"instrument": "bangkok", "rule": "6"}], "compliance": "yes"},
    {"section": "personnel", "code": "PER-07", "answer_type": "text",
     "text_en": "Name and position of the head", "info_sources": ["management"]},
]
# Never in any export, whoever asks: names in free text, interview and allegation text.
SECRETS = ["Rustamov", "Karimov", "Saidov", "D-SECRET-77", "PUB-NARRATIVE",
           "LEGAL-AID-ONLY-NARRATIVE", "Interview notes", "draft description"]
HOSTILE = '=HYPERLINK("http://evil.example","click")'


@dataclass
class World:
    api: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    teams: dict[str, Any] = field(default_factory=dict)
    facilities: dict[str, Any] = field(default_factory=dict)
    visits: dict[str, Any] = field(default_factory=dict)
    findings: dict[str, Any] = field(default_factory=dict)
    recs: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)

    def forbidden(self) -> list[str]:
        """Strings no export may contain: names and ids of people, raw record ids, text."""
        out = list(SECRETS)
        for user in self.users.values():
            out += [str(user.id), user.username]
        out += [str(t.id) for t in self.teams.values()]
        out += [str(v.id) for v in self.visits.values()]
        out += [str(f.id) for f in self.findings.values()]
        out += [str(r.id) for r in self.recs.values()]
        return out + [str(v) for v in self.ids.values()]


def _visit(db: Session, w: World, name: str, team: str, facility: str, when: datetime,
           template: Any, **kw: Any) -> Visit:
    visit = Visit(facility_id=w.facilities[facility].id, team_id=w.teams[team].id,
                  template_id=template.id, status="reviewed", started_at=when,
                  ended_at=when.replace(hour=17), announced=False, **kw)
    db.add(visit)
    db.flush()
    w.visits[name] = visit
    return visit


def _finding(db: Session, w: World, name: str, visit: str, title: str, **kw: Any) -> Finding:
    kw.setdefault("status", "confirmed")
    kw.setdefault("theme", "treatment")
    kw.setdefault("severity", "serious")
    finding = Finding(visit_id=w.visits[visit].id, title=title, **kw)
    db.add(finding)
    db.flush()
    w.findings[name] = finding
    return finding


@pytest.fixture
def world(db: Session, quick_user: Any, make_team: Any, make_facility: Any,  # noqa: F811
          make_device: Any, client: Any) -> World:
    w = World()
    for name, role in [("admin", "admin"), ("coord_a", "coordinator"), ("mon_a", "monitor"),
                       ("coord_b", "coordinator"), ("mon_b", "monitor"), ("partner", "partner"),
                       ("analyst", "analyst"), ("legal_aid", "legal_aid")]:
        w.users[name], w.api[name] = quick_user(role)
    w.ids["device"] = make_device(w.users["mon_a"], client)[0].id
    w.teams["a"] = make_team(w.users["coord_a"], w.users["mon_a"])
    w.teams["b"] = make_team(w.users["coord_b"], w.users["mon_b"])
    w.facilities["ivs_sughd"] = make_facility(
        "police_custody", region="TJ-SU", authority="ministry_of_interior",
        name="IVS Khujand", name_ru="ИВС Худжанд", name_tg="ИВС Хуҷанд", official_capacity=20)
    w.facilities["sizo_du"] = make_facility("pretrial_detention", region="TJ-DU",
                                            name="SIZO 1 Dushanbe", official_capacity=400)
    w.facilities["ivs_kt"] = make_facility("police_custody", region="TJ-KT",
                                           authority="ministry_of_interior", name="IVS Bokhtar")
    template = build_template(db, code=f"x-{secrets.token_hex(4)}", version=1, title="Export",
                              facility_types=[], questions=[dict(q) for q in QUESTIONS],
                              created_by_id=None, status="published")
    q = {question.code: question.id for question in template.questions}
    d = datetime
    _visit(db, w, "a24", "a", "ivs_sughd", d(2024, 3, 10, 9, tzinfo=UTC), template,
           population_total=12, population_women=2, population_minors=0,
           population_foreigners=7, summary="Summary naming Rustamov")
    _visit(db, w, "a23", "a", "ivs_sughd", d(2023, 5, 1, 9, tzinfo=UTC), template,
           population_total=9)
    _visit(db, w, "a24du", "a", "sizo_du", d(2024, 4, 2, 9, tzinfo=UTC), template,
           population_total=380)
    _visit(db, w, "a24kt", "a", "ivs_kt", d(2024, 7, 7, 9, tzinfo=UTC), template)
    _visit(db, w, "a_draft", "a", "ivs_sughd", d(2024, 11, 5, 9, tzinfo=UTC), template)
    _visit(db, w, "b_draft", "b", "ivs_sughd", d(2024, 6, 1, 9, tzinfo=UTC), template)
    mandela = [{"instrument": "mandela", "rule": "44"}]
    _finding(db, w, "hostile", "a24", HOSTILE, standard_refs=mandela, sources_count=2)
    _finding(db, w, "minus", "a24", "-2+3", theme="material_conditions", severity="moderate",
             standard_refs=[{"instrument": "mandela", "rule": "13"},
                            {"instrument": "cpt", "rule": "space"}],
             description="Officer Rustamov beat a detainee")
    _finding(db, w, "at", "a24", "@SUM(A1)", theme="health_care", severity="minor",
             standard_refs=[{"instrument": "bangkok", "rule": "6"}])
    _finding(db, w, "draft", "a24", "Draft finding of team A", status="draft",
             description="draft description")
    _finding(db, w, "withdrawn", "a24", "Withdrawn finding", status="withdrawn")
    _finding(db, w, "f2023", "a23", "Solitary in 2023", standard_refs=mandela)
    _finding(db, w, "dushanbe", "a24du", "Dushanbe finding", standard_refs=mandela)
    _finding(db, w, "khatlon", "a24kt", "Khatlon finding", standard_refs=mandela)
    _finding(db, w, "unpub_a", "a_draft", "Unpublished finding of team A")
    _finding(db, w, "unpub_b", "b_draft", "Team B secret finding")
    a24 = w.visits["a24"].id
    db.add_all([
        Answer(visit_id=a24, question_id=q["SOL-01"], info_source="document",
               number_value=21, comment="Named the officer Rustamov"),
        Answer(visit_id=a24, question_id=q["TRT-02"], info_source="detainee", number_value=3),
        Answer(visit_id=w.visits["a24du"].id, question_id=q["TRT-02"],
               info_source="detainee", number_value=12),
        Answer(visit_id=a24, question_id=q["MAT-09"], info_source="observation",
               value="insufficient"),
        Answer(visit_id=a24, question_id=q["TRT-04"], info_source="observation",
               value="handcuffs|chains"),
        Answer(visit_id=a24, question_id=q["HLT-06"], info_source="detainee", value="no"),
        Answer(visit_id=a24, question_id=q["HLT-06"], info_source="management", value="yes"),
        Answer(visit_id=a24, question_id=q["PER-07"], info_source="management",
               value="Colonel Saidov, head since 2019"),
        RoomInspection(visit_id=a24, label="Cell 1", room_kind="cell", floor_area_m2=12.0,
                       occupants=4, temperature_c=-3.5, notes="Detainee Karimov sleeps here"),
        RoomInspection(visit_id=a24, label="Cell 2", room_kind="cell", floor_area_m2=5.0,
                       occupants=1),
        RoomInspection(visit_id=a24, label="=cmd|' /C calc'!A0", room_kind="visiting",
                       floor_area_m2=10.0, occupants=8),
        AccessIncident(visit_id=a24, kind="delayed", target="place", minutes_lost=40,
                       description="Colonel Saidov refused"),
    ])
    interview = Interview(visit_id=a24, interviewee_code="D-SECRET-77", category="detainee",
                          consent_to_refer=True, notes="Interview notes: Rustamov")
    db.add(interview)
    db.flush()
    w.ids["interview"] = interview.id
    for n in range(5):
        db.add(Allegation(visit_id=a24, methods=["beating"], consent_publication=True,
                          narrative=f"PUB-NARRATIVE-{n}"))
    for n in range(2):
        db.add(Allegation(visit_id=w.visits["a24du"].id, consent_publication=True,
                          narrative=f"PUB-NARRATIVE-du{n}"))
    # Scenario 5: consent to a lawyer, not to publication.
    legal = Allegation(visit_id=a24, interview_id=interview.id, methods=["threats"],
                       consent_legal_aid=True, consent_publication=False,
                       narrative="LEGAL-AID-ONLY-NARRATIVE")
    db.add(legal)
    db.flush()
    w.ids["legal_allegation"] = legal.id
    r1 = Recommendation(facility_id=w.facilities["ivs_sughd"].id, visit_id=w.visits["a23"].id,
                        theme="treatment", text="Record every detention",
                        addressed_to="ministry_of_interior")
    db.add(r1)
    db.flush()
    r2 = Recommendation(facility_id=r1.facility_id, visit_id=a24, theme="treatment",
                        text="Record every detention (again)", repeats_id=r1.id,
                        finding_id=w.findings["hostile"].id,
                        addressed_to="ministry_of_interior")
    r3 = Recommendation(facility_id=r1.facility_id, visit_id=a24, theme="health_care",
                        text="Screen every admission", addressed_to="ministry_of_justice",
                        finding_id=w.findings["draft"].id)
    r4 = Recommendation(facility_id=r1.facility_id, visit_id=w.visits["b_draft"].id,
                        theme="treatment", text="Team B recommendation",
                        addressed_to="ministry_of_interior")
    db.add_all([r2, r3, r4])
    db.flush()
    db.add(RecommendationReview(recommendation_id=r1.id, visit_id=a24,
                                status="not_implemented", reviewed_at=w.visits["a24"].started_at,
                                evidence="Officer Karimov said so"))
    w.recs.update(r1=r1, r2=r2, r3=r3, r4=r4)
    db.commit()  # indicators are refreshed as the (savepoint) transaction commits
    for name in ("a24", "a23", "a24du", "a24kt"):
        resp = w.api["coord_a"].post(f"/api/v1/visits/{w.visits[name].id}/publish")
        assert resp.status_code == 200, resp.get_json()
    return w


# Readers: every file is opened by a real reader.
def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def read_xlsx(data: bytes, sheet: str | None = None) -> list[dict[str, Any]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    ws = book[sheet] if sheet else book.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    width = len(rows[0])  # a row ends at its last value (no dimension is written)
    return [dict(zip(rows[0], row + (None,) * (width - len(row)), strict=True))
            for row in rows[1:]]


def read_parquet(data: bytes) -> list[dict[str, Any]]:
    return pq.read_table(io.BytesIO(data)).to_pylist()


def read_geojson(data: bytes) -> dict[str, Any]:
    return json.loads(data)


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        assert bundle.testzip() is None
        return {name: bundle.read(name) for name in bundle.namelist()}


def all_text(fmt: str, data: bytes) -> str:
    """Everything a real reader finds in the file, as one string (for forbidden strings)."""
    if fmt == "xlsx":
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(repr(row) for ws in book.worksheets
                         for row in ws.iter_rows(values_only=True))
    if fmt == "parquet":
        table = pq.read_table(io.BytesIO(data))
        return repr(table.to_pylist()) + repr(table.schema.metadata)
    if fmt == "zip":
        return "\n".join(all_text("geojson" if name.endswith(".json") else "csv", member)
                         for name, member in read_zip(data).items())
    if fmt == "geojson":
        return json.dumps(read_geojson(data), ensure_ascii=False)
    return repr(list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""))))


def export(api: Any, dataset: str, **params: Any) -> Any:
    """GET an export; returns the response (its body read)."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    resp = api.get(f"/api/v1/exports/{dataset}" + (f"?{query}" if query else ""))
    resp.get_data()
    return resp


def new_id() -> str:
    return str(uuid.uuid4())
