"""OGC API – Features (Part 1 Core, GeoJSON, OpenAPI 3.0) under /ogc, for QGIS, GDAL, OWSLib."""

from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Response, current_app, json, request, url_for
from flask.views import MethodView

from civic_api.analytics import service as analytics
from civic_api.errors import InvalidInput, NotFound
from civic_api.extensions import Blueprint
from civic_api.i18n import current_locale
from civic_api.ogc import service
from civic_api.ogc.openapi import ogc_definition
from civic_api.ogc.schemas import (
    HeatItemArgsSchema,
    HeatItemsArgsSchema,
    ItemsArgsSchema,
    OgcArgsSchema,
    OgcCollectionSchema,
    OgcCollectionsSchema,
    OgcConformanceSchema,
    OgcLandingPageSchema,
    PointItemsArgsSchema,
)

blp = Blueprint(
    "ogc",
    __name__,
    url_prefix="/ogc",
    query_role="maps",
    description="OGC API – Features (Part 1 Core, GeoJSON) for GIS clients: municipalities, "
    "the public heatmap cells and approximate points of non-sensitive reports, under the "
    "same privacy rules as the other aggregates (docs/ogc.md).",
)

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0/"
ARGS = {"location": "query", "error_status_code": 400}  # OGC: invalid parameters are 400s

_LINK = {
    "type": "object",
    "required": ["href", "rel"],
    "properties": {k: {"type": "string"} for k in ("href", "rel", "type", "title")},
}
_FEATURE = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"type": "string"},
        "geometry": {"type": "object"},
        "properties": {"type": "object"},
        "links": {"type": "array", "items": _LINK},
    },
}
_FEATURE_COLLECTION = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": _FEATURE},
        "links": {"type": "array", "items": _LINK},
        "timeStamp": {"type": "string", "format": "date-time"},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
    },
}


def geojson_doc(description: str, schema: dict) -> dict:
    return {
        "responses": {"200": {"description": description, "content": {GEOJSON: {"schema": schema}}}}
    }


def link(href: str, rel: str, media_type: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": media_type, "title": title}


def here(endpoint: str, **values) -> str:
    return url_for(f"ogc.{endpoint}", _external=True, **values)


@contextmanager
def as_bad_request():
    """The analytics service's 422s for unknown filters are 400s in OGC API."""
    try:
        yield
    except InvalidInput as exc:
        raise InvalidInput(exc.message, exc.errors, status=400) from None


def page_url(offset: int, limit: int) -> str:
    """This request's URL with another offset and the effective limit."""
    args = request.args.to_dict(flat=False)
    args["offset"], args["limit"] = [str(offset)], [str(limit)]
    base = url_for(request.endpoint, _external=True, **(request.view_args or {}))
    return f"{base}?{urlencode(args, doseq=True)}"


def items_response(collection_id: str, page: service.Page, args: dict) -> Response:
    """A page of features with self, collection and (when they exist) next and prev links."""
    limit, offset = args["limit"], args["offset"]
    links = [
        link(request.url, "self", GEOJSON, "This page"),
        link(here(VIEWS[collection_id]), "collection", JSON, "The collection"),
    ]
    if page.more:
        links.append(link(page_url(offset + limit, limit), "next", GEOJSON, "Next page"))
    if offset > 0:
        links.append(link(page_url(max(offset - limit, 0), limit), "prev", GEOJSON, "Previous"))
    body = service.feature_collection(page, links, datetime.now(UTC))
    return Response(body, mimetype=GEOJSON)


def feature_response(collection_id: str, feature: service.Feature | None) -> Response:
    if feature is None:
        raise NotFound(f"The collection {collection_id!r} has no such feature.")
    links = [
        link(request.base_url, "self", GEOJSON, "This feature"),
        link(here(VIEWS[collection_id]), "collection", JSON, "The collection"),
    ]
    return Response(feature.json(links=links), mimetype=GEOJSON)


def collection_document(info: service.CollectionInfo, extent: dict) -> dict:
    return {
        "id": info.id,
        "title": info.title,
        "description": info.description,
        "links": [
            link(here(VIEWS[info.id]), "self", JSON, info.title),
            link(here(ITEM_VIEWS[info.id]), "items", GEOJSON, f"{info.title}: features"),
        ],
        "extent": extent,
        "itemType": "feature",
        "crs": [service.CRS84],
    }


@blp.route("", strict_slashes=False)
class LandingPageView(MethodView):
    @blp.arguments(OgcArgsSchema, **ARGS)
    @blp.response(200, OgcLandingPageSchema)
    def get(self, args):
        """OGC API landing page: links to the API definition, conformance and collections"""
        return {
            "title": current_app.config["API_TITLE"] + ": OGC API – Features",
            "description": "Kosovo's municipalities, the public heatmap of citizens' reports "
            "and approximate points of reports of municipal problems, for GIS clients. "
            "No exact location and no individual harassment report is ever published.",
            "links": [
                link(here("LandingPageView"), "self", JSON, "This document"),
                link(here("DefinitionView"), "service-desc", OPENAPI, "The API definition"),
                link(
                    url_for("api-docs.openapi_swagger_ui", _external=True),
                    "service-doc",
                    "text/html",
                    "The API documentation",
                ),
                link(here("ConformanceView"), "conformance", JSON, "Conformance classes"),
                link(here("ConformanceView"), OGC_REL + "conformance", JSON, "Conformance"),
                link(here("CollectionsView"), "data", JSON, "The feature collections"),
                link(here("CollectionsView"), OGC_REL + "data", JSON, "The collections"),
            ],
        }


@blp.route("/api")
class DefinitionView(MethodView):
    @blp.arguments(OgcArgsSchema, **ARGS)
    @blp.doc(
        responses={
            "200": {
                "description": "This OpenAPI 3.0 document",
                "content": {OPENAPI: {"schema": {"type": "object"}}},
            }
        }
    )
    def get(self, args):
        """The OGC API's own definition (OpenAPI 3.0), with paths from the landing page"""
        body = current_app.extensions.get("ogc_definition")
        if body is None:
            document = ogc_definition(
                current_app.extensions["flask-smorest"]["blp_name_to_api"]["ogc"].spec.to_dict(),
                current_app.config["API_TITLE"] + ": OGC API – Features",
                blp.description,
                service.MAX_LIMIT,
            )
            body = current_app.extensions["ogc_definition"] = json.dumps(document)
        return Response(body, mimetype=OPENAPI)


@blp.route("/conformance")
class ConformanceView(MethodView):
    @blp.arguments(OgcArgsSchema, **ARGS)
    @blp.response(200, OgcConformanceSchema)
    def get(self, args):
        """The OGC API conformance classes implemented"""
        return {"conformsTo": CONFORMANCE}


@blp.route("/collections")
class CollectionsView(MethodView):
    @blp.arguments(OgcArgsSchema, **ARGS)
    @blp.response(200, OgcCollectionsSchema)
    def get(self, args):
        """The feature collections, with their extents"""
        extents = service.extents()
        return {
            "links": [link(here("CollectionsView"), "self", JSON, "This document")],
            "collections": [collection_document(c, extents[c.id]) for c in service.COLLECTIONS],
        }


def _collection(collection_id: str) -> dict:
    info = next(c for c in service.COLLECTIONS if c.id == collection_id)
    return collection_document(info, service.extents()[collection_id])


# Municipalities


@blp.route("/collections/municipalities")
class MunicipalitiesCollectionView(MethodView):
    @blp.arguments(OgcArgsSchema, **ARGS)
    @blp.response(200, OgcCollectionSchema)
    def get(self, args):
        """The municipalities collection"""
        return _collection("municipalities")


@blp.route("/collections/municipalities/items")
class MunicipalityItemsView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(ItemsArgsSchema, **ARGS)
    @blp.doc(
        **geojson_doc(
            "Municipalities whose boundary intersects the bbox, by slug: properties slug, name"
            " (localised), name_sq, name_sr, name_en, population; geometry the boundary."
            " datetime is accepted and ignored (boundaries have no time).",
            _FEATURE_COLLECTION,
        )
    )
    def get(self, args):
        """Municipalities with their boundaries"""
        page = service.municipality_page(
            args.get("bbox"), args["limit"], args["offset"], current_locale()
        )
        return items_response("municipalities", page, args)


@blp.route("/collections/municipalities/items/<feature_id>")
class MunicipalityItemView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(OgcArgsSchema, **ARGS)
    @blp.doc(**geojson_doc("One municipality; its id is its slug", _FEATURE))
    @blp.alt_response(404, description="No municipality has this slug")
    def get(self, args, feature_id):
        """One municipality with its boundary"""
        feature = service.municipality_feature(feature_id, current_locale())
        return feature_response("municipalities", feature)


# Heatmap cells


def public_heat_query(args: dict) -> analytics.AggregateQuery:
    """The analytics query of these arguments, always for the public audience."""
    query_args = {
        key: args[key]
        for key in ("category", "group", "municipality", "status", "bbox", "resolution")
        if key in args
    }
    date_from, date_to = args.get("datetime") or (None, None)
    if date_from is not None:
        query_args["from"] = date_from
    if date_to is not None:
        query_args["to"] = date_to
    audience = analytics.Audience(researcher=False, k=current_app.config["ANALYTICS_K"])
    with as_bad_request():
        return analytics.build_query(query_args, audience, current_app.extensions["category_cache"])


@blp.route("/collections/heatmap-cells")
class HeatmapCellsCollectionView(MethodView):
    @blp.arguments(OgcArgsSchema, **ARGS)
    @blp.response(200, OgcCollectionSchema)
    def get(self, args):
        """The heatmap cells collection"""
        return _collection("heatmap-cells")


@blp.route("/collections/heatmap-cells/items")
class HeatmapCellItemsView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(HeatItemsArgsSchema, **ARGS)
    @blp.doc(
        **geojson_doc(
            "Published H3 cells by id: properties cell, count, resolution; plus the effective"
            " `resolution`, `k`, `suppressed` {cells, reports_at_most} and `filters` of the"
            " whole query. Cells with fewer than k reports never appear.",
            _FEATURE_COLLECTION,
        )
    )
    def get(self, args):
        """Report counts per H3 cell, as the public heatmap"""
        query = public_heat_query(args)
        page = service.heat_page(query, args["limit"], args["offset"])
        return items_response("heatmap-cells", page, args)


@blp.route("/collections/heatmap-cells/items/<feature_id>")
class HeatmapCellItemView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(HeatItemArgsSchema, **ARGS)
    @blp.doc(
        **geojson_doc("One published cell; its id is the H3 cell and sets the resolution", _FEATURE)
    )
    @blp.alt_response(404, description="Unknown or withheld cell, or finer than allowed")
    def get(self, args, feature_id):
        """One heatmap cell with the filters given"""
        cell = service.parse_cell(feature_id)
        feature = None
        if cell is not None:
            query = public_heat_query(args | {"resolution": (cell >> 52) & 0xF})
            feature = service.heat_cell(query, cell)
        return feature_response("heatmap-cells", feature)


# Report points


def point_ids() -> service.PointIds:
    return service.PointIds(current_app.config["SECRET_KEY"].encode())


@blp.route("/collections/report-points")
class ReportPointsCollectionView(MethodView):
    @blp.arguments(OgcArgsSchema, **ARGS)
    @blp.response(200, OgcCollectionSchema)
    def get(self, args):
        """The report points collection"""
        return _collection("report-points")


@blp.route("/collections/report-points/items")
class ReportPointItemsView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(PointItemsArgsSchema, **ARGS)
    @blp.doc(
        **geojson_doc(
            "Open and resolved reports of non-sensitive categories at the centre of their"
            " resolution-9 H3 cell: properties category, group, status (open or resolved),"
            " day (local date). bbox selects the points inside it.",
            _FEATURE_COLLECTION,
        )
    )
    def get(self, args):
        """Approximate points of reports of municipal problems"""
        category_ids = service.point_category_ids(args.get("category", ()), args.get("group", ()))
        date_from, date_to = args.get("datetime") or (None, None)
        page = service.point_page(
            category_ids,
            args.get("bbox"),
            date_from,
            date_to,
            args["limit"],
            args["offset"],
            point_ids(),
        )
        return items_response("report-points", page, args)


@blp.route("/collections/report-points/items/<feature_id>")
class ReportPointItemView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(OgcArgsSchema, **ARGS)
    @blp.doc(**geojson_doc("One report point, by its opaque id", _FEATURE))
    @blp.alt_response(404, description="No published point has this id")
    def get(self, args, feature_id):
        """One approximate report point"""
        return feature_response("report-points", service.point_feature(feature_id, point_ids()))


VIEWS = {
    "municipalities": "MunicipalitiesCollectionView",
    "heatmap-cells": "HeatmapCellsCollectionView",
    "report-points": "ReportPointsCollectionView",
}
ITEM_VIEWS = {
    "municipalities": "MunicipalityItemsView",
    "heatmap-cells": "HeatmapCellItemsView",
    "report-points": "ReportPointItemsView",
}
