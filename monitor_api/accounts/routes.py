"""HTTP routes for login, users, teams and devices."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from monitor_api.accounts import devices as device_service
from monitor_api.accounts import service, teams
from monitor_api.auth import current_principal, roles_required
from monitor_api.db import get_session, new_session
from schemas import accounts as s
from schemas.common import PageArgs

blp = Blueprint("accounts", __name__, url_prefix="/api/v1",
                description="Login sessions, users, teams and devices.")


@blp.route("/auth/login", methods=["POST"])
@blp.arguments(s.LoginIn)
@blp.response(201, s.TokenOut)
@blp.alt_response(401, description="Wrong credentials")
@blp.alt_response(429, description="Too many failed logins", headers={"Retry-After": {
    "description": "Seconds to wait before trying again", "schema": {"type": "integer"}}})
def login(data: dict[str, Any]) -> dict[str, Any]:
    """Log in with username and password; returns an opaque bearer token."""
    settings = current_app.config["SETTINGS"]
    token, auth, user = service.login(
        get_session(), settings=settings, username=data["username"], password=data["password"],
        ip=request.remote_addr, user_agent=request.user_agent.string,
        own_session=new_session)
    return {"token": token, "token_type": "Bearer", "expires_at": auth.expires_at,
            "idle_timeout_seconds": settings.session_idle_seconds, "user": user}


@blp.route("/auth/logout", methods=["POST"])
@blp.response(204)
@roles_required()
def logout() -> None:
    """End the current login session."""
    service.logout(get_session(), current_principal())


@blp.route("/auth/me", methods=["GET"])
@blp.response(200, s.UserOut)
@roles_required()
def me() -> Any:
    """The authenticated user."""
    principal = current_principal()
    return service.get_user(get_session(), principal, principal.user_id)


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, s.UserList)
    @roles_required()
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the users visible to the caller."""
        items, total = service.list_users(get_session(), current_principal(), **args)
        return {"items": items, "meta": {**args, "total": total}}

    @blp.arguments(s.UserCreate)
    @blp.response(201, s.UserOut)
    @roles_required("admin")
    def post(self, data: dict[str, Any]) -> Any:
        """Create a user (admin)."""
        return service.create_user(get_session(), **data)


@blp.route("/users/<uuid:user_id>")
class UserItem(MethodView):
    @blp.response(200, s.UserOut)
    @roles_required()
    def get(self, user_id: uuid.UUID) -> Any:
        """Read a user."""
        return service.get_user(get_session(), current_principal(), user_id)

    @blp.arguments(s.UserUpdate)
    @blp.response(200, s.UserOut)
    @roles_required("admin")
    def patch(self, data: dict[str, Any], user_id: uuid.UUID) -> Any:
        """Change a user's name, role, password or active flag (admin)."""
        return service.update_user(get_session(), current_principal(), user_id, **data)


@blp.route("/users/<uuid:user_id>/sessions", methods=["DELETE"])
@blp.response(200, s.CountOut)
@roles_required("admin")
def end_user_sessions(user_id: uuid.UUID) -> dict[str, int]:
    """End every login session of a user (admin)."""
    session = get_session()
    service.get_user(session, current_principal(), user_id)
    return {"ended": service.end_sessions(session, user_id, reason="ended_by_admin")}


@blp.route("/teams")
class Teams(MethodView):
    @blp.response(200, s.TeamList)
    @roles_required()
    def get(self) -> dict[str, Any]:
        """List the teams visible to the caller."""
        return {"items": [_team(t) for t in
                          teams.list_teams(get_session(), current_principal())]}

    @blp.arguments(s.TeamCreate)
    @blp.response(201, s.TeamOut)
    @roles_required("admin", "coordinator")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a team (admin, coordinator)."""
        return _team(teams.create_team(get_session(), current_principal(), **data))


@blp.route("/teams/<uuid:team_id>")
class TeamItem(MethodView):
    @blp.response(200, s.TeamOut)
    @roles_required()
    def get(self, team_id: uuid.UUID) -> dict[str, Any]:
        """Read a team with its members."""
        return _team(teams.get_team(get_session(), current_principal(), team_id))

    @blp.arguments(s.TeamUpdate)
    @blp.response(200, s.TeamOut)
    @roles_required("admin", "coordinator")
    def patch(self, data: dict[str, Any], team_id: uuid.UUID) -> dict[str, Any]:
        """Rename a team or change its lead."""
        return _team(teams.update_team(get_session(), current_principal(), team_id, **data))


@blp.route("/teams/<uuid:team_id>/members/<uuid:user_id>")
class TeamMemberItem(MethodView):
    @blp.response(200, s.TeamOut)
    @roles_required("admin", "coordinator")
    def put(self, team_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        """Add a member to a team."""
        return _team(teams.add_member(get_session(), current_principal(), team_id, user_id))

    @blp.response(200, s.TeamOut)
    @roles_required("admin", "coordinator")
    def delete(self, team_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
        """Remove a member from a team."""
        return _team(teams.remove_member(get_session(), current_principal(), team_id,
                                           user_id))


def _team(team: Any) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "description": team.description,
            "lead_id": team.lead_id,
            "members": [{"user_id": m.user.id, "username": m.user.username,
                         "display_name": m.user.display_name, "role": m.user.role}
                        for m in sorted(team.members, key=lambda m: m.user.username)]}


@blp.route("/devices")
class Devices(MethodView):
    @blp.response(200, s.DeviceList)
    @roles_required()
    def get(self) -> dict[str, Any]:
        """List devices visible to the caller."""
        return {"items": device_service.list_devices(get_session(), current_principal())}

    @blp.arguments(s.DeviceIn)
    @blp.response(201, s.DeviceRegistered)
    @roles_required()
    def post(self, data: dict[str, Any]) -> Any:
        """Register the caller's phone; the token is shown once."""
        device, token = device_service.register_device(
            get_session(), current_principal(),
            lifetime_days=current_app.config["SETTINGS"].device_token_days, **data)
        # The response schema dumps it: hand over the fields, not an already-dumped dict.
        return {**{name: getattr(device, name) for name in s.DeviceOut().fields},
                "token": token}


@blp.route("/devices/<uuid:device_id>")
class DeviceItem(MethodView):
    @blp.response(200, s.DeviceOut)
    @roles_required()
    def get(self, device_id: uuid.UUID) -> Any:
        """Read a device."""
        return device_service.get_device(get_session(), current_principal(), device_id)


@blp.route("/devices/<uuid:device_id>/revoke", methods=["POST"])
@blp.arguments(s.RevokeIn)
@blp.response(200, s.DeviceOut)
@roles_required()
def revoke_device(data: dict[str, Any], device_id: uuid.UUID) -> Any:
    """Revoke a device at once (admin, the team's coordinator, or its owner)."""
    return device_service.revoke_device(get_session(), current_principal(), device_id,
                                        data.get("reason"))
