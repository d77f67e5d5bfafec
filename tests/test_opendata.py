"""The open-data catalogue (DCAT-AP in JSON-LD) and its downloads: what is in them (checked
against the OGC layer and an independent reading of the tables), ETags, gzip, and that a
privacy change takes effect at once."""

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import TEST_SECRET
from h3.api import basic_int as h3i
from sqlalchemy import text

from civic_api.ogc.service import LOCAL_TZ, PointIds
from civic_api.opendata import service
from civic_api.seed.demo_reports import insert_demo_reports

CATALOG = "/v1/open-data/catalog"
EU = "http://publications.europa.eu/resource/authority/"
IDS = PointIds(TEST_SECRET.encode())


@pytest.fixture
def reports(db):
    """600 demo reports over the last 40 days, today's included."""
    insert_demo_reports(db.connection(), 600, seed=5, days=40, now=datetime.now(UTC))
    db.commit()
    return db


def expected_points(db) -> dict[str, tuple]:
    """Published points of closed local days, read independently: id → (category, group,
    status, day, lon, lat)."""
    today = datetime.now(LOCAL_TZ).date()
    rows = db.execute(
        text(
            "SELECT r.id, c.code, g.code, r.status, (r.occurred_at AT TIME ZONE 'Europe/Belgrade')::date,"
            " r.h3_9 FROM report r JOIN category c ON c.id = r.category_id"
            " JOIN category_group g ON g.id = c.group_id"
            " WHERE NOT c.sensitive AND r.status NOT IN ('rejected', 'duplicate')"
        )
    ).all()
    found = {}
    for report_id, category, group, status, day, cell in rows:
        if day >= today:
            continue
        lat, lon = h3i.cell_to_latlng(cell)
        shown = "resolved" if status == "resolved" else "open"
        found[IDS.encode([report_id])[0]] = (category, group, shown, day.isoformat(), lon, lat)
    return found


def download(client, dataset, fmt, **headers):
    return client.get(f"/v1/open-data/datasets/{dataset}/data.{fmt}", headers=headers)


def test_catalog_is_dcat_ap_json_ld(client, reports):
    r = client.get(CATALOG)
    assert r.status_code == 200
    assert r.mimetype == "application/ld+json"
    catalog = r.json
    assert catalog["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    assert catalog["@context"]["dct"] == "http://purl.org/dc/terms/"
    assert catalog["@type"] == "dcat:Catalog"
    assert catalog["@id"] == "http://localhost/v1/open-data/catalog"
    assert {t["@language"] for t in catalog["dct:title"]} == {"sq", "sr", "en"}
    assert {t["@language"] for t in catalog["dct:description"]} == {"sq", "sr", "en"}
    assert catalog["dct:publisher"] == {"@type": "foaf:Agent", "foaf:name": "Civic reports API"}
    datasets = {d["dct:identifier"]: d for d in catalog["dcat:dataset"]}
    assert sorted(datasets) == ["heatmap-cells", "indicators", "municipalities", "report-points"]
    for dataset in datasets.values():
        assert dataset["@type"] == "dcat:Dataset"
        assert {t["@language"] for t in dataset["dct:title"]} == {"sq", "sr", "en"}
        assert all(t["@value"] for t in dataset["dct:description"])
        assert dataset["dct:license"] == {"@id": EU + "licence/CC_BY_4_0"}
        frequency = {"heatmap-cells": "MONTHLY", "indicators": "QUARTERLY"}.get(
            dataset["dct:identifier"], "DAILY"
        )
        assert dataset["dct:accrualPeriodicity"] == {"@id": EU + f"frequency/{frequency}"}
        wkt = dataset["dct:spatial"]["dcat:bbox"]
        assert wkt["@type"] == "gsp:wktLiteral" and wkt["@value"].startswith("POLYGON((20.")
        formats = {
            d["dct:format"]["@id"]: (d["dcat:mediaType"]["@id"], d["dcat:downloadURL"]["@id"])
            for d in dataset["dcat:distribution"]
        }
        assert formats == {
            EU + "file-type/CSV": (
                "https://www.iana.org/assignments/media-types/text/csv",
                f"http://localhost/v1/open-data/datasets/{dataset['dct:identifier']}/data.csv",
            ),
            EU + "file-type/GEOJSON": (
                "https://www.iana.org/assignments/media-types/application/geo+json",
                f"http://localhost/v1/open-data/datasets/{dataset['dct:identifier']}/data.geojson",
            ),
        }
        # Every distribution is served, with its media type.
        for distribution in dataset["dcat:distribution"]:
            served = client.get(distribution["dcat:accessURL"]["@id"])
            assert served.status_code == 200
            assert (
                served.mimetype == distribution["dcat:mediaType"]["@id"].split("/media-types/")[1]
            )
        # The dataset's own URL gives the same description.
        alone = client.get(dataset["@id"]).json
        assert {k: v for k, v in alone.items() if k != "@context"} == dataset


def test_temporal_coverage_is_the_published_days(client, reports):
    points = {d["dct:identifier"]: d for d in client.get(CATALOG).json["dcat:dataset"]}
    days = sorted(p[3] for p in expected_points(reports).values())
    assert points["report-points"]["dct:temporal"] == {
        "@type": "dct:PeriodOfTime",
        "dcat:startDate": {"@value": days[0], "@type": "xsd:date"},
        "dcat:endDate": {"@value": days[-1], "@type": "xsd:date"},
    }
    assert "dct:temporal" not in points["municipalities"]
    assert "dct:temporal" not in points["heatmap-cells"]  # no month is released yet


def test_points_csv_is_the_published_points_of_closed_days(client, reports):
    r = download(client, "report-points", "csv")
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8; header=present"
    today = datetime.now(LOCAL_TZ).date().isoformat()
    assert r.headers["Content-Disposition"] == f'attachment; filename="report-points-{today}.csv"'
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0] == ["id", "category", "group", "status", "day", "lon", "lat"]
    found = {
        row[0]: (row[1], row[2], row[3], row[4], float(row[5]), float(row[6])) for row in rows[1:]
    }
    expected = expected_points(reports)
    assert found == expected and len(expected) > 100
    assert [row[0] for row in rows[1:]] == sorted(found, key=lambda i: IDS.decode(i))


def test_points_geojson_equals_the_ogc_layer(client, reports):
    body = json.loads(download(client, "report-points", "geojson").data)
    assert body["type"] == "FeatureCollection"
    expected = expected_points(reports)
    assert {f["id"] for f in body["features"]} == set(expected)
    feature = body["features"][0]
    ogc = client.get(f"/ogc/collections/report-points/items/{feature['id']}").json
    assert (feature["geometry"], feature["properties"]) == (ogc["geometry"], ogc["properties"])


def test_municipalities(client):
    rows = list(
        csv.reader(io.StringIO(download(client, "municipalities", "csv").get_data(as_text=True)))
    )
    assert rows[0] == ["slug", "name_sq", "name_sr", "name_en", "population"]
    assert len(rows) == 39
    assert ["prishtina", "Prishtinë", "Priština", "Prishtina"] == rows[1:][
        [r[0] for r in rows[1:]].index("prishtina")
    ][:4]
    body = json.loads(download(client, "municipalities", "geojson").data)
    assert len(body["features"]) == 38
    assert body["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_etags_gzip_and_not_modified(client, reports):
    first = download(client, "report-points", "csv")
    again = download(client, "report-points", "csv")
    assert first.data == again.data
    etag = first.headers["ETag"]
    assert etag == again.headers["ETag"] and etag.startswith('"') and "W/" not in etag
    assert first.headers["Vary"] == "Accept-Encoding"
    assert first.headers["Cache-Control"] == "public, max-age=300"
    unchanged = download(client, "report-points", "csv", **{"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""
    zipped = download(client, "report-points", "csv", **{"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == first.data
    assert zipped.headers["ETag"] != etag
    assert (
        download(
            client, "report-points", "csv", **{"If-None-Match": etag, "Accept-Encoding": "gzip"}
        ).status_code
        == 200
    )


def test_a_category_made_sensitive_leaves_the_files_at_once(client, db, reports, staff_client):
    before = download(client, "report-points", "csv")
    assert b",waste," in before.data
    admin = staff_client("admin", ())
    assert admin.patch("/v1/admin/categories/waste", json={"sensitive": True}).status_code == 200
    after = download(client, "report-points", "csv")
    assert after.headers["ETag"] != before.headers["ETag"]
    assert b",waste," not in after.data
    assert set(after.get_data(as_text=True).splitlines()[1:]) < set(
        before.get_data(as_text=True).splitlines()[1:]
    )


def test_files_are_made_once_a_day(app, db, reports):
    now = datetime.now(UTC)
    config = app.config
    with app.app_context():
        first = service.current_file(service.POINTS, "csv", now, config)
        made = first.created_at
        same = service.current_file(service.POINTS, "csv", now + timedelta(minutes=5), config)
        assert same.created_at == made
        tomorrow = service.current_file(service.POINTS, "csv", now + timedelta(days=1), config)
        assert tomorrow.period == (now + timedelta(days=1)).astimezone(LOCAL_TZ).date().isoformat()
        assert tomorrow.created_at > made


def test_cli_generates_every_file(app, db):
    result = app.test_cli_runner().invoke(args=["open-data", "generate"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "report-points.csv",
        "report-points.geojson",
        "heatmap-cells.csv",
        "heatmap-cells.geojson",
        "indicators.csv",
        "indicators.geojson",
        "municipalities.csv",
        "municipalities.geojson",
    ]


@pytest.mark.parametrize(
    "path",
    ["/v1/open-data/datasets/nope", "/v1/open-data/datasets/nope/data.csv"],
)
def test_unknown_dataset_is_404(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert r.json == {
        "code": 404,
        "status": "Not Found",
        "message": "No dataset has the id 'nope'.",
    }


def test_ranges_resume_a_download(client, reports):
    whole = download(client, "report-points", "csv").data
    part = download(client, "report-points", "csv", Range="bytes=100-199")
    assert part.status_code == 206 and part.data == whole[100:200]


def test_heatmap_cells_per_released_month_equal_the_public_heatmap(app, client, db):
    from factories import add_reports

    from civic_api.analytics import releases

    spot = (42.6629, 21.1655)
    add_reports(db, [spot] * 40, category="commenting")  # sensitive: from the release only
    add_reports(db, [spot] * 12, category="public_lighting")  # live
    add_reports(db, [(42.66, 21.17)] * 2, category="public_lighting")  # below k
    june = releases.publish(
        datetime(2026, 6, 1).date(), datetime(2026, 7, 20, tzinfo=UTC), app.config
    )
    db.commit()
    assert june.created
    rows = list(
        csv.DictReader(io.StringIO(download(client, "heatmap-cells", "csv").get_data(as_text=True)))
    )
    assert list(rows[0]) == [
        "month",
        "resolution",
        "cell",
        "lat",
        "lon",
        "count",
        "sensitive_count",
    ]
    assert {r["month"] for r in rows} == {"2026-06"}
    for resolution in (6, 7, 8):
        heatmap = client.get(
            "/v1/heatmaps",
            query_string={
                "from": "2026-06-01",
                "to": "2026-06-30",
                "resolution": resolution,
                "release": "2026-06",
            },
        ).json
        expected = {
            (
                f["properties"]["cell"],
                f["properties"].get("count"),
                f["properties"].get("sensitive_count"),
            )
            for f in heatmap["features"]
        }
        found = {
            (
                r["cell"],
                int(r["count"]) if r["count"] else None,
                int(r["sensitive_count"]) if r["sensitive_count"] else None,
            )
            for r in rows
            if r["resolution"] == str(resolution)
        }
        assert found == expected and found
    spot_cell = h3i.latlng_to_cell(*spot, 8)
    (at_spot,) = [
        r for r in rows if r["resolution"] == "8" and r["cell"] == h3i.int_to_str(spot_cell)
    ]
    assert at_spot["count"] == "12"  # live, exact: non-sensitive
    assert h3i.int_to_str(h3i.latlng_to_cell(42.66, 21.17, 8)) not in {
        r["cell"] for r in rows if r["resolution"] == "8"
    }
    catalog = {d["dct:identifier"]: d for d in client.get(CATALOG).json["dcat:dataset"]}
    heat = catalog["heatmap-cells"]
    assert heat["dct:accrualPeriodicity"] == {"@id": EU + "frequency/MONTHLY"}
    assert heat["dct:temporal"]["dcat:startDate"]["@value"] == "2026-06-01"
    assert heat["dct:temporal"]["dcat:endDate"]["@value"] == "2026-06-30"
    features = json.loads(download(client, "heatmap-cells", "geojson").data)["features"]
    assert len(features) == len(rows)
    assert features[0]["geometry"]["type"] == "Polygon"


def test_indicators_per_quarter_are_the_public_indicators(client, db):
    from factories import add_reports

    spot = (42.6629, 21.1655)
    add_reports(db, [spot] * 15, occurred=datetime(2026, 5, 10, 9, tzinfo=UTC))
    add_reports(
        db,
        [spot] * 12,
        category="waste",
        status="resolved",
        occurred=datetime(2026, 8, 3, tzinfo=UTC),
    )
    text_ = download(client, "indicators", "csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text_)))
    assert rows[0][:3] == ["quarter", "municipality", "breakdown"]
    quarters = sorted({r[0] for r in rows[1:]})
    last = service.current_quarter_before(datetime.now(UTC)).label
    assert quarters[0] == "2026-Q2" and quarters[-1] == last
    for quarter in ("2026-Q2", "2026-Q3"):
        public = client.get(
            "/v1/indicators",
            query_string={"period": quarter, "breakdown": "all,group,category", "format": "csv"},
        ).get_data(as_text=True)
        expected = list(csv.reader(io.StringIO(public)))
        assert expected[0] == rows[0][1:]
        found = [r[1:] for r in rows[1:] if r[0] == quarter]
        # Same rows; "now" only moves the figures of still-open reports.
        assert [r[:7] for r in found] == [r[:7] for r in expected[1:]] and found
        received = {
            (r[1], r[2]): r[7] for r in found if r[0] == "prishtina" and r[5] == "reports_received"
        }
        if quarter == "2026-Q2":
            assert received[("category", "public_lighting")] == "15"
        else:
            assert received[("category", "waste")] == "12"
    catalog = {d["dct:identifier"]: d for d in client.get(CATALOG).json["dcat:dataset"]}
    indicators = catalog["indicators"]
    assert indicators["dct:accrualPeriodicity"] == {"@id": EU + "frequency/QUARTERLY"}
    assert indicators["dct:temporal"]["dcat:startDate"]["@value"] == "2026-04-01"
    features = json.loads(download(client, "indicators", "geojson").data)["features"]
    assert {f["properties"]["quarter"] for f in features} == set(quarters)
    assert all(f["geometry"]["type"] == "Point" for f in features)
