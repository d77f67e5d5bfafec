"""Municipality request and response schemas."""

import json

import marshmallow as ma

from civic_api.extensions import LanguageArgsSchema, Schema, Translated


class MunicipalityQueryArgsSchema(LanguageArgsSchema):
    boundary = ma.fields.Boolean(
        load_default=False, metadata={"description": "Include the GeoJSON boundary"}
    )


class GeoJSONGeometry(ma.fields.Field):
    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else json.loads(value)


class MunicipalitySchema(Schema):
    slug = ma.fields.String(metadata={"example": "prishtina"})
    name = Translated(metadata={"example": "Prishtinë"})
    names = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={"example": {"sq": "Prishtinë", "sr": "Priština", "en": "Prishtina"}},
    )
    population = ma.fields.Integer(allow_none=True)
    timezone = ma.fields.String(metadata={"example": "Europe/Belgrade"})
    bbox = ma.fields.List(
        ma.fields.Float(), metadata={"description": "[west, south, east, north] in WGS84"}
    )
    boundary = GeoJSONGeometry(
        metadata={"description": "GeoJSON MultiPolygon (only with ?boundary=true)"}
    )


class MunicipalityRefSchema(Schema):
    slug = ma.fields.String(metadata={"example": "prishtina"})
    name = Translated(metadata={"example": "Prishtina"})
