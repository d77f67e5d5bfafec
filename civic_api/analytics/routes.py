"""Heatmaps, vector tiles, time series and hotspots: aggregates only, never reports."""

import csv
import hashlib
import io
import json

from flask import Response, current_app, request
from flask.views import MethodView

from civic_api.analytics import service
from civic_api.analytics.schemas import (
    AggregateArgsSchema,
    HeatmapArgsSchema,
    HotspotArgsSchema,
    SeriesArgsSchema,
)
from civic_api.database import session
from civic_api.errors import Forbidden, InvalidInput, NotFound
from civic_api.extensions import Blueprint
from civic_api.staff.auth import authorize
from geo.tiles import InvalidTile, validate_tile

blp = Blueprint(
    "analytics",
    __name__,
    url_prefix="/v1",
    query_role="analytics",
    description="Privacy-safe aggregates over H3 cells: cells with fewer than k reports are "
    "withheld, areas are whole cells, public date ranges are whole months. A researcher "
    "token (analytics:read) unlocks finer resolutions, day-level dates and DP counts.",
)

OPTIONAL_AUTH = [{}, {"bearerAuth": []}]
GEOJSON = "application/geo+json"


def audience() -> service.Audience:
    """The public, or (with a bearer token carrying analytics:read) a researcher."""
    config = current_app.config
    if request.headers.get("Authorization"):
        authorize("analytics:read")
        return service.Audience(researcher=True, k=config["ANALYTICS_RESEARCHER_K"])
    return service.Audience(researcher=False, k=config["ANALYTICS_K"])


def cached(body: bytes | str, mimetype: str, public: bool) -> Response:
    """A response with a content ETag; If-None-Match gets 304."""
    response = Response(body, mimetype=mimetype)
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    response.cache_control.max_age = 300
    if public:
        response.cache_control.public = True
    else:
        response.cache_control.private = True
        response.vary.add("Authorization")
    return response.make_conditional(request)


def geojson_doc(description: str, csv: bool = False) -> dict:
    content = {GEOJSON: {"schema": {"type": "object"}}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    return {
        "responses": {"200": {"description": description, "content": content}},
        "security": OPTIONAL_AUTH,
    }


@blp.route("/heatmaps")
class HeatmapsView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(HeatmapArgsSchema, location="query")
    @blp.doc(
        **geojson_doc(
            "GeoJSON FeatureCollection of H3 cells with `cell` and `count`, plus `resolution`,"
            " `k`, `suppressed` {cells, reports_at_most} and the effective `filters`; or CSV"
            " (cell, lat, lon, count) with ?format=csv or Accept: text/csv",
            csv=True,
        )
    )
    def get(self, args):
        """Report counts per H3 cell (small counts withheld)"""
        who = audience()
        query = service.build_query(args, who)
        if args["noise"] == "dp":
            return dp_heatmap(query, who)
        wants_csv = args.get("format") == "csv" or (
            "format" not in args
            and request.accept_mimetypes.best_match([GEOJSON, "application/json", "text/csv"])
            == "text/csv"
        )
        if wants_csv:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(("cell", "lat", "lon", "count"))
            writer.writerows(service.heatmap_csv_rows(query))
            return cached(buffer.getvalue(), "text/csv", not who.researcher)
        return cached(service.heatmap_geojson(query), GEOJSON, not who.researcher)


def dp_heatmap(query: service.HeatQuery, who: service.Audience) -> Response:
    if not who.researcher:
        raise Forbidden("Differentially private releases need a researcher token.")
    config = current_app.config
    release = service.dp_release(
        query, config["DP_EPSILON"], config["DP_CONTRIBUTION_BOUND"], config["DP_THRESHOLD"]
    )
    body = service.dp_geojson(query, release)
    session.commit()  # keep the release: it must never be drawn again
    return cached(body, GEOJSON, False)


@blp.route("/heatmaps/series")
class SeriesView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(SeriesArgsSchema, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "`series` [{period, count}] with small counts withheld, `k`,"
                " `suppressed` and the effective `filters`",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
        security=OPTIONAL_AUTH,
    )
    def get(self, args):
        """Counts per month (researchers: also day or ISO week) over a municipality or bbox"""
        who = audience()
        if args["interval"] != "month" and not who.researcher:
            raise InvalidInput.field(
                "interval",
                "Public series are monthly: finer periods could reveal withheld counts by "
                "subtraction. Day and week need a researcher token.",
                "query",
            )
        query = service.build_query(args, who)
        periods, withheld = service.series(query, args["interval"])
        body = {
            "interval": args["interval"],
            "k": query.k,
            "suppressed": withheld.public(),
            "filters": query.describe() | {"resolution": None},
            "series": periods,
        }
        return cached(json.dumps(body), "application/json", not who.researcher)


@blp.route("/hotspots")
class HotspotsView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(HotspotArgsSchema, location="query")
    @blp.doc(
        **geojson_doc(
            "Cells that are significant hot or cold spots (Gi*, FDR-controlled) and, with a"
            " date range, cells with a significant increase on the previous period"
        )
    )
    def get(self, args):
        """Statistically significant clusters, and emerging ones"""
        who = audience()
        query = service.build_query(args, who)
        if (query.date_from is None) != (query.date_to is None):
            raise InvalidInput.field("to", "Give both from and to, or neither.", "query")
        body = service.hotspot_features(query, args["alpha"])
        return cached(json.dumps(body), GEOJSON, not who.researcher)


@blp.route("/tiles/heatmap/<int:z>/<int:x>/<int:y>.mvt")
class HeatmapTileView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(AggregateArgsSchema, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": 'Mapbox vector tile, layer "heatmap": cell polygons with'
                " `cell`, `count`, `resolution`; withheld cells are absent",
                "content": {"application/vnd.mapbox-vector-tile": {"schema": {"type": "string"}}},
            }
        },
        security=OPTIONAL_AUTH,
    )
    def get(self, args, z, x, y):
        """A vector tile of the heatmap; the zoom picks the resolution"""
        try:
            validate_tile(z, x, y)
        except InvalidTile as exc:
            raise NotFound(f"No such tile: {exc}.") from None
        who = audience()
        args.pop("bbox", None)
        query = service.build_query(args | {"zoom": z}, who)
        return cached(
            service.tile(query, z, x, y), "application/vnd.mapbox-vector-tile", not who.researcher
        )
