"""Query schemas of the aggregate endpoints."""

import marshmallow as ma

from civic_api.analytics.models import STATUS_CLASSES
from civic_api.extensions import DelimitedList, QueryArgsSchema
from civic_api.triage.schemas import BBox
from geo.cells import MAX_ZOOM, ROLLUP_RESOLUTIONS

CODE = ma.fields.String(validate=ma.validate.Regexp(r"^[a-z0-9_]{1,64}$"))


class AggregateArgsSchema(QueryArgsSchema):
    """Filters shared by heatmaps, tiles, series and hotspots."""

    category = DelimitedList(CODE, metadata={"description": "Comma-separated category codes"})
    group = DelimitedList(CODE, metadata={"description": "Comma-separated category group codes"})
    municipality = ma.fields.String(
        validate=ma.validate.Regexp(r"^[a-z0-9-]{1,64}$"),
        metadata={"description": "Only cells whose centre is in this municipality"},
    )
    bbox = BBox(
        metadata={
            "type": "string",
            "example": "21.10,42.62,21.20,42.70",
            "description": "west,south,east,north: the cells whose centre lies inside",
        }
    )
    from_ = ma.fields.Date(
        data_key="from",
        metadata={"description": "First day of occurrence (public: from its month's start)"},
    )
    to = ma.fields.Date(
        metadata={"description": "Last day, inclusive (public: to its month's end)"}
    )
    release = ma.fields.String(
        validate=ma.validate.Regexp(r"^\d{4}-\d{2}$"),
        metadata={
            "description": "A release id (YYYY-MM, see /v1/releases) for the sensitive"
            " categories; default: the released months of from..to, else the latest"
        },
    )
    status = DelimitedList(
        ma.fields.String(validate=ma.validate.OneOf(list(STATUS_CLASSES))),
        metadata={
            "description": "Status classes of the non-sensitive categories; default"
            " open,resolved (releases count every report, whatever its status)"
        },
    )

    @ma.post_load
    def rename(self, data, **kwargs):
        if "from_" in data:
            data["from"] = data.pop("from_")
        return data


class HeatmapArgsSchema(AggregateArgsSchema):
    resolution = ma.fields.Integer(
        validate=ma.validate.OneOf(ROLLUP_RESOLUTIONS),
        metadata={"description": "H3 resolution 6-9 (sensitive categories: at most 8)"},
    )
    zoom = ma.fields.Float(
        validate=ma.validate.Range(min=0, max=MAX_ZOOM),
        metadata={"description": "Or a map zoom, mapped to a resolution as the tiles are"},
    )
    format = ma.fields.String(
        validate=ma.validate.OneOf(["geojson", "csv"]),
        metadata={"description": "csv: cell, centre lat/lon, count (or Accept: text/csv)"},
    )
    noise = ma.fields.String(
        validate=ma.validate.OneOf(["none", "dp"]),
        load_default="none",
        metadata={"description": "dp: differentially private counts (researchers)"},
    )


class SeriesArgsSchema(AggregateArgsSchema):
    interval = ma.fields.String(
        load_default="month",
        validate=ma.validate.OneOf(["day", "week", "month"]),
        metadata={"description": "day and week need a researcher token"},
    )


class HotspotArgsSchema(AggregateArgsSchema):
    resolution = ma.fields.Integer(load_default=7, validate=ma.validate.OneOf(ROLLUP_RESOLUTIONS))
    alpha = ma.fields.Float(
        load_default=0.05,
        validate=ma.validate.Range(min=0.001, max=0.2),
        metadata={"description": "False discovery rate"},
    )
