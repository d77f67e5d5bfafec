"""geo.hotspots: Gi* against a textbook loop, BH, the binomial rate test."""

import math
from fractions import Fraction
from statistics import NormalDist

import h3
import numpy as np
import pytest

from geo import hotspots

CENTRE = h3.latlng_to_cell(42.6629, 21.1655, 8)


def study_area(radius=4, drop=0, seed=0):
    """Cells within `radius` rings of Prishtina's centre, minus `drop` random ones (holes)."""
    cells = [int(c, 16) for c in h3.grid_disk(CENTRE, radius)]
    rng = np.random.default_rng(seed)
    if drop:
        cells = [c for i, c in enumerate(cells) if i not in set(rng.choice(len(cells), drop))]
    return np.array(cells, dtype=np.int64)


def textbook_gi_star(cells, x, k):
    """Getis & Ord (1992) Gi*, one cell at a time, neighbours by h3.grid_distance."""
    n = len(cells)
    hexes = [h3.int_to_str(int(c)) for c in cells]
    xbar = sum(x) / n
    s = math.sqrt(sum(v * v for v in x) / n - xbar**2)
    z, p = [], []
    for i in range(n):
        w = [1.0 if h3.grid_distance(hexes[i], hexes[j]) <= k else 0.0 for j in range(n)]
        sw = sum(w)
        sw2 = sum(v * v for v in w)
        num = sum(wj * xj for wj, xj in zip(w, x, strict=True)) - xbar * sw
        den = s * math.sqrt((n * sw2 - sw**2) / (n - 1))
        zi = num / den
        z.append(zi)
        p.append(2 * (1 - NormalDist().cdf(abs(zi))))
    return np.array(z), np.array(p)


@pytest.mark.parametrize("k, drop, seed", [(1, 0, 1), (1, 8, 2), (2, 5, 3), (3, 0, 4)])
def test_gi_star_matches_the_textbook_formula(k, drop, seed):
    cells = study_area(4, drop, seed)
    x = np.random.default_rng(seed).poisson(3, cells.size).astype(float)
    result = hotspots.gi_star(cells, x, k=k)
    z, p = textbook_gi_star(cells, x.tolist(), k)
    assert result.defined.all() and result.method == "normal"
    np.testing.assert_allclose(result.z, z, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.p, p, rtol=1e-9, atol=1e-12)
    assert result.cells.tolist() == cells.tolist()


def test_a_planted_cluster_is_hot_and_survives_fdr():
    cells = study_area(6)
    rng = np.random.default_rng(5)
    x = rng.poisson(1, cells.size).astype(float)
    hot = {int(c, 16) for c in h3.grid_disk(CENTRE, 1)}
    x[[c in hot for c in cells.tolist()]] = 12
    result = hotspots.gi_star(cells, x)
    centre = cells.tolist().index(int(CENTRE, 16))
    assert result.z[centre] > 5 and result.hot()[centre]
    assert set(cells[result.hot()].tolist()) >= {int(CENTRE, 16)}
    assert set(cells[result.hot()].tolist()) <= {int(c, 16) for c in h3.grid_disk(CENTRE, 2)}
    assert not result.cold().any()


def test_null_data_rarely_looks_significant():
    cells = study_area(12)  # 469 cells
    x = np.random.default_rng(6).normal(10, 2, cells.size)
    result = hotspots.gi_star(cells, x)
    assert 0.01 < np.mean(result.p < 0.05) < 0.10
    assert result.hot().sum() + result.cold().sum() <= 2  # FDR keeps false alarms rare


def test_undefined_cases_give_no_evidence():
    two = study_area(1)[:2]
    r = hotspots.gi_star(two, [1.0, 5.0])
    assert not r.defined.any() and r.z.tolist() == [0, 0] and r.p.tolist() == [1, 1]
    cells = study_area(2)
    flat = hotspots.gi_star(cells, np.full(cells.size, 3.0))
    assert not flat.defined.any() and (flat.q == 1).all()
    # k = 1 around the centre of a 1-ring: the centre's neighbourhood is the whole area.
    ring = study_area(1)
    r = hotspots.gi_star(ring, np.arange(7.0))
    centre = ring.tolist().index(int(CENTRE, 16))
    assert not r.defined[centre] and r.defined.sum() == 6
    empty = hotspots.gi_star(np.array([], dtype=np.int64), [])
    assert empty.z.size == 0


def test_gi_star_input_checks():
    cells = study_area(1)
    with pytest.raises(ValueError, match="distinct"):
        hotspots.gi_star(np.concatenate([cells, cells[:1]]), np.ones(8))
    mixed = np.array([cells[0], int(h3.cell_to_parent(CENTRE, 7), 16)], dtype=np.int64)
    with pytest.raises(ValueError, match="same resolution"):
        hotspots.gi_star(mixed, [1.0, 2.0])
    with pytest.raises(ValueError, match="7 cells but 6 values"):
        hotspots.gi_star(cells, np.ones(6))
    with pytest.raises(ValueError, match="finite"):
        hotspots.gi_star(cells, [np.nan] + [1.0] * 6)
    with pytest.raises(ValueError, match="valid H3"):
        hotspots.gi_star(np.array([1, 2, 3], dtype=np.int64), [1.0, 2.0, 3.0])


def test_neighbour_pairs_match_grid_distance():
    cells = study_area(3, drop=6, seed=9)
    rows, cols = hotspots.neighbour_pairs(cells, 2)
    hexes = [h3.int_to_str(int(c)) for c in cells]
    expected = {
        (i, j)
        for i in range(cells.size)
        for j in range(cells.size)
        if h3.grid_distance(hexes[i], hexes[j]) <= 2
    }
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == expected
    assert len(rows) == len(expected)


# --------------------------------------------------------------------------- FDR


def test_benjamini_hochberg_known_example_and_brute_force():
    q = hotspots.benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(q, [0.02, 0.04, 0.04, 0.02])
    rng = np.random.default_rng(8)
    p = np.concatenate([rng.uniform(0, 1, 300), rng.uniform(0, 0.001, 30), [0.5, 0.5]])
    m = p.size
    for dependent in (False, True):
        c = sum(1 / i for i in range(1, m + 1)) if dependent else 1.0
        order = sorted(range(m), key=lambda i: p[i])
        rank = {i: r + 1 for r, i in enumerate(order)}
        brute = [
            min(1.0, min(p[j] * m * c / rank[j] for j in range(m) if rank[j] >= rank[i]))
            for i in range(m)
        ]
        np.testing.assert_allclose(hotspots.benjamini_hochberg(p, dependent), brute, rtol=1e-12)
    assert hotspots.benjamini_hochberg([]).size == 0
    with pytest.raises(ValueError, match="between 0 and 1"):
        hotspots.benjamini_hochberg([0.5, 1.5])


def test_two_sided_normal_p():
    np.testing.assert_allclose(
        hotspots.two_sided_normal_p([0.0, 1.959963984540054, -2.5758293]),
        [1.0, 0.05, 0.01],
        rtol=1e-7,
    )
    assert 0 < hotspots.two_sided_normal_p([30.0])[0] < 1e-190  # erfc keeps the far tail


# --------------------------------------------------------------------------- emerging


def brute_tail(x, n, share):
    return float(sum(math.comb(n, k) * share**k * (1 - share) ** (n - k) for k in range(x, n + 1)))


@pytest.mark.parametrize(
    "x, n, share",
    [
        (0, 0, Fraction(1, 2)),
        (1, 1, Fraction(1, 2)),
        (10, 10, Fraction(1, 2)),
        (7, 12, Fraction(1, 2)),
        (3, 40, Fraction(1, 5)),
        (30, 40, Fraction(1, 5)),
        (160, 200, Fraction(7, 9)),
        (900, 1500, Fraction(1, 2)),
        (13, 12, Fraction(1, 2)),
    ],
)
def test_binomial_tail_matches_exact_rational_sum(x, n, share):
    assert hotspots.binomial_upper_tail(x, n, float(share)) == pytest.approx(
        brute_tail(x, n, share), rel=1e-11, abs=1e-300
    )


def test_binomial_tail_edges_and_checks():
    assert hotspots.binomial_upper_tail(3, 5, 0.0) == 0.0
    assert hotspots.binomial_upper_tail(3, 5, 1.0) == 1.0
    with pytest.raises(ValueError):
        hotspots.binomial_upper_tail(-1, 5, 0.5)
    with pytest.raises(ValueError):
        hotspots.binomial_upper_tail(1, 5, 1.5)


def test_emerging_flags_real_increases_only():
    current = np.array([30, 5, 0, 10, 12, 40])
    previous = np.array([10, 5, 0, 0, 12, 100])
    result = hotspots.emerging(current, previous)
    expected = [
        brute_tail(int(c), int(c + p), Fraction(1, 2))
        for c, p in zip(current, previous, strict=True)
    ]
    np.testing.assert_allclose(result.p, expected, rtol=1e-11)
    assert result.significant().tolist() == [True, False, False, True, False, False]
    np.testing.assert_allclose(result.q, hotspots.benjamini_hochberg(expected))
    assert result.rate_ratio[0] == 3.0 and math.isinf(result.rate_ratio[3])
    assert math.isnan(result.rate_ratio[2])


def test_emerging_accounts_for_period_lengths():
    # A week with 10 reports after four weeks with 10: four times the rate.
    week = hotspots.emerging(np.array([10]), np.array([10]), t_current=7, t_previous=28)
    assert week.rate_ratio[0] == 4.0
    assert week.p[0] == pytest.approx(brute_tail(10, 20, Fraction(7, 35)), rel=1e-11)
    assert week.significant()[0]
    same = hotspots.emerging(np.array([10]), np.array([40]), t_current=7, t_previous=28)
    assert same.rate_ratio[0] == 1.0 and not same.significant()[0]


def test_emerging_input_checks():
    with pytest.raises(ValueError, match="same length"):
        hotspots.emerging(np.array([1, 2]), np.array([1]))
    with pytest.raises(ValueError, match="non-negative integers"):
        hotspots.emerging(np.array([1.5]), np.array([1]))
    with pytest.raises(ValueError, match="non-negative integers"):
        hotspots.emerging(np.array([-1]), np.array([1]))
    with pytest.raises(ValueError, match="positive"):
        hotspots.emerging(np.array([1]), np.array([1]), t_previous=0)
