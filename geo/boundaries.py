"""Boundaries: reading GeoJSON features and normalising them to valid MultiPolygons."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry


class InvalidBoundary(ValueError):
    """A boundary that cannot be used as a municipality's area."""


def read_features(path: str | Path) -> Iterator[tuple[dict[str, Any], BaseGeometry]]:
    """Yield (properties, geometry) for each feature of a GeoJSON FeatureCollection."""
    with open(path, encoding="utf-8") as fh:
        try:
            doc = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidBoundary(f"{path} is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise InvalidBoundary(f"{path} is not a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        raise InvalidBoundary(f"{path} has no list of features")
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or not isinstance(feature.get("properties") or {}, dict):
            raise InvalidBoundary(f"feature {number} is not a GeoJSON Feature")
        if not feature.get("geometry"):
            raise InvalidBoundary(f"feature {number} has no geometry")
        try:
            geom = shape(feature["geometry"])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InvalidBoundary(f"feature {number} has an unreadable geometry: {exc}") from exc
        yield feature.get("properties") or {}, geom


def to_multipolygon(geom: BaseGeometry, repair: bool = True) -> MultiPolygon:
    """Return `geom` as a valid WGS84 MultiPolygon.

    Invalid geometry (self-intersections, bad rings) is repaired with GEOS MakeValid, the
    algorithm behind PostGIS ST_MakeValid, keeping only its polygonal parts; with
    repair=False it is refused with GEOS's explanation.
    """
    if geom.is_empty:
        raise InvalidBoundary("the geometry is empty")
    geom = shapely.force_2d(geom)  # elevations mean nothing for a boundary
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidBoundary("coordinates are not WGS84 longitude/latitude (EPSG:4326)")
    if not geom.is_valid:
        if not repair:
            raise InvalidBoundary(f"invalid geometry: {shapely.is_valid_reason(geom)}")
        geom = shapely.make_valid(geom)
    polygons = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon | MultiPolygon)]
    if not polygons:
        raise InvalidBoundary(f"a {geom.geom_type} is not an area")
    # Union, not concatenation: parts that touch along an edge would make an invalid MultiPolygon.
    area = shapely.union_all(polygons) if len(polygons) > 1 else polygons[0]
    area = area if isinstance(area, MultiPolygon) else MultiPolygon([area])
    if area.is_empty or not area.is_valid:
        raise InvalidBoundary(f"invalid geometry: {shapely.is_valid_reason(area)}")
    return area
