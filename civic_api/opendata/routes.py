"""The open-data catalogue (DCAT-AP, JSON-LD) and its CSV and GeoJSON downloads."""

import gzip
from datetime import UTC, datetime

from flask import Response, current_app, json, request, url_for
from flask.views import MethodView

from civic_api.database import session
from civic_api.errors import NotFound
from civic_api.extensions import Blueprint, QueryArgsSchema
from civic_api.opendata import service

blp = Blueprint(
    "opendata",
    __name__,
    url_prefix="/v1/open-data",
    description="Open data by default: a DCAT-AP catalogue of the public datasets, each in CSV "
    "and GeoJSON under CC BY 4.0, with the same privacy rules as the public API "
    "(docs/opendata.md).",
)

JSON_LD = "application/ld+json"


def _urls(dataset: service.Dataset, bbox) -> dict:
    return {
        "self": url_for("opendata.DatasetView", dataset_id=dataset.id, _external=True),
        "home": url_for("opendata.CatalogView", _external=True),
        "bbox": bbox,
        **{
            fmt: url_for("opendata.DownloadView", dataset_id=dataset.id, fmt=fmt, _external=True)
            for fmt in service.MEDIA_TYPES
        },
    }


def _publisher() -> dict:
    return {"@type": "foaf:Agent", "foaf:name": current_app.config["OPEN_DATA_PUBLISHER"]}


def _dataset(dataset_id: str) -> service.Dataset:
    dataset = service.DATASETS.get(dataset_id)
    if dataset is None:
        raise NotFound(f"No dataset has the id {dataset_id!r}.")
    return dataset


def json_ld(document: dict) -> Response:
    return Response(json.dumps(document), mimetype=JSON_LD)


JSON_LD_DOC = {
    "responses": {
        "200": {
            "description": "DCAT-AP in JSON-LD",
            "content": {JSON_LD: {"schema": {"type": "object"}}},
        }
    }
}


@blp.route("/catalog")
class CatalogView(MethodView):
    @blp.arguments(QueryArgsSchema, location="query")
    @blp.doc(**JSON_LD_DOC)
    def get(self, args):
        """The DCAT-AP catalogue of the open datasets (JSON-LD)"""
        bbox = service.kosovo_bbox()
        urls = {
            "self": url_for("opendata.CatalogView", _external=True),
            "home": request.host_url,
            **{d.id: _urls(d, bbox) for d in service.DATASETS.values()},
        }
        now = datetime.now(UTC)
        return json_ld(service.catalog_document(urls, _publisher(), now))


@blp.route("/datasets/<dataset_id>")
class DatasetView(MethodView):
    @blp.arguments(QueryArgsSchema, location="query")
    @blp.doc(**JSON_LD_DOC)
    @blp.alt_response(404, description="No such dataset")
    def get(self, args, dataset_id):
        """One dataset of the catalogue (JSON-LD)"""
        dataset = _dataset(dataset_id)
        document = service.dataset_document(
            dataset, _urls(dataset, service.kosovo_bbox()), _publisher(), datetime.now(UTC)
        )
        return json_ld({"@context": service.CONTEXT, **document})


@blp.route("/datasets/<dataset_id>/data.<any(csv, geojson):fmt>")
class DownloadView(MethodView):
    @blp.arguments(QueryArgsSchema, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "Today's file (made at the first request of the local day), "
                "gzip-encoded when the client accepts it",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/geo+json": {"schema": {"type": "object"}},
                },
            },
            "304": {"description": "Not modified (If-None-Match)"},
        }
    )
    @blp.alt_response(404, description="No such dataset")
    def get(self, args, dataset_id, fmt):
        """Download a dataset as CSV or GeoJSON, with an ETag"""
        dataset = _dataset(dataset_id)
        row = service.current_file(dataset, fmt, datetime.now(UTC), current_app.config)
        session.commit()
        encoded = "gzip" in request.accept_encodings
        body = row.gzip if encoded else gzip.decompress(row.gzip)
        response = Response(body)
        if encoded:
            response.content_encoding = "gzip"
        extra = "; charset=utf-8; header=present" if fmt == "csv" else ""
        response.content_type = service.MEDIA_TYPES[fmt] + extra
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{dataset.id}-{row.period}.{fmt}"'
        )
        # Each encoding is its own representation, with its own strong ETag.
        response.set_etag(row.sha256[:32] + ("-gz" if encoded else ""))
        response.last_modified = row.created_at
        response.cache_control.public = True
        response.cache_control.max_age = 300
        response.vary.add("Accept-Encoding")
        return response.make_conditional(request, accept_ranges=True, complete_length=len(body))
