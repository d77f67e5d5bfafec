"""Municipality request and response schemas."""

import json
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import marshmallow as ma

from civic_api.extensions import LanguageArgsSchema, Schema, Translated, plain_text
from civic_api.models import LOCALES


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


def known_timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ma.ValidationError("Must be an IANA time zone such as Europe/Belgrade.") from None


class MunicipalityUpdateSchema(Schema):
    name = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(LOCALES)),
        values=ma.fields.String(validate=[ma.validate.Length(min=1, max=100), plain_text]),
        validate=ma.validate.Length(equal=len(LOCALES), error="Give the name in sq, sr and en."),
        metadata={"example": {"sq": "Prishtinë", "sr": "Priština", "en": "Prishtina"}},
    )
    population = ma.fields.Integer(strict=True, allow_none=True, validate=ma.validate.Range(min=0))
    timezone = ma.fields.String(validate=known_timezone)
