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
