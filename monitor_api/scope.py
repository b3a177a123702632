"""The one scoping layer: which visits (and so which field records) a principal may touch.

Everything hanging off a visit (answers, rooms, findings, recommendations with a visit,
reviews, photos, incidents, interviews, allegations) is visible exactly when its visit is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, true
from sqlalchemy.orm import Session

from monitor_api.accounts.models import TeamMember
from monitor_api.auth import Principal
from monitor_api.errors import Forbidden, NotFound
from monitor_api.visits.models import Visit

# Roles that work with visit records at all; the others get 403 before any lookup.
FIELD_RECORD_ROLES = ("admin", "coordinator", "monitor")


@dataclass(frozen=True)
class TeamScope:
    """One team's visits and nothing else: the scope in which a reviewer applies a record
    from the quarantine (never wider than the team that reviews it)."""

    team_id: uuid.UUID
    user_id: uuid.UUID
    role: str = "monitor"
    is_admin: bool = False


def user_team_ids(user_id: uuid.UUID) -> Select[Any]:
    """Subquery: the teams a user belongs to."""
    return select(TeamMember.team_id).where(TeamMember.user_id == user_id)


def visible_visits(principal: Principal | TeamScope) -> Select[Any]:
    """Select of the visit ids the principal may see (admins: all)."""
    query = select(Visit.id)
    if isinstance(principal, TeamScope):
        return query.where(Visit.team_id == principal.team_id)
    if principal.is_admin:
        return query
    if principal.role not in FIELD_RECORD_ROLES:
        return query.where(Visit.id.is_(None))  # nothing
    return query.where(Visit.team_id.in_(user_team_ids(principal.user_id)))


def visit_filter(principal: Principal | TeamScope, visit_id_column: Any) -> Any:
    """A WHERE clause limiting rows with `visit_id_column` to the principal's visits."""
    if principal.is_admin:
        return true()
    return visit_id_column.in_(visible_visits(principal))


def require_field_role(principal: Principal) -> None:
    """403 for roles that never see raw visit records (partner, analyst, legal_aid)."""
    if principal.role not in FIELD_RECORD_ROLES:
        raise Forbidden(f"The {principal.role} role has no access to visit records.")


def get_visit(session: Session, principal: Principal, visit_id: uuid.UUID) -> Visit:
    """A visit the principal may see, or 404 exactly as if it did not exist."""
    require_field_role(principal)
    visit = session.scalar(select(Visit).where(Visit.id == visit_id,
                                               Visit.id.in_(visible_visits(principal))))
    if visit is None:
        raise NotFound("No such visit.")
    return visit


def leads_team(session: Session, principal: Principal, team_id: uuid.UUID | None) -> bool:
    """Whether the principal is an admin, or a coordinator belonging to `team_id`."""
    if principal.is_admin:
        return True
    return (principal.role == "coordinator" and team_id is not None
            and team_id in principal.team_ids(session))


def require_lead(session: Session, principal: Principal, visit: Visit | None) -> None:
    """403 unless the principal is an admin or a coordinator of `visit`'s team."""
    if not leads_team(session, principal, visit.team_id if visit else None):
        raise Forbidden("Only a coordinator of the visit's team or an admin may do this.")
