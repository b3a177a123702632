"""Sync review (quarantine) across teams: who sees a rejected record, who may apply it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from monitor_api.accounts.models import TeamMember
from monitor_api.findings.models import Finding

Q = "/api/v1/sync/quarantine"


def _push(phone: Any, changes: dict[str, Any]) -> Any:
    resp = phone.post("/api/v1/sync?last_pulled_at=null", json=changes)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _qid(db: Session, record_id: str) -> uuid.UUID:
    qid = db.scalar(sa.text("select id from sync_quarantine where record_id = :r"),
                    {"r": record_id})
    assert qid is not None
    return qid


@pytest.fixture
def both_teams_phone(world: Any, db: Session, quick_user: Any, make_device: Any,
                     client: FlaskClient) -> Any:
    """A monitor who works in team A and team B."""
    user, _ = quick_user("monitor")
    db.add_all([TeamMember(team_id=world.team_a.id, user_id=user.id),
                TeamMember(team_id=world.team_b.id, user_id=user.id)])
    db.flush()
    return make_device(user, client)[1]


def test_other_teams_quarantined_interview_is_hidden(world: Any, db: Session,
                                                     both_teams_phone: Any) -> None:
    rid = str(uuid.uuid4())
    body = _push(both_teams_phone, {"interviews": {"created": [{
        "id": rid, "visit_id": str(world.visit_b.id), "interviewee_code": "D-secret-b",
        "category": "not-a-category", "notes": "what he told us"}]}})
    assert body["rejected"] and body["rejected"][0]["id"] == rid
    qid = _qid(db, rid)
    assert world.api["coord_b"].get(f"{Q}/{qid}").status_code == 200  # B's coordinator: yes
    listing = world.api["coord_a"].get(f"{Q}?per_page=100")
    assert b"D-secret-b" not in listing.data
    one = world.api["coord_a"].get(f"{Q}/{qid}")
    missing = world.api["coord_a"].get(f"{Q}/{uuid.uuid4()}")
    assert one.status_code == missing.status_code == 404


def test_quarantine_of_other_team_answers_like_missing(world: Any, db: Session,
                                                       make_device: Any,
                                                       client: FlaskClient) -> None:
    phone_b = make_device(world.users["mon_b"], client)[1]
    rid = str(uuid.uuid4())
    _push(phone_b, {"findings": {"created": [{"id": rid, "visit_id": str(world.visit_b.id),
                                              "theme": "nonsense", "severity": "serious",
                                              "title": "Beaten in cell 4"}]}})
    qid = _qid(db, rid)
    before = db.scalar(sa.text("select count(*) from audit_log"))
    for role in ("coord_a", "coord_none"):
        api = world.api[role]
        assert b"Beaten in cell 4" not in api.get(f"{Q}?per_page=100").data
        for path, body in (("", None), ("/accept", {}), ("/discard", {"reason": "x"}),
                           ("/fix", {"raw": {"id": rid}})):
            fn = api.get if body is None else api.post
            a = fn(f"{Q}/{qid}{path}", **({} if body is None else {"json": body}))
            b = fn(f"{Q}/{uuid.uuid4()}{path}", **({} if body is None else {"json": body}))
            assert a.status_code == b.status_code == 404, (role, path, a.status_code)
            assert a.get_json()["detail"] == b.get_json()["detail"]
    for role in ("mon_a", "mon_b", "partner", "analyst", "legal_aid"):
        assert world.api[role].get(f"{Q}/{qid}").status_code == 403, role
        assert world.api[role].post(f"{Q}/{qid}/discard",
                                    json={"reason": "x"}).status_code == 403, role
    assert db.scalar(sa.text("select count(*) from audit_log")) == before
    assert db.scalar(sa.text("select status from sync_quarantine where id = :q"),
                     {"q": qid}) == "pending"


def test_fix_cannot_move_a_record_into_another_teams_visit(world: Any, db: Session,
                                                           make_device: Any,
                                                           client: FlaskClient) -> None:
    phone_a = make_device(world.users["mon_a"], client)[1]
    rid = str(uuid.uuid4())
    raw = {"id": rid, "visit_id": str(world.visit_a.id), "theme": "nonsense",
           "severity": "serious", "title": "Planted"}
    _push(phone_a, {"findings": {"created": [raw]}})
    qid = _qid(db, rid)
    fixed = {**raw, "theme": "material_conditions", "visit_id": str(world.visit_b.id)}
    resp = world.api["coord_a"].post(f"{Q}/{qid}/fix", json={"raw": fixed})
    assert resp.status_code == 422, resp.get_json()
    assert db.get(Finding, uuid.UUID(rid)) is None
