"""Hotspots over H3 cells: Getis-Ord Gi* with FDR control, and cells rising since last period.

Privacy: run these on the counts that are published (suppressed, or a DP release), never on
raw counts. A z-score is a linear function of the neighbours' counts, so exact z-scores from
raw data, next to the published counts, would let anyone solve for withheld ones.
"""

import math
from dataclasses import dataclass

import numpy as np
from h3.api import basic_int as h3i
from numpy.typing import ArrayLike, NDArray

_RES_SHIFT = 52

_erfc = np.frompyfunc(math.erfc, 1, 1)
_lgamma = np.frompyfunc(math.lgamma, 1, 1)


def two_sided_normal_p(z: ArrayLike) -> NDArray[np.float64]:
    """P(|Z| >= |z|) for a standard normal Z, via erfc (accurate far into the tail)."""
    values = np.abs(np.asarray(z, dtype=np.float64))
    return np.asarray(_erfc(values / math.sqrt(2.0)), dtype=np.float64)


def benjamini_hochberg(p: ArrayLike, dependent: bool = False) -> NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values (q-values): reject where q <= alpha to keep the
    expected share of false discoveries at alpha or below.

    dependent=True applies the Benjamini-Yekutieli factor sum(1/i), valid under any
    dependence; Gi* statistics of overlapping neighbourhoods are correlated, so BH is an
    approximation there (it holds under positive dependence).
    """
    pv = np.asarray(p, dtype=np.float64).ravel()
    m = pv.size
    if m == 0:
        return pv.copy()
    if np.isnan(pv).any() or (pv < 0).any() or (pv > 1).any():
        raise ValueError("p-values must lie between 0 and 1")
    order = np.argsort(pv, kind="stable")
    ranks = np.arange(1, m + 1, dtype=np.float64)
    factor = float(np.sum(1.0 / ranks)) if dependent else 1.0
    scaled = pv[order] * m * factor / ranks
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m, dtype=np.float64)
    q[order] = np.minimum(adjusted, 1.0)
    return q


def neighbour_pairs(cells: ArrayLike, k: int = 1) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(i, j) index pairs of study cells within grid distance k of each other, self included:
    the binary weights of Gi*. Neighbours outside the study set do not count."""
    ids = _check_cells(cells)
    if k < 0:
        raise ValueError(f"k must be non-negative, got {k}")
    disks = [h3i.grid_disk(c, k) for c in ids.tolist()]
    lengths = np.fromiter((len(d) for d in disks), dtype=np.intp, count=len(disks))
    flat = np.fromiter((c for d in disks for c in d), dtype=np.int64, count=int(lengths.sum()))
    rows = np.repeat(np.arange(ids.size, dtype=np.intp), lengths)
    order = np.argsort(ids, kind="stable")
    pos = np.searchsorted(ids[order], flat).clip(max=max(ids.size - 1, 0))
    found = ids[order][pos] == flat if ids.size else np.zeros(0, dtype=bool)
    return rows[found], order[pos[found]]


def _check_cells(cells: ArrayLike) -> NDArray[np.int64]:
    ids = np.asarray(cells, dtype=np.int64).ravel()
    if np.unique(ids).size != ids.size:
        raise ValueError("cells must be distinct")
    if ids.size and np.unique((ids >> _RES_SHIFT) & 0xF).size > 1:
        raise ValueError("cells must all have the same resolution")
    if not all(h3i.is_valid_cell(c) for c in ids.tolist()):
        raise ValueError("cells must be valid H3 cell ids")
    return ids


@dataclass(frozen=True)
class GiStar:
    """Gi* per study cell, in input order. Where the statistic is undefined (fewer than
    three cells, all values equal, or a neighbourhood that is the whole study area), z = 0
    and p = 1: no evidence either way."""

    cells: NDArray[np.int64]
    z: NDArray[np.float64]
    p: NDArray[np.float64]
    q: NDArray[np.float64]
    defined: NDArray[np.bool_]
    method: str

    def hot(self, alpha: float = 0.05) -> NDArray[np.bool_]:
        """Cells significantly above the mean after FDR control."""
        return (self.q <= alpha) & (self.z > 0)

    def cold(self, alpha: float = 0.05) -> NDArray[np.bool_]:
        """Cells significantly below the mean after FDR control."""
        return (self.q <= alpha) & (self.z < 0)


def gi_star(
    cells: ArrayLike,
    values: ArrayLike,
    k: int = 1,
    dependent: bool = False,
) -> GiStar:
    """Getis-Ord Gi* with binary k-ring weights (self included) over a study set of cells.

    Pass every cell of the study area, zeros included (e.g. `geo.cells.cells_covering_bbox`
    zero-filled): cells left out bias the mean and variance. Gi*_i is

        (sum_j w_ij x_j - mean * W_i) / (S * sqrt((n * W_i - W_i**2) / (n - 1)))

    with W_i the number of study cells within k rings of i, S the population standard
    deviation. p-values are two-sided from the normal approximation (poor for very sparse
    counts; the public values are published counts of at least k, or 0). q-values are
    Benjamini-Hochberg adjusted (`dependent` as in `benjamini_hochberg`).
    """
    ids = _check_cells(cells)
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.shape != ids.shape:
        raise ValueError(f"{ids.size} cells but {x.size} values")
    if not np.isfinite(x).all():
        raise ValueError("values must be finite")
    n = ids.size
    z = np.zeros(n, dtype=np.float64)
    p = np.ones(n, dtype=np.float64)
    defined = np.zeros(n, dtype=bool)
    method = "normal"
    if n >= 3:
        rows, cols = neighbour_pairs(ids, k)
        weights = np.bincount(rows, minlength=n).astype(np.float64)
        local = np.bincount(rows, weights=x[cols], minlength=n).astype(np.float64)
        mean = float(x.mean())
        s = math.sqrt(float(np.mean((x - mean) ** 2)))
        spread = np.sqrt(np.maximum(n * weights - weights**2, 0.0) / (n - 1))
        defined = (spread > 0) & (s > 1e-12 * max(1.0, abs(mean)))
        z[defined] = (local[defined] - mean * weights[defined]) / (s * spread[defined])
        p[defined] = two_sided_normal_p(z[defined])
    return GiStar(ids, z, p, benjamini_hochberg(p, dependent), defined, method)


def binomial_upper_tail(successes: int, trials: int, probability: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, probability), summed in log space."""
    if trials < 0 or not 0 <= successes or not 0.0 <= probability <= 1.0:
        raise ValueError("need 0 <= successes, 0 <= trials and 0 <= probability <= 1")
    if successes == 0:
        return 1.0
    if successes > trials:
        return 0.0
    if probability in (0.0, 1.0):
        return float(probability == 1.0)
    x = np.arange(successes, trials + 1, dtype=np.float64)
    log_pmf = (
        math.lgamma(trials + 1)
        - np.asarray(_lgamma(x + 1), dtype=np.float64)
        - np.asarray(_lgamma(trials - x + 1), dtype=np.float64)
        + x * math.log(probability)
        + (trials - x) * math.log1p(-probability)
    )
    top = float(log_pmf.max())
    return min(1.0, math.exp(top) * float(np.exp(log_pmf - top).sum()))


@dataclass(frozen=True)
class Emerging:
    """Per cell: one-sided p-value for "the rate rose", its BH q-value and the rate ratio
    (current / previous per unit time; inf where the previous period had none)."""

    p: NDArray[np.float64]
    q: NDArray[np.float64]
    rate_ratio: NDArray[np.float64]

    def significant(self, alpha: float = 0.05) -> NDArray[np.bool_]:
        """Cells whose increase survives FDR control at alpha."""
        return self.q <= alpha


def emerging(
    current: ArrayLike,
    previous: ArrayLike,
    t_current: float = 1.0,
    t_previous: float = 1.0,
    dependent: bool = False,
) -> Emerging:
    """Cells whose count rose significantly from the previous period to the current one.

    Exact conditional test for two Poisson rates: under H0 (equal rates), given the total
    n = c + c_prev, the current count c ~ Binomial(n, t_current / (t_current + t_previous)),
    so p = P(X >= c). It conditions away the unknown common rate and is exact (conservative)
    for small counts, where a normal approximation is not. Cells with no reports in either
    period get p = 1.
    """
    c1 = np.asarray(current).ravel()
    c0 = np.asarray(previous).ravel()
    if c1.shape != c0.shape:
        raise ValueError("current and previous must have the same length")
    for arr in (c1, c0):
        if arr.size and (not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0):
            raise ValueError("counts must be non-negative integers")
    if not (t_current > 0 and t_previous > 0):
        raise ValueError("period lengths must be positive")
    share = t_current / (t_current + t_previous)
    p = np.array(
        [
            binomial_upper_tail(a, a + b, share)
            for a, b in zip(c1.tolist(), c0.tolist(), strict=True)
        ],
        dtype=np.float64,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (c1 / t_current) / (c0 / t_previous)
    ratio = np.where((c1 == 0) & (c0 == 0), np.nan, ratio).astype(np.float64)
    return Emerging(p, benjamini_hochberg(p, dependent), ratio)
