"""Category (Open311 service) response schemas."""

import marshmallow as ma

from civic_api.categories.models import DATATYPES
from civic_api.extensions import LanguageArgsSchema, Schema, Translated


class CategoryQueryArgsSchema(LanguageArgsSchema):
    group = ma.fields.String(metadata={"description": "Only this group's categories"})


class AttributeValueSchema(Schema):
    key = ma.fields.String(metadata={"example": "stranger"})
    name = Translated(metadata={"example": "Stranger"})


class CategoryAttributeSchema(Schema):
    code = ma.fields.String(metadata={"example": "perpetrator_relationship"})
    datatype = ma.fields.String(metadata={"enum": list(DATATYPES)})
    required = ma.fields.Boolean()
    order = ma.fields.Integer()
    description = Translated(
        metadata={"description": "The question to show", "example": "Who harassed you?"}
    )
    values = ma.fields.List(ma.fields.Nested(AttributeValueSchema))


class CategoryGroupSchema(Schema):
    code = ma.fields.String(metadata={"example": "harassment"})
    name = Translated(metadata={"example": "Harassment"})


class CategorySchema(Schema):
    code = ma.fields.String(metadata={"example": "commenting"})
    name = Translated(metadata={"example": "Commenting"})
    description = Translated()
    group = ma.fields.Nested(CategoryGroupSchema)
    keywords = ma.fields.List(ma.fields.String())
    sensitive = ma.fields.Boolean(
        metadata={"description": "Never published as points, only as aggregates"}
    )
    response_target_hours = ma.fields.Integer(allow_none=True)
    attributes = ma.fields.List(ma.fields.Nested(CategoryAttributeSchema))


class CategoryRefSchema(Schema):
    code = ma.fields.String(metadata={"example": "commenting"})
    name = Translated(metadata={"example": "Commenting"})


class CategoryUpdateSchema(Schema):
    active = ma.fields.Boolean(metadata={"description": "false: no new reports in it"})
    sensitive = ma.fields.Boolean(metadata={"description": "Can only be switched on"})
    response_target_hours = ma.fields.Integer(
        strict=True, allow_none=True, validate=ma.validate.Range(min=1, max=24 * 365)
    )


class CategoryAdminSchema(Schema):
    code = ma.fields.String()
    names = ma.fields.Dict(attribute="name", keys=ma.fields.String(), values=ma.fields.String())
    group = ma.fields.Pluck(CategoryGroupSchema, "code")
    active = ma.fields.Boolean()
    sensitive = ma.fields.Boolean()
    response_target_hours = ma.fields.Integer(allow_none=True)
