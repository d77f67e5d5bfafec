"""The attacks of issue 9, run against the app on planted data with known truth.

Each attack worked against the old public API in 1-5 requests. Here none may recover an
exact withheld count of a sensitive report: public answers do not move when sensitive
reports are stored, and the only sensitive numbers are the noisy releases (production
parameters), from which an attacker's estimate of a planted count is exact only by chance.
"""

from datetime import UTC, date, datetime

import h3
import mapbox_vector_tile
import pytest
from factories import add_reports
from sqlalchemy import func, select

from civic_api.analytics import releases
from civic_api.analytics.models import DpRelease
from geo.hotspots import binomial_upper_tail
from geo.tiles import lonlat_to_tile

CENTRE = (42.6629, 21.1655)  # central Prishtina
JUNE, JULY = date(2026, 6, 1), date(2026, 7, 1)
PUBLISH_AT = datetime(2026, 8, 20, tzinfo=UTC)  # June and July are closed
IN_JUNE = datetime(2026, 6, 15, 12, tzinfo=UTC)
IN_JULY = datetime(2026, 7, 15, 12, tzinfo=UTC)
TARGETS = 40
# An estimate may hit the truth by chance (noise 0); far more often means a leak.
CHANCE = 0.35


def target_cells():
    """TARGETS res-8 cells around Prishtina, far enough apart to tell apart by bbox, with a
    true count of 1-4 sensitive reports each."""
    centre = h3.latlng_to_cell(*CENTRE, 8)
    cells = [c for c in sorted(h3.grid_disk(centre, 12)) if h3.grid_distance(centre, c) % 3 == 0]
    return {cell: 1 + i % 4 for i, cell in enumerate(cells[:TARGETS])}


def plant(db, truth, occurred=IN_JUNE, category="commenting"):
    for cell, count in truth.items():
        add_reports(db, [h3.cell_to_latlng(cell)] * count, category=category, occurred=occurred)


def publish(app, db, *months):
    for month in months:
        releases.publish(month, PUBLISH_AT, app.config)
    db.commit()


def box_around(cell, margin=0.0015):
    lat, lon = h3.cell_to_latlng(cell)
    return (lon - margin, lat - margin, lon + margin, lat + margin)


def bbox_text(box):
    return ",".join(f"{v:.6f}" for v in box)


def exact_share(estimates, truth):
    assert len(estimates) == len(truth)
    return sum(estimates[c] == truth[c] for c in truth) / len(truth)


def cells_of(body, key="count"):
    return {f["properties"]["cell"]: f["properties"].get(key) for f in body["features"]}


PUBLIC_URLS = (
    "/v1/heatmaps?resolution=8",
    "/v1/heatmaps?resolution=8&group=harassment",
    "/v1/heatmaps?resolution=8&category=commenting&from=2026-06-01&to=2026-06-30",
    "/v1/heatmaps?resolution=8&category=commenting,waste",
    "/v1/heatmaps?resolution=7&format=csv",
    "/v1/heatmaps/series?municipality=prishtina",
    "/v1/heatmaps/series?municipality=prishtina&group=harassment",
    "/v1/hotspots?municipality=prishtina&group=harassment",
    "/v1/hotspots?municipality=prishtina&from=2026-06-01&to=2026-06-30",
    "/ogc/collections/heatmap-cells/items?resolution=8&group=harassment",
    "/ogc/collections/heatmap-cells/items?resolution=8",
)


def snapshot(client, x, y):
    answers = {}
    for url in PUBLIC_URLS:
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
        body = response.get_data(as_text=True)
        if url.startswith("/ogc"):  # its timeStamp is the time of the request
            body = body[: body.rindex('"timeStamp"')]
        answers[url] = (body, response.headers.get("ETag"))
    answers["tile"] = client.get(f"/v1/tiles/heatmap/12/{x}/{y}.mvt").data
    return answers


def test_real_time_existence_and_padding_move_no_public_answer(client, db, submit):
    """One sensitive report, or four padding reports beside it, change no byte and no ETag
    of any public answer (heatmaps, CSV, series, hotspots, tiles, OGC), so neither its
    existence nor its cell, month or category can be read, nor a count by padding."""
    add_reports(db, [CENTRE] * 7, category="waste", occurred=IN_JUNE)
    x, y = lonlat_to_tile(CENTRE[1], CENTRE[0], 12)
    before = snapshot(client, x, y)
    victim = {"lat": CENTRE[0], "lon": CENTRE[1]}
    assert (
        submit(category="touching", location=victim, occurred_at=IN_JUNE.isoformat()).status_code
        == 201
    )
    assert snapshot(client, x, y) == before
    for _ in range(4):  # padding
        created = submit(category="touching", location=victim, occurred_at=IN_JUNE.isoformat())
        assert created.status_code == 201
    assert snapshot(client, x, y) == before


def test_padding_before_publication_recovers_only_noise(app, client, db):
    """The attacker adds 4 reports to each of 40 target cells before the month is released
    and subtracts 4 from what is published: exact only by chance."""
    truth = target_cells()
    plant(db, truth)
    plant(db, dict.fromkeys(truth, 4))  # the attacker's padding
    publish(app, db, JUNE)
    shown = cells_of(client.get("/v1/heatmaps?resolution=8&group=harassment&release=2026-06").json)
    estimates = {c: shown.get(c, 0) - 4 for c in truth}
    assert exact_share(estimates, truth) <= CHANCE


def test_bbox_and_series_differencing_recover_only_noise(app, client, db):
    """Two areas that differ by one target cell, as heatmap sums and as series: the
    difference is a released (noisy) value, or nothing."""
    truth = target_cells()
    plant(db, truth)
    publish(app, db, JUNE)
    heat_estimates, series_estimates = {}, {}
    for cell in truth:
        # A box holding the target cell alone is the limit of differencing two boxes: any
        # difference of areas is a sum of such single-cell answers.
        box = bbox_text(box_around(cell))
        heat = client.get(f"/v1/heatmaps?resolution=8&group=harassment&bbox={box}").json
        assert set(cells_of(heat)) <= {cell}
        heat_estimates[cell] = sum(cells_of(heat).values())
        body = client.get(
            f"/v1/heatmaps/series?group=harassment&from=2026-06-01&to=2026-06-30&bbox={box}"
        ).json
        series_estimates[cell] = sum(p.get("count", 0) for p in body["series"])
    assert exact_share(heat_estimates, truth) <= CHANCE
    assert exact_share(series_estimates, truth) <= CHANCE


def test_category_and_status_set_differencing_give_nothing(app, client, db):
    """category=X,Y minus category=Y, status=open,rejected minus status=open, and all
    categories minus a group minus the public points: the live numbers never hold a
    sensitive report, and releases ignore statuses."""
    truth = target_cells()
    plant(db, truth)
    for cell in truth:
        add_reports(db, [h3.cell_to_latlng(cell)] * 6, category="waste", occurred=IN_JUNE)
    plant(db, dict.fromkeys(truth, 2), category="touching")
    publish(app, db, JUNE)
    both = cells_of(client.get("/v1/heatmaps?resolution=8&category=commenting,waste").json)
    waste = cells_of(client.get("/v1/heatmaps?resolution=8&category=waste").json)
    assert {c: both.get(c, 0) - waste.get(c, 0) for c in truth} == dict.fromkeys(truth, 0)
    everything = cells_of(client.get("/v1/heatmaps?resolution=8").json)
    points = client.get("/ogc/collections/report-points/items?limit=10000").json["features"]
    per_cell = {}
    for point in points:
        lon, lat = point["geometry"]["coordinates"]
        cell = h3.latlng_to_cell(lat, lon, 8)
        per_cell[cell] = per_cell.get(cell, 0) + 1
    assert {c: everything.get(c, 0) - per_cell.get(c, 0) for c in truth} == dict.fromkeys(truth, 0)
    base = "/v1/heatmaps?resolution=8&group=harassment&release=2026-06"
    assert (
        client.get(base + "&status=open,rejected").json["features"]
        == client.get(base + "&status=open").json["features"]
    )


def test_coarse_minus_fine_recovers_only_noise(app, client, db):
    """A res-7 cell minus its shown res-8 children: the released hierarchy is consistent, so
    the difference is the sum of the withheld children's noisy values."""
    truth = target_cells()
    plant(db, truth)
    publish(app, db, JUNE)
    base = "/v1/heatmaps?group=harassment&release=2026-06"
    coarse = cells_of(client.get(base + "&resolution=7").json)
    fine = cells_of(client.get(base + "&resolution=8").json)
    estimates = {}
    for cell in truth:
        parent = h3.cell_to_parent(cell, 7)
        siblings = [c for c in h3.cell_to_children(parent, 8) if c != cell]
        estimates[cell] = coarse.get(parent, 0) - sum(fine.get(c, 0) for c in siblings)
    assert exact_share(estimates, truth) <= CHANCE


def test_hotspots_compare_whole_released_months_and_reveal_only_released_values(app, client, db):
    """The previous period of July is June (whole months), and inverting p_increase gives
    at most June's released value, never the true June count."""
    truth = target_cells()
    plant(db, truth)  # June
    plant(db, dict.fromkeys(truth, 30), occurred=IN_JULY)
    publish(app, db, JUNE, JULY)
    body = client.get(
        "/v1/hotspots?resolution=8&group=harassment&municipality=prishtina"
        "&from=2026-07-01&to=2026-07-31&alpha=0.2"
    ).json
    assert body["filters"]["from"] == "2026-07-01" and body["release"]["ids"] == ["2026-07"]
    estimates = {}
    for feature in body["features"]:
        props = feature["properties"]
        cell = props["cell"]
        if cell not in truth or "p_increase" not in props:
            continue
        current = props["count"]
        if current == 0 or props["p_increase"] == 1.0:
            continue  # p = 1 for every previous count: nothing to invert
        # The attacker's inversion: the previous count b with P(X >= c | c + b, 1/2) = p.
        candidates = [
            b
            for b in range(0, 200)
            if binomial_upper_tail(current, current + b, 0.5) == pytest.approx(props["p_increase"])
        ]
        estimates[cell] = candidates[0] if candidates else -1
    june = cells_of(client.get("/v1/heatmaps?resolution=8&group=harassment&release=2026-06").json)
    for cell, estimate in estimates.items():
        assert estimate == june.get(cell, 0)  # what June's release shows, nothing finer
    if estimates:
        assert exact_share(estimates, {c: truth[c] for c in estimates}) <= CHANCE


def test_researcher_redraws_return_the_stored_answer_and_cost_once(app, staff_client, db):
    """120 questions over the same reports with shifted day windows are one canonical
    question: one answer, one charge; averaging gains nothing. A changed epsilon is another
    question, charged again."""
    truth = target_cells()
    plant(db, truth)
    researcher = staff_client("researcher")
    answers = set()
    for shift in range(120):
        day = 1 + shift % 28
        response = researcher.get(
            f"/v1/heatmaps?noise=dp&resolution=8&group=harassment"
            f"&from=2026-06-{day:02d}&to=2026-06-{min(day + 1, 30):02d}"
        )
        assert response.status_code == 200, response.json
        answers.add(response.get_data(as_text=True).split('"budget"')[0])
    assert len(answers) == 1
    assert db.scalar(select(func.count()).select_from(DpRelease)) == 1
    app.config["DP_EPSILON"] = 0.5
    try:
        again = researcher.get(
            "/v1/heatmaps?noise=dp&resolution=8&group=harassment&from=2026-06-01&to=2026-06-30"
        )
    finally:
        app.config["DP_EPSILON"] = 1.0
    assert again.json["privacy"]["epsilon"] == 0.5
    assert again.json["privacy"]["budget"]["account_spent"] == 1.5
    assert db.scalar(select(func.count()).select_from(DpRelease)) == 2


def test_researchers_get_no_exact_day_windows_or_small_counts_of_sensitive_reports(
    app, staff_client, db
):
    """k = 3 and day windows were enough to isolate one report to its day: for sensitive
    categories researchers get the monthly releases only."""
    truth = target_cells()
    plant(db, truth)
    publish(app, db, JUNE)
    researcher = staff_client("researcher")
    day = researcher.get(
        "/v1/heatmaps?resolution=8&group=harassment&from=2026-06-15&to=2026-06-15"
    ).json
    assert (day["filters"]["from"], day["filters"]["to"]) == ("2026-06-01", "2026-06-30")
    month = researcher.get("/v1/heatmaps?resolution=8&group=harassment&release=2026-06").json
    assert cells_of(day) == cells_of(month)
    assert exact_share({c: cells_of(day).get(c, 0) for c in truth}, truth) <= CHANCE
    daily = researcher.get("/v1/heatmaps/series?group=harassment&interval=day")
    assert daily.status_code == 422


def test_managers_are_exact_only_in_their_own_municipalities(app, client, staff_client, db):
    """A Prishtina manager sees Prishtina's sensitive counts exactly, and elsewhere only
    what the public sees."""
    add_reports(db, [CENTRE] * 3, category="touching", occurred=IN_JUNE)
    prizren = (42.2139, 20.7397)
    add_reports(db, [prizren] * 3, category="touching", occurred=IN_JUNE, municipality="prizren")
    publish(app, db, JUNE)
    manager = staff_client("manager", ["prishtina"])
    own = manager.get("/v1/heatmaps?resolution=8&group=harassment&municipality=prishtina").json
    assert cells_of(own) == {h3.latlng_to_cell(*CENTRE, 8): 3}
    assert own["filters"]["exact"] is True
    path = "/v1/heatmaps?resolution=8&group=harassment&municipality=prizren"
    other = manager.get(path)
    assert other.json["filters"]["exact"] is False
    assert other.json["features"] == client.get(path).json["features"]
    national = manager.get("/v1/heatmaps?resolution=8&group=harassment").json
    assert (
        national["features"]
        == client.get("/v1/heatmaps?resolution=8&group=harassment").json["features"]
    )
    assert manager.get("/v1/heatmaps?noise=dp&from=2026-06-01&to=2026-06-30").status_code == 403
    # A personal token with analytics:read alone makes no manager a researcher.
    created = manager.post(
        "/v1/admin/tokens", json={"name": "a", "scopes": ["analytics:read"], "expires_in_days": 1}
    )
    assert created.status_code == 201, created.json
    scoped = app.test_client()
    scoped.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {created.json['token']}"
    day = scoped.get("/v1/heatmaps?resolution=8&group=utilities&from=2026-06-15&to=2026-06-15")
    assert day.json["filters"]["from"] == "2026-06-01" and day.json["k"] == 5
    own_scoped = scoped.get(
        "/v1/heatmaps?resolution=8&group=harassment&municipality=prishtina"
    ).json
    assert own_scoped["filters"]["exact"] is False  # reports:read is what makes it exact
    assert scoped.get("/v1/heatmaps?noise=dp&from=2026-06-01&to=2026-06-30").status_code == 403


def test_mixed_selections_show_the_sensitive_part_only_as_released_values(app, client, db):
    """A single-cell box over a mixed selection: the live count is the non-sensitive part
    exactly, the sensitive part is the released value or absent; suppression summaries say
    nothing about sensitive reports."""
    truth = target_cells()
    plant(db, truth)
    for cell in truth:
        add_reports(db, [h3.cell_to_latlng(cell)] * 5, category="waste", occurred=IN_JUNE)
    publish(app, db, JUNE)
    released = cells_of(
        client.get("/v1/heatmaps?resolution=8&group=harassment&release=2026-06").json
    )
    estimates = {}
    for cell in truth:
        body = client.get(
            f"/v1/heatmaps?resolution=8&from=2026-06-01&to=2026-06-30&bbox={bbox_text(box_around(cell))}"
        ).json
        assert cells_of(body) == {cell: 5}
        assert body["suppressed"] == {"cells": 0, "reports_at_most": 0}
        sensitive = cells_of(body, "sensitive_count").get(cell)
        assert sensitive == released.get(cell)
        estimates[cell] = sensitive or 0
    assert exact_share(estimates, truth) <= CHANCE


def test_tiles_carry_released_values_for_sensitive_groups(app, client, db):
    truth = target_cells()
    plant(db, truth)
    publish(app, db, JUNE)
    x, y = lonlat_to_tile(CENTRE[1], CENTRE[0], 11)
    tile = mapbox_vector_tile.decode(
        client.get(f"/v1/tiles/heatmap/11/{x}/{y}.mvt?group=harassment&release=2026-06").data
    )
    tiled = {
        f["properties"]["cell"]: f["properties"]["count"]
        for f in tile.get("heatmap", {"features": []})["features"]
    }
    heat = cells_of(client.get("/v1/heatmaps?resolution=8&group=harassment&release=2026-06").json)
    assert all(heat.get(c) == n for c, n in tiled.items())
    assert exact_share({c: tiled.get(c, 0) for c in truth}, truth) <= CHANCE
