"""Heatmaps, vector tiles, time series and hotspots: aggregates only, never reports."""

import csv
import hashlib
import io
import json

from flask import Response, current_app, request
from flask.views import MethodView

from civic_api import database
from civic_api.analytics import releases, research, service
from civic_api.analytics.models import Release
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
from civic_api.staff.service import MUNICIPAL_ROLES
from geo.tiles import InvalidTile, validate_tile

blp = Blueprint(
    "analytics",
    __name__,
    url_prefix="/v1",
    query_role="maps",
    description="Privacy-safe aggregates over H3 cells. Non-sensitive categories are live:"
    " cells with fewer than k reports are withheld, areas are whole cells, public date ranges"
    " are whole months. Sensitive categories come only from the monthly releases (noisy,"
    " /v1/releases). Researchers (analytics:read) get day-level dates for non-sensitive"
    " categories and DP answers within their budget; municipal staff get exact figures for"
    " their own municipalities.",
)

OPTIONAL_AUTH = [{}, {"bearerAuth": []}]
GEOJSON = "application/geo+json"


def audience() -> service.Audience:
    """The public; a researcher (analytics:read without a municipal role); or municipal
    staff, exact for their own municipalities only (the reports scope rule)."""
    config = current_app.config
    if not request.headers.get("Authorization"):
        return service.Audience(researcher=False, k=config["ANALYTICS_K"])
    principal = authorize(None)
    if principal.role in MUNICIPAL_ROLES:
        # Never researcher-level, whatever the token's scopes: exact where they may read
        # the reports, the public view everywhere else.
        readable = principal.municipality_ids if "reports:read" in principal.scopes else None
        return service.Audience(
            researcher=False,
            k=config["ANALYTICS_K"],
            exact_municipality_ids=frozenset(readable or ()),
        )
    if "analytics:read" not in principal.scopes:
        raise Forbidden("This needs the analytics:read permission, which your token lacks.")
    return service.Audience(
        researcher=True, k=config["ANALYTICS_RESEARCHER_K"], staff_id=principal.staff_id
    )


def categories():
    """The process's category cache: no category query per request."""
    return current_app.extensions["category_cache"]


def cached(body: bytes | str, mimetype: str, who: service.Audience | None) -> Response:
    """A response with a content ETag; If-None-Match gets 304. Public answers may be cached
    by anyone; signed-in ones only privately."""
    response = Response(body, mimetype=mimetype)
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    response.cache_control.max_age = 300
    if who is None or who.public:
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
    @blp.arguments(HeatmapArgsSchema(), location="query")
    @blp.doc(
        **geojson_doc(
            "GeoJSON FeatureCollection of H3 cells with `cell` and `count` (and"
            " `sensitive_count`, the released count of a mixed selection's sensitive part),"
            " plus `resolution`, `k`, `suppressed` (live part), `release` (the releases read)"
            " and the effective `filters`; or CSV with ?format=csv or Accept: text/csv",
            csv=True,
        )
    )
    @blp.alt_response(
        403, description="noise=dp without a researcher token, or a token lacking analytics:read"
    )
    @blp.alt_response(
        429,
        description="Too many requests from this client (rate limit), or noise=dp: the answer"
        " would exceed the account's or the service's privacy budget for the quarter"
        " (`budget` in the body); Retry-After says when to try again",
    )
    def get(self, args):
        """Report counts per H3 cell (small counts withheld; sensitive ones from releases)"""
        who = audience()
        if args["noise"] == "dp":
            return dp_heatmap(args, who)
        database.autocommit()  # it only reads: no BEGIN and ROLLBACK around its statements
        query = service.build_query(args, who, categories())
        wants_csv = args.get("format") == "csv" or (
            "format" not in args
            and request.accept_mimetypes.best_match([GEOJSON, "application/json", "text/csv"])
            == "text/csv"
        )
        if wants_csv:
            header, rows = service.heatmap_csv_rows(query)
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(header)
            writer.writerows(rows)
            return cached(buffer.getvalue(), "text/csv", who)
        return cached(service.heatmap_geojson(query), GEOJSON, who)


def dp_heatmap(args: dict, who: service.Audience) -> Response:
    if not who.researcher:
        raise Forbidden("Differentially private answers need a researcher token.")
    body = research.dp_heatmap(args, who, current_app.config)
    session.commit()  # keep the answer and its charge: it must never be drawn again
    return cached(body, GEOJSON, who)


@blp.route("/heatmaps/series")
class SeriesView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(SeriesArgsSchema(), location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "`series` [{period, count[, sensitive_count]}] with small"
                " counts withheld, `k`, `suppressed`, `release` and the effective `filters`",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
        security=OPTIONAL_AUTH,
    )
    def get(self, args):
        """Counts per month (researchers: also day or ISO week) over a municipality or bbox"""
        database.autocommit()  # it only reads
        who = audience()
        query = service.build_query(args, who, categories())
        if args["interval"] != "month" and not (
            query.exact or (who.researcher and not query.group_ids)
        ):
            raise InvalidInput.field(
                "interval",
                "Public series and sensitive categories are monthly: finer periods could"
                " reveal withheld counts by subtraction. Day and week need a researcher token"
                " and non-sensitive categories.",
                "query",
            )
        body = service.series(query, args["interval"])
        return cached(json.dumps(body), "application/json", who)


@blp.route("/hotspots")
class HotspotsView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(HotspotArgsSchema(), location="query")
    @blp.doc(
        **geojson_doc(
            "Cells that are significant hot or cold spots (Gi*, FDR-controlled) on the"
            " published values, per layer (live, release), and with a date range cells with"
            " a significant increase on the previous whole months"
        )
    )
    def get(self, args):
        """Statistically significant clusters, and emerging ones"""
        database.autocommit()  # it only reads
        who = audience()
        query = service.build_query(args, who, categories())
        if (query.date_from is None) != (query.date_to is None):
            raise InvalidInput.field("to", "Give both from and to, or neither.", "query")
        body = service.hotspot_features(query, args["alpha"])
        return cached(json.dumps(body), GEOJSON, who)


@blp.route("/tiles/heatmap/<int:z>/<int:x>/<int:y>.mvt")
class HeatmapTileView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(AggregateArgsSchema(), location="query")
    @blp.doc(
        responses={
            "200": {
                "description": 'Mapbox vector tile, layer "heatmap": cell polygons with'
                " `cell`, `count` (and `sensitive_count` for a mixed selection),"
                " `resolution`; withheld cells are absent",
                "content": {"application/vnd.mapbox-vector-tile": {"schema": {"type": "string"}}},
            }
        },
        security=OPTIONAL_AUTH,
    )
    def get(self, args, z, x, y):
        """A vector tile of the heatmap; the zoom picks the resolution"""
        database.autocommit()  # it only reads: no BEGIN and ROLLBACK around its statement
        try:
            validate_tile(z, x, y)
        except InvalidTile as exc:
            raise NotFound(f"No such tile: {exc}.") from None
        who = audience()
        args.pop("bbox", None)
        query = service.build_query(args | {"zoom": z}, who, categories())
        return cached(service.tile(query, z, x, y), "application/vnd.mapbox-vector-tile", who)


@blp.route("/releases")
class ReleasesView(MethodView):
    @blp.doc(
        responses={
            "200": {
                "description": "`releases`: every public release (id, period, epsilon,"
                " created_at, ...), oldest first; `ledger`: epsilon per month (public release"
                " and researchers' answers) and in total",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        }
    )
    def get(self):
        """Published releases of the sensitive categories, and the privacy budget ledger"""
        body = {
            "releases": [releases.release_metadata(r) for r in releases.all_releases()],
            "ledger": releases.ledger(),
        }
        return cached(json.dumps(body), "application/json", None)


@blp.route("/releases/<release_id>")
class ReleaseByIdView(MethodView):
    @blp.doc(
        responses={
            "200": {
                "description": "The release's metadata: period, epsilon, mechanism, levels",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        }
    )
    @blp.alt_response(404, description="No release for this month")
    def get(self, release_id):
        """One release's metadata"""
        row = session.get(Release, release_id) if len(release_id) <= 16 else None
        if row is None:
            raise NotFound("No release has this id (a month, YYYY-MM).")
        return cached(json.dumps(releases.release_metadata(row)), "application/json", None)
