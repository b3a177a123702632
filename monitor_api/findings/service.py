"""Findings: coordinators of the visit's team (or admins) edit, confirm and withdraw them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor_api.audit.service import record
from monitor_api.auth import Principal
from monitor_api.checklists.helpers import raw_record, rest_revision, snapshot
from monitor_api.db import utcnow
from monitor_api.errors import Conflict, NotFound
from monitor_api.findings.models import Finding
from monitor_api.scope import require_field_role, require_lead, visible_visits
from monitor_api.visits.models import Visit


def get_finding(session: Session, principal: Principal, finding_id: uuid.UUID) -> Finding:
    """A finding on a visit the caller may see (withdrawn ones too), else 404."""
    require_field_role(principal)
    finding = session.scalar(select(Finding).where(
        Finding.id == finding_id, Finding.visit_id.in_(visible_visits(principal))))
    if finding is None:
        raise NotFound("No such finding.")
    return finding


def _led_finding(session: Session, principal: Principal, finding_id: uuid.UUID) -> Finding:
    finding = get_finding(session, principal, finding_id)
    require_lead(session, principal, session.get(Visit, finding.visit_id))
    return finding


def _revision(session: Session, principal: Principal, finding: Finding,
              before: dict[str, Any] | None) -> None:
    rest_revision(session, principal.user_id, table="findings", record_id=finding.id,
                  op="update", before=before)


def update_finding(session: Session, principal: Principal, finding_id: uuid.UUID,
                   **data: Any) -> Finding:
    """Edit a finding's wording, severity, theme, standards or systemic flag."""
    finding = _led_finding(session, principal, finding_id)
    if finding.status == "withdrawn":
        raise Conflict("A withdrawn finding cannot be edited; confirm it again first.")
    before, raw_before = snapshot(finding, data), raw_record(session, "findings", finding.id)
    for key, value in data.items():
        setattr(finding, key, value)
    session.flush()
    _revision(session, principal, finding, raw_before)
    record(session, "finding.update", target_type="finding", target_id=finding.id,
           details={"before": before, "after": snapshot(finding, data)})
    return finding


def confirm_finding(session: Session, principal: Principal, finding_id: uuid.UUID) -> Finding:
    """Draft (or withdrawn) → confirmed, recording who confirmed it and when."""
    finding = _led_finding(session, principal, finding_id)
    if finding.status == "confirmed":
        raise Conflict("The finding is already confirmed.")
    previous, raw_before = finding.status, raw_record(session, "findings", finding.id)
    finding.status = "confirmed"
    finding.confirmed_by_id = principal.user_id
    finding.confirmed_at = utcnow()
    session.flush()
    _revision(session, principal, finding, raw_before)
    record(session, "finding.confirm", target_type="finding", target_id=finding.id,
           details={"from": previous, "visit_id": str(finding.visit_id)})
    return finding


def withdraw_finding(session: Session, principal: Principal, finding_id: uuid.UUID, *,
                     reason: str | None = None) -> Finding:
    """Draft or confirmed → withdrawn; the finding stays readable."""
    finding = _led_finding(session, principal, finding_id)
    if finding.status == "withdrawn":
        raise Conflict("The finding is already withdrawn.")
    previous, raw_before = finding.status, raw_record(session, "findings", finding.id)
    finding.status = "withdrawn"
    session.flush()
    _revision(session, principal, finding, raw_before)
    record(session, "finding.withdraw", target_type="finding", target_id=finding.id,
           details={"from": previous, "reason": reason, "visit_id": str(finding.visit_id)})
    return finding
