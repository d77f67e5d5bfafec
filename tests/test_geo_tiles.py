"""geo.tiles: z/x/y validation, tile bounds and ST_TileEnvelope/ST_AsMVTGeom (vs PostGIS)."""

import math

import numpy as np
import pytest
from sqlalchemy import func, literal, select

from geo import tiles

R = 6_378_137.0  # web-mercator sphere


def to_mercator(lon, lat):
    """Forward spherical mercator, written out independently of geo.tiles."""
    return R * math.radians(lon), R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


@pytest.mark.parametrize(
    "z, x, y, message",
    [
        (-1, 0, 0, "zoom must be between 0 and 22, got -1"),
        (23, 0, 0, "zoom must be between 0 and 22, got 23"),
        (3, 8, 0, "x must be between 0 and 7 at zoom 3, got 8"),
        (3, -1, 0, "x must be between 0 and 7 at zoom 3, got -1"),
        (3, 0, 8, "y must be between 0 and 7 at zoom 3, got 8"),
        (0, 0, 1, "y must be between 0 and 0 at zoom 0, got 1"),
        (1.0, 0, 0, "tile z must be an integer, got 1.0"),
        (1, True, 0, "tile x must be an integer, got True"),
        (1, 0, "0", "tile y must be an integer, got '0'"),
    ],
)
def test_invalid_tiles_are_refused_with_a_reason(z, x, y, message):
    with pytest.raises(tiles.InvalidTile) as info:
        tiles.validate_tile(z, x, y)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("z, x, y", [(0, 0, 0), (22, 2**22 - 1, 2**22 - 1), (12, 2286, 1502)])
def test_valid_tiles_pass(z, x, y):
    tiles.validate_tile(z, x, y)


def test_world_and_quadrant_bounds():
    o = tiles.ORIGIN_SHIFT
    assert o == pytest.approx(math.pi * R, abs=1e-6)
    assert tiles.tile_bounds_mercator(0, 0, 0) == (-o, -o, o, o)
    assert tiles.tile_bounds_mercator(1, 0, 0) == (-o, 0.0, 0.0, o)  # north-west
    assert tiles.tile_bounds_mercator(1, 1, 1) == (0.0, -o, o, 0.0)  # south-east
    west, south, east, north = tiles.tile_bounds_lonlat(0, 0, 0)
    assert (west, east) == (-180.0, 180.0)
    assert north == pytest.approx(85.0511287798, abs=1e-9) and south == -north


def test_lonlat_bounds_project_onto_mercator_bounds():
    rng = np.random.default_rng(1)
    for _ in range(200):
        z = int(rng.integers(0, 23))
        x, y = (int(v) for v in rng.integers(0, 2**z, 2))
        west, south, east, north = tiles.tile_bounds_lonlat(z, x, y)
        minx, miny, maxx, maxy = tiles.tile_bounds_mercator(z, x, y)
        for (lon, lat), (mx, my) in (((west, south), (minx, miny)), ((east, north), (maxx, maxy))):
            px, py = to_mercator(lon, lat)
            assert px == pytest.approx(mx, abs=1e-6) and py == pytest.approx(my, abs=1e-6)


def test_lonlat_to_tile_round_trips_and_known_tiles():
    assert tiles.lonlat_to_tile(-1.0, 1.0, 1) == (0, 0)
    assert tiles.lonlat_to_tile(1.0, -1.0, 1) == (1, 1)
    assert tiles.lonlat_to_tile(180.0, 89.9, 4) == (15, 0)
    assert tiles.lonlat_to_tile(-180.0, -89.9, 4) == (0, 15)
    rng = np.random.default_rng(2)
    for lon, lat, z in zip(
        rng.uniform(-180, 180, 500),
        rng.uniform(-85, 85, 500),
        rng.integers(0, 23, 500),
        strict=True,
    ):
        x, y = tiles.lonlat_to_tile(float(lon), float(lat), int(z))
        west, south, east, north = tiles.tile_bounds_lonlat(int(z), x, y)
        assert west <= lon <= east and south <= lat <= north
    # Prishtina at z12: the tile that web maps fetch for the city centre.
    x, y = tiles.lonlat_to_tile(21.1655, 42.6629, 12)
    mx, my = to_mercator(21.1655, 42.6629)
    size = 2 * tiles.ORIGIN_SHIFT / 2**12
    assert (x, y) == (
        int((mx + tiles.ORIGIN_SHIFT) // size),
        int((tiles.ORIGIN_SHIFT - my) // size),
    )
    with pytest.raises(ValueError, match="finite"):
        tiles.lonlat_to_tile(float("nan"), 0.0, 3)


@pytest.mark.parametrize(
    "z, x, y", [(0, 0, 0), (3, 4, 2), (12, 2288, 1506), (22, 2344000, 1542000)]
)
def test_tile_envelope_matches_postgis(db, z, x, y):
    env = tiles.tile_envelope(z, x, y)
    row = db.execute(
        select(
            func.ST_XMin(env),
            func.ST_YMin(env),
            func.ST_XMax(env),
            func.ST_YMax(env),
            func.ST_SRID(env),
        )
    ).one()
    assert row[4] == 3857
    assert row[:4] == pytest.approx(tiles.tile_bounds_mercator(z, x, y), abs=1e-6)
    geo = func.ST_Transform(env, 4326)
    bounds = db.execute(
        select(func.ST_XMin(geo), func.ST_YMin(geo), func.ST_XMax(geo), func.ST_YMax(geo))
    ).one()
    assert bounds == pytest.approx(tiles.tile_bounds_lonlat(z, x, y), abs=1e-9)


def test_tile_envelope_with_margin(db):
    z, x, y, margin = 10, 571, 377, 0.125
    env = tiles.tile_envelope(z, x, y, margin)
    got = db.execute(
        select(func.ST_XMin(env), func.ST_YMin(env), func.ST_XMax(env), func.ST_YMax(env))
    ).one()
    minx, miny, maxx, maxy = tiles.tile_bounds_mercator(z, x, y)
    pad = (maxx - minx) * margin
    assert got == pytest.approx((minx - pad, miny - pad, maxx + pad, maxy + pad), abs=1e-6)
    with pytest.raises(ValueError, match="margin"):
        tiles.tile_envelope(z, x, y, -0.1)
    with pytest.raises(tiles.InvalidTile):
        tiles.tile_envelope(10, 1024, 0)


def test_mvt_geom_puts_a_point_at_its_tile_pixel(db):
    lon, lat, z = 21.1655, 42.6629, 14
    x, y = tiles.lonlat_to_tile(lon, lat, z)
    point = func.ST_SetSRID(func.ST_MakePoint(literal(lon), literal(lat)), 4326)
    geom = tiles.mvt_geom(point, z, x, y)
    px, py = db.execute(select(func.ST_X(geom), func.ST_Y(geom))).one()
    minx, _, maxx, maxy = tiles.tile_bounds_mercator(z, x, y)
    mx, my = to_mercator(lon, lat)
    size = maxx - minx
    assert (px, py) == (round((mx - minx) / size * 4096), round((maxy - my) / size * 4096))
    # Two tiles away, far outside the 64-unit buffer: clipped away.
    far = tiles.mvt_geom(point, z, x + 2, y)
    assert db.scalar(select(far)) is None
