"""Differentially private releases: noised once with OpenDP, stored, then only re-served.

`make_release` noises a flat histogram (researchers' answers); `hierarchical_release` noises
every level of nested counts and makes them consistent non-negative integers (the public
monthly releases); `release_once` makes sure each release is computed once. Small-count
withholding of live, non-sensitive counts is SQL in the analytics service.

Guarantee: a release is epsilon-DP with respect to adding or removing all the reports of one
device, provided no device contributes more than `sensitivity` reports to the release (over
all its cells, categories and days together). Reports are anonymous, so that bound is an
ASSUMPTION the service cannot enforce; a device with c > sensitivity reports in the release
is protected only at epsilon * c / sensitivity (group privacy). Releases over the same
reports compose: a report in three releases is protected at the sum of their epsilons.
"""

import importlib.metadata
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

K = TypeVar("K", bound=Hashable)
RS = TypeVar("RS")


class ReleaseConflict(ValueError):
    """A release key already used with different privacy parameters."""


@dataclass(frozen=True)
class ReleaseSpec:
    """What a release promises: its key, epsilon, the per-device bound and the threshold.

    key: names the data released, e.g. "2025-06/res8/category"; one key, one noise draw.
    sensitivity: most reports one device is assumed to contribute to this release (the L1
    sensitivity of the histogram, since each report is in exactly one bin).
    threshold: noisy counts below it are dropped after clamping (post-processing, free of
    privacy cost), so that empty cells rarely show up as false positives.
    """

    key: str
    epsilon: float
    sensitivity: int = 1
    threshold: int = 0

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a release needs a key")
        if not (math.isfinite(self.epsilon) and self.epsilon > 0):
            raise ValueError(f"epsilon must be a positive number, got {self.epsilon!r}")
        if isinstance(self.sensitivity, bool) or not isinstance(self.sensitivity, int):
            raise ValueError("sensitivity must be an integer")
        if self.sensitivity < 1:
            raise ValueError(f"sensitivity must be at least 1, got {self.sensitivity}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise ValueError("threshold must be an integer")
        if self.threshold < 0:
            raise ValueError(f"threshold must be non-negative, got {self.threshold}")

    @property
    def scale(self) -> float:
        """Discrete Laplace scale b = sensitivity / epsilon (P(noise = n) ∝ exp(-|n| / b))."""
        return self.sensitivity / self.epsilon


@dataclass(frozen=True)
class Release(Generic[K]):
    """A computed release: store it whole; serve only from the store.

    counts holds the published (noised, clamped, thresholded) count of each domain key that
    survived; a key of the domain that is absent was released as "below threshold".
    """

    spec: ReleaseSpec
    counts: dict[K, int]
    epsilon_spent: float
    mechanism: str
    domain_size: int = 0


def _laplace_measurement(scale: float) -> Any:
    import opendp.prelude as dp  # on first use: ~35 MB that a serving process rarely needs

    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T=dp.i64)), dp.l1_distance(T=dp.i64)
    return dp.m.make_laplace(*space, scale=scale)


def discrete_laplace(values: ArrayLike, scale: float) -> NDArray[np.int64]:
    """values + i.i.d. discrete Laplace(scale) noise, sampled exactly by OpenDP.

    OpenDP's make_laplace on an integer vector samples the discrete Laplace (CKS20) from its
    own CSPRNG; it takes no seed, so two calls never repeat their noise.
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    data = np.asarray(values, dtype=np.int64).ravel()
    noisy = _laplace_measurement(scale)(data.tolist())
    return np.asarray(noisy, dtype=np.int64)


def make_release(counts: Mapping[K, int], domain: Sequence[K], spec: ReleaseSpec) -> Release[K]:
    """Noise every key of a public domain once, then clamp to >= 0 and apply the threshold.

    The domain (e.g. every res-8 cell overlapping Kosovo, times every category) must not
    depend on the data: noising only the keys that have reports would give those keys away,
    because an absent key would mean "no report". Keys outside the domain are refused.
    Zero is never emitted.
    """
    index = {key: i for i, key in enumerate(domain)}
    if len(index) != len(domain):
        raise ValueError("the release domain has duplicate keys")
    true = np.zeros(len(domain), dtype=np.int64)
    for key, count in counts.items():
        if key not in index:
            raise ValueError("a count's key is outside the release domain")
        if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
            raise ValueError(f"counts must be non-negative integers, got {count!r}")
        true[index[key]] = count
    measurement = _laplace_measurement(spec.scale)
    spent = float(measurement.map(spec.sensitivity))
    if spent > spec.epsilon * (1 + 1e-9):
        raise ValueError(f"OpenDP reports epsilon {spent} for a budget of {spec.epsilon}")
    noisy = np.asarray(measurement(true.tolist()), dtype=np.int64)
    released = np.maximum(noisy, 0)
    keep = released >= max(spec.threshold, 1)
    return Release(
        spec=spec,
        counts={domain[i]: int(released[i]) for i in np.flatnonzero(keep).tolist()},
        epsilon_spent=spent,
        mechanism=(
            f"opendp {importlib.metadata.version('opendp')} make_laplace"
            f" (discrete Laplace on i64, l1 sensitivity {spec.sensitivity}, scale {spec.scale!r})"
        ),
        domain_size=len(domain),
    )


class ReleaseStore(Protocol[RS]):
    """Where releases live once computed; a database table in production.

    add() must be insert-if-absent and return the release that ended up stored, e.g.
    INSERT ... ON CONFLICT (key) DO NOTHING, then read the row back: if two processes race,
    both get the first one's release and the loser's noise, never published, costs nothing.
    """

    def get(self, key: str) -> RS | None: ...

    def add(self, release: RS) -> RS: ...


class Specified(Protocol):
    """Anything released under a spec: a flat Release or a HierarchicalRelease."""

    @property
    def spec(self) -> ReleaseSpec: ...


R = TypeVar("R", bound=Specified)


def release_once(store: ReleaseStore[R], spec: ReleaseSpec, compute: Callable[[], R]) -> R:
    """The release for spec.key: from the store if it exists, else computed once and stored.

    This is how "noise once per release" holds across requests and processes: OpenDP takes
    no seed, so the stored release, not a recomputation, is the source of truth. A seeded
    recomputation was rejected: the same noise over changed inputs (a late report in a
    closed period) would reveal the exact change by subtraction, and whoever holds the seed
    secret could strip the noise. `compute` runs only on a miss and must honour `spec`.
    A stored release with other parameters under the same key is a ReleaseConflict: the key
    must name the parameters, or a changed epsilon would silently serve the old one.
    """
    stored = store.get(spec.key)
    if stored is None:
        computed = compute()
        if computed.spec != spec:
            raise ValueError("compute() returned a release for another spec")
        stored = store.add(computed)
    if stored.spec != spec:
        raise ReleaseConflict(
            f"release {spec.key!r} exists with epsilon {stored.spec.epsilon},"
            f" sensitivity {stored.spec.sensitivity}, threshold {stored.spec.threshold}"
        )
    return stored


# Hierarchical releases: every level noised, then made consistent from the top down.


class Level(NamedTuple):
    """One level of a hierarchical release.

    true: the exact count of each node (a fixed, data-independent domain, zeros included).
    parent: for each node, the index of its parent in level `parent_level`, or None for the
    roots (the first level only).
    """

    name: str
    true: NDArray[np.int64]
    parent_level: int | None = None
    parent: NDArray[np.intp] | None = None


def project_to_totals(noisy: ArrayLike, group: ArrayLike, totals: ArrayLike) -> NDArray[np.int64]:
    """Non-negative integers closest to `noisy` whose sum over each group equals its total.

    First the Euclidean projection of each group's values onto {x >= 0, sum x = total}
    (x = max(v - tau, 0), tau found from the sorted values), then largest-remainder
    rounding, which keeps the sums exact. Small noisy values are pushed to 0, so noise on
    empty children does not add up into their parent. Every group with a positive total
    must have at least one member; totals must be non-negative integers.
    """
    v = np.asarray(noisy, dtype=np.float64).ravel()
    g = np.asarray(group, dtype=np.intp).ravel()
    t = np.asarray(totals, dtype=np.int64).ravel()
    if v.shape != g.shape:
        raise ValueError("noisy and group differ in length")
    if t.size and t.min() < 0:
        raise ValueError("totals must be non-negative")
    if v.size == 0:
        if t.sum():
            raise ValueError("a positive total has no members")
        return np.zeros(0, dtype=np.int64)
    if g.min() < 0 or g.max() >= t.size:
        raise ValueError("group indices must index totals")
    sizes = np.bincount(g, minlength=t.size)
    if ((sizes == 0) & (t > 0)).any():
        raise ValueError("a positive total has no members")
    order = np.lexsort((-v, g))
    vs, gs = v[order], g[order]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.arange(v.size) - starts[gs] + 1  # 1-based rank within the group, descending
    csum = np.cumsum(vs)
    before = np.concatenate([[0.0], csum])[starts]
    prefix = csum - before[gs]
    tau_k = (prefix - t[gs]) / rank
    ok = vs - tau_k > 0
    rho = np.ones(t.size, dtype=np.intp)
    np.maximum.at(rho, gs[ok], rank[ok])
    at = np.minimum(starts + rho - 1, v.size - 1)
    tau = (prefix[at] - t) / rho
    x = np.maximum(vs - tau[gs], 0.0)
    x[t[gs] == 0] = 0.0
    floor = np.floor(x).astype(np.int64)
    remainder = t - np.bincount(gs, weights=floor, minlength=t.size).astype(np.int64)
    remainder = np.clip(remainder, 0, sizes)
    fraction = x - floor
    by_fraction = np.lexsort((-fraction, gs))
    rank_fraction = np.empty(v.size, dtype=np.intp)
    rank_fraction[by_fraction] = np.arange(v.size) - starts[gs[by_fraction]]
    floor += rank_fraction < remainder[gs]
    out = np.empty(v.size, dtype=np.int64)
    out[order] = floor
    return out


@dataclass(frozen=True)
class HierarchicalRelease:
    """The consistent noisy values of every level, in the levels' node order."""

    spec: ReleaseSpec
    values: tuple[NDArray[np.int64], ...]
    epsilon_spent: float
    mechanism: str


def hierarchical_release(levels: Sequence[Level], spec: ReleaseSpec) -> HierarchicalRelease:
    """An epsilon-DP release of nested counts: each level is noised once with discrete
    Laplace (OpenDP) at epsilon / len(levels), then post-processed top-down.

    Roots are clamped to >= 0; every later level is projected onto its parents' released
    values (`project_to_totals`), so each parent equals the sum of its children at every
    level and every value is a non-negative integer. Each report is in exactly one node per
    level, so a device with at most `spec.sensitivity` reports moves each level by at most
    that much in L1; the levels compose sequentially (OpenDP's privacy map per level,
    summed). Coarse minus fine therefore yields only noise.
    """
    if not levels or levels[0].parent is not None:
        raise ValueError("the first level holds the roots and has no parent")
    per_level = spec.epsilon / len(levels)
    scale = spec.sensitivity / per_level
    measurement = _laplace_measurement(scale)
    spent = float(measurement.map(spec.sensitivity)) * len(levels)
    if spent > spec.epsilon * (1 + 1e-9):
        raise ValueError(f"OpenDP reports epsilon {spent} for a budget of {spec.epsilon}")
    sizes = [level.true.size for level in levels]
    true = np.concatenate([np.asarray(level.true, dtype=np.int64) for level in levels])
    if true.size and true.min() < 0:
        raise ValueError("counts must be non-negative integers")
    noisy = np.asarray(measurement(true.tolist()), dtype=np.int64)
    parts = np.split(noisy, np.cumsum(sizes)[:-1])
    values: list[NDArray[np.int64]] = []
    for i, (level, part) in enumerate(zip(levels, parts, strict=True)):
        if i == 0:
            values.append(np.maximum(part, 0))
            continue
        if level.parent is None or level.parent_level is None or level.parent_level >= i:
            raise ValueError(f"level {level.name!r} needs a parent in an earlier level")
        values.append(project_to_totals(part, level.parent, values[level.parent_level]))
    return HierarchicalRelease(
        spec=spec,
        values=tuple(values),
        epsilon_spent=spent,
        mechanism=(
            f"opendp {importlib.metadata.version('opendp')} make_laplace (discrete Laplace on"
            f" i64, l1 sensitivity {spec.sensitivity}, scale {scale!r} per level) over"
            f" {len(levels)} levels ({', '.join(level.name for level in levels)}), basic"
            " composition; top-down projection to non-negative integers summing to the parent"
        ),
    )
