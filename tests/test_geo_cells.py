"""geo.cells: H3 cell ids, parents, polygons, the zoom table and bbox snapping (vs h3, numpy and PostGIS)."""

import functools
import math

import h3
import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box
from sqlalchemy import Float, column, select, values

from civic_api.cli import BUNDLED_BOUNDARIES
from geo import cells
from geo.boundaries import read_features

KOSOVO_BBOX = (20.0, 41.85, 21.8, 43.27)
PRISHTINA = (21.1655, 42.6629)  # lon, lat


@functools.cache
def kosovo():
    return shapely.union_all([geom for _, geom in read_features(BUNDLED_BOUNDARIES)])


def random_points(n, seed=0, bbox=KOSOVO_BBOX):
    rng = np.random.default_rng(seed)
    west, south, east, north = bbox
    return rng.uniform(south, north, n), rng.uniform(west, east, n)


def h3_reference(lats, lons, res):
    """The documented string API, one point at a time: an independent path through h3."""
    return [int(h3.latlng_to_cell(la, lo, res), 16) for la, lo in zip(lats, lons, strict=True)]


def brute_force_cells(bbox, res):
    """Cells whose centre obeys the half-open rule, found by sampling a grid finer than any
    cell (spacing half an edge, padded by two edges) and testing every centre by hand."""
    west, south, east, north = bbox
    edge_deg = h3.average_hexagon_edge_length(res, unit="m") / 111_320.0
    step = edge_deg / 2
    pad = 2 * edge_deg / math.cos(math.radians(max(abs(south), abs(north))))
    lats = np.arange(south - pad, north + pad, step)
    lons = np.arange(west - pad, east + pad, step / math.cos(math.radians(north + pad)))
    found = {h3.latlng_to_cell(la, lo, res) for la in lats for lo in lons}
    keep = set()
    for cell in found:
        lat, lon = h3.cell_to_latlng(cell)
        if west <= lon < east and south <= lat < north:
            keep.add(int(cell, 16))
    return keep


# --------------------------------------------------------------------------- cell ids


@pytest.mark.parametrize("res", [0, 6, 7, 8, 9, 15])
def test_cells_for_matches_h3_point_by_point(res):
    lats, lons = random_points(2_000, seed=res)
    got = cells.cells_for(lats, lons, res)
    assert got.dtype == np.int64 and got.shape == (2_000,)
    assert got.tolist() == h3_reference(lats, lons, res)


def test_cells_for_worldwide_and_edges():
    lats = np.array([90.0, -90.0, 0.0, 0.0, 42.6629, -33.9])
    lons = np.array([0.0, 0.0, 180.0, -180.0, 21.1655, 151.2])
    assert cells.cells_for(lats, lons, 9).tolist() == h3_reference(lats, lons, 9)
    assert cells.cells_for([], [], 8).tolist() == []


@pytest.mark.parametrize(
    "lats, lons, res, message",
    [
        ([np.nan], [21.0], 8, "finite"),
        ([42.0], [np.inf], 8, "finite"),
        ([91.0], [21.0], 8, "±90"),
        ([42.0], [180.5], 8, "±180"),
        ([42.0, 42.1], [21.0], 8, "differ in length"),
        ([42.0], [21.0], 16, "between 0 and 15"),
        ([42.0], [21.0], True, "integer"),
    ],
)
def test_cells_for_refuses_bad_input(lats, lons, res, message):
    with pytest.raises(ValueError, match=message):
        cells.cells_for(lats, lons, res)


def test_parents_match_h3_cell_to_parent_worldwide():
    rng = np.random.default_rng(7)
    lats, lons = rng.uniform(-89, 89, 3_000), rng.uniform(-180, 180, 3_000)
    fine = cells.cells_for(lats, lons, 15)
    pentagons = [int(p, 16) for p in h3.get_pentagons(15)]
    fine = np.concatenate([fine, np.array(pentagons, dtype=np.int64)])
    for res in range(0, 16):
        expected = [int(h3.cell_to_parent(h3.int_to_str(int(c)), res), 16) for c in fine]
        assert cells.parents(fine, res).tolist() == expected


def test_parents_refuse_a_finer_resolution():
    coarse = cells.cells_for([42.6], [21.1], 6)
    with pytest.raises(ValueError, match="as coarse as res 6"):
        cells.parents(coarse, 7)


def test_cells_for_resolutions_exact_and_hierarchical():
    lats, lons = random_points(20_000, seed=3)
    exact = cells.cells_for_resolutions(lats, lons)
    assert sorted(exact) == [6, 7, 8, 9]
    for res, ids in exact.items():
        assert ids[:500].tolist() == h3_reference(lats[:500], lons[:500], res)
        assert np.array_equal(ids, cells.cells_for(lats, lons, res))
    tree = cells.cells_for_resolutions(lats, lons, hierarchical=True)
    assert np.array_equal(tree[9], exact[9])
    for res in (6, 7, 8):
        assert np.array_equal(tree[res], cells.parents(exact[9], res))
        # H3 children do not tile their parent: some points change cell (the docstring's ~7 %).
        share = float(np.mean(tree[res] != exact[res]))
        assert 0.03 < share < 0.12


# --------------------------------------------------------------------------- resolutions


def test_sensitive_resolution_keeps_every_kosovo_cell_at_least_500_m():
    for res, minimum, maximum in ((8, 500.0, 600.0), (9, 150.0, 250.0)):
        ids = cells.cells_overlapping(kosovo(), res)
        edges = [
            h3.edge_length(e, unit="m")
            for c in ids.tolist()
            for e in h3.origin_to_directed_edges(h3.int_to_str(c))
        ]
        assert minimum <= min(edges) and max(edges) <= maximum
        if res == 8:
            assert min(edges) >= cells.SENSITIVE_MIN_EDGE_M
        else:  # res 9 would break the rule, which is why sensitive categories stop at 8
            assert max(edges) < cells.SENSITIVE_MIN_EDGE_M
    assert cells.max_resolution(sensitive=True) == 8
    assert cells.max_resolution(sensitive=False) == 9


def test_zoom_table_recomputed_from_first_principles():
    """512-px tiles at Kosovo's latitude; pick the rollup resolution whose hexagon (flat to
    flat = sqrt(3) * mean edge) is closest to 32 px in log scale."""
    expected = []
    for z in range(23):
        metres_per_px = 2 * math.pi * 6_378_137 * math.cos(math.radians(42.6)) / (512 * 2**z)
        widths = {
            r: math.sqrt(3) * h3.average_hexagon_edge_length(r, unit="m") / metres_per_px
            for r in (6, 7, 8, 9)
        }
        expected.append(min(widths, key=lambda r: abs(math.log(widths[r] / 32))))
    assert list(cells.ZOOM_TO_RESOLUTION) == expected
    assert [cells.best_resolution_for_zoom(z) for z in range(23)] == expected


@pytest.mark.parametrize(
    "zoom, sensitive, res",
    [
        (0, False, 6),
        (8.99, False, 6),
        (9, False, 7),
        (10.5, False, 7),
        (11, False, 8),
        (12, False, 9),
        (12, True, 8),
        (22, True, 8),
        (30, False, 9),
        (-3, False, 6),
    ],
)
def test_resolution_for_zoom(zoom, sensitive, res):
    assert cells.resolution_for_zoom(zoom, sensitive) == res


def test_resolution_for_zoom_refuses_nan():
    with pytest.raises(ValueError, match="finite"):
        cells.resolution_for_zoom(float("nan"))


# --------------------------------------------------------------------------- ids


def test_cell_ids_and_hex_strings():
    cell = int(cells.cells_for([42.6629], [21.1655], 9)[0])
    assert cells.cell_to_hex(cell) == h3.latlng_to_cell(42.6629, 21.1655, 9)
    assert cells.hex_to_cell(cells.cell_to_hex(cell)) == cell
    for bad in ("zz", "0", "8928308280fffff0"):
        with pytest.raises(cells.InvalidCell):
            cells.hex_to_cell(bad)


# --------------------------------------------------------------------------- snapping


@pytest.mark.parametrize(
    "bbox, res",
    [
        ((21.10, 42.60, 21.25, 42.70), 8),
        ((21.10, 42.60, 21.16, 42.64), 9),
        ((20.3, 42.2, 20.9, 42.6), 7),
        (KOSOVO_BBOX, 6),
    ],
)
def test_cells_covering_bbox_matches_brute_force(bbox, res):
    got = cells.cells_covering_bbox(bbox, res)
    assert got.tolist() == sorted(got.tolist())
    assert set(got.tolist()) == brute_force_cells(bbox, res)


def test_cells_covering_bbox_is_half_open_on_centres():
    cell = int(cells.cells_for([42.6629], [21.1655], 8)[0])
    lat, lon = h3.cell_to_latlng(h3.int_to_str(cell))
    d = 0.01
    assert cell in cells.cells_covering_bbox((lon, lat, lon + d, lat + d), 8)  # closed W/S
    assert cell not in cells.cells_covering_bbox((lon - d, lat - d, lon, lat + d), 8)  # open E
    assert cell not in cells.cells_covering_bbox((lon - d, lat - d, lon + d, lat), 8)  # open N


def test_snapped_areas_cannot_be_subtracted_to_a_partial_cell():
    """The differencing attack: ask for an area, then for the same area plus a thin strip.
    Raw points differ (the strip holds reports), but snapped answers differ by whole cells
    only, the cells whose centres lie in the strip, each with its whole count."""
    rng = np.random.default_rng(11)
    lats = rng.normal(42.66, 0.02, 50_000)
    lons = rng.normal(21.16, 0.03, 50_000)
    res = 8
    ids = cells.cells_for(lats, lons, res)
    per_cell = dict(zip(*np.unique(ids, return_counts=True), strict=True))

    def answer(bbox):
        return sum(int(per_cell.get(c, 0)) for c in cells.cells_covering_bbox(bbox, res).tolist())

    def raw(bbox):
        w, s, e, n = bbox
        return int(np.sum((lons >= w) & (lons < e) & (lats >= s) & (lats < n)))

    base = (21.10, 42.62, 21.20, 42.70)
    for strip_m in (30, 60, 120, 240, 480, 960):
        grown = (*base[:3], base[3] + strip_m / 111_320.0)
        strip = (base[0], base[3], base[2], grown[3])
        extra = set(cells.cells_covering_bbox(grown, res).tolist()) - set(
            cells.cells_covering_bbox(base, res).tolist()
        )
        assert set(cells.cells_covering_bbox(base, res).tolist()) <= set(
            cells.cells_covering_bbox(grown, res).tolist()
        )
        assert extra == set(cells.cells_covering_bbox(strip, res).tolist())
        assert answer(grown) - answer(base) == sum(int(per_cell.get(c, 0)) for c in extra)
        if not extra:
            assert raw(grown) > raw(base)  # a naive area query would have leaked these
            assert answer(grown) == answer(base)


def test_tiles_partition_cells_without_overlap():
    from geo.tiles import tile_bounds_lonlat

    z, res = 9, 8
    xs, ys = range(284, 287), range(187, 190)
    owned = [cells.cells_covering_bbox(tile_bounds_lonlat(z, x, y), res) for x in xs for y in ys]
    flat = np.concatenate(owned)
    assert flat.size == np.unique(flat).size
    west, _, _, north = tile_bounds_lonlat(z, xs[0], ys[0])
    _, south, east, _ = tile_bounds_lonlat(z, xs[-1], ys[-1])
    assert set(flat.tolist()) == set(cells.cells_covering_bbox((west, south, east, north), res))


def test_cells_covering_bbox_across_the_antimeridian():
    bbox, res = (179.0, -1.0, -179.0, 1.0), 4
    got = set(cells.cells_covering_bbox(bbox, res).tolist())
    east_part = set(cells.cells_covering_bbox((179.0, -1.0, 180.0, 1.0), res).tolist())
    west_part = set(cells.cells_covering_bbox((-180.0, -1.0, -179.0, 1.0), res).tolist())
    assert got == east_part | west_part and east_part and west_part
    reference = brute_force_cells((179.0, -1.0, 180.0, 1.0), res) | brute_force_cells(
        (-180.0, -1.0, -179.0, 1.0), res
    )
    assert got == reference


@pytest.mark.parametrize(
    "bbox, message",
    [
        ((21.0, 42.0, 21.5), "four numbers"),
        ((21.0, 42.5, 21.5, 42.0), "south < north"),
        ((21.0, 42.0, 21.0, 42.5), "differ"),
        ((21.0, 42.0, 181.0, 42.5), "longitudes"),
        ((21.0, float("nan"), 21.5, 42.5), "finite"),
        ((21.0, "a", 21.5, 42.5), "numbers"),
    ],
)
def test_invalid_bboxes(bbox, message):
    with pytest.raises(cells.InvalidBBox, match=message):
        cells.cells_covering_bbox(bbox, 8)


def test_too_many_cells_is_refused_before_any_work():
    with pytest.raises(cells.TooManyCells, match="res-9"):
        cells.cells_covering_bbox((-180.0, -80.0, 180.0, 80.0), 9)
    assert cells.cells_covering_bbox(KOSOVO_BBOX, 9, max_cells=300_000).size > 150_000


def test_sql_rule_selects_the_same_centres_as_numpy(db):
    """centre_in_bbox (PostgreSQL) and centre_in_bbox_mask (numpy) agree, edges included."""
    bbox = (21.1, 42.6, 21.2, 42.7)
    lats = [42.6, 42.7, 42.65, 42.65, 42.65, 42.5999999999, 42.6999999999, 42.65, 90.0, 42.65]
    lons = [21.15, 21.15, 21.1, 21.2, 21.15, 21.15, 21.15, 21.1999999999, 21.15, 180.0]
    rng = np.random.default_rng(5)
    lats += rng.uniform(42.55, 42.75, 200).tolist()
    lons += rng.uniform(21.05, 21.25, 200).tolist()
    table = values(column("i"), column("lat", Float), column("lon", Float), name="c").data(
        list(zip(range(len(lats)), lats, lons, strict=True))
    )
    for box_ in (bbox, (21.1, 42.6, 180.0, 90.0), (179.0, 42.6, 21.2, 42.7)):
        got = db.scalars(
            select(table.c.i).where(cells.centre_in_bbox(table.c.lon, table.c.lat, box_))
        ).all()
        expected = np.flatnonzero(cells.centre_in_bbox_mask(lats, lons, box_)).tolist()
        assert sorted(got) == expected
    mask = cells.centre_in_bbox_mask(lats[:10], lons[:10], bbox)
    assert mask.tolist() == [True, False, True, False, True, False, True, True, False, False]


def test_cells_overlapping_covers_every_point_inside_the_area():
    area = box(21.05, 42.55, 21.3, 42.75)
    ids = cells.cells_overlapping(area, 8)
    lats, lons = random_points(20_000, seed=9, bbox=area.bounds)
    assert set(cells.cells_for(lats, lons, 8).tolist()) <= set(ids.tolist())
    inside = cells.cells_covering_bbox(area.bounds, 8)
    assert set(inside.tolist()) < set(ids.tolist())  # plus the cells cut by the edge
    assert all(
        Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(h3.int_to_str(c))]).intersects(area)
        for c in ids.tolist()
    )
    assert cells.cells_overlapping(box(0, 0, 0, 0).buffer(0), 8).size == 0


def test_the_one_point_path_gives_the_array_paths_cells():
    import random

    from civic_api.analytics.rollup import cells_of, cells_of_point

    rng = random.Random(3)
    for _ in range(500):
        lat, lon = rng.uniform(41.8, 43.3), rng.uniform(19.9, 21.9)
        assert cells_of_point(lat, lon) == {k: int(v[0]) for k, v in cells_of([lat], [lon]).items()}
