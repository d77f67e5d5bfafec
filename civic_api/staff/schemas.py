"""Staff sign-in, account and token schemas."""

import marshmallow as ma

from civic_api.extensions import QueryArgsSchema, Schema
from civic_api.staff.models import ROLES
from civic_api.staff.service import SCOPES

EMAIL = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
NAME = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
SLUGS = ma.fields.List(ma.fields.String(), metadata={"example": ["prishtina"]})


class LoginSchema(Schema):
    email = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=254))
    password = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=1024))


class RefreshSchema(Schema):
    refresh_token = ma.fields.String(required=True, validate=ma.validate.Length(max=200))


class TokenPairSchema(Schema):
    access_token = ma.fields.String()
    token_type = ma.fields.Constant("Bearer")
    expires_in = ma.fields.Integer(metadata={"description": "Seconds"})
    refresh_token = ma.fields.String(metadata={"description": "Works once; rotate on use"})
    refresh_expires_in = ma.fields.Integer(metadata={"description": "Seconds"})


class PasswordChangeSchema(Schema):
    current_password = ma.fields.String(required=True, validate=ma.validate.Length(max=1024))
    new_password = ma.fields.String(required=True)


class MunicipalitySlugField(ma.fields.Field):
    def _serialize(self, value, attr, obj, **kwargs):
        return [m.slug for m in value]


class StaffSchema(Schema):
    id = ma.fields.Integer()
    email = ma.fields.String()
    name = ma.fields.String()
    role = ma.fields.String(metadata={"enum": list(ROLES)})
    municipalities = MunicipalitySlugField(
        metadata={"type": "array", "items": {"type": "string"}, "example": ["prishtina"]}
    )
    active = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    scopes = ma.fields.List(ma.fields.String(), metadata={"description": "Only on /me"})


class StaffCreateSchema(Schema):
    email = EMAIL
    name = NAME
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLES))
    municipalities = SLUGS
    password = ma.fields.String(
        required=True, metadata={"description": "The initial password, to be changed"}
    )

    @ma.post_load
    def defaults(self, data, **kwargs):
        data.setdefault("municipalities", [])
        data.setdefault("name", data["email"].split("@")[0])
        return data


class StaffUpdateSchema(Schema):
    name = NAME
    role = ma.fields.String(validate=ma.validate.OneOf(ROLES))
    municipalities = SLUGS
    active = ma.fields.Boolean(metadata={"description": "false deactivates and signs out"})
    password = ma.fields.String(metadata={"description": "Reset the password; signs out"})


class StaffQueryArgsSchema(QueryArgsSchema):
    role = ma.fields.String(validate=ma.validate.OneOf(ROLES))
    active = ma.fields.Boolean()
    municipality = ma.fields.String(metadata={"description": "A municipality slug"})


class PersonalTokenCreateSchema(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    scopes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(SCOPES)),
        required=True,
        validate=ma.validate.Length(min=1),
    )
    expires_in_days = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(min=1)
    )


class PersonalTokenSchema(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    scopes = ma.fields.List(ma.fields.String())
    created_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime()
    revoked_at = ma.fields.DateTime(allow_none=True)
    token = ma.fields.String(metadata={"description": "Shown once, on creation"})
