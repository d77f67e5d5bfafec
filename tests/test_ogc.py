"""OGC API – Features under /ogc: landing page, conformance, collections, items, privacy rules,
and a real OGC client (OWSLib) reading the service from a real HTTP server."""

import base64
import json
import math
import re
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
from conftest import TEST_SECRET
from geoalchemy2.shape import to_shape
from h3.api import basic_int as h3i
from shapely.geometry import box, shape
from sqlalchemy import select, text

from civic_api.analytics import releases
from civic_api.municipalities.models import Municipality
from civic_api.ogc.schemas import ItemsArgsSchema
from civic_api.ogc.service import PointIds
from civic_api.seed import gazetteer
from civic_api.seed.demo_reports import insert_demo_reports

JSON = "application/json"
GEOJSON = "application/geo+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
BASE = "http://localhost/ogc"
LOCAL = ZoneInfo("Europe/Belgrade")
NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
ALL_SLUGS = sorted(m["slug"] for m in gazetteer.MUNICIPALITIES)
K = 5  # ANALYTICS_K
PRISHTINA_BOX = (21.05, 42.60, 21.25, 42.72)
OPEN = ("submitted", "acknowledged", "in_progress", "reopened")


def url(path: str, **params) -> str:
    return path + ("?" + urlencode(params) if params else "")


def local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL).date()


def midnight(day: date) -> str:
    return datetime.combine(day, datetime.min.time(), LOCAL).isoformat()


def outward(west, south, east, north) -> list[float]:
    return [
        math.floor(west * 1e4) / 1e4,
        math.floor(south * 1e4) / 1e4,
        math.ceil(east * 1e4) / 1e4,
        math.ceil(north * 1e4) / 1e4,
    ]


def centre_in(bbox, lon: float, lat: float) -> bool:
    west, south, east, north = bbox
    return west <= lon < east and south <= lat < north


def follow(client, first: str) -> list[dict]:
    """Every page of an items request, following the next links to the end."""
    pages, link = [], first
    while link:
        r = client.get(link)
        assert r.status_code == 200, r.json
        assert r.mimetype == GEOJSON
        pages.append(json.loads(r.data))
        nexts = [x["href"] for x in pages[-1]["links"] if x["rel"] == "next"]
        assert len(nexts) <= 1
        link = nexts[0] if nexts else None
        assert len(pages) < 100
    return pages


def links_of(body) -> list[tuple[str, str, str]]:
    return [(x["rel"], x["type"], x["href"]) for x in body["links"]]


def bad_request(r, field: str) -> list[str]:
    assert r.status_code == 400, r.json
    assert r.mimetype == JSON
    assert r.json["code"] == 400
    assert r.json["status"] == "Bad Request"
    assert r.json["message"]
    assert list(r.json["errors"]) == ["query"]
    assert list(r.json["errors"]["query"]) == [field]
    return r.json["errors"]["query"][field]


@pytest.fixture
def reports(db):
    """3,000 demo reports (one made a duplicate) and six more at one spot, committed into the
    test's transaction, with what the checks below need of each, read from the table."""
    insert_demo_reports(db.connection(), 3000, seed=11, now=NOW)
    first, second = db.execute(text("SELECT id FROM report ORDER BY id LIMIT 2")).scalars()
    db.execute(
        text("UPDATE report SET status = 'duplicate', duplicate_of_id = :o WHERE id = :d"),
        {"o": second, "d": first},
    )
    # Six more reports of one waste dump in Prishtina in February: a public res-9 cell.
    db.execute(
        text(
            "INSERT INTO report (id, category_id, municipality_id, location, occurred_at,"
            " submitted_at, status, follow_up_token_hash, h3_6, h3_7, h3_8, h3_9)"
            " SELECT gen_random_uuid(), category_id, municipality_id, location, occurred_at,"
            " submitted_at, 'submitted', follow_up_token_hash, h3_6, h3_7, h3_8, h3_9"
            " FROM (SELECT r.* FROM report r JOIN category c ON c.id = r.category_id"
            "  WHERE c.code = 'waste' AND r.status = 'resolved'"
            "  AND report_local_day(r.occurred_at) BETWEEN '2026-02-01' AND '2026-02-28'"
            "  AND ST_Intersects(r.location, ST_MakeEnvelope(21.1, 42.62, 21.2, 42.7, 4326))"
            "  ORDER BY r.id LIMIT 1) AS dump CROSS JOIN generate_series(1, 6)"
        )
    )
    db.commit()
    return db.execute(
        text(
            "SELECT r.id, c.code AS category, g.code AS grp, c.sensitive, r.status,"
            " r.occurred_at, ST_X(r.location) AS lon, ST_Y(r.location) AS lat, r.h3_9"
            " FROM report r JOIN category c ON c.id = r.category_id"
            " JOIN category_group g ON g.id = c.group_id"
        )
    ).all()


def published_points(reports):
    return {r.id: r for r in reports if not r.sensitive and r.status in (*OPEN, "resolved")}


# Landing page, conformance, collections


def test_landing_page_links(client):
    for path in ("/ogc", "/ogc/", "/ogc?f=json"):
        r = client.get(path)
        assert r.status_code == 200
        assert r.mimetype == JSON
        assert r.json["title"] == "Civic reports API: OGC API – Features"
        assert "harassment" in r.json["description"]
        assert links_of(r.json) == [
            ("self", JSON, BASE),
            (
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.0",
                f"{BASE}/api",
            ),
            ("service-doc", "text/html", "http://localhost/docs"),
            ("conformance", JSON, f"{BASE}/conformance"),
            ("http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON, f"{BASE}/conformance"),
            ("data", JSON, f"{BASE}/collections"),
            ("http://www.opengis.net/def/rel/ogc/1.0/data", JSON, f"{BASE}/collections"),
        ]
        assert all(x["title"] for x in r.json["links"])


def test_landing_page_links_resolve(client):
    for _, media_type, href in links_of(client.get("/ogc").json):
        r = client.get(href)
        assert r.status_code == 200, href
        assert r.mimetype == media_type.split(";")[0]


def test_conformance(client):
    r = client.get("/ogc/conformance")
    assert r.status_code == 200
    assert r.json == {"conformsTo": CONFORMANCE}


def expected_collection(collection_id: str, title: str, extent: dict) -> dict:
    return {
        "id": collection_id,
        "title": title,
        "links": [
            ("self", JSON, f"{BASE}/collections/{collection_id}"),
            ("items", GEOJSON, f"{BASE}/collections/{collection_id}/items"),
        ],
        "extent": extent,
        "itemType": "feature",
        "crs": [CRS84],
    }


def test_collections_metadata_and_extents(client, db, reports):
    boundaries = [to_shape(b) for b in db.scalars(select(Municipality.boundary))]
    xs = [v for g in boundaries for v in (g.bounds[0], g.bounds[2])]
    ys = [v for g in boundaries for v in (g.bounds[1], g.bounds[3])]
    kosovo = outward(min(xs), min(ys), max(xs), max(ys))
    cells = outward(
        *db.execute(
            text(
                "SELECT min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)),"
                " max(ST_YMax(geom)) FROM h3_cell"
            )
        ).one()
    )
    all_days = sorted(local_day(r.occurred_at) for r in reports)
    point_days = sorted(local_day(r.occurred_at) for r in published_points(reports).values())
    first_month = all_days[0].replace(day=1)
    after_last_month = (all_days[-1].replace(day=28) + timedelta(days=4)).replace(day=1)
    expected = [
        expected_collection(
            "municipalities",
            "Municipalities",
            {"spatial": {"bbox": [kosovo], "crs": CRS84}},
        ),
        expected_collection(
            "heatmap-cells",
            "Reports per H3 cell",
            {
                "spatial": {"bbox": [cells], "crs": CRS84},
                "temporal": {
                    "interval": [[midnight(first_month), midnight(after_last_month)]],
                    "trs": GREGORIAN,
                },
            },
        ),
        expected_collection(
            "report-points",
            "Reports of municipal problems (approximate)",
            {
                "spatial": {"bbox": [cells], "crs": CRS84},
                "temporal": {
                    "interval": [
                        [midnight(point_days[0]), midnight(point_days[-1] + timedelta(days=1))]
                    ],
                    "trs": GREGORIAN,
                },
            },
        ),
    ]
    assert all_days[0] == date(2025, 7, 1) and all_days[-1] == date(2026, 6, 30)
    assert kosovo[0] >= cells[0] and kosovo[1] >= cells[1]
    assert kosovo[2] <= cells[2] and kosovo[3] <= cells[3]

    r = client.get("/ogc/collections")
    assert r.status_code == 200
    assert r.mimetype == JSON
    assert links_of(r.json) == [("self", JSON, f"{BASE}/collections")]
    got = [c | {"links": links_of(c)} for c in r.json["collections"]]
    assert [{k: v for k, v in c.items() if k != "description"} for c in got] == expected
    assert all(c["description"] for c in got)
    for collection in r.json["collections"]:
        one = client.get(f"/ogc/collections/{collection['id']}")
        assert one.status_code == 200
        assert one.json == collection


def test_report_points_temporal_extent_without_reports_is_open(client):
    r = client.get("/ogc/collections/report-points")
    assert r.json["extent"]["temporal"] == {"interval": [[None, None]], "trs": GREGORIAN}


@pytest.mark.parametrize(
    "path",
    [
        "/ogc/collections/nope",
        "/ogc/collections/nope/items",
        "/ogc/collections/reports/items/1",
        "/ogc/collections/municipalities/items/atlantis",
        "/ogc/collections/heatmap-cells/items/not-a-cell",
        "/ogc/collections/heatmap-cells/items/8f1ec6d131fffff",  # res 15: not a rollup cell
        "/ogc/collections/report-points/items/abc",
        "/ogc/collections/report-points/items/" + "a" * 26,
    ],
)
def test_unknown_collection_or_feature_is_404(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert r.mimetype == JSON
    assert r.json["code"] == 404
    assert r.json["status"] == "Not Found"
    assert r.json["message"]


# Municipalities


def test_municipality_items_with_localised_names_and_boundaries(client, db):
    r = client.get("/ogc/collections/municipalities/items", headers={"Accept-Language": "sr"})
    assert r.status_code == 200
    assert r.mimetype == GEOJSON
    assert r.headers["Content-Language"] == "sr"
    body = json.loads(r.data)
    assert body["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"]] == ALL_SLUGS
    assert body["numberMatched"] == body["numberReturned"] == 38
    assert links_of(body) == [
        ("self", GEOJSON, f"{BASE}/collections/municipalities/items"),
        ("collection", JSON, f"{BASE}/collections/municipalities"),
    ]
    stamp = datetime.fromisoformat(body["timeStamp"])
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=1)
    prishtina = next(f for f in body["features"] if f["id"] == "prishtina")
    assert prishtina["properties"] == {
        "slug": "prishtina",
        "name": "Priština",
        "name_sq": "Prishtinë",
        "name_sr": "Priština",
        "name_en": "Prishtina",
        "population": 198897,
    }
    stored = {m.slug: to_shape(m.boundary) for m in db.scalars(select(Municipality)).unique().all()}
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == "MultiPolygon"
        assert shape(feature["geometry"]).equals_exact(stored[feature["id"]], 1e-6)


@pytest.mark.parametrize(
    ("query", "headers", "name"),
    [
        ({}, {}, "Prishtina"),
        ({"lang": "sq"}, {}, "Prishtinë"),
        ({"lang": "sq"}, {"Accept-Language": "sr"}, "Prishtinë"),
        ({}, {"Accept-Language": "sq-AL"}, "Prishtinë"),
    ],
)
def test_municipality_by_id_is_localised(client, query, headers, name):
    r = client.get(url("/ogc/collections/municipalities/items/prishtina", **query), headers=headers)
    assert r.status_code == 200
    assert r.mimetype == GEOJSON
    feature = json.loads(r.data)
    assert feature["type"] == "Feature"
    assert feature["id"] == "prishtina"
    assert feature["properties"]["name"] == name
    assert links_of(feature) == [
        ("self", GEOJSON, f"{BASE}/collections/municipalities/items/prishtina"),
        ("collection", JSON, f"{BASE}/collections/municipalities"),
    ]


@pytest.mark.parametrize(
    "bbox", [(21.05, 42.60, 21.25, 42.72), (20.0, 41.8, 20.6, 42.3), (20.5, 42.9, 20.9, 43.3)]
)
def test_municipality_bbox_selects_intersecting_boundaries(client, db, bbox):
    expected = sorted(
        m.slug
        for m in db.scalars(select(Municipality)).unique()
        if to_shape(m.boundary).intersects(box(*bbox))
    )
    assert 0 < len(expected) < 38
    body = json.loads(
        client.get(url("/ogc/collections/municipalities/items", bbox=",".join(map(str, bbox)))).data
    )
    assert [f["id"] for f in body["features"]] == expected
    assert body["numberMatched"] == len(expected)


def test_municipality_pages_chain_through_next_links(client):
    pages = follow(client, "/ogc/collections/municipalities/items?limit=10&lang=en")
    assert [p["numberReturned"] for p in pages] == [10, 10, 10, 8]
    assert [p["numberMatched"] for p in pages] == [38] * 4
    assert [f["id"] for p in pages for f in p["features"]] == ALL_SLUGS
    rels = [[x["rel"] for x in p["links"]] for p in pages]
    assert rels == [
        ["self", "collection", "next"],
        ["self", "collection", "next", "prev"],
        ["self", "collection", "next", "prev"],
        ["self", "collection", "prev"],
    ]
    second = {x["rel"]: x for x in pages[1]["links"]}
    assert parse_qs(urlsplit(second["next"]["href"]).query) == {
        "limit": ["10"],
        "lang": ["en"],
        "offset": ["20"],
    }
    assert parse_qs(urlsplit(second["prev"]["href"]).query)["offset"] == ["0"]
    assert second["next"]["type"] == second["prev"]["type"] == GEOJSON


def test_datetime_is_accepted_and_ignored_for_municipalities(client):
    r = client.get("/ogc/collections/municipalities/items?datetime=2026-01-01/..&limit=1")
    assert json.loads(r.data)["numberMatched"] == 38


# Heatmap cells


def heat_features(body) -> list[tuple]:
    return [(f["id"], f["geometry"], f["properties"]["count"]) for f in body["features"]]


@pytest.mark.parametrize(
    ("ogc", "v1"),
    [
        ({}, {"resolution": 7}),
        ({"resolution": 8}, {"resolution": 8}),
        (
            {
                "resolution": 9,
                "category": "waste,roads_potholes",
                "datetime": "2026-01-01/2026-02-20",
                "bbox": "20.9,42.5,21.4,42.8",
            },
            {
                "resolution": 9,
                "category": "waste,roads_potholes",
                "from": "2026-01-01",
                "to": "2026-02-20",
                "bbox": "20.9,42.5,21.4,42.8",
            },
        ),
        # Sensitive: from the releases of the months up to March; an open start.
        (
            {"resolution": 7, "group": "harassment", "datetime": "../2026-03-15"},
            {"resolution": 7, "group": "harassment", "to": "2026-03-15"},
        ),
        # 23:30 UTC on 14 February is 00:30 on the 15th in Prishtina: still February.
        (
            {"resolution": 6, "datetime": "2026-02-14T23:30:00Z"},
            {"resolution": 6, "from": "2026-02-15", "to": "2026-02-15"},
        ),
        (
            {"municipality": "prishtina", "status": "open,resolved,rejected", "resolution": 8},
            {"municipality": "prishtina", "status": "open,resolved,rejected", "resolution": 8},
        ),
    ],
)
def test_heatmap_cells_equal_the_public_heatmap(app, client, db, reports, ogc, v1):
    if v1.get("group") == "harassment":  # sensitive: from the releases of those months
        for month in (1, 2, 3):
            # A large epsilon: little noise, so that some cells pass the threshold.
            releases.publish(date(2026, month, 1), NOW, app.config | {"RELEASE_EPSILON": 50.0})
        db.commit()
    body = json.loads(
        client.get(url("/ogc/collections/heatmap-cells/items", limit=10000, **ogc)).data
    )
    heatmap = client.get(url("/v1/heatmaps", **v1)).json
    assert heatmap["features"], "the case should publish something"
    assert heat_features(body) == heat_features(heatmap)
    for key in ("resolution", "k", "suppressed", "filters", "release"):
        assert body.get(key) == heatmap.get(key)
    assert body["numberMatched"] == body["numberReturned"] == len(heatmap["features"])
    assert {f["properties"]["resolution"] for f in body["features"]} == {heatmap["resolution"]}
    assert all(f["properties"].get("count", K) >= K for f in body["features"])
    assert all(f["id"] == f["properties"]["cell"] for f in body["features"])


def test_heatmap_cells_match_an_independent_count(client, reports):
    """Res 8, non-sensitive categories, January to June, cells centred in a box: counted here
    from the report locations with h3 directly."""
    codes = sorted({r.category for r in reports if not r.sensitive})
    counts: dict[int, int] = {}
    for r in reports:
        if r.sensitive or r.status not in (*OPEN, "resolved"):
            continue
        if not date(2026, 1, 1) <= local_day(r.occurred_at) <= date(2026, 6, 30):
            continue
        cell = h3i.latlng_to_cell(r.lat, r.lon, 8)
        lat, lon = h3i.cell_to_latlng(cell)
        if centre_in(PRISHTINA_BOX, lon, lat):
            counts[cell] = counts.get(cell, 0) + 1
    expected = sorted((h3i.int_to_str(c), n) for c, n in counts.items() if n >= K)
    assert len(expected) >= 3
    query = {
        "resolution": 8,
        "category": ",".join(codes),
        "datetime": "2026-01-20T10:00:00+01:00/2026-06-02",  # widened to whole months
        "bbox": ",".join(map(str, PRISHTINA_BOX)),
    }
    body = json.loads(client.get(url("/ogc/collections/heatmap-cells/items", **query)).data)
    assert [(f["id"], f["properties"]["count"]) for f in body["features"]] == expected
    hidden = [n for n in counts.values() if n < K]
    assert body["suppressed"] == {
        "cells": len(hidden),
        "reports_at_most": math.ceil(sum(hidden) / K) * K,
    }
    assert body["filters"]["from"] == "2026-01-01" and body["filters"]["to"] == "2026-06-30"


def test_heatmap_cells_paginate_in_order(client, reports):
    everything = json.loads(
        client.get("/ogc/collections/heatmap-cells/items?resolution=8&limit=10000").data
    )
    pages = follow(client, "/ogc/collections/heatmap-cells/items?resolution=8&limit=7")
    assert len(pages) == math.ceil(len(everything["features"]) / 7) > 2
    assert [f for p in pages for f in p["features"]] == everything["features"]
    assert {p["numberMatched"] for p in pages} == {len(everything["features"])}


def test_heatmap_cell_by_id(client, reports):
    body = json.loads(client.get("/ogc/collections/heatmap-cells/items?resolution=8").data)
    feature = body["features"][0]
    r = client.get(f"/ogc/collections/heatmap-cells/items/{feature['id']}")
    assert r.status_code == 200
    assert r.mimetype == GEOJSON
    one = json.loads(r.data)
    assert {k: v for k, v in one.items() if k != "links"} == feature
    assert links_of(one) == [
        ("self", GEOJSON, f"{BASE}/collections/heatmap-cells/items/{feature['id']}"),
        ("collection", JSON, f"{BASE}/collections/heatmap-cells"),
    ]


def test_heatmap_cell_by_id_never_shows_withheld_or_too_fine_cells(client, db, reports):
    withheld = db.execute(
        text(
            "SELECT cell FROM heat_cell_total WHERE resolution = 8"
            " AND status_class IN (0, 1) GROUP BY cell HAVING sum(count) BETWEEN 1 AND :k"
        ),
        {"k": K - 1},
    ).scalars()
    cell = h3i.int_to_str(next(iter(withheld)))
    assert client.get(f"/ogc/collections/heatmap-cells/items/{cell}").status_code == 404
    # The res-9 cell of the six extra waste reports: public for waste alone; a selection
    # with any sensitive category (all categories, harassment) stops at res 8.
    dump, waste = db.execute(
        text(
            "SELECT t.cell, sum(t.count) FROM heat_cell_total t"
            " JOIN category c ON c.id = t.category_id WHERE t.resolution = 9"
            " AND c.code = 'waste' AND t.status_class IN (0, 1)"
            " GROUP BY t.cell ORDER BY 2 DESC, 1 LIMIT 1"
        )
    ).one()
    assert waste >= 7
    path = f"/ogc/collections/heatmap-cells/items/{h3i.int_to_str(dump)}"
    r = client.get(path + "?category=waste")
    assert r.status_code == 200
    assert json.loads(r.data)["properties"] == {
        "cell": h3i.int_to_str(dump),
        "count": waste,
        "resolution": 9,
    }
    assert client.get(path).status_code == 404
    assert client.get(path + "?group=harassment").status_code == 404
    assert client.get(path + "?category=waste,stalking").status_code == 404


# Report points


def test_report_points_are_res9_centres_of_public_reports(client, db, reports):
    ids = PointIds(TEST_SECRET.encode())
    expected = published_points(reports)
    assert any(r.status == "duplicate" for r in reports)
    assert any(r.status == "rejected" for r in reports)
    centres = dict(
        db.execute(
            text("SELECT cell, ARRAY[centre_lon, centre_lat] FROM h3_cell WHERE resolution = 9")
        ).all()
    )
    pages = follow(client, "/ogc/collections/report-points/items?limit=600")
    features = [f for p in pages for f in p["features"]]
    assert len(features) == len(expected) == pages[0]["numberMatched"]
    assert {p["numberMatched"] for p in pages} == {len(expected)}
    seen = set()
    for feature in features:
        report_id = ids.decode(feature["id"])
        report = expected[report_id]
        seen.add(report_id)
        lon, lat = feature["geometry"]["coordinates"]
        assert feature["geometry"] == {"type": "Point", "coordinates": [lon, lat]}
        # Exactly the centre of the report's res-9 cell, never its location.
        assert h3i.latlng_to_cell(report.lat, report.lon, 9) == report.h3_9
        assert [lon, lat] == centres[report.h3_9]
        assert (lat, lon) == h3i.cell_to_latlng(report.h3_9)
        assert (lon, lat) != (report.lon, report.lat)
        assert feature["properties"] == {
            "category": report.category,
            "group": report.grp,
            "status": "resolved" if report.status == "resolved" else "open",
            "day": local_day(report.occurred_at).isoformat(),
        }
        text_of = json.dumps(feature)
        assert str(report_id) not in text_of and report_id.hex not in text_of
        assert len(feature["id"]) == 26
    assert seen == set(expected)


def test_report_points_never_include_sensitive_categories(client, reports):
    pages = follow(client, "/ogc/collections/report-points/items?limit=10000")
    categories = {f["properties"]["category"] for p in pages for f in p["features"]}
    sensitive = {r.category for r in reports if r.sensitive}
    assert sensitive >= {"stalking", "commenting", "official_misconduct"}
    assert categories and not categories & sensitive
    assert {f["properties"]["group"] for p in pages for f in p["features"]}.isdisjoint(
        {"harassment", "governance"}
    )


def test_report_point_ids_are_stable_and_keyed(client, reports):
    first = json.loads(client.get("/ogc/collections/report-points/items?limit=50").data)
    again = json.loads(client.get("/ogc/collections/report-points/items?limit=50").data)
    assert [f["id"] for f in first["features"]] == [f["id"] for f in again["features"]]
    report_ids = [PointIds(TEST_SECRET.encode()).decode(f["id"]) for f in first["features"]]
    assert report_ids == sorted(report_ids)  # the page order is the random UUIDs' order
    other = PointIds(b"another secret").encode(report_ids)
    assert not set(other) & {f["id"] for f in first["features"]}


def test_report_point_by_id(client, reports):
    ids = PointIds(TEST_SECRET.encode())
    feature = json.loads(client.get("/ogc/collections/report-points/items?limit=1").data)[
        "features"
    ][0]
    r = client.get(f"/ogc/collections/report-points/items/{feature['id']}")
    assert r.status_code == 200
    assert r.mimetype == GEOJSON
    one = json.loads(r.data)
    assert {k: v for k, v in one.items() if k != "links"} == feature
    assert [x["rel"] for x in one["links"]] == ["self", "collection"]
    # Sensitive, rejected and duplicate reports have no point, even with the right key.
    hidden = [
        next(r for r in reports if r.sensitive and r.status == "submitted"),
        next(r for r in reports if r.status == "rejected"),
        next(r for r in reports if r.status == "duplicate"),
    ]
    for report in hidden:
        (point_id,) = ids.encode([report.id])
        assert client.get(f"/ogc/collections/report-points/items/{point_id}").status_code == 404
    # A non-canonical spelling of a valid id (the last character's two spare bits set) decodes
    # to the same bytes in base32, but is no id.
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    last = alphabet.index(feature["id"][-1])
    assert last % 4 == 0
    twin = feature["id"][:-1] + alphabet[last + 1]
    assert base64.b32decode(twin.upper() + "======") == base64.b32decode(
        feature["id"].upper() + "======"
    )
    assert client.get(f"/ogc/collections/report-points/items/{twin}").status_code == 404


def test_report_points_bbox_datetime_and_category(client, reports):
    expected = sorted(
        r.id
        for r in published_points(reports).values()
        if r.category in ("waste", "roads_potholes")
        and date(2026, 2, 1) <= local_day(r.occurred_at) <= date(2026, 4, 30)
        and centre_in(PRISHTINA_BOX, *reversed(h3i.cell_to_latlng(r.h3_9)))
    )
    assert len(expected) > 5
    query = {
        "bbox": ",".join(map(str, PRISHTINA_BOX)),
        "datetime": "2026-01-31T23:00:00Z/2026-04-30T21:59:59Z",  # Feb 1 to Apr 30, local
        "category": "waste,roads_potholes",
        "limit": 4,
    }
    pages = follow(client, url("/ogc/collections/report-points/items", **query))
    ids = PointIds(TEST_SECRET.encode())
    assert [ids.decode(f["id"]) for p in pages for f in p["features"]] == expected
    assert {p["numberMatched"] for p in pages} == {len(expected)}
    for feature in (f for p in pages for f in p["features"]):
        assert centre_in(PRISHTINA_BOX, *feature["geometry"]["coordinates"])


@pytest.mark.parametrize(
    ("datetime_", "first", "last"),
    [
        ("2026-03-10", date(2026, 3, 10), date(2026, 3, 10)),
        ("../2025-07-05", None, date(2025, 7, 5)),
        ("2026-06-25/..", date(2026, 6, 25), None),
        ("2026-06-25/", date(2026, 6, 25), None),
        ("2026-03-01T00:00:00+01:00/2026-03-03T00:00:00+01:00", date(2026, 3, 1), date(2026, 3, 3)),
    ],
)
def test_report_points_datetime_selects_local_days(client, reports, datetime_, first, last):
    expected = {
        r.id
        for r in published_points(reports).values()
        if (first is None or local_day(r.occurred_at) >= first)
        and (last is None or local_day(r.occurred_at) <= last)
    }
    assert expected
    pages = follow(
        client, url("/ogc/collections/report-points/items", datetime=datetime_, limit=10000)
    )
    ids = PointIds(TEST_SECRET.encode())
    assert {ids.decode(f["id"]) for p in pages for f in p["features"]} == expected
    assert pages[0]["numberMatched"] == len(expected)


def test_report_points_number_matched_on_a_full_page(client, reports):
    body = json.loads(
        client.get("/ogc/collections/report-points/items?limit=3&bbox=20,41.8,22,43.3").data
    )
    assert body["numberReturned"] == 3
    assert body["numberMatched"] == len(published_points(reports))
    body = json.loads(client.get("/ogc/collections/report-points/items?offset=100000").data)
    assert body["numberReturned"] == 0
    assert body["numberMatched"] == len(published_points(reports))
    assert [x["rel"] for x in body["links"]] == ["self", "collection", "prev"]


# Parameters


def test_limit_is_clamped_to_the_maximum(client):
    assert ItemsArgsSchema().load({"limit": "20000"})["limit"] == 10000
    assert ItemsArgsSchema().load({})["limit"] == 100
    r = client.get("/ogc/collections/municipalities/items?limit=20000")
    assert r.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/ogc",
        "/ogc/api",
        "/ogc/conformance",
        "/ogc/collections",
        "/ogc/collections/municipalities",
        "/ogc/collections/municipalities/items",
        "/ogc/collections/municipalities/items/prishtina",
        "/ogc/collections/heatmap-cells/items",
        "/ogc/collections/report-points/items",
    ],
)
def test_unknown_parameters_are_400(client, path):
    """/req/core/query-param-unknown: a parameter the definition does not declare is a 400."""
    r = client.get(f"{path}?f=json&lang=sq&foo=bar&_=123")
    assert r.status_code == 400
    assert r.mimetype == JSON
    assert sorted(r.json["errors"]["query"]) == ["_", "foo"]
    message = r.json["errors"]["query"]["foo"][0]
    template = re.sub(r"items/.+", "items/{feature_id}", path[4:]) or "/"
    declared = {
        p["name"]
        for p in client.get("/ogc/api").json["paths"][template]["get"]["parameters"]
        if p["in"] == "query"
    }
    assert message == f"Unknown parameter; this operation takes: {', '.join(sorted(declared))}."


def test_declared_parameters_are_accepted(client):
    r = client.get("/ogc/collections/municipalities/items?limit=2&f=json&lang=en")
    assert r.status_code == 200
    assert json.loads(r.data)["numberReturned"] == 2


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/ogc", {"f": "html"}, "f"),
        ("/ogc/collections", {"f": "xml"}, "f"),
        ("/ogc/collections/municipalities/items", {"f": "html"}, "f"),
        ("/ogc/collections/municipalities/items", {"limit": "0"}, "limit"),
        ("/ogc/collections/municipalities/items", {"limit": "ten"}, "limit"),
        ("/ogc/collections/municipalities/items", {"offset": "-1"}, "offset"),
        ("/ogc/collections/municipalities/items", {"bbox": "21,42,22"}, "bbox"),
        ("/ogc/collections/municipalities/items", {"bbox": "21,43,22,42"}, "bbox"),
        ("/ogc/collections/municipalities/items", {"bbox": "a,b,c,d"}, "bbox"),
        ("/ogc/collections/municipalities/items", {"bbox": "21,42,nan,43"}, "bbox"),
        ("/ogc/collections/municipalities/items", {"bbox": "-200,42,21,43"}, "bbox"),
        (
            "/ogc/collections/municipalities/items",
            {"bbox": "21,42,22,43", "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3857"},
            "bbox-crs",
        ),
        ("/ogc/collections/report-points/items", {"crs": "EPSG:4326"}, "crs"),
        ("/ogc/collections/report-points/items", {"datetime": "2026-13-01"}, "datetime"),
        ("/ogc/collections/report-points/items", {"datetime": "2026-03-01/2026-01-01"}, "datetime"),
        (
            "/ogc/collections/report-points/items",
            {"datetime": "2026-03-01T10:00:00Z/2026-03-01T09:00:00Z"},
            "datetime",
        ),
        ("/ogc/collections/report-points/items", {"datetime": "2026-01-01T00:00:00"}, "datetime"),
        ("/ogc/collections/report-points/items", {"datetime": "a/b/c"}, "datetime"),
        ("/ogc/collections/report-points/items", {"datetime": ".."}, "datetime"),
        ("/ogc/collections/report-points/items", {"category": "stalking"}, "category"),
        ("/ogc/collections/report-points/items", {"category": ""}, "category"),
        ("/ogc/collections/report-points/items", {"group": ""}, "group"),
        ("/ogc/collections/heatmap-cells/items", {"category": ""}, "category"),
        ("/ogc/collections/report-points/items", {"category": "nope"}, "category"),
        ("/ogc/collections/report-points/items", {"group": "harassment"}, "group"),
        ("/ogc/collections/report-points/items", {"group": "governance"}, "group"),
        ("/ogc/collections/heatmap-cells/items", {"resolution": "10"}, "resolution"),
        ("/ogc/collections/heatmap-cells/items", {"category": "nope"}, "category"),
        ("/ogc/collections/heatmap-cells/items", {"group": "nope"}, "group"),
        ("/ogc/collections/heatmap-cells/items", {"municipality": "atlantis"}, "municipality"),
        ("/ogc/collections/heatmap-cells/items", {"status": "lost"}, "status"),
        ("/ogc/collections/heatmap-cells/items/871ec6d13ffffff", {"datetime": "x"}, "datetime"),
    ],
)
def test_invalid_parameters_are_400(client, path, query, field):
    bad_request(client.get(url(path, **query)), field)


def test_invalid_parameter_messages(client):
    r = client.get("/ogc/collections/report-points/items?category=stalking,waste")
    assert bad_request(r, "category") == [
        "Sensitive categories are never published as points: stalking."
    ]
    assert r.json["message"] == "Sensitive categories are never published as points: stalking."
    r = client.get("/ogc/collections/municipalities/items?f=html")
    assert bad_request(r, "f") == [
        "Only JSON is served: use f=json or leave f out (there is no HTML view)."
    ]
    r = client.get("/ogc/collections/municipalities/items?datetime=2026-01-01T00:00:00")
    assert bad_request(r, "datetime") == [
        "'2026-01-01T00:00:00' is not an RFC 3339 date-time with a time zone"
        " (e.g. 2026-01-01T00:00:00Z) or a date (2026-01-01)."
    ]


@pytest.mark.parametrize(
    "query",
    [
        {"bbox": "21.05,42.60,21.25,42.72", "bbox-crs": CRS84},
        {"bbox": "21.05,42.60,-100,21.25,42.72,100"},  # six numbers: heights are ignored
        {"crs": CRS84},
        {"datetime": "2026-01-01T00:00:00 01:00/.."},  # an unencoded + arrives as a space
        {"datetime": "../.."},
    ],
)
def test_accepted_parameter_spellings(client, query):
    r = client.get(url("/ogc/collections/municipalities/items", **query))
    assert r.status_code == 200, r.json


# OpenAPI


OGC_PATHS = [
    "/",
    "/api",
    "/conformance",
    "/collections",
    *(
        f"/collections/{c}{suffix}"
        for c in ("municipalities", "heatmap-cells", "report-points")
        for suffix in ("", "/items", "/items/{feature_id}")
    ),
]


def test_the_ogc_definition_starts_at_the_landing_page(client):
    """The service-desc document: only the OGC operations, relative to servers: /ogc, with
    every component it references and nothing else."""
    r = client.get("/ogc/api")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/vnd.oai.openapi+json;version=3.0"
    ogc = r.json
    full = client.get("/openapi.json").json
    assert ogc["openapi"] == "3.0.3"
    assert ogc["servers"] == [{"url": "/ogc", "description": "This OGC API – Features service"}]
    assert ogc["info"]["title"] == "Civic reports API: OGC API – Features"
    assert sorted(ogc["paths"]) == sorted(OGC_PATHS)
    for path in OGC_PATHS:
        operation = ogc["paths"][path]["get"]
        whole = full["paths"]["/ogc" + path.rstrip("/")]["get"]
        limits = [p for p in operation["parameters"] if p["name"] == "limit"]
        # OGC's limit has a maximum (more is served as the maximum); JSON Schema's would not.
        assert [p["schema"].get("maximum") for p in limits] == [10000] * len(limits)
        assert all("maximum" not in p["schema"] for p in whole["parameters"])
        for p in limits:
            del p["schema"]["maximum"]
        assert operation == whole
    refs = set(re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', json.dumps(ogc)))
    listed = {(kind, name) for kind, items in ogc["components"].items() for name in items}
    assert refs == listed
    assert all(ogc["components"][k][n] == full["components"][k][n] for k, n in listed)
    assert [t["name"] for t in ogc["tags"]] == ["ogc"]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/collections/municipalities/items", "limit"),
        ("/collections/heatmap-cells/items", "limit"),
        ("/collections/heatmap-cells/items", "datetime"),
        ("/collections/heatmap-cells/items/{feature_id}", "datetime"),
        ("/collections/report-points/items", "datetime"),
        ("/collections/report-points/items", "bbox"),
        ("/collections/heatmap-cells/items", "category"),
    ],
)
def test_parameters_are_form_style_without_explode(client, path, name):
    parameters = client.get("/ogc/api").json["paths"][path]["get"]["parameters"]
    (parameter,) = [p for p in parameters if p["name"] == name]
    assert (parameter["style"], parameter["explode"]) == ("form", False)


def test_ogc_operations_are_in_the_openapi_document(client):
    spec = client.get("/openapi.json").json
    paths = {p: item for p, item in spec["paths"].items() if p.startswith("/ogc")}
    assert sorted(paths) == sorted("/ogc" + p.rstrip("/") for p in OGC_PATHS)
    for path, item in paths.items():
        operation = item["get"]
        assert operation["summary"].strip(), path
        assert operation["tags"] == ["ogc"], path
        assert "400" in operation["responses"], path
        media = "application/geo+json" if "/items" in path else "application/json"
        if path == "/ogc/api":
            media = "application/vnd.oai.openapi+json;version=3.0"
        assert operation["responses"]["200"]["content"][media]["schema"], path
        if path.endswith("{feature_id}"):
            assert "404" in operation["responses"], path
    items = paths["/ogc/collections/report-points/items"]["get"]
    parameters = {p["name"]: p for p in items["parameters"]}
    assert {"limit", "offset", "bbox", "bbox-crs", "datetime", "category", "f"} <= set(parameters)
    # No maximum in the schema: a larger limit is valid and served as 10000 (clamped).
    assert parameters["limit"]["schema"] == {"type": "integer", "default": 100, "minimum": 1}
    assert parameters["limit"]["description"] == (
        "Features per page; larger values are served as 10000"
    )
    heat = {p["name"] for p in paths["/ogc/collections/heatmap-cells/items"]["get"]["parameters"]}
    assert {"resolution", "category", "group", "municipality", "status", "datetime"} <= heat


# A real client and a real server


def test_owslib_reads_collections_and_items(live_server, client, db, reports):
    from owslib.ogcapi.features import Features

    api = Features(f"{live_server}/ogc")
    assert api.conformance() == {"conformsTo": CONFORMANCE}
    assert api.feature_collections() == ["municipalities", "heatmap-cells", "report-points"]
    assert "/collections/report-points/items" in api.api()["paths"]
    assert api.collection("municipalities")["extent"]["spatial"]["crs"] == CRS84

    box_ = [21.05, 42.60, 21.25, 42.72]
    expected = sorted(
        m.slug
        for m in db.scalars(select(Municipality)).unique()
        if to_shape(m.boundary).intersects(box(*box_))
    )
    items = api.collection_items("municipalities", bbox=box_, limit=2)
    assert [f["id"] for f in items["features"]] == expected[:2]
    assert items["numberMatched"] == len(expected) > 2
    assert api.collection_item("municipalities", "prishtina")["properties"]["name_sq"] == (
        "Prishtinë"
    )

    points = api.collection_items("report-points", bbox=box_, limit=7, offset=7)
    in_box = [
        r
        for r in published_points(reports).values()
        if centre_in(box_, *reversed(h3i.cell_to_latlng(r.h3_9)))
    ]
    ids = PointIds(TEST_SECRET.encode())
    assert [ids.decode(f["id"]) for f in points["features"]] == sorted(r.id for r in in_box)[7:14]
    assert points["numberMatched"] == len(in_box)
    point = api.collection_item("report-points", points["features"][0]["id"])
    assert point["geometry"] == points["features"][0]["geometry"]

    cells = api.collection_items("heatmap-cells", bbox=box_, resolution=8, limit=1000)
    heatmap = client.get(url("/v1/heatmaps", bbox=",".join(map(str, box_)), resolution=8)).json
    assert heat_features(cells) == heat_features(heatmap)
    assert cells["numberReturned"] == cells["numberMatched"] == len(heatmap["features"]) > 0


def test_gdal_reads_the_service(live_server, reports):
    """GDAL's OAPIF driver (what QGIS and ogr2ogr use) lists, counts and reads the layers."""

    def ogrinfo(*args: str) -> str:
        done = subprocess.run(
            ["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=120, check=True
        )
        return done.stdout

    source = f"OAPIF:{live_server}/ogc"
    assert ogrinfo(source).splitlines()[-3:] == [
        "1: municipalities (title: Municipalities) (Multi Polygon)",
        "2: heatmap-cells (title: Reports per H3 cell) (Polygon)",
        "3: report-points (title: Reports of municipal problems (approximate)) (Point)",
    ]
    assert "Feature Count: 38" in ogrinfo("-so", source, "municipalities")
    spat = ("21.05", "42.60", "21.25", "42.72")
    points = ogrinfo("-al", "-q", "-spat", *spat, source, "report-points")
    box_ = tuple(map(float, spat))
    in_box = [
        r
        for r in published_points(reports).values()
        if centre_in(box_, *reversed(h3i.cell_to_latlng(r.h3_9)))
    ]
    assert points.count("OGRFeature(report-points)") == len(in_box) > 0


ETS = Path(__file__).resolve().parent.parent / "tools" / "ogc-ets" / "run"


def test_ogc_test_suite_core_passes(app, live_server, reports, tmp_path, monkeypatch):
    """OGC's executable test suite (ets-ogcapi-features10 1.9) against /ogc as served: its
    Core tests discover the test points from the service-desc document and all pass."""
    # The suite is one fast client: the aggregates' per-client limit is not what is tested.
    monkeypatch.setitem(app.config, "AGGREGATE_RATE_LIMIT", "100000 per minute")
    done = subprocess.run(
        [ETS, f"{live_server}/ogc", tmp_path], capture_output=True, text=True, timeout=300
    )
    results = ET.parse(tmp_path / "res" / "testng-results.xml").getroot()
    core = next(t for t in results.iter("test") if t.get("name") == "Core")
    methods = [m for m in core.iter("test-method") if not m.get("is-config")]
    status = {}
    for m in methods:
        status.setdefault(m.get("status"), []).append(m.get("name"))
    assert status.get("FAIL", []) == [], done.stdout[-3000:]
    assert results.get("failed") == "0", done.stdout[-3000:]
    assert done.returncode == 0
    passed = set(status["PASS"])
    # The checks that failed or were skipped before the OGC definition had its own document.
    assert {
        "validateConformanceOperationAndResponse",
        "validateFeaturesOperation_QueryParamUnknown",
        "validateFeaturesOperation_QueryParamInvalid",
        "limitParameterDefinition",
        "timeParameterDefinition",
        "validateFeaturesWithLimitResponse_NumberMatched",
        "validateFeatureResponse",
        "validateFeatureCollectionsMetadataOperation",
    } <= passed, sorted(passed)
    assert len(status["PASS"]) >= 250
