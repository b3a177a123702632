"""Teams: visibility, creation, leads and membership."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from monitor_api.accounts.models import Team, TeamMember, User
from monitor_api.accounts.service import visible_users_query
from monitor_api.audit import service as audit
from monitor_api.auth import Principal
from monitor_api.errors import Conflict, Forbidden, NotFound


def visible_teams_query(session: Session, principal: Principal) -> Any:
    """Teams the principal may see: all for admins, else the ones they belong to or lead."""
    query = select(Team)
    if principal.is_admin:
        return query
    return query.where(or_(Team.id.in_(principal.team_ids(session)),
                           Team.lead_id == principal.user_id))


def list_teams(session: Session, principal: Principal) -> list[Team]:
    """Visible teams by name."""
    return list(session.scalars(visible_teams_query(session, principal).order_by(Team.name)))


def get_team(session: Session, principal: Principal, team_id: uuid.UUID) -> Team:
    """A visible team, or 404 whether or not it exists."""
    team = session.scalar(visible_teams_query(session, principal).where(Team.id == team_id))
    if team is None:
        raise NotFound("No such team.")
    return team


def _require_team_manager(principal: Principal, team: Team) -> None:
    if not (principal.is_admin or (principal.role == "coordinator"
                                   and team.lead_id == principal.user_id)):
        raise Forbidden("Only an admin or the team's coordinating lead may change the team.")


def _user_for_team(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    """A user the principal may put in a team; anyone else answers like a missing id.

    An admin may add anyone. A coordinator may add users they already see (team mates) and
    field users who are in no team yet; a user of another team answers 404, as a missing one.
    """
    user = session.get(User, user_id)
    if user is not None and not principal.is_admin and not _assignable(session, principal, user):
        user = None
    if user is None:
        raise NotFound("No such user.", errors={"user_id": ["No such user."]})
    if user.role not in ("admin", "coordinator", "monitor"):
        raise Conflict(f"A {user.role} cannot be a member of a visiting team.")
    return user


def _assignable(session: Session, principal: Principal, user: User) -> bool:
    if session.scalar(visible_users_query(session, principal).where(User.id == user.id)
                      .with_only_columns(User.id)):
        return True
    in_a_team = session.scalar(select(TeamMember.team_id).where(TeamMember.user_id == user.id)
                               .limit(1))
    return in_a_team is None and user.is_active and user.role in ("coordinator", "monitor")


def create_team(session: Session, principal: Principal, *, name: str,
                description: str | None = None, lead_id: uuid.UUID | None = None) -> Team:
    """Create a team; a coordinator creating one leads it."""
    if principal.role not in ("admin", "coordinator"):
        raise Forbidden("Only admins and coordinators create teams.")
    if session.scalar(select(Team.id).where(Team.name == name)):
        raise Conflict(f"A team named {name!r} exists.")
    if principal.role == "coordinator":
        lead_id = principal.user_id
    team = Team(name=name, description=description, lead_id=lead_id)
    session.add(team)
    session.flush()
    if lead_id is not None:
        _user_for_team(session, principal, lead_id)
        session.add(TeamMember(team_id=team.id, user_id=lead_id))
    session.flush()
    audit.record(session, "team.create", target_type="team", target_id=team.id,
                 details={"name": name, "lead_id": str(lead_id) if lead_id else None})
    return team


def update_team(session: Session, principal: Principal, team_id: uuid.UUID,
                **changes: Any) -> Team:
    """Rename a team or change its lead."""
    team = get_team(session, principal, team_id)
    _require_team_manager(principal, team)
    if "lead_id" in changes and changes["lead_id"] is not None:
        if not principal.is_admin:
            raise Forbidden("Only an admin may hand a team to another lead.")
        add_member(session, principal, team_id, changes["lead_id"])  # checks the user too
    if "name" in changes and session.scalar(
            select(Team.id).where(Team.name == changes["name"], Team.id != team.id)):
        raise Conflict(f"A team named {changes['name']!r} exists.")
    for key, value in changes.items():
        setattr(team, key, value)
    session.flush()
    audit.record(session, "team.update", target_type="team", target_id=team.id,
                 details={"fields": sorted(changes)})
    return team


def add_member(session: Session, principal: Principal, team_id: uuid.UUID,
               user_id: uuid.UUID) -> Team:
    """Add a user to a team (idempotent)."""
    team = get_team(session, principal, team_id)
    _require_team_manager(principal, team)
    _user_for_team(session, principal, user_id)
    if session.get(TeamMember, (team.id, user_id)) is None:
        session.add(TeamMember(team_id=team.id, user_id=user_id))
        session.flush()
        audit.record(session, "team.member_add", target_type="team", target_id=team.id,
                     details={"user_id": str(user_id)})
    session.refresh(team)
    return team


def remove_member(session: Session, principal: Principal, team_id: uuid.UUID,
                  user_id: uuid.UUID) -> Team:
    """Remove a user from a team; their phones stop receiving its visits."""
    team = get_team(session, principal, team_id)
    _require_team_manager(principal, team)
    member = session.get(TeamMember, (team.id, user_id))
    if member is None:
        raise NotFound("That user is not a member of this team.")
    if team.lead_id == user_id:
        raise Conflict("Hand the team to another lead before removing this one.")
    session.delete(member)
    session.flush()
    audit.record(session, "team.member_remove", target_type="team", target_id=team.id,
                 details={"user_id": str(user_id)})
    session.refresh(team)
    return team
