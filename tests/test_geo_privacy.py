"""geo.privacy: small-count suppression, OpenDP discrete Laplace releases, once per release key."""

import math
import threading

import numpy as np
import pytest

from geo import privacy
from geo.privacy import Level, ReleaseConflict, ReleaseSpec


class MemoryReleaseStore:
    """An insert-if-absent ReleaseStore in memory (production's is the database's)."""

    def __init__(self):
        self._releases = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            return self._releases.get(key)

    def add(self, release):
        with self._lock:
            return self._releases.setdefault(release.spec.key, release)


def computing(spec, load):
    return lambda: privacy.make_release(*load(), spec)


# --------------------------------------------------------------------------- noise


def discrete_laplace_variance(b):
    a = math.exp(-1 / b)
    return 2 * a / (1 - a) ** 2


def test_discrete_laplace_noise_has_the_promised_scale():
    """200,000 OpenDP draws: variance, P(0) and symmetry against the exact distribution,
    P(n) = (1 - a) / (1 + a) * a**|n| with a = exp(-1 / b). The tolerances are ~8 standard
    errors, while a scale off by 10 % moves the variance by ~20 %."""
    b, n = 2.0, 200_000
    noise = privacy.discrete_laplace(np.full(n, 1_000), b) - 1_000
    assert noise.dtype == np.int64
    a = math.exp(-1 / b)
    assert np.var(noise) == pytest.approx(discrete_laplace_variance(b), rel=0.05)
    assert np.mean(noise == 0) == pytest.approx((1 - a) / (1 + a), abs=0.008)
    assert np.mean(noise == 3) == pytest.approx((1 - a) / (1 + a) * a**3, abs=0.004)
    assert abs(np.mean(noise)) < 0.05
    assert np.mean(noise > 0) == pytest.approx(np.mean(noise < 0), abs=0.01)


def test_discrete_laplace_scale_follows_epsilon():
    spec = ReleaseSpec("k", epsilon=0.5, sensitivity=2)
    assert spec.scale == 4.0
    noise = privacy.discrete_laplace(np.zeros(100_000, dtype=np.int64), spec.scale)
    assert np.var(noise) == pytest.approx(discrete_laplace_variance(4.0), rel=0.05)


def test_discrete_laplace_never_repeats_itself():
    first = privacy.discrete_laplace(np.zeros(1_000, dtype=np.int64), 3.0)
    second = privacy.discrete_laplace(np.zeros(1_000, dtype=np.int64), 3.0)
    assert not np.array_equal(first, second)  # OpenDP's CSPRNG takes no seed


@pytest.mark.parametrize("scale", [0.0, -1.0, float("inf"), float("nan")])
def test_discrete_laplace_refuses_bad_scales(scale):
    with pytest.raises(ValueError, match="scale"):
        privacy.discrete_laplace([1, 2], scale)


# --------------------------------------------------------------------------- releases


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"key": "", "epsilon": 1.0}, "key"),
        ({"key": "k", "epsilon": 0.0}, "epsilon"),
        ({"key": "k", "epsilon": float("inf")}, "epsilon"),
        ({"key": "k", "epsilon": 1.0, "sensitivity": 0}, "sensitivity"),
        ({"key": "k", "epsilon": 1.0, "sensitivity": 1.5}, "sensitivity"),
        ({"key": "k", "epsilon": 1.0, "threshold": -1}, "threshold"),
    ],
)
def test_release_spec_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReleaseSpec(**kwargs)


def test_release_post_processing_and_accounting():
    domain = list(range(20_000))
    counts = {0: 1_000_000, 1: 500, 2: 3}
    spec = ReleaseSpec("2025-06/res8", epsilon=1.0, sensitivity=1, threshold=5)
    release = privacy.make_release(counts, domain, spec)
    assert release.spec == spec and release.domain_size == 20_000
    assert release.epsilon_spent == pytest.approx(1.0)
    assert "make_laplace" in release.mechanism and "opendp 0.16.0" in release.mechanism
    assert set(release.counts) <= set(domain)
    assert all(v >= 5 for v in release.counts.values())
    # Big counts survive close to the truth: |noise| > 30 has probability ~1e-13 at b = 1.
    assert abs(release.counts[0] - 1_000_000) <= 30 and abs(release.counts[1] - 500) <= 30
    # Empty cells leak through the threshold only as often as the noise reaches 5:
    # P(noise >= 5) = a**5 / (1 + a) with a = e**-1, i.e. ~0.49 % of ~20,000 empty keys.
    spurious = sum(1 for key in release.counts if key > 2)
    a = math.exp(-1)
    assert spurious == pytest.approx(20_000 * a**5 / (1 + a), abs=50)


def test_release_clamps_to_zero_and_never_emits_zero():
    spec = ReleaseSpec("k", epsilon=0.1, sensitivity=1, threshold=0)
    release = privacy.make_release({}, list(range(5_000)), spec)
    assert all(v >= 1 for v in release.counts.values())
    # Half the empty keys get positive noise; P(noise > 0) = a / (1 + a) with b = 10.
    a = math.exp(-1 / 10)
    assert len(release.counts) == pytest.approx(5_000 * a / (1 + a), abs=200)


def test_sensitivity_scales_the_noise_for_the_same_epsilon():
    spread = {}
    for sensitivity in (1, 4):
        spec = ReleaseSpec("k", epsilon=1.0, sensitivity=sensitivity)
        release = privacy.make_release(
            dict.fromkeys(range(20_000), 10_000), list(range(20_000)), spec
        )
        assert release.epsilon_spent == pytest.approx(1.0)
        spread[sensitivity] = np.var([v - 10_000 for v in release.counts.values()])
    assert spread[1] == pytest.approx(discrete_laplace_variance(1.0), rel=0.1)
    assert spread[4] == pytest.approx(discrete_laplace_variance(4.0), rel=0.1)


def test_release_refuses_keys_outside_the_domain_and_duplicates():
    spec = ReleaseSpec("k", epsilon=1.0)
    with pytest.raises(ValueError, match="outside the release domain"):
        privacy.make_release({99: 3}, [1, 2, 3], spec)
    with pytest.raises(ValueError, match="duplicate"):
        privacy.make_release({1: 3}, [1, 1, 2], spec)
    with pytest.raises(ValueError, match="non-negative"):
        privacy.make_release({1: -3}, [1, 2], spec)
    assert privacy.make_release({}, [], spec).counts == {}


def test_release_keys_may_be_tuples():
    domain = [(cell, category) for cell in range(50) for category in ("waste", "stalking")]
    spec = ReleaseSpec("k", epsilon=5.0, threshold=1)
    release = privacy.make_release({(3, "stalking"): 400}, domain, spec)
    assert abs(release.counts[(3, "stalking")] - 400) <= 10


def test_release_once_computes_once_and_serves_the_same_noise():
    store = MemoryReleaseStore()
    calls = []

    def load():
        calls.append(1)
        return dict.fromkeys(range(2_000), 20), list(range(2_000))

    spec = ReleaseSpec("2025-06/res8", epsilon=0.5)
    first = privacy.release_once(store, spec, computing(spec, load))
    again = privacy.release_once(store, spec, computing(spec, load))
    assert again is first and again.counts == first.counts and len(calls) == 1
    july = ReleaseSpec("2025-07/res8", epsilon=0.5)
    other = privacy.release_once(store, july, computing(july, load))
    assert len(calls) == 2
    assert other.counts != first.counts  # 2,000 independent draws at b = 2 never coincide
    assert store.get("2025-06/res8") is first


def test_release_once_refuses_a_key_reused_with_other_parameters():
    store = MemoryReleaseStore()
    one, two = ReleaseSpec("k", epsilon=1.0), ReleaseSpec("k", epsilon=2.0)
    privacy.release_once(store, one, computing(one, lambda: ({}, [1, 2])))
    with pytest.raises(ReleaseConflict, match="epsilon 1.0"):
        privacy.release_once(store, two, computing(two, lambda: ({}, [1, 2])))
    with pytest.raises(ValueError, match="another spec"):
        privacy.release_once(MemoryReleaseStore(), two, computing(one, lambda: ({}, [1])))


def test_racing_releases_all_get_the_first_stored():
    """Eight threads miss the store at once; the store keeps the first release it receives
    and every caller gets that one (the others' noise is discarded unpublished)."""
    store = MemoryReleaseStore()
    barrier = threading.Barrier(8)
    results = []

    def load():
        barrier.wait()
        return dict.fromkeys(range(500), 9), list(range(500))

    spec = ReleaseSpec("race", epsilon=1.0)

    def work():
        results.append(privacy.release_once(store, spec, computing(spec, load)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r is results[0] for r in results)
    assert store.get("race") is results[0]


# --------------------------------------------------------------------------- hierarchies


def test_projection_keeps_totals_exact_and_values_non_negative():
    rng = np.random.default_rng(7)
    for _ in range(300):
        groups = int(rng.integers(1, 8))
        n = int(rng.integers(groups, 60))
        member = np.concatenate([np.arange(groups), rng.integers(0, groups, n - groups)])
        noisy = rng.normal(0, 8, n) + rng.poisson(2, n)
        totals = rng.integers(0, 40, groups)
        out = privacy.project_to_totals(noisy, member, totals)
        assert out.dtype == np.int64 and (out >= 0).all()
        assert (np.bincount(member, weights=out, minlength=groups) == totals).all()


def test_projection_is_the_closest_point_before_rounding():
    # One group: [5, -2, 1] onto sum 4 is [4, 0, 0] (tau = 1); a zero total is all zeros.
    assert privacy.project_to_totals([5, -2, 1, 0.5], [0, 0, 0, 1], [4, 3]).tolist() == [
        4,
        0,
        0,
        3,
    ]
    assert privacy.project_to_totals([3, 9], [0, 0], [0]).tolist() == [0, 0]
    # Values already consistent are kept.
    assert privacy.project_to_totals([2, 3, 4], [0, 0, 1], [5, 4]).tolist() == [2, 3, 4]


def test_projection_refuses_a_positive_total_without_members():
    with pytest.raises(ValueError, match="no members"):
        privacy.project_to_totals([1.0], [0], [1, 2])


def test_hierarchical_release_is_consistent_and_accounts_its_epsilon():
    rng = np.random.default_rng(3)
    leaves = rng.poisson(4, 49)
    middle = np.bincount(np.arange(49) // 7, weights=leaves).astype(np.int64)
    levels = [
        Level("root", np.array([leaves.sum()])),
        Level("middle", middle, 0, np.zeros(7, dtype=np.intp)),
        Level("leaves", leaves, 1, np.arange(49) // 7),
    ]
    release = privacy.hierarchical_release(levels, ReleaseSpec("h", epsilon=1.5, sensitivity=2))
    root, mid, leaf = release.values
    assert release.epsilon_spent == pytest.approx(1.5)
    assert root[0] == mid.sum() == leaf.sum()
    assert (np.bincount(np.arange(49) // 7, weights=leaf) == mid).all()
    assert min(v.min() for v in release.values) >= 0
    assert "3 levels" in release.mechanism and "scale 4.0" in release.mechanism


def test_hierarchical_noise_is_fresh_and_near_the_truth_at_high_epsilon():
    true = np.array([1000, 0, 250])
    levels = [Level("root", np.array([true.sum()])), Level("kids", true, 0, np.zeros(3, int))]
    draws = [
        privacy.hierarchical_release(levels, ReleaseSpec("x", epsilon=4.0)).values[1]
        for _ in range(20)
    ]
    assert len({tuple(d) for d in draws}) > 1  # OpenDP draws afresh every time
    assert all(abs(d - true).max() <= 30 for d in draws)
