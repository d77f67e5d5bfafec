"""Web-mercator (XYZ) tile math and the PostGIS expressions that build vector tiles.

Tiles are numbered as MapLibre and ST_TileEnvelope number them: zoom z has 2**z columns x
(west to east) and rows y (north to south), covering EPSG:3857 from -20037508.34 to
+20037508.34 metres on both axes (latitudes within ±85.0511°).
"""

import math
from typing import Any

from sqlalchemy import ColumnElement, func, literal

MAX_ZOOM = 22
WEB_MERCATOR = 3857
WGS84 = 4326
ORIGIN_SHIFT = 20_037_508.342_789_244  # pi * 6378137 m: half the width of the mercator world
MVT_EXTENT = 4096
MVT_BUFFER = 64

BBox = tuple[float, float, float, float]


class InvalidTile(ValueError):
    """A z/x/y that names no tile; carries the reason for a 400/404 at the edge."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_tile(z: int, x: int, y: int) -> None:
    """Raise InvalidTile unless 0 <= z <= 22 and 0 <= x, y < 2**z (all integers)."""
    for name, value in (("z", z), ("x", x), ("y", y)):
        if not _is_int(value):
            raise InvalidTile(f"tile {name} must be an integer, got {value!r}")
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidTile(f"zoom must be between 0 and {MAX_ZOOM}, got {z}")
    last = 2**z - 1
    if not 0 <= x <= last:
        raise InvalidTile(f"x must be between 0 and {last} at zoom {z}, got {x}")
    if not 0 <= y <= last:
        raise InvalidTile(f"y must be between 0 and {last} at zoom {z}, got {y}")


def tile_bounds_mercator(z: int, x: int, y: int) -> BBox:
    """(minx, miny, maxx, maxy) of a tile in EPSG:3857 metres."""
    validate_tile(z, x, y)
    size = 2 * ORIGIN_SHIFT / 2**z
    minx = -ORIGIN_SHIFT + x * size
    maxy = ORIGIN_SHIFT - y * size
    return minx, maxy - size, minx + size, maxy


def _lat_of_row(row: float, z: int) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / 2**z))))


def tile_bounds_lonlat(z: int, x: int, y: int) -> BBox:
    """(west, south, east, north) of a tile in WGS84 degrees.

    Meridians and parallels are straight in web mercator, so this box is the tile exactly;
    it is the box to pass to `geo.cells.cells_covering_bbox` for the cells a tile owns.
    """
    validate_tile(z, x, y)
    n = 2**z
    return (
        x / n * 360.0 - 180.0,
        _lat_of_row(y + 1, z),
        (x + 1) / n * 360.0 - 180.0,
        _lat_of_row(y, z),
    )


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """(x, y) of the tile containing a point at zoom z; latitudes beyond ±85.0511° clamp to
    the first or last row, and lon 180 to the last column."""
    validate_tile(z, 0, 0)
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
        raise ValueError("coordinates must be finite WGS84 longitude and latitude")
    n = 2**z
    x = min(int(math.floor((lon + 180.0) / 360.0 * n)), n - 1)
    lat_r = math.radians(max(min(lat, 89.999_999), -89.999_999))
    row = (1.0 - math.asinh(math.tan(lat_r)) / math.pi) / 2.0 * n
    return x, min(max(int(math.floor(row)), 0), n - 1)


# A tile index: a Python int, or a SQL parameter of a statement prepared once for all tiles.
TileIndex = int | ColumnElement[Any]


def _validate(z: TileIndex, x: TileIndex, y: TileIndex) -> None:
    """Checks Python ints; SQL parameters are checked by the caller before execution."""
    if not any(isinstance(v, ColumnElement) for v in (z, x, y)):
        validate_tile(z, x, y)  # type: ignore[arg-type]


def tile_envelope(
    z: TileIndex, x: TileIndex, y: TileIndex, margin: float = 0.0
) -> ColumnElement[Any]:
    """ST_TileEnvelope(z, x, y) in EPSG:3857, optionally grown by `margin` (a fraction of
    the tile's width, PostGIS >= 3.1), e.g. to select geometries that spill into the tile."""
    _validate(z, x, y)
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a non-negative number, got {margin!r}")
    if margin == 0:
        return func.ST_TileEnvelope(z, x, y)
    bounds = func.ST_MakeEnvelope(
        -ORIGIN_SHIFT, -ORIGIN_SHIFT, ORIGIN_SHIFT, ORIGIN_SHIFT, WEB_MERCATOR
    )
    return func.ST_TileEnvelope(z, x, y, bounds, literal(float(margin)))


def mvt_geom(
    geom: ColumnElement[Any],
    z: TileIndex,
    x: TileIndex,
    y: TileIndex,
    extent: int = MVT_EXTENT,
    buffer: int = MVT_BUFFER,
    srid: int = 4326,
) -> ColumnElement[Any]:
    """ST_AsMVTGeom of a geometry (WGS84 unless `srid` says otherwise) for tile z/x/y:
    transformed to 3857 unless it is in 3857 already, clipped to the tile plus `buffer`
    tile units (so hexagons crossing tile edges join up), in integer tile coordinates with
    y pointing down."""
    _validate(z, x, y)
    if srid != WEB_MERCATOR:
        geom = func.ST_Transform(geom, WEB_MERCATOR)
    return func.ST_AsMVTGeom(geom, func.ST_TileEnvelope(z, x, y), extent, buffer, True)
