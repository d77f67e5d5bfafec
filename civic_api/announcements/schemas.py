"""Announcement request and response schemas."""

import math

import marshmallow as ma
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping, shape

from civic_api.announcements.service import STATES
from civic_api.categories.schemas import CategoryRefSchema
from civic_api.extensions import LanguageArgsSchema, QueryArgsSchema, Schema
from civic_api.models import LOCALES
from civic_api.municipalities.schemas import MunicipalityRefSchema
from civic_api.reports.schemas import plain_text
from geo.boundaries import InvalidBoundary, to_multipolygon

TITLE_MAX = 200
BODY_MAX = 4000

AREA_DOC = {
    "type": "object",
    "description": "A GeoJSON Polygon or MultiPolygon in WGS84 that overlaps the municipality",
    "example": {
        "type": "Polygon",
        "coordinates": [
            [[21.15, 42.65], [21.18, 42.65], [21.18, 42.67], [21.15, 42.67], [21.15, 42.65]]
        ],
    },
}


def not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("Must not be empty.")


def some_locale(value: dict) -> None:
    if not value:
        raise ma.ValidationError("Give the text in at least one of sq, sr, en.")


def translations(max_length: int, example: dict, **kwargs) -> ma.fields.Dict:
    return ma.fields.Dict(
        **kwargs,
        keys=ma.fields.String(validate=ma.validate.OneOf(LOCALES)),
        values=ma.fields.String(
            validate=[ma.validate.Length(max=max_length), not_blank, plain_text]
        ),
        validate=some_locale,
        metadata={
            "minProperties": 1,
            "description": f"{{locale: plain text}} for one or more of sq, sr, en, "
            f"at most {max_length} characters each; title and body in the same languages",
            "example": example,
        },
    )


def _check_position(position) -> None:
    if (
        not isinstance(position, list)
        or not 2 <= len(position) <= 3
        or any(isinstance(c, bool) or not isinstance(c, int | float) for c in position)
    ):
        raise ma.ValidationError("Each position must be [lon, lat] (two or three numbers).")
    if not all(math.isfinite(c) for c in position):
        raise ma.ValidationError("Coordinates must be finite numbers.")


def _check_polygon(rings) -> None:
    if not isinstance(rings, list) or not rings:
        raise ma.ValidationError("A polygon must be a non-empty list of linear rings.")
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4:
            raise ma.ValidationError("Each linear ring must have at least four positions.")
        for position in ring:
            _check_position(position)
        if ring[0][:2] != ring[-1][:2]:
            raise ma.ValidationError("Each linear ring must end where it starts.")


class Area(ma.fields.Field):
    """A GeoJSON Polygon or MultiPolygon in WGS84; loads to a valid shapely MultiPolygon."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
            raise ma.ValidationError("Must be a GeoJSON Polygon or MultiPolygon.")
        coordinates = value.get("coordinates")
        polygons = [coordinates] if value["type"] == "Polygon" else coordinates
        if not isinstance(polygons, list) or not polygons:
            raise ma.ValidationError("Must have non-empty coordinates.")
        for rings in polygons:
            _check_polygon(rings)
        try:
            return to_multipolygon(
                shape({"type": value["type"], "coordinates": coordinates}), repair=False
            )
        except (InvalidBoundary, ValueError) as exc:
            # e.g. "invalid geometry: Self-intersection[21.16 42.66]"
            raise ma.ValidationError(f"Not a valid area: {exc}.") from None

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else mapping(to_shape(value))


TITLE_EXAMPLE = {"sq": "Ndërprerje e ujit", "en": "Water cut"}
BODY_EXAMPLE = {
    "sq": "Nesër nga ora 9 deri në 14 nuk do të ketë ujë në lagjen Dardania.",
    "en": "Tomorrow from 9:00 to 14:00 there will be no water in Dardania.",
}


class _AnnouncementWriteSchema(Schema):
    title = translations(TITLE_MAX, TITLE_EXAMPLE)
    body = translations(BODY_MAX, BODY_EXAMPLE)
    category = ma.fields.String(
        allow_none=True, metadata={"description": "A category code", "example": "water_sewage"}
    )
    area = Area(allow_none=True, metadata=AREA_DOC)
    publish_at = ma.fields.AwareDateTime(
        error_messages={"invalid_awareness": "Must include a UTC offset."},
        metadata={
            "description": "When it appears and is pushed, ISO 8601 with a UTC offset; "
            "defaults to now",
            "example": "2026-11-20T08:00:00+01:00",
        },
    )
    expires_at = ma.fields.AwareDateTime(
        allow_none=True,
        error_messages={"invalid_awareness": "Must include a UTC offset."},
        metadata={
            "description": "When it leaves the feed; after publish_at",
            "example": "2026-11-22T00:00:00+01:00",
        },
    )

    @ma.post_load
    def strip_texts(self, data: dict, **kwargs) -> dict:
        for name in ("title", "body"):
            if name in data:
                data[name] = {loc: text.strip() for loc, text in data[name].items()}
        return data


class AnnouncementCreateSchema(_AnnouncementWriteSchema):
    municipality = ma.fields.String(
        metadata={
            "description": "A municipality slug; managers of a single municipality may leave "
            "it out",
            "example": "prishtina",
        }
    )
    title = translations(TITLE_MAX, TITLE_EXAMPLE, required=True)
    body = translations(BODY_MAX, BODY_EXAMPLE, required=True)


class AnnouncementUpdateSchema(_AnnouncementWriteSchema):
    """Only the fields sent change; null removes the category, the area or the expiry."""


def query_text(description: str) -> ma.fields.String:
    return ma.fields.String(
        validate=[ma.validate.Length(max=100), plain_text], metadata={"description": description}
    )


class AnnouncementQueryArgsSchema(QueryArgsSchema):
    municipality = query_text("A municipality slug")
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))


class AnnouncementSchema(Schema):
    """An announcement as staff see it: every language, its state and its history."""

    id = ma.fields.Integer()
    municipality = ma.fields.Nested(MunicipalityRefSchema)
    category = ma.fields.Nested(CategoryRefSchema, allow_none=True)
    title = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    body = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    area = Area(metadata={"type": "object", "nullable": True, "description": "GeoJSON"})
    publish_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime(allow_none=True)
    withdrawn_at = ma.fields.DateTime(allow_none=True)
    state = ma.fields.String(metadata={"enum": list(STATES)})
    created_by = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class FeedQueryArgsSchema(LanguageArgsSchema):
    category = query_text("Only this category's announcements (a code)")


class PublicAnnouncementSchema(Schema):
    """A published announcement in the reader's language (or the nearest one it has)."""

    id = ma.fields.Integer()
    municipality = ma.fields.Nested(MunicipalityRefSchema)
    category = ma.fields.Nested(CategoryRefSchema, allow_none=True)
    lang = ma.fields.String(
        metadata={"enum": list(LOCALES), "description": "The language of title and body"}
    )
    title = ma.fields.String()
    body = ma.fields.String()
    area = Area(metadata={"type": "object", "nullable": True, "description": "GeoJSON"})
    publish_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime(allow_none=True)
