"""Point values and the SQL expressions that locate a point against stored geometries."""

import math

from geoalchemy2 import Geography, Geometry
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import BindParameter, ColumnElement, and_, bindparam, cast, func

WGS84 = 4326


class InvalidCoordinates(ValueError):
    """Coordinates that are not a finite WGS84 longitude/latitude pair."""


def lonlat_point(lon: float, lat: float) -> Point:
    """Return a WGS84 point, refusing NaN, infinities and out-of-range values."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidCoordinates("Coordinates must be finite numbers.")
    if not -90.0 <= lat <= 90.0:
        raise InvalidCoordinates("Latitude must be between -90 and 90.")
    if not -180.0 <= lon <= 180.0:
        raise InvalidCoordinates("Longitude must be between -180 and 180.")
    return Point(lon, lat)


def as_sql(point: Point) -> ColumnElement:
    """A geometry literal for a WGS84 point."""
    return from_shape(point, srid=WGS84)


def point_parameter(name: str) -> BindParameter:
    """A bound WGS84 point (pass `as_sql(point)` as its value), for statements built once."""
    return bindparam(name, type_=Geometry("POINT", srid=WGS84))


def covers(area: ColumnElement, point: Point | ColumnElement) -> ColumnElement[bool]:
    """True where `area` contains the point or has it on its boundary."""
    return func.ST_Covers(area, as_sql(point) if isinstance(point, Point) else point)


def distance_metres(geom: ColumnElement, point: Point) -> ColumnElement[float]:
    """Geodesic distance in metres between a WGS84 geometry column and a point."""
    return func.ST_Distance(cast(geom, Geography), cast(as_sql(point), Geography))


def degrees_covering(point: Point, metres: float) -> float:
    """A planar radius in degrees around `point` that contains every point within `metres`
    of it (geodesic): a metre is at most 1/110,574 of a degree of latitude and at most
    1/(111,320 · cos φ) of a degree of longitude, taken at the highest latitude reached;
    the factor 2 covers the diagonal."""
    lat = min(abs(point.y) + metres / 110_574, 89.9)
    return 2 * metres / (110_574 * math.cos(math.radians(lat)))


def within_metres(geom: ColumnElement, point: Point, metres: float) -> ColumnElement[bool]:
    """True where a WGS84 geometry lies within `metres` of the point (geodesic distance).

    A planar `ST_DWithin` over a covering radius comes first: it can use the geometry
    column's spatial index, which the geography comparison cannot."""
    return and_(
        func.ST_DWithin(geom, as_sql(point), degrees_covering(point, metres)),
        func.ST_DWithin(cast(geom, Geography), cast(as_sql(point), Geography), metres),
    )
