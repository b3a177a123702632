"""Checklist template lifecycle: draft edits, publish (immutable), retire, new versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from monitor_api.audit.models import AuditEntry

BASE = "/api/v1/checklist-templates"
Q1 = {"section": "material_conditions", "code": "MAT-01", "text_en": "Living space per person",
      "answer_type": "measure", "unit": "m2", "info_sources": ["observation"],
      "standard_refs": [{"instrument": "cpt", "rule": "space"}], "compliance": ">= 4"}
Q2 = {"section": "women", "code": "WOM-01", "text_en": "Female staff supervise women?",
      "text_ru": "Женский персонал?", "answer_type": "yes_no_partial",
      "info_sources": ["detainee", "staff"], "compliance": "yes",
      "standard_refs": [{"instrument": "bangkok", "rule": "19"}]}
Q3 = {"section": "treatment", "code": "TRT-04", "text_en": "Restraints found",
      "answer_type": "multi_choice", "options": ["handcuffs", "chains", "none_found"],
      "info_sources": ["observation"], "compliance": "none_of:chains"}


def _create(api: Any, **kw: Any) -> dict[str, Any]:
    body = {"code": kw.pop("code", "core"), "title": "Core", "facility_types": ["prison"], **kw}
    resp = api.post(BASE, json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_lifecycle_and_immutability(make_user: Any, db: Any) -> None:
    _, coord = make_user("coordinator")
    tpl = _create(coord, questions=[Q1])
    assert (tpl["status"], tpl["version"], len(tpl["questions"])) == ("draft", 1, 1)
    tid = tpl["id"]
    resp = coord.post(f"{BASE}/{tid}/questions", json=Q2)
    assert resp.status_code == 201, resp.get_json()
    q2 = resp.get_json()
    assert q2["position"] == 2
    resp = coord.patch(f"{BASE}/{tid}/questions/{q2['id']}", json={"compliance": "no"})
    assert resp.status_code == 200 and resp.get_json()["compliance"] == "no"
    resp = coord.post(f"{BASE}/{tid}/questions", json=Q3)
    q3 = resp.get_json()
    assert coord.delete(f"{BASE}/{tid}/questions/{q3['id']}").status_code == 204
    assert coord.patch(f"{BASE}/{tid}", json={"title": "Core v1"}).get_json()["title"] == "Core v1"

    resp = coord.post(f"{BASE}/{tid}/publish")
    assert resp.status_code == 200 and resp.get_json()["status"] == "published"
    assert resp.get_json()["published_at"]
    # Every change attempt after publishing is a 409 problem.
    attempts = [
        coord.patch(f"{BASE}/{tid}", json={"title": "changed"}),
        coord.delete(f"{BASE}/{tid}"),
        coord.post(f"{BASE}/{tid}/questions", json=Q3),
        coord.patch(f"{BASE}/{tid}/questions/{q2['id']}", json={"text_en": "changed"}),
        coord.delete(f"{BASE}/{tid}/questions/{q2['id']}"),
        coord.post(f"{BASE}/{tid}/publish"),
    ]
    for resp in attempts:
        assert resp.status_code == 409, resp.get_json()
        assert resp.mimetype == "application/problem+json"
        assert resp.get_json()["type"] == "/problems/conflict"
    after = coord.get(f"{BASE}/{tid}").get_json()
    assert after["title"] == "Core v1" and len(after["questions"]) == 2
    assert {q["code"]: q["compliance"] for q in after["questions"]} == {"MAT-01": ">= 4",
                                                                       "WOM-01": "no"}

    # new-version copies into a draft v2 with the same code; the original is untouched.
    resp = coord.post(f"{BASE}/{tid}/new-version")
    assert resp.status_code == 201, resp.get_json()
    v2 = resp.get_json()
    assert (v2["code"], v2["version"], v2["status"]) == ("core", 2, "draft")
    assert [q["code"] for q in v2["questions"]] == ["MAT-01", "WOM-01"]
    assert {q["id"] for q in v2["questions"]}.isdisjoint({q["id"] for q in after["questions"]})
    assert coord.post(f"{BASE}/{tid}/new-version").status_code == 409  # one draft at a time
    resp = coord.patch(f"{BASE}/{v2['id']}/questions/{v2['questions'][0]['id']}",
                       json={"compliance": ">= 6"})
    assert resp.status_code == 200
    assert coord.get(f"{BASE}/{tid}").get_json()["questions"][0]["compliance"] == ">= 4"

    assert coord.post(f"{BASE}/{v2['id']}/retire").status_code == 409  # drafts are deleted
    resp = coord.post(f"{BASE}/{tid}/retire")
    assert resp.status_code == 200 and resp.get_json()["status"] == "retired"
    assert coord.post(f"{BASE}/{tid}/retire").status_code == 409
    assert coord.patch(f"{BASE}/{tid}", json={"title": "x"}).status_code == 409
    assert coord.delete(f"{BASE}/{v2['id']}").status_code == 204
    # From a retired one; the deleted draft's number is free again (no visit ever used it).
    resp = coord.post(f"{BASE}/{tid}/new-version")
    assert resp.status_code == 201 and resp.get_json()["version"] == 2

    actions = set(db.scalars(select(AuditEntry.action).where(
        AuditEntry.action.like("checklist_%"))))
    assert {"checklist_template.create", "checklist_question.create",
            "checklist_question.update", "checklist_question.delete",
            "checklist_template.update", "checklist_template.publish",
            "checklist_template.new_version", "checklist_template.retire",
            "checklist_template.delete"} <= actions


def test_publish_needs_questions_and_code_is_unique(make_user: Any) -> None:
    _, admin = make_user("admin")
    tpl = _create(admin, code="empty")
    assert admin.post(f"{BASE}/{tpl['id']}/publish").status_code == 409
    assert admin.post(BASE, json={"code": "empty", "title": "again"}).status_code == 409
    resp = admin.post(f"{BASE}/{tpl['id']}/questions", json=Q1)
    assert resp.status_code == 201
    assert admin.post(f"{BASE}/{tpl['id']}/questions", json=Q1).status_code == 409  # same code


def test_etag_if_match(make_user: Any) -> None:
    _, coord = make_user("coordinator")
    tpl = _create(coord, code="etag")
    resp = coord.get(f"{BASE}/{tpl['id']}")
    etag = resp.headers["ETag"]
    resp = coord.patch(f"{BASE}/{tpl['id']}", json={"title": "T2"}, headers={"If-Match": etag})
    assert resp.status_code == 200
    assert resp.headers["ETag"] != etag
    resp = coord.patch(f"{BASE}/{tpl['id']}", json={"title": "T3"}, headers={"If-Match": etag})
    assert resp.status_code == 412
    assert resp.get_json()["type"] == "/problems/precondition-failed"
    assert coord.get(f"{BASE}/{tpl['id']}").get_json()["title"] == "T2"


BAD_QUESTIONS = [
    ({**Q1, "section": "kitchen"}, "section"),
    ({**Q1, "answer_type": "essay"}, "answer_type"),
    ({**Q1, "info_sources": []}, "info_sources"),
    ({**Q1, "info_sources": ["rumour"]}, "info_sources"),
    ({**Q1, "standard_refs": [{"instrument": "magna_carta", "rule": "1"}]}, "standard_refs"),
    ({**Q1, "standard_refs": [{"instrument": "mandela"}]}, "standard_refs"),
    ({**Q1, "standard_refs": [{"instrument": "mandela", "rule": 44}]}, "standard_refs"),
    ({**Q1, "standard_refs": ["mandela 44"]}, "standard_refs"),
    ({**Q1, "compliance": ">=4"}, "compliance"),
    ({**Q2, "compliance": "partial"}, "compliance"),
    ({**Q2, "unit": "m2"}, "unit"),
    ({**Q3, "options": None}, "options"),
    ({**Q3, "compliance": "none_of:laser"}, "compliance"),
    ({**Q3, "compliance": "one_of:chains"}, "compliance"),
    ({**Q2, "options": ["a"]}, "options"),
    ({**Q1, "position": "1"}, "position"),
    ({**Q1, "surprise": True}, "surprise"),
    ({k: v for k, v in Q1.items() if k != "text_en"}, "text_en"),
]


def test_question_validation(make_user: Any) -> None:
    _, coord = make_user("coordinator")
    tpl = _create(coord, code="val")
    for body, bad in BAD_QUESTIONS:
        resp = coord.post(f"{BASE}/{tpl['id']}/questions", json=body)
        assert resp.status_code == 422, (body, resp.get_json())
        assert resp.mimetype == "application/problem+json"
        assert bad in resp.get_json()["errors"], (bad, resp.get_json())
    # PATCH is validated on the merged question: a measure cannot become a choice without options
    q = coord.post(f"{BASE}/{tpl['id']}/questions", json=Q1).get_json()
    resp = coord.patch(f"{BASE}/{tpl['id']}/questions/{q['id']}", json={"answer_type": "choice"})
    assert resp.status_code == 422 and "options" in resp.get_json()["errors"]
    resp = coord.patch(f"{BASE}/{tpl['id']}/questions/{q['id']}",
                       json={"answer_type": "count", "compliance": "== 0"})
    assert resp.status_code == 200
    resp = coord.post(BASE, json={"code": "dup", "title": "x", "questions": [Q1, Q1]})
    assert resp.status_code == 422 and "questions" in resp.get_json()["errors"]


def test_roles(make_user: Any, published_template: Any) -> None:
    _, admin = make_user("admin")
    draft = _create(admin, code="roles")
    pub = str(published_template.id)
    for role in ("monitor", "partner", "analyst", "legal_aid"):
        _, api = make_user(role)
        assert api.post(BASE, json={"code": f"x-{role}", "title": "x"}).status_code == 403
        assert api.post(f"{BASE}/{draft['id']}/publish").status_code == 403
        assert api.patch(f"{BASE}/{draft['id']}", json={"title": "x"}).status_code == 403
        assert api.get(f"{BASE}/{pub}").status_code == 200
        listed = {t["id"] for t in api.get(f"{BASE}?per_page=500").get_json()["items"]}
        assert pub in listed
        if role == "monitor":  # field roles read drafts too
            assert api.get(f"{BASE}/{draft['id']}").status_code == 200
            assert draft["id"] in listed
        else:  # reference data only: a draft is not there
            assert api.get(f"{BASE}/{draft['id']}").status_code == 404
            assert draft["id"] not in listed
    assert admin.get(f"{BASE}/00000000-0000-0000-0000-000000000000").status_code == 404
