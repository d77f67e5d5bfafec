"""Audit log query and response schemas."""

import marshmallow as ma

from civic_api.extensions import QueryArgsSchema, Schema
from civic_api.reports.schemas import plain_text

AWARE = {"invalid_awareness": "Must include a UTC offset."}


def _text(description: str, example: str) -> ma.fields.String:
    return ma.fields.String(
        validate=[ma.validate.Length(min=1, max=100), plain_text],
        metadata={"description": description, "example": example},
    )


class AuditQueryArgsSchema(QueryArgsSchema):
    actor_id = ma.fields.Integer(
        strict=False,
        validate=ma.validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "The staff account that acted"},
    )
    action = _text("An action", "announcement.update")
    entity_type = _text("The kind of entity", "announcement")
    entity_id = _text("The entity's id (with entity_type)", "42")
    since = ma.fields.AwareDateTime(
        error_messages=AWARE, metadata={"description": "From this time on (inclusive)"}
    )
    until = ma.fields.AwareDateTime(
        error_messages=AWARE, metadata={"description": "Before this time (exclusive)"}
    )

    @ma.validates_schema
    def since_before_until(self, data: dict, **kwargs) -> None:
        if "since" in data and "until" in data and data["until"] <= data["since"]:
            raise ma.ValidationError("Must be later than since.", "until")


class AuditEntrySchema(Schema):
    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    actor_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "null: the command line"}
    )
    action = ma.fields.String(metadata={"example": "announcement.update"})
    entity_type = ma.fields.String(metadata={"example": "announcement"})
    entity_id = ma.fields.String(metadata={"example": "42"})
    municipality_ids = ma.fields.List(
        ma.fields.Integer(), metadata={"description": "Empty: national"}
    )
    before = ma.fields.Dict(allow_none=True)
    after = ma.fields.Dict(allow_none=True)
