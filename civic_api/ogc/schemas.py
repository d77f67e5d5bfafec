"""Query and response schemas of the OGC API – Features endpoints."""

import marshmallow as ma

from civic_api.analytics.models import STATUS_CLASSES
from civic_api.analytics.schemas import CODE
from civic_api.extensions import DelimitedList, QueryArgsSchema, Schema
from civic_api.ogc import service
from geo.cells import ROLLUP_RESOLUTIONS

JSON_FORMATS = ("json", "geojson")


def json_only(value: str) -> None:
    if value.lower() not in JSON_FORMATS:
        raise ma.ValidationError(
            "Only JSON is served: use f=json or leave f out (there is no HTML view)."
        )


def crs84_only(value: str) -> None:
    if value.strip() not in service.CRS84_NAMES:
        raise ma.ValidationError(f"Only {service.CRS84} (WGS 84 longitude, latitude) is served.")


class OgcBBox(DelimitedList):
    """west,south,east,north in CRS84 (or six numbers with heights); documented as OGC's
    comma-separated array of numbers, parsed as a whole."""

    def __init__(self, **kwargs):
        super().__init__(ma.fields.Float(), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return service.parse_bbox(str(value))
        except service.InvalidParameter as exc:
            raise ma.ValidationError(str(exc)) from None


class OgcDatetime(ma.fields.Field):
    """An RFC 3339 instant or interval, as (first local day, last local day)."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return service.parse_datetime(str(value))
        except service.InvalidParameter as exc:
            raise ma.ValidationError(str(exc)) from None


DATETIME_DOC = {
    "type": "string",
    "style": "form",
    "explode": False,
    "example": "2026-01-01T00:00:00Z/2026-03-31T23:59:59Z",
    "description": "An RFC 3339 date-time or interval (open ends: .. or empty); plain dates "
    "(2026-01-01/2026-03-31) are local days in Europe/Belgrade.",
}


class OgcArgsSchema(QueryArgsSchema):
    """Every OGC endpoint takes f=json and lang; any parameter it does not declare is a 400
    (/req/core/query-param-unknown, docs/ogc.md)."""

    f = ma.fields.String(
        validate=json_only,
        metadata={"description": "Format: json (the only one served)", "enum": ["json"]},
    )
    lang = ma.fields.String(
        # No enum: like Accept-Language, an unsupported language falls back to English.
        metadata={"description": "sq, sr or en (overrides Accept-Language): names and messages"}
    )

    @ma.validates_schema(pass_original=True)
    def no_unknown_parameters(self, data, original, **kwargs):
        known = {field.data_key or name for name, field in self.load_fields.items()}
        unknown = sorted(set(original) - known)
        if unknown:
            message = f"Unknown parameter; this operation takes: {', '.join(sorted(known))}."
            raise ma.ValidationError({name: [message] for name in unknown})


class ItemsArgsSchema(OgcArgsSchema):
    limit = ma.fields.Integer(
        load_default=service.DEFAULT_LIMIT,
        validate=ma.validate.Range(min=1),
        metadata={
            # No "maximum": OGC API - Features lets clients ask for more and get the maximum.
            "minimum": 1,
            "default": service.DEFAULT_LIMIT,
            "description": f"Features per page; larger values are served as {service.MAX_LIMIT}",
            "style": "form",
            "explode": False,
        },
    )
    offset = ma.fields.Integer(
        load_default=0,
        validate=ma.validate.Range(min=0),
        metadata={"description": "Features to skip (the next link sets it)"},
    )
    bbox = OgcBBox(
        metadata={
            "minItems": 4,
            "maxItems": 6,
            "example": [21.10, 42.62, 21.20, 42.70],
            "description": "west,south,east,north in CRS84: the features inside or touching it"
            " (heatmap cells and report points: those whose cell centre is inside)",
        }
    )
    bbox_crs = ma.fields.String(
        data_key="bbox-crs",
        validate=crs84_only,
        metadata={"description": f"Only {service.CRS84}", "enum": sorted(service.CRS84_NAMES)},
    )
    crs = ma.fields.String(
        validate=crs84_only,
        metadata={"description": f"Only {service.CRS84}", "enum": sorted(service.CRS84_NAMES)},
    )
    datetime = OgcDatetime(metadata=DATETIME_DOC)

    @ma.post_load
    def clamp_limit(self, data, **kwargs):
        data["limit"] = min(data["limit"], service.MAX_LIMIT)
        return data


def codes(description: str) -> DelimitedList:
    """Comma-separated codes; an empty value (category=) is a 400, not "all"."""
    return DelimitedList(
        CODE,
        validate=ma.validate.Length(min=1),
        metadata={"description": description, "minItems": 1},
    )


class HeatFiltersSchema(QueryArgsSchema):
    category = codes("Comma-separated category codes")
    group = codes("Comma-separated category group codes")
    municipality = ma.fields.String(
        validate=ma.validate.Regexp(r"^[a-z0-9-]{1,64}$"),
        metadata={"description": "Only cells whose centre is in this municipality"},
    )
    status = DelimitedList(
        ma.fields.String(validate=ma.validate.OneOf(list(STATUS_CLASSES))),
        metadata={"description": "Status classes; default open,resolved"},
    )


class HeatItemsArgsSchema(ItemsArgsSchema, HeatFiltersSchema):
    resolution = ma.fields.Integer(
        load_default=7,
        validate=ma.validate.OneOf(ROLLUP_RESOLUTIONS),
        metadata={"description": "H3 resolution 6-9 (sensitive categories: at most 8)"},
    )


class HeatItemArgsSchema(OgcArgsSchema, HeatFiltersSchema):
    datetime = OgcDatetime(metadata=DATETIME_DOC)


class PointItemsArgsSchema(ItemsArgsSchema):
    category = codes("Comma-separated codes of non-sensitive categories")
    group = codes("Comma-separated category group codes")


# Responses


class OgcLinkSchema(Schema):
    href = ma.fields.String(required=True)
    rel = ma.fields.String(required=True)
    type = ma.fields.String()
    title = ma.fields.String()


class OgcLandingPageSchema(Schema):
    title = ma.fields.String()
    description = ma.fields.String()
    links = ma.fields.List(ma.fields.Nested(OgcLinkSchema))


class OgcConformanceSchema(Schema):
    conformsTo = ma.fields.List(ma.fields.String())


class OgcSpatialExtentSchema(Schema):
    bbox = ma.fields.List(
        ma.fields.List(ma.fields.Float()),
        metadata={"description": "[[west, south, east, north]]"},
    )
    crs = ma.fields.String()


class OgcTemporalExtentSchema(Schema):
    interval = ma.fields.List(
        ma.fields.List(ma.fields.String(allow_none=True)),
        metadata={"description": "[[start, end]]; null for an open end"},
    )
    trs = ma.fields.String()


class OgcExtentSchema(Schema):
    spatial = ma.fields.Nested(OgcSpatialExtentSchema)
    temporal = ma.fields.Nested(OgcTemporalExtentSchema)


class OgcCollectionSchema(Schema):
    id = ma.fields.String()
    title = ma.fields.String()
    description = ma.fields.String()
    links = ma.fields.List(ma.fields.Nested(OgcLinkSchema))
    extent = ma.fields.Nested(OgcExtentSchema)
    itemType = ma.fields.String()
    crs = ma.fields.List(ma.fields.String())


class OgcCollectionsSchema(Schema):
    links = ma.fields.List(ma.fields.Nested(OgcLinkSchema))
    collections = ma.fields.List(ma.fields.Nested(OgcCollectionSchema))
