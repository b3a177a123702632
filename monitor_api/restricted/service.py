"""Reading interviews and allegations: the visit's team and admins; legal aid by consent.

Every read is audited (interview.view / allegation.view) with the ids that were shown.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor_api.audit.service import record
from monitor_api.auth import Principal
from monitor_api.errors import Forbidden, NotFound
from monitor_api.facilities.models import Facility
from monitor_api.pagination import paginate, paginate_rows
from monitor_api.restricted.models import Allegation, Interview
from monitor_api.scope import get_visit, visible_visits
from monitor_api.visits.models import Visit

LEGAL_AID_FIELDS = ("id", "alleged_when", "place_description", "alleged_unit", "methods",
                    "injuries_observed", "medical_exam_requested", "istanbul_consistency",
                    "reprisal_risk")


def _audit(session: Session, action: str, ids: list[uuid.UUID], **details: Any) -> None:
    record(session, action, target_type=action.split(".")[0],
           target_id=ids[0] if len(ids) == 1 else None,
           details={"ids": [str(i) for i in ids], "count": len(ids), **details})


def visit_interviews(session: Session, principal: Principal, visit_id: uuid.UUID, *,
                     page: int, per_page: int) -> tuple[list[Interview], int]:
    """Interviews of a visit: its team members and admins."""
    visit = get_visit(session, principal, visit_id)
    query = (select(Interview).where(Interview.visit_id == visit.id)
             .order_by(Interview.conducted_at.nulls_last(), Interview.id))
    items, total = paginate(session, query, page=page, per_page=per_page)
    _audit(session, "interview.view", [i.id for i in items], visit_id=str(visit.id))
    return items, total


def visit_allegations(session: Session, principal: Principal, visit_id: uuid.UUID, *,
                      page: int, per_page: int) -> tuple[list[Allegation], int]:
    """Allegations of a visit: its team members and admins."""
    visit = get_visit(session, principal, visit_id)
    query = (select(Allegation).where(Allegation.visit_id == visit.id)
             .order_by(Allegation.server_created_at, Allegation.id))
    items, total = paginate(session, query, page=page, per_page=per_page)
    _audit(session, "allegation.view", [a.id for a in items], visit_id=str(visit.id))
    return items, total


def _check_reader(principal: Principal) -> None:
    if principal.role not in ("admin", "legal_aid", "coordinator", "monitor"):
        raise Forbidden(f"The {principal.role} role has no access to allegations.")


def _scoped(principal: Principal) -> Any:
    query = select(Allegation, Visit, Facility).join(Visit, Visit.id == Allegation.visit_id) \
        .join(Facility, Facility.id == Visit.facility_id)
    if principal.role == "legal_aid":
        return query.where(Allegation.consent_legal_aid.is_(True))
    if principal.is_admin:
        return query
    return query.where(Allegation.visit_id.in_(visible_visits(principal)))


def list_allegations(session: Session, principal: Principal, *, page: int, per_page: int,
                     facility_id: uuid.UUID | None = None) -> tuple[str, list[Any], int]:
    """Allegations for admins (all, whole) and legal aid (consented, projected)."""
    if principal.role not in ("admin", "legal_aid"):
        raise Forbidden("Only legal aid and admins list allegations across visits; the visit's "
                        "team reads them under /visits/{id}/allegations.")
    query = _scoped(principal)
    if facility_id:
        query = query.where(Visit.facility_id == facility_id)
    query = query.order_by(Allegation.server_created_at.desc(), Allegation.id)
    rows, total = paginate_rows(session, query, page=page, per_page=per_page)
    kind, items = _present(session, principal, rows)
    _audit(session, "allegation.view", [row[0].id for row in rows], view=kind)
    return kind, items, total


def get_allegation(session: Session, principal: Principal,
                   allegation_id: uuid.UUID) -> tuple[str, Any]:
    """One allegation: whole for admins and the visit's team, projected for legal aid."""
    _check_reader(principal)
    row = session.execute(_scoped(principal).where(Allegation.id == allegation_id)).first()
    if row is None:
        raise NotFound("No such allegation.")
    kind, items = _present(session, principal, [row])
    _audit(session, "allegation.view", [row[0].id], view=kind)
    return kind, items[0]


def _present(session: Session, principal: Principal, rows: list[Any]) -> tuple[str, list[Any]]:
    if principal.role != "legal_aid":
        return "full", [row[0] for row in rows]
    interview_ids = {row[0].interview_id for row in rows if row[0].interview_id}
    refer: dict[uuid.UUID, bool] = {}
    if interview_ids:
        pairs = session.execute(select(Interview.id, Interview.consent_to_refer).where(
            Interview.id.in_(interview_ids)))
        refer = {interview_id: consent for interview_id, consent in pairs}
    return "legal_aid", [_legal_aid_view(a, v, f, refer) for a, v, f in rows]


def _legal_aid_view(allegation: Allegation, visit: Visit, facility: Facility,
                    refer: dict[uuid.UUID, bool]) -> dict[str, Any]:
    """Referral projection: nothing links back to the interviewee, interview, team or visit."""
    # The allegation's consent_legal_aid admits it here; the narrative (the person's own
    # account) also needs the interview's consent to refer, when an interview is linked.
    narrative_ok = allegation.interview_id is None or refer.get(allegation.interview_id, False)
    when = visit.started_at or visit.planned_for
    return {
        **{key: getattr(allegation, key) for key in LEGAL_AID_FIELDS},
        "facility": {"id": facility.id, "name": facility.name, "region": facility.region,
                     "facility_type": facility.facility_type},
        "visit_month": when.strftime("%Y-%m") if when else None,
        "narrative": allegation.narrative if narrative_ok else None,
        "narrative_withheld": not narrative_ok and allegation.narrative is not None,
    }
