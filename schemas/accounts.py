"""Schemas for users, teams, sessions and devices."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from monitor_api.accounts.models import ROLES
from schemas.common import PageMeta, StrictSchema

USERNAME = validate.Regexp(r"^[a-z0-9][a-z0-9._-]{2,63}$",
                           error="3-64 lower-case letters, digits, '.', '_' or '-'.")


class LoginIn(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(1, 64))
    password = fields.String(required=True, validate=validate.Length(1, 1024), load_only=True)


class TokenOut(Schema):
    token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_at = fields.DateTime(required=True)
    idle_timeout_seconds = fields.Integer(required=True)
    user = fields.Nested(lambda: UserOut())


class UserOut(Schema):
    id = fields.UUID(required=True)
    username = fields.String(required=True)
    display_name = fields.String(required=True)
    email = fields.String(allow_none=True)
    role = fields.String(required=True)
    is_active = fields.Boolean(required=True)
    created_at = fields.DateTime()


class UserCreate(StrictSchema):
    username = fields.String(required=True, validate=USERNAME)
    display_name = fields.String(required=True, validate=validate.Length(1, 200))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    password = fields.String(required=True, load_only=True, validate=validate.Length(12, 1024))


class UserUpdate(StrictSchema):
    display_name = fields.String(validate=validate.Length(1, 200))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    role = fields.String(validate=validate.OneOf(ROLES))
    is_active = fields.Boolean()
    password = fields.String(load_only=True, validate=validate.Length(12, 1024))


class UserList(Schema):
    items = fields.List(fields.Nested(UserOut))
    meta = fields.Nested(PageMeta)


class TeamMemberOut(Schema):
    user_id = fields.UUID()
    username = fields.String()
    display_name = fields.String()
    role = fields.String()


class TeamOut(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    lead_id = fields.UUID(allow_none=True)
    members = fields.List(fields.Nested(TeamMemberOut))


class TeamCreate(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    description = fields.String(allow_none=True, validate=validate.Length(max=5000))
    lead_id = fields.UUID(allow_none=True)


class TeamUpdate(StrictSchema):
    name = fields.String(validate=validate.Length(1, 200))
    description = fields.String(allow_none=True, validate=validate.Length(max=5000))
    lead_id = fields.UUID(allow_none=True)


class TeamList(Schema):
    items = fields.List(fields.Nested(TeamOut))


class MemberIn(StrictSchema):
    user_id = fields.UUID(required=True)


class DeviceIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    platform = fields.String(allow_none=True, validate=validate.Length(max=100))


class DeviceOut(Schema):
    id = fields.UUID(required=True)
    user_id = fields.UUID(required=True)
    name = fields.String(required=True)
    platform = fields.String(allow_none=True)
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    last_seen_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    revoke_reason = fields.String(allow_none=True)


class DeviceRegistered(DeviceOut):
    token = fields.String(required=True)


class DeviceList(Schema):
    items = fields.List(fields.Nested(DeviceOut))


class RevokeIn(StrictSchema):
    reason = fields.String(allow_none=True, validate=validate.Length(max=2000))


class CountOut(Schema):
    ended = fields.Integer(required=True)
