"""Benchmark: H3 cell ids for many points, geo.cells against a naive per-point loop, same run.

    .venv/bin/python bench/cells_bench.py [COUNT]

COUNT points (default 1,000,000) clustered over Kosovo. Prints the best of three timings for
one resolution and for the four rollup resolutions, the ratios, and the cost of snapping
typical map views to cells. No database. Not part of the test suite.
"""

import sys
import time
from collections.abc import Callable
from typing import TypeVar

import h3
import numpy as np

from geo.cells import (
    ROLLUP_RESOLUTIONS,
    cells_covering_bbox,
    cells_for,
    cells_for_resolutions,
)

REPEATS = 3
T = TypeVar("T")


def best_of(fn: Callable[[], T], repeats: int = REPEATS) -> tuple[float, T]:
    timings, results = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        results.append(fn())
        timings.append(time.perf_counter() - start)
    return min(timings), results[-1]


def naive(lats: np.ndarray, lons: np.ndarray, res: int) -> np.ndarray:
    """What one writes first: the documented string API, one numpy scalar at a time."""
    out = []
    for lat, lon in zip(lats, lons, strict=True):
        out.append(h3.str_to_int(h3.latlng_to_cell(lat, lon, res)))
    return np.array(out, dtype=np.int64)


def points(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Reports clustered around Kosovo's towns, as in the demo data."""
    rng = np.random.default_rng(20_250_601)
    towns = np.array([(42.663, 21.166), (42.213, 20.739), (42.659, 20.288), (42.889, 20.866)])
    which = rng.integers(0, len(towns), count)
    lats = towns[which, 0] + rng.normal(0, 0.03, count)
    lons = towns[which, 1] + rng.normal(0, 0.04, count)
    return lats, lons


def main(count: int) -> None:
    lats, lons = points(count)
    print(f"{count:,} points, h3 {h3.__version__}")

    t_naive, slow = best_of(lambda: naive(lats, lons, 9))
    t_fast, fast = best_of(lambda: cells_for(lats, lons, 9))
    assert np.array_equal(slow, fast)
    print(f"res 9      naive loop    {t_naive:7.3f} s  ({count / t_naive:,.0f} points/s)")
    print(f"res 9      cells_for     {t_fast:7.3f} s  ({count / t_fast:,.0f} points/s)")
    print(f"res 9      ratio         {t_naive / t_fast:7.2f}x")

    t_naive4, slow4 = best_of(lambda: {r: naive(lats, lons, r) for r in ROLLUP_RESOLUTIONS}, 1)
    t_exact, exact = best_of(lambda: cells_for_resolutions(lats, lons))
    t_tree, _ = best_of(lambda: cells_for_resolutions(lats, lons, hierarchical=True))
    assert all(np.array_equal(slow4[r], exact[r]) for r in ROLLUP_RESOLUTIONS)
    print(f"res 6-9    naive loop    {t_naive4:7.3f} s  (one run)")
    print(f"res 6-9    exact         {t_exact:7.3f} s  ratio {t_naive4 / t_exact:5.2f}x")
    print(f"res 6-9    hierarchical  {t_tree:7.3f} s  ratio {t_naive4 / t_tree:5.2f}x")

    views = {
        "Kosovo, res 6 (z <= 8)": ((20.0, 41.85, 21.8, 43.27), 6),
        "Prishtina region, res 7 (z 9-10)": ((20.8, 42.45, 21.5, 42.85), 7),
        "Prishtina city, res 8 (z 11)": ((21.05, 42.6, 21.3, 42.72), 8),
        "Prishtina centre, res 9 (z 12)": ((21.12, 42.64, 21.21, 42.68), 9),
    }
    for name, (bbox, res) in views.items():
        t, ids = best_of(lambda bbox=bbox, res=res: cells_covering_bbox(bbox, res), 5)
        print(f"snap {name:34s} {t * 1000:7.2f} ms  {len(ids):>6,} cells")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
