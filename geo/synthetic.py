"""Synthetic report locations and times: clustered points inside an area and daily hour patterns."""

import numpy as np
import shapely
from numpy.typing import NDArray

# Metres per degree of latitude (and of longitude at the equator), WGS84 mean.
_METRES_PER_DEGREE = 111_320.0

# A sampling round that keeps fewer than this share of its candidates counts as pathological.
_MIN_ACCEPTANCE = 0.01
# Rounds of rejection sampling per strategy before moving on to the next one.
_MAX_ROUNDS = 8
# Most candidates drawn in one round, whatever the acceptance rate.
_MAX_BATCH = 2_000_000

# Relative frequency of each hour of the day (local time), 0..23.
# fmt: off
_HOUR_PROFILES: dict[str, tuple[float, ...]] = {
    # Street harassment: builds through the afternoon, peaks 17-23, continues into
    # the night, with a smaller bump during the morning commute (7-9).
    "evening": (
        3.0, 2.0, 1.5, 1.0, 0.5, 0.5, 1.0, 3.0, 4.0, 3.0, 2.0, 2.0,
        2.5, 2.5, 3.0, 3.5, 4.5, 6.0, 7.5, 8.0, 8.0, 7.0, 6.0, 4.5,
    ),
    # Municipal problems: noticed and reported during the working day (9-17).
    "daytime": (
        0.3, 0.2, 0.1, 0.1, 0.1, 0.3, 1.0, 2.5, 5.0, 7.0, 8.0, 8.0,
        7.5, 7.0, 7.0, 6.5, 6.0, 5.0, 4.0, 3.0, 2.5, 1.8, 1.2, 0.6,
    ),
}
# fmt: on

HOUR_PROFILES: tuple[str, ...] = tuple(_HOUR_PROFILES)


def sample_points_near(
    centre: tuple[float, float],
    area: shapely.Polygon | shapely.MultiPolygon,
    n: int,
    rng: np.random.Generator,
    core_sigma_m: float = 1200.0,
    spread_sigma_m: float = 5000.0,
    core_share: float = 0.7,
) -> NDArray[np.float64]:
    """Return an (n, 2) array of lon/lat points clustered around `centre`, all inside `area`.

    Each point comes from a dense core Gaussian (share `core_share`, sigma `core_sigma_m`)
    or a wider one (sigma `spread_sigma_m`), both centred on `centre`; candidates outside
    `area` are redrawn. If too few candidates land inside (a centre far outside a small
    area), the rest are drawn uniformly from the area's bounding box, and as a last resort
    uniformly from a triangulation of the area, so the function always terminates.
    `area` is prepared in place (shapely.prepare) for fast vectorised containment tests.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if not 0.0 <= core_share <= 1.0:
        raise ValueError(f"core_share must be between 0 and 1, got {core_share}")
    if core_sigma_m <= 0 or spread_sigma_m <= 0:
        raise ValueError("core_sigma_m and spread_sigma_m must be positive")
    if area.is_empty or area.area <= 0:
        raise ValueError("area must be a non-empty polygon or multipolygon")
    out = np.empty((n, 2), dtype=np.float64)
    if n == 0:
        return out
    if not shapely.is_prepared(area):
        shapely.prepare(area)

    lon0, lat0 = float(centre[0]), float(centre[1])
    metres_per_lon = _METRES_PER_DEGREE * max(float(np.cos(np.radians(lat0))), 1e-6)

    def gaussian(size: int) -> NDArray[np.float64]:
        sigma_m = np.where(rng.random(size) < core_share, core_sigma_m, spread_sigma_m)
        offsets = rng.standard_normal((size, 2)) * sigma_m[:, None]
        return np.column_stack(
            (lon0 + offsets[:, 0] / metres_per_lon, lat0 + offsets[:, 1] / _METRES_PER_DEGREE)
        )

    minx, miny, maxx, maxy = area.bounds

    def uniform_bbox(size: int) -> NDArray[np.float64]:
        return np.column_stack((rng.uniform(minx, maxx, size), rng.uniform(miny, maxy, size)))

    filled = 0
    for draw in (gaussian, uniform_bbox):
        acceptance = 1.0
        for _ in range(_MAX_ROUNDS):
            need = n - filled
            if need == 0:
                return out
            batch = min(int(need / max(acceptance, _MIN_ACCEPTANCE) * 1.1) + 16, _MAX_BATCH)
            candidates = draw(batch)
            inside = candidates[shapely.contains_xy(area, candidates[:, 0], candidates[:, 1])]
            take = min(len(inside), need)
            out[filled : filled + take] = inside[:take]
            filled += take
            acceptance = len(inside) / batch
            if acceptance < _MIN_ACCEPTANCE:
                break
    if filled < n:
        out[filled:] = _uniform_in_triangulation(area, n - filled, rng)
    return out


def _uniform_in_triangulation(
    area: shapely.Polygon | shapely.MultiPolygon, n: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Draw n points uniformly over `area` from its constrained Delaunay triangulation."""
    triangles = shapely.get_parts(shapely.constrained_delaunay_triangles(area))
    weights = shapely.area(triangles)
    if len(triangles) == 0 or weights.sum() <= 0:
        point = shapely.point_on_surface(area)
        return np.tile(np.array([point.x, point.y]), (n, 1))
    corners = shapely.get_coordinates(shapely.get_exterior_ring(triangles)).reshape(-1, 4, 2)
    chosen = rng.choice(len(triangles), size=n, p=weights / weights.sum())
    a, b, c = corners[chosen, 0], corners[chosen, 1], corners[chosen, 2]
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1.0
    u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
    points = a + u[:, None] * (b - a) + v[:, None] * (c - a)
    # Points on a triangle's edge may lie on the area's boundary: move those inside.
    outside = ~shapely.contains_xy(area, points[:, 0], points[:, 1])
    if outside.any():
        point = shapely.point_on_surface(area)
        points[outside] = (point.x, point.y)
    return points


def sample_hours(n: int, rng: np.random.Generator, profile: str) -> NDArray[np.int64]:
    """Return n local hours of the day (0..23) following a time-of-day profile.

    "evening": street harassment, peaking 17-23 with some at night and at the 7-9 commute.
    "daytime": municipal problems, peaking during working hours 9-17.
    """
    try:
        weights = np.asarray(_HOUR_PROFILES[profile], dtype=np.float64)
    except KeyError:
        raise ValueError(
            f"unknown hour profile {profile!r}; expected one of {', '.join(HOUR_PROFILES)}"
        ) from None
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    return rng.choice(24, size=n, p=weights / weights.sum()).astype(np.int64)
