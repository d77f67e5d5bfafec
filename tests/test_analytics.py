"""Heatmaps, tiles, series and hotspots: exact counts, the privacy rules, and the rollup."""

import csv
import io
import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import h3
import mapbox_vector_tile
import pytest
from conftest import round_trips
from factories import add_reports
from sqlalchemy import delete, select, text, update

from civic_api.analytics import rollup
from civic_api.analytics.models import DpRelease
from civic_api.categories.models import Category
from civic_api.reports.models import Report
from civic_api.seed.demo_reports import insert_demo_reports

# A point in central Prishtina and the res-8 cell around it.
CENTRE = (42.6629, 21.1655)
OPEN = ("submitted", "acknowledged", "in_progress", "reopened")


@pytest.fixture
def k(app):
    return app.config["ANALYTICS_K"]


def seed_reports(db, count, seed, days):
    insert_demo_reports(db.connection(), count, seed=seed, days=days)
    db.commit()


def features(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return {f["properties"]["cell"]: f["properties"]["count"] for f in response.json["features"]}


def independent_counts(db, resolution, statuses=("open", "resolved"), sensitive=False):
    """Counts per cell of the non-sensitive (or the sensitive) categories, straight from the
    report table with the h3 library."""
    allowed = {"open": OPEN, "resolved": ("resolved",)}
    wanted = [s for group in statuses for s in allowed[group]]
    rows = db.execute(
        text(
            "SELECT ST_Y(r.location), ST_X(r.location) FROM report r"
            " JOIN category c ON c.id = r.category_id"
            " WHERE r.status = ANY(:s) AND c.sensitive = :sensitive"
        ),
        {"s": wanted, "sensitive": sensitive},
    ).all()
    return Counter(h3.latlng_to_cell(lat, lon, resolution) for lat, lon in rows)


@pytest.mark.parametrize("resolution", [6, 7, 8])
def test_counts_per_cell_equal_an_independent_computation(app, client, db, resolution):
    seed_reports(db, 4000, resolution, 120)
    expected = independent_counts(db, resolution)
    app.config["ANALYTICS_K"] = 1
    try:
        everything = features(client.get(f"/v1/heatmaps?resolution={resolution}"))
    finally:
        app.config["ANALYTICS_K"] = 5
    # All categories: the live count is of the non-sensitive ones only (no release yet).
    assert everything == dict(expected)
    shown = features(client.get(f"/v1/heatmaps?resolution={resolution}"))
    publishable = {c for c, n in expected.items() if n >= 5}
    assert shown == {c: n for c, n in expected.items() if c in publishable}
    withheld = [n for c, n in expected.items() if c not in publishable]
    summary = client.get(f"/v1/heatmaps?resolution={resolution}").json["suppressed"]
    assert summary["cells"] == len(withheld)
    assert summary["reports_at_most"] == -(-sum(withheld) // 5) * 5


def test_finest_resolution_for_non_sensitive_categories(client, db):
    seed_reports(db, 3000, 3, 60)
    expected = Counter()
    rows = db.execute(
        text(
            "SELECT ST_Y(r.location), ST_X(r.location) FROM report r JOIN category c"
            " ON c.id = r.category_id JOIN category_group g ON g.id = c.group_id"
            " WHERE g.code = 'roads' AND r.status NOT IN ('rejected', 'duplicate')"
        )
    ).all()
    expected.update(h3.latlng_to_cell(lat, lon, 9) for lat, lon in rows)
    response = client.get("/v1/heatmaps?zoom=14&group=roads")
    assert response.json["resolution"] == 9
    assert features(response) == {c: n for c, n in expected.items() if n >= 5}


def test_suppression_is_exact_at_k_minus_one_and_k(client, db, k):
    cell = h3.latlng_to_cell(*CENTRE, 8)
    add_reports(db, [CENTRE] * (k - 1))
    below = client.get("/v1/heatmaps?resolution=8").json
    assert below["features"] == []
    assert below["suppressed"] == {"cells": 1, "reports_at_most": k}
    add_reports(db, [CENTRE])
    at = client.get("/v1/heatmaps?resolution=8").json
    assert {f["properties"]["cell"]: f["properties"]["count"] for f in at["features"]} == {cell: k}
    assert at["suppressed"] == {"cells": 0, "reports_at_most": 0}
    assert at["k"] == k


def test_differencing_two_overlapping_areas_reveals_no_withheld_count(client, db, k):
    """Two bounding boxes that differ by one withheld cell: subtraction yields nothing."""
    busy = h3.latlng_to_cell(*CENTRE, 8)
    quiet = h3.grid_ring(busy, 2)[0]
    quiet_lat, quiet_lon = h3.cell_to_latlng(quiet)
    busy_lat, busy_lon = h3.cell_to_latlng(busy)
    add_reports(db, [CENTRE] * (k + 2))
    add_reports(db, [(quiet_lat, quiet_lon)] * 2)  # withheld: 2 < k
    # A box around the busy cell's centre only, and one stretched to the quiet cell's centre.
    margin = 0.002
    small = (busy_lon - margin, busy_lat - margin, busy_lon + margin, busy_lat + margin)
    large = (
        min(small[0], quiet_lon - margin),
        min(small[1], quiet_lat - margin),
        max(small[2], quiet_lon + margin),
        max(small[3], quiet_lat + margin),
    )
    answers = []
    for box in (small, large):
        body = client.get(f"/v1/heatmaps?resolution=8&bbox={','.join(map(str, box))}").json
        answers.append(body)
    assert [features_of(a) for a in answers] == [{busy: k + 2}, {busy: k + 2}]
    assert answers[0]["suppressed"] == {"cells": 0, "reports_at_most": 0}
    assert answers[1]["suppressed"] == {"cells": 1, "reports_at_most": k}
    # The difference says "one cell with 1..k-1 reports" and no more: 1 and 2 look the same.
    add_reports(db, [(quiet_lat, quiet_lon)])
    again = client.get(f"/v1/heatmaps?resolution=8&bbox={','.join(map(str, large))}").json
    assert again["suppressed"] == answers[1]["suppressed"]
    # A box that cuts through a cell still counts whole cells (centre inside or not).
    shaved = (busy_lon - 0.0001, busy_lat - 0.0001, busy_lon + 0.01, busy_lat + 0.01)
    assert features_of(
        client.get(f"/v1/heatmaps?resolution=8&bbox={','.join(map(str, shaved))}").json
    ) == {busy: k + 2}
    beside = (busy_lon + 0.0001, busy_lat - 0.0001, busy_lon + 0.01, busy_lat + 0.01)
    assert (
        features_of(client.get(f"/v1/heatmaps?resolution=8&bbox={','.join(map(str, beside))}").json)
        == {}
    )


def features_of(body):
    return {f["properties"]["cell"]: f["properties"]["count"] for f in body["features"]}


def test_sensitive_categories_are_never_live(client, staff_client, db):
    """Sensitive reports appear only through releases: before one is published, six of them
    in one cell show nowhere, to the public or to researchers, at any resolution."""
    add_reports(db, [CENTRE] * 6, category="commenting")
    public = client.get("/v1/heatmaps?zoom=15&category=commenting").json
    assert (public["resolution"], public["filters"]["resolution"]) == (8, 8)
    assert public["filters"]["released_groups"] == ["harassment"]
    assert features_of(public) == {} and public["suppressed"] is None
    assert public["release"]["ids"] == []
    researcher = staff_client("researcher")
    fine = researcher.get("/v1/heatmaps?resolution=9&category=commenting")
    assert fine.json["resolution"] == 8
    assert features_of(fine.json) == {}
    assert "private" in fine.headers["Cache-Control"]


def test_public_dates_are_whole_months_researchers_get_days(client, staff_client, db):
    add_reports(db, [CENTRE] * 5, occurred=datetime(2026, 3, 3, 12, tzinfo=UTC))
    add_reports(db, [CENTRE] * 5, occurred=datetime(2026, 3, 20, 12, tzinfo=UTC))
    public = client.get("/v1/heatmaps?resolution=8&from=2026-03-10&to=2026-03-15").json
    assert (public["filters"]["from"], public["filters"]["to"]) == ("2026-03-01", "2026-03-31")
    assert sum(features_of(public).values()) == 10
    researcher = staff_client("researcher")
    days = researcher.get(
        "/v1/heatmaps?resolution=8&group=utilities&from=2026-03-10&to=2026-03-25"
    ).json
    assert days["filters"]["from"] == "2026-03-10"
    assert sum(features_of(days).values()) == 5
    # With sensitive categories in the selection (here: all categories), months again.
    mixed = researcher.get("/v1/heatmaps?resolution=8&from=2026-03-10&to=2026-03-25").json
    assert (mixed["filters"]["from"], mixed["filters"]["to"]) == ("2026-03-01", "2026-03-31")
    bad = client.get("/v1/heatmaps?from=2026-04-01&to=2026-03-01")
    assert bad.status_code == 422
    assert list(bad.json["errors"]["query"]) == ["to"]


def test_csv_by_format_or_accept(client, db):
    add_reports(db, [CENTRE] * 7)
    for response in (
        client.get("/v1/heatmaps?resolution=8&format=csv"),
        client.get("/v1/heatmaps?resolution=8", headers={"Accept": "text/csv"}),
    ):
        assert response.mimetype == "text/csv"
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        cell = h3.latlng_to_cell(*CENTRE, 8)
        lat, lon = h3.cell_to_latlng(cell)
        # All categories: the sensitive part is its own column (empty: nothing released).
        assert rows == [
            ["cell", "lat", "lon", "count", "sensitive_count"],
            [cell, f"{lat:.6f}", f"{lon:.6f}", "7", ""],
        ]
    live = client.get("/v1/heatmaps?resolution=8&format=csv&group=utilities")
    rows = list(csv.reader(io.StringIO(live.get_data(as_text=True))))
    assert rows[0] == ["cell", "lat", "lon", "count"] and rows[1][3] == "7"


@pytest.mark.parametrize(
    "query, field",
    [
        ("resolution=5", "resolution"),
        ("zoom=30", "zoom"),
        ("category=nope", "category"),
        ("group=nope", "group"),
        ("municipality=atlantis", "municipality"),
        ("status=lost", "status"),
        ("bbox=1,2,3", "bbox"),
        ("from=yesterday", "from"),
        ("format=xml", "format"),
    ],
)
def test_bad_heatmap_queries_are_422(client, query, field):
    response = client.get(f"/v1/heatmaps?{query}")
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["query"]


def decode(tile_bytes):
    return mapbox_vector_tile.decode(tile_bytes)


def test_tiles_hold_the_published_cells_with_their_counts(client, db, k):
    seed_reports(db, 4000, 9, 90)
    z, x, y = 10, 571, 375  # over Prishtina (512-px tiles: zoom 10 -> res 7)
    response = client.get(f"/v1/tiles/heatmap/{z}/{x}/{y}.mvt")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    assert "public" in response.headers["Cache-Control"]
    layer = decode(response.data)["heatmap"]
    tiled = {f["properties"]["cell"]: f["properties"]["count"] for f in layer["features"]}
    assert {f["properties"]["resolution"] for f in layer["features"]} == {7}
    expected = independent_counts(db, 7)
    assert tiled and all(expected[c] == n and n >= k for c, n in tiled.items())
    # Every published cell whose hexagon touches the tile is in it.
    from geo.tiles import tile_bounds_lonlat

    west, south, east, north = tile_bounds_lonlat(z, x, y)
    heat = features_of(
        client.get(
            f"/v1/heatmaps?resolution=7&bbox={west - 0.05},{south - 0.05},{east + 0.05},{north + 0.05}"
        ).json
    )
    from shapely.geometry import Polygon, box

    tile_box = box(west, south, east, north)
    touching = {
        c
        for c in heat
        if Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(c)]).intersects(tile_box)
    }
    # Exactly the published cells whose hexagon touches the tile (not just its bbox).
    assert set(tiled) == touching
    again = client.get(
        f"/v1/tiles/heatmap/{z}/{x}/{y}.mvt", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    elsewhere = decode(client.get(f"/v1/tiles/heatmap/{z}/{x}/{y}.mvt?municipality=prizren").data)
    assert elsewhere.get("heatmap", {"features": []})["features"] == []
    filtered = decode(client.get(f"/v1/tiles/heatmap/{z}/{x}/{y}.mvt?group=roads").data)
    assert sum(
        f["properties"]["count"] for f in filtered.get("heatmap", {"features": []})["features"]
    ) < sum(tiled.values())


def test_a_tile_is_one_prepared_statement(app, client, db, monkeypatch):
    """After the first tile prepares the statement on the connection, a tile is one
    EXECUTE: no category or release query (the process's caches), no SET, no building."""
    from sqlalchemy import event

    seed_reports(db, 2000, 9, 90)
    for cache in ("category_cache", "latest_release"):
        monkeypatch.setattr(app.extensions[cache], "max_age", 60.0)
    first = client.get("/v1/tiles/heatmap/10/571/375.mvt")
    assert first.status_code == 200
    sent = []

    def record(conn, cursor, sql, *args):
        if "SAVEPOINT" not in sql:
            sent.append(sql)

    engine = db.get_bind().engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        again = client.get("/v1/tiles/heatmap/10/571/375.mvt")
        neighbour = client.get("/v1/tiles/heatmap/10/572/375.mvt")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert again.data == first.data and neighbour.status_code == 200
    name = sent[0].split("(")[0]
    assert name.startswith("EXECUTE civic_") and sent[1].startswith(f"{name}(")
    assert len(sent) == 2


def test_a_tile_or_heatmap_is_one_statement_on_the_wire(app, client, unjoined, monkeypatch):
    for cache in ("category_cache", "latest_release", "municipality_index"):
        monkeypatch.setattr(app.extensions[cache], "max_age", 60.0)
    path = "/v1/tiles/heatmap/10/571/375.mvt"
    assert client.get(path).status_code == 200  # caches loaded, statement prepared
    engine = app.extensions["request_engine"]
    sent = round_trips(engine, lambda: client.get(path))
    assert sent == ["EXECUTE"]
    heatmap = "/v1/heatmaps?municipality=prishtina&resolution=8"
    assert client.get(heatmap).status_code == 200  # the municipality from the process's index
    sent = round_trips(engine, lambda: client.get(heatmap))
    assert sent == ["SELECT"]  # no BEGIN, no SET (the connection has the maps settings)


def test_invalid_tiles_are_404(client):
    for path in ("3/8/0", "23/0/0", "3/-1/0"):
        response = client.get(f"/v1/tiles/heatmap/{path}.mvt")
        assert response.status_code == 404
        assert response.json["code"] == 404


def test_series_monthly_in_public_daily_for_researchers(client, staff_client, db, k):
    add_reports(db, [CENTRE] * 6, occurred=datetime(2026, 3, 3, 12, tzinfo=UTC))
    add_reports(db, [CENTRE] * 2, occurred=datetime(2026, 3, 4, 12, tzinfo=UTC))
    add_reports(db, [CENTRE] * 3, occurred=datetime(2026, 5, 4, 12, tzinfo=UTC))
    public = client.get("/v1/heatmaps/series?municipality=prishtina")
    assert public.status_code == 200
    assert public.json["series"] == [{"period": "2026-03-01", "count": 8}]
    assert public.json["suppressed"] == {"cells": 1, "reports_at_most": 5}
    daily = client.get("/v1/heatmaps/series?municipality=prishtina&interval=day")
    assert daily.status_code == 422
    researcher = staff_client("researcher")
    assert (
        researcher.get("/v1/heatmaps/series?municipality=prishtina&interval=day").status_code
        == 422  # all categories include sensitive ones: monthly releases only
    )
    days = researcher.get(
        "/v1/heatmaps/series?municipality=prishtina&interval=day&group=utilities"
    ).json
    assert days["series"] == [
        {"period": "2026-03-03", "count": 6},
        {"period": "2026-05-04", "count": 3},
    ]
    assert days["suppressed"] == {"cells": 1, "reports_at_most": 3}
    assert days["k"] == 3
    weeks = researcher.get(
        "/v1/heatmaps/series?bbox=21.1,42.6,21.2,42.7&interval=week&group=utilities"
    ).json
    assert weeks["series"] == [
        {"period": "2026-03-02", "count": 8},
        {"period": "2026-05-04", "count": 3},
    ]


def test_hotspots_find_a_planted_cluster(client, db):
    centre = h3.latlng_to_cell(*CENTRE, 7)
    # Background: two reports in each of many cells; a dense cluster in the centre ring.
    for cell in h3.grid_disk(centre, 6):
        add_reports(db, [h3.cell_to_latlng(cell)] * 6)
    for cell in h3.grid_disk(centre, 1):
        add_reports(db, [h3.cell_to_latlng(cell)] * 60)
    body = client.get("/v1/hotspots?resolution=7&bbox=20.9,42.45,21.45,42.9").json
    hot = {f["properties"]["cell"] for f in body["features"] if f["properties"]["class"] == "hot"}
    assert centre in hot
    assert hot <= set(h3.grid_disk(centre, 2))
    assert body["cells_tested"] > 100
    assert all(f["properties"]["q"] <= 0.05 for f in body["features"])


def test_emerging_hotspots_compare_with_the_previous_period(client, db):
    cell = h3.latlng_to_cell(*CENTRE, 7)
    add_reports(db, [CENTRE] * 5, occurred=datetime(2026, 4, 10, tzinfo=UTC))
    add_reports(db, [CENTRE] * 40, occurred=datetime(2026, 5, 10, tzinfo=UTC))
    body = client.get(
        "/v1/hotspots?resolution=7&municipality=prishtina&from=2026-05-01&to=2026-05-31"
    ).json
    rising = {
        f["properties"]["cell"]: f["properties"]
        for f in body["features"]
        if f["properties"].get("emerging")
    }
    assert list(rising) == [cell]
    assert rising[cell]["count"] == 40
    assert rising[cell]["q_increase"] <= 0.05


def test_dp_release_is_computed_once_and_for_researchers_only(client, staff_client, db):
    add_reports(db, [CENTRE] * 40, occurred=datetime(2026, 3, 10, tzinfo=UTC))
    seed_reports(db, 500, 5, 400)
    dp = "/v1/heatmaps?resolution=7&noise=dp&from=2026-03-01&to=2026-03-31"
    assert client.get(dp).status_code == 403
    researcher = staff_client("researcher")
    first = researcher.get(dp)
    assert first.status_code == 200, first.json
    second = researcher.get(
        dp.replace("from=2026-03-01", "from=2026-03-17") + "&bbox=-180,-90,180,90"
    )
    assert features_of(first.json) == features_of(second.json)
    assert first.json["privacy"]["epsilon"] == 1.0
    assert first.json["privacy"]["contribution_bound"] == 3
    assert all(n >= 5 for n in features_of(first.json).values())
    assert db.scalar(select(text("count(*)")).select_from(DpRelease)) == 1
    # The noise is real: the release differs from the exact counts somewhere.
    assert "discrete Laplace" in first.json["privacy"]["mechanism"]
    assert first.json["filters"] == {"from": "2026-03-01", "to": "2026-03-31", "resolution": 7}


def test_rebuild_equals_incremental_on_random_changes(app, db, staff_client, submit):
    seed_reports(db, 2500, 21, 200)
    for i in range(12):
        assert submit(location={"lat": 42.66 + i / 1000, "lon": 21.16}).status_code == 201
    ids = db.scalars(select(Report.id).order_by(Report.id)).all()
    # Status changes, a category change, an occurrence date change and deletes, as SQL and ORM.
    db.execute(
        update(Report)
        .where(Report.id.in_(ids[:300]))
        .values(status="resolved", duplicate_of_id=None)
    )
    db.execute(
        update(Report)
        .where(Report.id.in_(ids[300:400]))
        .values(status="duplicate", duplicate_of_id=ids[0])
    )
    db.execute(
        update(Report)
        .where(Report.id.in_(ids[400:450]))
        .values(occurred_at=Report.occurred_at - timedelta(days=40))
    )
    lighting = db.scalar(select(Category.id).where(Category.code == "public_lighting"))
    db.execute(update(Report).where(Report.id.in_(ids[450:500])).values(category_id=lighting))
    # Demo duplicates point to originals: delete none of those.
    originals = select(Report.duplicate_of_id).where(Report.duplicate_of_id.is_not(None))
    db.execute(delete(Report).where(Report.id.in_(ids[500:650]), Report.id.not_in(originals)))
    staff = staff_client("admin")
    staff.patch(f"/v1/admin/reports/{ids[700]}", json={"status": "acknowledged"})

    def snapshot():
        day = db.execute(
            text(
                "SELECT cell, category_id, day, status_class, resolution, count FROM heat_cell_day WHERE count <> 0 ORDER BY 1, 2, 3, 4"
            )
        ).all()
        total = db.execute(
            text(
                "SELECT resolution, cell, category_id, status_class, count FROM heat_cell_total WHERE count <> 0 ORDER BY 1, 2, 3, 4"
            )
        ).all()
        return day, total

    incremental = snapshot()
    assert len(incremental[0]) > 1000
    rollup.rebuild(db.connection())
    assert snapshot() == incremental


def test_rebuild_command_fills_missing_cells(app, db):
    add_reports(db, [CENTRE] * 5)
    db.execute(update(Report).values(h3_6=None, h3_7=None, h3_8=None, h3_9=None))
    db.execute(text("TRUNCATE heat_cell_day, heat_cell_total"))
    result = app.test_cli_runner().invoke(args=["analytics", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "rollups rebuilt" in result.output
    cells = db.execute(select(Report.h3_8)).scalars().all()
    assert cells == [int(h3.latlng_to_cell(*CENTRE, 8), 16)] * 5
    assert db.scalar(text("SELECT sum(count) FROM heat_cell_total WHERE resolution = 8")) == 5


def test_cells_cover_every_municipality(db):
    rows = db.execute(
        text(
            "SELECT resolution, count(*), count(DISTINCT municipality_id) FROM h3_cell GROUP BY 1 ORDER BY 1"
        )
    ).all()
    # ~40 km² res-6 cells: the smallest municipalities (Mamusha, …) hold no res-6 centre.
    assert [(r, m) for r, _, m in rows] == [(6, 35), (7, 37), (8, 38), (9, 38)]
    res9 = dict((r, n) for r, n, _ in rows)[9]
    assert 95_000 < res9 < 110_000


def test_no_aggregate_endpoint_needs_or_reveals_points(client, db):
    ids = add_reports(db, [CENTRE] * 6)
    text_of_all = "".join(
        client.get(path).get_data(as_text=True)
        for path in (
            "/v1/heatmaps?resolution=8",
            "/v1/heatmaps?resolution=8&format=csv",
            "/v1/heatmaps/series?municipality=prishtina",
            "/v1/hotspots?municipality=prishtina",
        )
    )
    assert str(ids[0]) not in text_of_all
    assert "21.1655" not in text_of_all and "42.6629" not in text_of_all
    assert json.dumps(list(CENTRE)) not in text_of_all
    assert date(2026, 6, 15).isoformat() not in text_of_all


def test_mixed_selections_never_combine_live_and_sensitive_counts(client, db, k):
    """All categories minus the non-sensitive ones (exact in the points layer) must give
    nothing about the sensitive ones: their reports never enter a live number."""
    cell = h3.latlng_to_cell(*CENTRE, 8)
    add_reports(db, [CENTRE] * (k + 1), category="public_lighting")
    before = client.get("/v1/heatmaps?resolution=8")
    add_reports(db, [CENTRE] * 2, category="commenting")
    mixed = client.get("/v1/heatmaps?resolution=8")
    assert mixed.get_data() == before.get_data()
    assert mixed.headers["ETag"] == before.headers["ETag"]
    assert features_of(mixed.json) == {cell: k + 1}
    assert mixed.json["filters"]["released_groups"] == ["governance", "harassment"]
    x, y = tile_of(*CENTRE, 12)
    layer = decode(client.get(f"/v1/tiles/heatmap/12/{x}/{y}.mvt").data)["heatmap"]
    assert [f["properties"]["count"] for f in layer["features"]] == [k + 1]
    assert "sensitive_count" not in layer["features"][0]["properties"]


def tile_of(lat, lon, z):
    from geo.tiles import lonlat_to_tile

    return lonlat_to_tile(lon, lat, z)


def test_sensitive_tiles_and_series_before_any_release_are_empty(client, db, k):
    add_reports(db, [CENTRE] * 9, category="touching")
    x, y = tile_of(*CENTRE, 11)
    response = client.get(f"/v1/tiles/heatmap/11/{x}/{y}.mvt?group=harassment")
    assert response.status_code == 200 and decode(response.data) == {}
    series = client.get("/v1/heatmaps/series?group=harassment&municipality=prishtina").json
    assert series["series"] == [] and series["k"] == k


def test_query_rules_hold_through_dataclasses_replace(app, db):
    """The privacy rules are applied when an AggregateQuery is built, so replace() (as
    previous_period does) cannot bypass them."""
    from dataclasses import FrozenInstanceError, replace

    from civic_api.analytics.service import Audience, build_query

    public = Audience(researcher=False, k=5)
    query = build_query({"group": ["harassment"], "resolution": 8}, public)
    finer = replace(query, resolution=9, date_from=date(2026, 3, 10), date_to=date(2026, 3, 12))
    assert finer.resolution == 8
    assert (finer.date_from, finer.date_to) == (date(2026, 3, 1), date(2026, 3, 31))
    assert finer.live_ids == () and finer.group_ids == query.group_ids
    waste = next(c.id for c in query.catalogue if c.code == "waste")
    touching = next(c.id for c in query.catalogue if c.code == "touching")
    mixed = replace(query, chosen=(waste, touching))
    assert mixed.live_ids == (waste,) and mixed.mixed
    with pytest.raises(ValueError, match="init=False"):
        replace(query, live_ids=(touching,))  # derived: cannot be passed in
    with pytest.raises(FrozenInstanceError):
        query.resolution = 9
    researcher = replace(query, audience=Audience(researcher=True, k=3), chosen=(waste,))
    days = replace(researcher, date_from=date(2026, 3, 10), date_to=date(2026, 3, 12))
    assert (days.date_from, days.resolution) == (date(2026, 3, 10), 8)
    assert replace(days, resolution=9).resolution == 9  # non-sensitive only: res 9


def test_released_hotspots_need_a_released_previous_month(app, client, db):
    from civic_api.analytics import releases

    # Released res-7 cells are the sums of their H3 children at res 8.
    cell = h3.cell_to_parent(h3.latlng_to_cell(*CENTRE, 8), 7)
    add_reports(db, [CENTRE] * 60, category="touching", occurred=datetime(2026, 7, 10, tzinfo=UTC))
    later = datetime(2026, 8, 20, tzinfo=UTC)
    releases.publish(date(2026, 7, 1), later, app.config | {"RELEASE_EPSILON": 50.0})
    db.commit()
    path = "/v1/hotspots?resolution=7&group=harassment&from=2026-07-01&to=2026-07-31&alpha=0.2"
    alone = client.get(path).json
    assert all("emerging" not in f["properties"] for f in alone["features"])
    releases.publish(date(2026, 6, 1), later, app.config | {"RELEASE_EPSILON": 50.0})
    db.commit()
    compared = client.get(path).json
    rising = [f["properties"]["cell"] for f in compared["features"] if f["properties"]["emerging"]]
    assert rising == [cell]
