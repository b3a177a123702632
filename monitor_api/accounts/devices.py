"""Phones registered to users; tokens per device, revocable at once."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from monitor_api.accounts.models import FIELD_ROLES, Device, TeamMember
from monitor_api.audit import service as audit
from monitor_api.auth import DEVICE_PREFIX, SYSTEM_USER_ID, Principal, new_token
from monitor_api.db import utcnow
from monitor_api.errors import Conflict, Forbidden, NotFound


def register_device(session: Session, principal: Principal, *, name: str,
                    lifetime_days: int, platform: str | None = None) -> tuple[Device, str]:
    """Register a phone for the caller and return it with its one-time-visible token."""
    if principal.role not in FIELD_ROLES:
        raise Forbidden(f"The {principal.role} role does no field work and cannot register "
                        "devices.")
    token, token_hash = new_token(DEVICE_PREFIX)
    now = utcnow()
    device = Device(user_id=principal.user_id, name=name, platform=platform,
                    token_hash=token_hash, created_at=now,
                    expires_at=now + timedelta(days=lifetime_days))
    session.add(device)
    session.flush()
    audit.record(session, "device.register", target_type="device", target_id=device.id,
                 details={"name": name, "platform": platform})
    return device, token


def visible_devices_query(session: Session, principal: Principal) -> Any:
    """Own devices; a coordinator also sees team mates' devices; an admin sees all."""
    query = select(Device)
    if principal.device_id is not None:  # a phone sees itself only, whatever the role
        return query.where(Device.id == principal.device_id)
    if principal.is_admin:
        return query
    if principal.role == "coordinator":
        mates = select(TeamMember.user_id).where(
            TeamMember.team_id.in_(principal.team_ids(session)))
        return query.where(or_(Device.user_id == principal.user_id, Device.user_id.in_(mates)))
    return query.where(Device.user_id == principal.user_id)


def list_devices(session: Session, principal: Principal,
                 user_id: uuid.UUID | None = None) -> list[Device]:
    """Visible devices, newest first."""
    query = visible_devices_query(session, principal)
    if user_id is not None:
        query = query.where(Device.user_id == user_id)
    return list(session.scalars(query.order_by(Device.created_at.desc())))


def get_device(session: Session, principal: Principal, device_id: uuid.UUID) -> Device:
    """A visible device, or 404 whether or not it exists."""
    device = session.scalar(visible_devices_query(session, principal)
                            .where(Device.id == device_id))
    if device is None:
        raise NotFound("No such device.")
    return device


def revoke_device(session: Session, principal: Principal, device_id: uuid.UUID,
                  reason: str | None) -> Device:
    """Revoke a device: admins and coordinators for their teams, or the owner (lost phone)."""
    device = get_device(session, principal, device_id)
    if device.revoked_at is not None:
        raise Conflict("This device is already revoked.")
    device.revoked_at = utcnow()
    device.revoked_by_id = None if principal.user_id == SYSTEM_USER_ID else principal.user_id
    device.revoke_reason = reason
    session.flush()
    audit.record(session, "device.revoke", target_type="device", target_id=device.id,
                 details={"owner": str(device.user_id), "reason": reason})
    return device
