"""Statistics of the report against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cyclip_bench.report.stats import (
    aggregate_seeds,
    bootstrap_ci,
    compare_paired,
    mcnemar_exact,
    paired_bootstrap,
)


def _pairs(both: int, a_only: int, b_only: int, neither: int) -> tuple[list[int], list[int]]:
    a = [1] * both + [1] * a_only + [0] * b_only + [0] * neither
    b = [1] * both + [0] * a_only + [1] * b_only + [0] * neither
    return a, b


def test_mcnemar_exact_hand_computed():
    # 1 vs 5 discordant pairs: p = 2 · P(X ≤ 1), X ~ Bin(6, ½) = 2 · (1 + 6) / 64 = 0.21875
    a, b = _pairs(both=10, a_only=1, b_only=5, neither=4)
    assert mcnemar_exact(a, b) == (1, 5, pytest.approx(0.21875))
    # 0 vs 6: p = 2 / 64
    a, b = _pairs(both=3, a_only=0, b_only=6, neither=1)
    assert mcnemar_exact(a, b)[2] == pytest.approx(0.03125)
    # no discordant pairs: no evidence of a difference
    a, b = _pairs(both=5, a_only=0, b_only=0, neither=5)
    assert mcnemar_exact(a, b) == (0, 0, 1.0)
    # symmetric: 3 vs 3 → p = 1
    a, b = _pairs(both=0, a_only=3, b_only=3, neither=0)
    assert mcnemar_exact(a, b)[2] == pytest.approx(1.0)


def test_mcnemar_rejects_non_binary():
    with pytest.raises(ValueError):
        mcnemar_exact([0.5, 1], [1, 0])


def test_bootstrap_ci_degenerate_and_two_points():
    assert bootstrap_ci([1, 1, 1, 1]) == pytest.approx((1.0, 1.0, 1.0))
    assert bootstrap_ci([0, 0, 0]) == pytest.approx((0.0, 0.0, 0.0))
    # [0, 1]: resampled means are 0, ½, 1 with probabilities ¼, ½, ¼ → the 95% interval is [0, 1]
    ci = bootstrap_ci([0, 1], n_boot=4000)
    assert (ci.estimate, ci.low, ci.high) == pytest.approx((0.5, 0.0, 1.0))


def test_bootstrap_ci_matches_normal_approximation():
    # p = 0.3, n = 10 000: half-width ≈ 1.96 · sqrt(0.3 · 0.7 / 10 000) = 0.00898
    x = np.array([1] * 3000 + [0] * 7000)
    ci = bootstrap_ci(x, n_boot=4000, seed=1)
    assert ci.estimate == pytest.approx(0.3)
    assert ci.low == pytest.approx(0.3 - 0.00898, abs=0.0012)
    assert ci.high == pytest.approx(0.3 + 0.00898, abs=0.0012)


def test_bootstrap_binary_shortcut_agrees_with_resampling():
    # The same 0/1 data as floats 0.0/1.0 + a tiny offset take the generic resampling path.
    x = np.array([1] * 120 + [0] * 80, dtype=float)
    fast = bootstrap_ci(x, n_boot=4000, seed=3)
    slow = bootstrap_ci(x + 1e-9, n_boot=4000, seed=3)
    assert fast.low == pytest.approx(slow.low - 1e-9, abs=0.01)
    assert fast.high == pytest.approx(slow.high - 1e-9, abs=0.01)


def test_bootstrap_is_seeded():
    x = [0, 1, 1, 0, 1, 0, 1, 1, 1, 0] * 5
    assert bootstrap_ci(x, seed=7) == bootstrap_ci(x, seed=7)


def test_paired_bootstrap_identical_and_difference():
    a = [1, 0, 1, 1, 0]
    assert paired_bootstrap(a, a) == pytest.approx((0.0, 0.0, 0.0))
    a, b = _pairs(both=50, a_only=5, b_only=25, neither=20)
    interval = paired_bootstrap(a, b, n_boot=4000)
    assert interval.estimate == pytest.approx(0.20)  # (25 − 5) / 100
    # sd of the difference ≈ sqrt((0.25 + 0.05 − 0.2²) / 100) = 0.051 → CI ≈ 0.20 ± 0.10
    assert interval.low == pytest.approx(0.10, abs=0.02)
    assert interval.high == pytest.approx(0.30, abs=0.02)


def test_compare_paired_verdicts():
    a, b = _pairs(both=50, a_only=1, b_only=5, neither=44)
    cmp = compare_paired(a, b)
    assert cmp.test == "McNemar exact"
    assert cmp.p_value == pytest.approx(0.21875)
    assert not cmp.significant
    assert cmp.difference == pytest.approx(0.04)
    a, b = _pairs(both=50, a_only=0, b_only=20, neither=30)
    cmp = compare_paired(a, b)
    assert cmp.p_value == pytest.approx(2 * 0.5**20)
    assert cmp.significant
    assert cmp.ci_low > 0


def test_compare_paired_continuous_uses_bootstrap():
    rng = np.random.default_rng(0)
    a = rng.normal(size=200)
    cmp = compare_paired(a, a + 1.0)
    assert cmp.test == "paired bootstrap"
    assert cmp.difference == pytest.approx(1.0)
    assert cmp.significant


def test_aggregate_seeds_hand_computed():
    agg = aggregate_seeds([0.5, 0.6, 0.7])
    assert (agg.mean, agg.sd, agg.n) == (pytest.approx(0.6), pytest.approx(0.1), 3)
    one = aggregate_seeds([0.42])
    assert (one.mean, one.sd, one.n) == (pytest.approx(0.42), 0.0, 1)
    assert aggregate_seeds([1.0, None, float("nan"), 3.0]).sd == pytest.approx(math.sqrt(2))


def test_seed_mean_interval_hand_computed():
    """mean ± t_{0.975, n-1} · sd / √n: for 1, 2, 3 the sd is 1 and t_{0.975, 2} = 4.302653 (tables)."""
    from cyclip_bench.report.stats import seed_mean_interval

    interval = seed_mean_interval([1.0, 2.0, 3.0])
    half = 4.302652729749464 / math.sqrt(3)
    assert interval == (pytest.approx(2.0), pytest.approx(2.0 - half), pytest.approx(2.0 + half))
    assert seed_mean_interval([0.5, 0.5]) == (0.5, 0.5, 0.5)  # no spread: no width
    one = seed_mean_interval([0.42, None, float("nan")])
    assert one.estimate == 0.42 and math.isnan(one.low) and math.isnan(one.high)
    with pytest.raises(ValueError):
        seed_mean_interval([None])


def test_welch_with_one_group_of_equal_values_is_exact_and_quiet():
    """Every seed of one configuration at the same value (0.6 is not exact in binary, which makes scipy warn of
    precision loss): the result is Welch's with that group's variance 0, and no warning reaches the user."""
    import warnings

    from scipy import stats as sps

    from cyclip_bench.report.stats import welch_difference

    other = [0.5, 0.52, 0.54]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = welch_difference([0.6, 0.6, 0.6], other)
    half = sps.t.ppf(0.975, 2) * np.std(other, ddof=1) / math.sqrt(3)  # only the other group's spread counts
    assert (result.difference, result.df) == (pytest.approx(-0.08), pytest.approx(2.0))
    assert (result.ci_low, result.ci_high) == (pytest.approx(-0.08 - half), pytest.approx(-0.08 + half))
