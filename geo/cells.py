"""H3 cells: which cell a report falls in, cell shapes, and snapping query areas to whole cells.

Rollup resolutions: H3 v4's global mean edge length, then the range measured over every cell
overlapping Kosovo (~5 % larger than the mean), and the number of cells whose centre lies in
Kosovo / that overlap it:

    res  mean edge   edges over Kosovo   area over Kosovo    cells for Kosovo
    6    3,725 m     3,844-3,978 m       39.2-39.9 km²          275 /    335
    7    1,406 m     1,443-1,498 m       5.60-5.70 km²        1,934 /  2,077
    8      531 m       549-  568 m       0.80-0.82 km²       13,492 / 13,925
    9      201 m       206-  214 m       0.114-0.116 km²     94,425 / 95,639

Res 6 is the country overview, 9 the street-level view of municipal problems. Sensitive
categories (harassment, official misconduct) stop at res 8: every res-8 cell over Kosovo has
edges of at least 549 m (~1.1 km across, 0.8 km²), which meets the "cells of at least ~500 m"
rule; res 9 (~200 m) would put a harassment report within a block or two.

Query areas are snapped to whole cells (see `cells_covering_bbox`), so an answer depends only
on which cells it covers, never on where a bounding box cuts through a cell; the same rule
is available in SQL (`centre_in_bbox`) so that Python and PostgreSQL pick identical cells.

Antimeridian and pentagons: Kosovo lies on one icosahedron face (face 4) about 2,500 km from
the nearest H3 pentagon and nowhere near longitude 180, so neither case arises in practice.
They are still handled: a bounding box whose west edge is east of its east edge crosses the
antimeridian and is split in two; a cell straddling the antimeridian gets a polygon with
continuous longitudes (some beyond 180); pentagons come back as five(-plus)-vertex polygons
and have five neighbours in `grid_disk`. Cells containing a pole have no lon/lat polygon and
are refused.
"""

import math
from collections.abc import Sequence

import h3
import numpy as np
from h3.api import basic_int as h3i
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import ColumnElement, and_, or_

BBox = tuple[float, float, float, float]
"""(west, south, east, north) in WGS84 degrees, the order of OGC API `bbox` parameters."""

ROLLUP_RESOLUTIONS: tuple[int, ...] = (6, 7, 8, 9)
FINEST_RESOLUTION = 9
FINEST_SENSITIVE_RESOLUTION = 8
SENSITIVE_MIN_EDGE_M = 500.0

# Kosovo's approximate centroid latitude: zoom levels are mapped to resolutions here, so a
# tile's resolution depends only on its zoom, never on where the tile is.
REFERENCE_LATITUDE = 42.6
# Target on-screen width of a hexagon (flat side to flat side), in CSS pixels.
TARGET_HEX_PX = 32.0
# MapLibre's zoom levels are for 512-pixel tiles.
TILE_SIZE_PX = 512
MAX_ZOOM = 22

# Web-mercator zoom (index, 0..22) -> rollup resolution. Derived by `best_resolution_for_zoom`
# and frozen here because the map page, the tiles and the heatmap endpoint must agree on it;
# tests/test_geo_cells.py recomputes it. Hexagon widths at Kosovo's latitude: z8 res 6 = 29 px,
# z9-10 res 7 = 22-43 px, z11 res 8 = 33 px, z12 res 9 = 25 px (res 8 for sensitive = 65 px).
ZOOM_TO_RESOLUTION: tuple[int, ...] = (6,) * 9 + (7, 7, 8) + (9,) * 11

_EARTH_CIRCUMFERENCE_M = 40_075_016.685_578_49  # WGS84 equator, the web-mercator sphere
_METRES_PER_DEGREE_LAT = 111_320.0

# H3 index layout: resolution in bits 52-55, then 15 three-bit digits, digit r at bit 3*(15-r).
_RES_SHIFT = 52
_RES_MASK = np.int64(0xF << _RES_SHIFT)
_MAX_H3_RES = 15


class InvalidCell(ValueError):
    """Not a valid H3 cell id, or a cell that has no lon/lat polygon."""


class InvalidBBox(ValueError):
    """A bounding box that is not (west, south, east, north) in WGS84 degrees."""


class TooManyCells(ValueError):
    """A query area that would cover more cells than the caller allows."""


def _check_resolution(res: int) -> None:
    if isinstance(res, bool) or not isinstance(res, int | np.integer):
        raise ValueError(f"resolution must be an integer, got {res!r}")
    if not 0 <= res <= _MAX_H3_RES:
        raise ValueError(f"resolution must be between 0 and {_MAX_H3_RES}, got {res}")


def max_resolution(sensitive: bool) -> int:
    """Finest rollup resolution that may be published for a category."""
    return FINEST_SENSITIVE_RESOLUTION if sensitive else FINEST_RESOLUTION


def resolution_for_zoom(zoom: float, sensitive: bool = False) -> int:
    """Rollup resolution for a web-mercator (MapLibre, 512-px tile) zoom level.

    Fractional zooms are floored and clamped to 0..22; sensitive categories never go finer
    than res 8. Tiles and the heatmap endpoint must both use this function.
    """
    if not math.isfinite(zoom):
        raise ValueError(f"zoom must be a finite number, got {zoom!r}")
    z = min(max(int(math.floor(zoom)), 0), MAX_ZOOM)
    return min(ZOOM_TO_RESOLUTION[z], max_resolution(sensitive))


def hex_width_px(res: int, zoom: float, latitude: float = REFERENCE_LATITUDE) -> float:
    """On-screen width (flat side to flat side) of an average cell at a zoom and latitude."""
    metres_per_px = _EARTH_CIRCUMFERENCE_M * math.cos(math.radians(latitude))
    metres_per_px /= TILE_SIZE_PX * math.pow(2.0, zoom)
    edge_m = float(h3.average_hexagon_edge_length(res, unit="m"))
    return math.sqrt(3.0) * edge_m / metres_per_px


def best_resolution_for_zoom(zoom: float, resolutions: Sequence[int] = ROLLUP_RESOLUTIONS) -> int:
    """The resolution whose hexagons come closest (in log scale) to TARGET_HEX_PX wide.

    The rule behind ZOOM_TO_RESOLUTION; kept so the table can be rederived if the target
    size or the rollup resolutions change.
    """
    return min(resolutions, key=lambda r: abs(math.log(hex_width_px(r, zoom) / TARGET_HEX_PX)))


def _as_coordinates(lats: ArrayLike, lons: ArrayLike) -> tuple[list[float], list[float]]:
    lat = np.asarray(lats, dtype=np.float64).ravel()
    lon = np.asarray(lons, dtype=np.float64).ravel()
    if lat.shape != lon.shape:
        raise ValueError(f"lats and lons differ in length ({lat.size} and {lon.size})")
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise ValueError("coordinates must be finite numbers")
    if lat.size and (np.abs(lat).max() > 90.0 or np.abs(lon).max() > 180.0):
        raise ValueError("latitudes must be within ±90 and longitudes within ±180")
    return lat.tolist(), lon.tolist()


def cells_for(lats: ArrayLike, lons: ArrayLike, res: int) -> NDArray[np.int64]:
    """H3 cell id (int64) of each point, at one resolution.

    h3-py 4.5 has no vectorised latlng_to_cell (its numpy API is per scalar), so this maps the
    C function over plain Python floats, the cheapest way to call it (~0.6 µs a point,
    about twice as fast as a loop over numpy scalars and H3 strings).
    """
    _check_resolution(res)
    lat, lon = _as_coordinates(lats, lons)
    return np.fromiter(
        map(h3i.latlng_to_cell, lat, lon, [res] * len(lat)), dtype=np.int64, count=len(lat)
    )


def parents(cells: ArrayLike, res: int) -> NDArray[np.int64]:
    """Parent cells at a coarser resolution, computed on the ids' bits (no H3 call).

    A parent is the child's index with the resolution field lowered and the digits below it
    set to 7 ("unused"), exactly what H3's cellToParent does; cells already at `res` are
    returned unchanged. All cells must be valid and at least as fine as `res`.
    """
    _check_resolution(res)
    ids = np.asarray(cells, dtype=np.int64)
    cell_res = (ids >> _RES_SHIFT) & 0xF
    if ids.size and int(cell_res.min()) < res:
        raise ValueError(
            f"cannot take parents at res {res} of cells as coarse as res {cell_res.min()}"
        )
    unused_digits = np.int64((1 << (3 * (_MAX_H3_RES - res))) - 1)
    return (ids & ~_RES_MASK) | np.int64(res << _RES_SHIFT) | unused_digits


def cells_for_resolutions(
    lats: ArrayLike,
    lons: ArrayLike,
    resolutions: Sequence[int] = ROLLUP_RESOLUTIONS,
    hierarchical: bool = False,
) -> dict[int, NDArray[np.int64]]:
    """Cell ids of each point at several resolutions.

    By default each id is the cell that contains the point at that resolution (one H3 call
    per point and resolution), so a count drawn over a hexagon is the count of reports inside
    it. H3 children do not tile their parent exactly: with hierarchical=True the coarser ids
    are the ancestors of the finest (one H3 call per point, then bit arithmetic), so coarse
    counts equal the sums of their children's, but about 7 % of points (measured over Kosovo)
    then count in a neighbour of the hexagon they lie in.
    """
    if not resolutions:
        return {}
    if not hierarchical:
        return {r: cells_for(lats, lons, r) for r in resolutions}
    finest = max(resolutions)
    fine = cells_for(lats, lons, finest)
    return {r: fine if r == finest else parents(fine, r) for r in resolutions}


def _check_cell(cell: int) -> int:
    value = int(cell)
    if not h3i.is_valid_cell(value):
        raise InvalidCell(f"{value} is not a valid H3 cell id")
    return value


def cell_to_hex(cell: int) -> str:
    """The canonical H3 string of a cell, for JSON: JavaScript numbers lose int64 ids."""
    return str(h3i.int_to_str(_check_cell(cell)))


def hex_to_cell(text: str) -> int:
    """The int64 id of an H3 cell string, refusing anything that is not a valid cell."""
    try:
        value = h3.str_to_int(text)
    except (ValueError, TypeError) as exc:
        raise InvalidCell(f"{text!r} is not an H3 cell") from exc
    return _check_cell(value)


def cell_centres(cells: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(lats, lons) of the cells' centres, as H3 computes them."""
    ids = np.asarray(cells, dtype=np.int64).ravel().tolist()
    out = np.array([h3i.cell_to_latlng(c) for c in ids], dtype=np.float64).reshape(-1, 2)
    return out[:, 0], out[:, 1]


def validate_bbox(bbox: Sequence[float]) -> BBox:
    """Return `bbox` as floats, or raise InvalidBBox. West > east means crossing lon 180."""
    if len(bbox) != 4:
        raise InvalidBBox("a bounding box has four numbers: west, south, east, north")
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise InvalidBBox("bounding box values must be numbers") from exc
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise InvalidBBox("bounding box values must be finite")
    if not (-180.0 <= west <= 180.0 and -180.0 <= east <= 180.0):
        raise InvalidBBox("longitudes must be between -180 and 180")
    if not (-90.0 <= south < north <= 90.0):
        raise InvalidBBox("latitudes must be between -90 and 90, with south < north")
    if west == east:
        raise InvalidBBox("west and east must differ")
    return west, south, east, north


def _lon_ranges(west: float, east: float) -> list[tuple[float, float]]:
    return [(west, east)] if west < east else [(west, 180.0), (-180.0, east)]


def centre_in_bbox_mask(
    lats: ArrayLike, lons: ArrayLike, bbox: Sequence[float]
) -> NDArray[np.bool_]:
    """The snapping rule, in numpy: a centre belongs to a box if west <= lon < east and
    south <= lat < north (half-open, so boxes that tile the plane share no cell); east = 180
    and north = 90 are closed, so the last tile column/row keeps its edge."""
    west, south, east, north = validate_bbox(bbox)
    lat = np.asarray(lats, dtype=np.float64)
    lon = np.asarray(lons, dtype=np.float64)
    in_lat = (lat >= south) & ((lat < north) | ((north == 90.0) & (lat == 90.0)))
    in_lon = np.zeros(lon.shape, dtype=bool)
    for lo, hi in _lon_ranges(west, east):
        in_lon |= (lon >= lo) & ((lon < hi) | ((hi == 180.0) & (lon == 180.0)))
    mask: NDArray[np.bool_] = in_lat & in_lon
    return mask


def centre_in_bbox(
    lon: ColumnElement[float], lat: ColumnElement[float], bbox: Sequence[float]
) -> ColumnElement[bool]:
    """The snapping rule as SQL over stored cell-centre columns (float8, from `cell_centres`),
    so the database selects exactly the cells `cells_covering_bbox` returns."""
    west, south, east, north = validate_bbox(bbox)
    lat_ok = and_(lat >= south, lat <= north if north == 90.0 else lat < north)
    lon_parts = [
        and_(lon >= lo, lon <= hi if hi == 180.0 else lon < hi)
        for lo, hi in _lon_ranges(west, east)
    ]
    return and_(lat_ok, lon_parts[0] if len(lon_parts) == 1 else or_(*lon_parts))


def _bbox_area_km2(west: float, south: float, east: float, north: float) -> float:
    width = sum(hi - lo for lo, hi in _lon_ranges(west, east))
    r_km = 6_371.007_180_918_475  # H3's authalic radius
    return (
        r_km**2
        * math.radians(width)
        * (math.sin(math.radians(north)) - math.sin(math.radians(south)))
    )


def _densified_ring(
    west: float, south: float, east: float, north: float
) -> list[tuple[float, float]]:
    """A (lat, lon) ring with vertices every <= 0.25°: H3 reads polygon edges as straight
    lines in lat/lng, but dense vertices make the candidate search indifferent to that."""

    def steps(a: float, b: float) -> NDArray[np.float64]:
        return np.linspace(a, b, max(2, math.ceil(abs(b - a) / 0.25) + 1))

    ring = [(south, lon) for lon in steps(west, east)[:-1]]
    ring += [(lat, east) for lat in steps(south, north)[:-1]]
    ring += [(north, lon) for lon in steps(east, west)[:-1]]
    ring += [(lat, west) for lat in steps(north, south)[:-1]]
    return [(float(a), float(b)) for a, b in ring]


def cells_covering_bbox(
    bbox: Sequence[float], res: int, max_cells: int = 1_000_000
) -> NDArray[np.int64]:
    """The query area snapped to the H3 grid: sorted ids of the cells whose centre lies in
    the box (half-open rule of `centre_in_bbox_mask`).

    This is the differencing defence. Every published number is a whole-cell count, and an
    area is always a union of whole cells, so two overlapping boxes differ by whole cells,
    each of which is itself subject to suppression; no pair of queries can isolate part of a
    cell. Heatmaps, hotspots and tiles must all use this rule (or `centre_in_bbox` in SQL),
    and a resolution chosen by `resolution_for_zoom`.

    Candidates come from H3's 'overlap' polyfill of the box padded by two cell edges; the
    centre rule is then applied exactly here, so the result never depends on how H3 treats
    points on polygon edges. Raises TooManyCells before doing any work if the box is too big.
    """
    _check_resolution(res)
    west, south, east, north = validate_bbox(bbox)
    estimate = _bbox_area_km2(west, south, east, north) / h3.average_hexagon_area(res, unit="km^2")
    if estimate > max_cells:
        raise TooManyCells(
            f"the box covers about {estimate:,.0f} res-{res} cells, more than {max_cells:,}"
        )
    pad_m = max(2.0 * h3.average_hexagon_edge_length(res, unit="m") * 1.2, 50.0)
    pad_lat = pad_m / _METRES_PER_DEGREE_LAT
    s, n = max(south - pad_lat, -90.0), min(north + pad_lat, 90.0)
    cos_lat = max(math.cos(math.radians(max(abs(s), abs(n)))), 1e-3)
    pad_lon = min(pad_lat / cos_lat, 180.0)
    candidates: set[int] = set()
    for lo, hi in _lon_ranges(west, east):
        shape = h3.LatLngPoly(
            _densified_ring(max(lo - pad_lon, -180.0), s, min(hi + pad_lon, 180.0), n)
        )
        candidates.update(h3i.h3shape_to_cells_experimental(shape, res, contain="overlap"))
    ids = np.fromiter(sorted(candidates), dtype=np.int64, count=len(candidates))
    lats, lons = cell_centres(ids)
    return ids[centre_in_bbox_mask(lats, lons, (west, south, east, north))]


def cells_overlapping(area: Polygon | MultiPolygon, res: int) -> NDArray[np.int64]:
    """Sorted ids of every cell that overlaps a lon/lat area (e.g. Kosovo's boundary).

    A fixed, data-independent cell domain: the cells to zero-fill before Gi* and to add
    noise to in a differentially private release, so that zero cells are never missing.
    """
    _check_resolution(res)
    if area.is_empty:
        return np.empty(0, dtype=np.int64)
    shape = h3.geo_to_h3shape(area)
    found = h3i.h3shape_to_cells_experimental(shape, res, contain="overlap")
    return np.unique(np.asarray(found, dtype=np.int64))
