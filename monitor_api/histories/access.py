"""Who sees which visits in condition histories (the scoping layer's rule for read models).

Partners and analysts: published visits only. Monitors and coordinators: published visits
and their own teams' unpublished ones (flagged). Admins: every visit (flagged). Legal aid
works with allegations, not histories: 403. Reads by partners and analysts are audited.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitor_api.audit.service import record
from monitor_api.auth import Principal
from monitor_api.errors import Forbidden, NotFound
from monitor_api.facilities.models import Facility
from monitor_api.scope import user_team_ids
from monitor_api.visits.models import Visit

HISTORY_ROLES = ("admin", "coordinator", "monitor", "partner", "analyst")
OUTSIDE_ROLES = ("partner", "analyst")  # see published visits only; every read audited


def require_history_role(principal: Principal) -> None:
    if principal.role not in HISTORY_ROLES:
        raise Forbidden(f"The {principal.role} role has no access to condition histories.")


def visit_clause(principal: Principal, visits: Any = None) -> Any:
    """WHERE clause over a visits table: the visits the principal sees in histories."""
    v = visits if visits is not None else Visit.__table__
    require_history_role(principal)
    if principal.is_admin:
        return sa.true()
    published = v.c.published_at.is_not(None)
    if principal.role in OUTSIDE_ROLES:
        return published
    return sa.or_(published, v.c.team_id.in_(user_team_ids(principal.user_id)))


def visible_facility(session: Session, principal: Principal, facility_id: uuid.UUID) -> Facility:
    """A facility of the registry (not deleted), or 404."""
    require_history_role(principal)
    facility = session.get(Facility, facility_id)
    if facility is None or facility.deleted_at is not None:
        raise NotFound("No such facility.")
    return facility


def audit_read(session: Session, principal: Principal, what: str, *,
               target_type: str | None = None, target_id: Any = None,
               details: dict[str, Any] | None = None) -> None:
    """Partners' and analysts' reads of histories are audited (who looked at what)."""
    if principal.role in OUTSIDE_ROLES:
        record(session, f"history.{what}", target_type=target_type, target_id=target_id,
               details=details or {})
