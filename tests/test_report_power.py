"""Differences between configurations across seeds (report/stats.py): Welch's CI and p, the bootstrap over
seeds, the exact power of the two-sample t-test, the minimum detectable difference, the seeds needed and the
verdict — against hand computations, scipy and Monte Carlo simulations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from cyclip_bench.report.stats import (
    DETECTED,
    MAX_SEEDS,
    NOT_DETECTED,
    UNDERPOWERED,
    bootstrap_seed_difference,
    minimum_detectable_difference,
    pooled_sd,
    seed_verdict,
    seeds_needed,
    t_test_power,
    welch_difference,
)

A = [1.0, 2.0, 3.0]
B = [2.0, 4.0, 7.0, 9.0]


# ---- Welch ------------------------------------------------------------------------------------------------


def test_welch_hand_computed():
    # means 2 and 5.5; s_a² = 1, s_b² = 29/3; se² = 1/3 + 29/12 = 2.75
    # Welch–Satterthwaite df = se⁴ / ((1/3)²/2 + (29/12)²/3) = 7.5625 / 2.0023148… = 3.776879
    w = welch_difference(A, B)
    se = math.sqrt(2.75)
    df = 2.75**2 / ((1 / 3) ** 2 / 2 + (29 / 12) ** 2 / 3)
    assert (w.n_a, w.n_b, w.mean_a, w.mean_b, w.difference) == (3, 4, 2.0, 5.5, 3.5)
    assert w.df == pytest.approx(df, rel=1e-12) and df == pytest.approx(3.776879, rel=1e-6)
    half = sps.t.ppf(0.975, df) * se
    assert (w.ci_low, w.ci_high) == pytest.approx((3.5 - half, 3.5 + half), rel=1e-10)
    assert w.p_value == pytest.approx(2 * sps.t.sf(3.5 / se, df), rel=1e-10)
    assert w.p_value == pytest.approx(0.10651, abs=1e-5)


@pytest.mark.parametrize("n_a, n_b, shift, scale", [(2, 2, 0.3, 1.0), (3, 5, 1.0, 3.0), (10, 4, -0.5, 0.2)])
def test_welch_matches_scipy(n_a, n_b, shift, scale):
    rng = np.random.default_rng(n_a * 10 + n_b)
    a = rng.normal(size=n_a)
    b = rng.normal(shift, scale, size=n_b)
    ref = sps.ttest_ind(b, a, equal_var=False)
    ci = ref.confidence_interval()
    w = welch_difference(a, b)
    assert (w.ci_low, w.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert w.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert w.df == pytest.approx(ref.df, rel=1e-12)
    assert w.difference == pytest.approx(b.mean() - a.mean())


def test_welch_without_noise_and_bad_input():
    w = welch_difference([0.4, 0.4, 0.4], [0.5, 0.5])
    assert (w.ci_low, w.ci_high, w.p_value) == (pytest.approx(0.1), pytest.approx(0.1), 0.0)
    w = welch_difference([0.4, 0.4], [0.4, 0.4])
    assert (w.difference, w.ci_low, w.ci_high, w.p_value) == (0.0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError):
        welch_difference([0.5], [0.4, 0.6])  # one seed: no spread
    with pytest.raises(ValueError):
        welch_difference([0.5, float("nan")], [0.4, 0.6])


# ---- bootstrap over seeds ----------------------------------------------------------------------------------


def test_bootstrap_seed_difference_hand_computed():
    # b is constant; a resampled from [0, 1] has mean 0, ½, 1 with probabilities ¼, ½, ¼ → the difference is
    # 10, 9.5 or 9 and the 95% percentile interval is [9, 10].
    ci = bootstrap_seed_difference([0.0, 1.0], [10.0, 10.0], n_boot=4000, seed=0)
    assert (ci.estimate, ci.low, ci.high) == (9.5, 9.0, 10.0)
    assert bootstrap_seed_difference(A, B, seed=3) == bootstrap_seed_difference(A, B, seed=3)
    assert bootstrap_seed_difference(A, B, seed=3) != bootstrap_seed_difference(A, B, seed=4)


def test_bootstrap_seed_difference_agrees_with_welch_for_many_seeds():
    # Many values per group: the bootstrap and Welch intervals agree (both ≈ d ± 1.96·se).
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 1, size=300), rng.normal(0.4, 2, size=200)
    boot = bootstrap_seed_difference(a, b, n_boot=4000, seed=1)
    w = welch_difference(a, b)
    half = w.ci_high - w.difference  # ≈ 0.31
    assert boot.low == pytest.approx(w.ci_low, abs=0.1 * half)
    assert boot.high == pytest.approx(w.ci_high, abs=0.1 * half)


# ---- power -----------------------------------------------------------------------------------------------


def _power_by_integration(delta, sd, n_a, n_b, alpha=0.05):
    """The power written out: T' = (Z + λ) / sqrt(V / df), Z ~ N(0, 1), V ~ χ²(df), λ = δ / (sd·sqrt(1/n_a + 1/n_b)),
    df = n_a + n_b − 2, c = t_{1−α/2, df}.  P(|T'| > c) = ∫ [P(Z > c·sqrt(v/df) − λ) + P(Z < −c·sqrt(v/df) − λ)]
    f_χ²(v; df) dv — integrated numerically, without scipy's noncentral t."""
    df = n_a + n_b - 2
    lam = delta / (sd * math.sqrt(1 / n_a + 1 / n_b))
    c = sps.t.ppf(1 - alpha / 2, df)

    def integrand(v):
        s = c * math.sqrt(v / df)
        return (sps.norm.sf(s - lam) + sps.norm.cdf(-s - lam)) * sps.chi2.pdf(v, df)

    value, _ = integrate.quad(integrand, 0, np.inf, epsabs=1e-12, epsrel=1e-10, limit=200)
    return value


@pytest.mark.parametrize(
    "delta, sd, n_a, n_b",
    [(1.0, 1.0, 2, 2), (2.0, 1.0, 5, 5), (0.02, 0.01, 3, 3), (0.5, 1.0, 10, 4), (-1.5, 2.0, 3, 7), (1.0, 1.0, 20, 20)],
)
def test_power_matches_the_formula(delta, sd, n_a, n_b):
    assert t_test_power(delta, sd, n_a, n_b) == pytest.approx(_power_by_integration(abs(delta), sd, n_a, n_b), abs=1e-8)


def test_power_reference_values():
    # R: power.t.test(n = 20, delta = 1) → power = 0.8689528 (upper tail only; the lower tail adds ~2e-7).
    assert t_test_power(1.0, 1.0, 20, 20) == pytest.approx(0.8689528, abs=1e-6)
    # No effect: the test rejects at rate α; no noise: every effect is found.
    assert t_test_power(0.0, 1.0, 3, 3) == 0.05
    assert t_test_power(0.01, 0.0, 2, 2) == 1.0
    assert t_test_power(1.0, 1e-17, 2, 2) == 1.0  # a rounding-level sd: no nan from scipy's nct
    # Symmetric in the sign of δ and in the two groups; scales with δ / sd only.
    assert t_test_power(-0.7, 1.0, 3, 6) == t_test_power(0.7, 1.0, 3, 6) == t_test_power(0.7, 1.0, 6, 3)
    assert t_test_power(0.014, 0.02, 4, 4) == pytest.approx(t_test_power(0.7, 1.0, 4, 4), rel=1e-12)
    with pytest.raises(ValueError):
        t_test_power(1.0, 1.0, 1, 3)


@pytest.mark.parametrize("delta, n_a, n_b", [(1.5, 5, 5), (2.0, 3, 6), (0.8, 12, 12)])
def test_power_matches_simulated_t_tests(delta, n_a, n_b):
    # 20 000 simulated pooled-variance t-tests at a known effect: the share that rejects at α = 0.05 is the
    # power (Monte Carlo se ≤ 0.0036, so ±0.02 is over 5 se).
    rng = np.random.default_rng(int(10 * delta) + n_a)
    a = rng.normal(0.0, 1.0, size=(20_000, n_a))
    b = rng.normal(delta, 1.0, size=(20_000, n_b))
    simulated = float(np.mean(sps.ttest_ind(b, a, axis=1).pvalue < 0.05))
    assert t_test_power(delta, 1.0, n_a, n_b) == pytest.approx(simulated, abs=0.02)


# ---- minimum detectable difference -----------------------------------------------------------------------


@pytest.mark.parametrize("sd, n_a, n_b", [(1.0, 2, 2), (1.0, 3, 3), (0.012, 5, 5), (2.5, 3, 8), (1.0, 50, 50)])
def test_mdd_inverts_power(sd, n_a, n_b):
    mdd = minimum_detectable_difference(sd, n_a, n_b)
    assert t_test_power(mdd, sd, n_a, n_b) == pytest.approx(0.8, abs=1e-9)
    assert minimum_detectable_difference(2 * sd, n_a, n_b) == pytest.approx(2 * mdd, rel=1e-9)  # scales with sd
    # The t-test is weaker than a z-test with known sd: MDD > (z_{.975} + z_{.8})·sd·sqrt(1/n_a + 1/n_b).
    z_mdd = (sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * sd * math.sqrt(1 / n_a + 1 / n_b)
    assert mdd > z_mdd


def test_mdd_hand_values_and_limits():
    # Two seeds each, sd 1: df = 2, c = 4.303; MDD = 5.6535 (λ = MDD / 1 = 5.6535 gives power 0.8).
    assert minimum_detectable_difference(1.0, 2, 2) == pytest.approx(5.6535, abs=1e-4)
    # More seeds → smaller MDD; for many seeds it approaches the z-test value 2.8016·sd·sqrt(2/n).
    mdds = [minimum_detectable_difference(1.0, n, n) for n in (2, 3, 5, 10, 30)]
    assert mdds == sorted(mdds, reverse=True)
    assert minimum_detectable_difference(1.0, 2000, 2000) == pytest.approx(2.8016 * math.sqrt(2 / 2000), rel=1e-3)
    assert minimum_detectable_difference(0.0, 3, 3) == 0.0
    assert minimum_detectable_difference(1.0, 5, 5, power=0.9) > minimum_detectable_difference(1.0, 5, 5)


# ---- seeds needed ----------------------------------------------------------------------------------------


def test_seeds_needed_hand_worked():
    # sd = 1 pp, Δ = 2 pp (δ/sd = 2): with n seeds each, df = 2n − 2 and λ = 2·sqrt(n/2):
    #   n = 5: df 8,  c = 2.306, λ = 3.162 → power 0.7905 < 0.8
    #   n = 6: df 10, c = 2.228, λ = 3.464 → power 0.8764 ≥ 0.8   ⇒ 6 seeds per configuration.
    assert t_test_power(0.02, 0.01, 5, 5) == pytest.approx(0.7905, abs=1e-4)
    assert t_test_power(0.02, 0.01, 6, 6) == pytest.approx(0.8764, abs=1e-4)
    assert seeds_needed(0.02, 0.01) == 6
    # R: power.t.test(power = .90, delta = 1) → n = 22.02 → 23 seeds.
    assert seeds_needed(1.0, 1.0, power=0.9) == 23


def test_seeds_needed_is_the_smallest_sufficient_n():
    for ratio in (0.3, 0.7, 1.0, 1.9, 2.0, 3.3):
        n = seeds_needed(ratio, 1.0)
        assert t_test_power(ratio, 1.0, n, n) >= 0.8
        assert n == 2 or t_test_power(ratio, 1.0, n - 1, n - 1) < 0.8


def test_seeds_needed_monotone():
    deltas = np.linspace(0.05, 4.0, 40)
    by_delta = [seeds_needed(d, 1.0) for d in deltas]
    assert by_delta == sorted(by_delta, reverse=True) and by_delta[0] > by_delta[-1]
    by_sd = [seeds_needed(0.02, sd) for sd in (0.001, 0.005, 0.01, 0.02, 0.05)]
    assert by_sd == sorted(by_sd) and by_sd[0] == 2


def test_seeds_needed_edges():
    assert seeds_needed(0.02, 0.0) == 2  # no seed noise: two seeds (the least that estimate an sd) suffice
    assert seeds_needed(0.0, 0.01) is None  # no difference is ever detected
    assert seeds_needed(1e-3, 1.0) is None  # beyond the cap
    assert seeds_needed(0.05, 1.0) == 6281 <= MAX_SEEDS
    assert seeds_needed(0.05, 1.0, max_seeds=5000) is None
    assert seeds_needed(-0.02, 0.01) == seeds_needed(0.02, 0.01)


def test_pooled_sd():
    # sums of squares 2 (A) and 29 (B) over 3 + 4 − 2 = 5 df
    assert pooled_sd(A, B) == pytest.approx(math.sqrt(31 / 5))
    assert pooled_sd([0.1, 0.1, 0.1], [0.7, 0.7]) == 0.0  # exactly 0, not a rounding-level 1e-17
    assert pooled_sd([1.0, 3.0], [5.0, 5.0]) == pytest.approx(1.0)  # sqrt((2 + 0) / 2)


# ---- verdict ---------------------------------------------------------------------------------------------


def test_verdict():
    assert seed_verdict(0.1, 2.0, 1.0, mdd=3.0) == DETECTED == "detected"  # CI excludes 0
    assert seed_verdict(-2.0, -0.1, -1.0, mdd=3.0) == DETECTED
    assert seed_verdict(-1.0, 3.0, 1.0, mdd=3.0) == UNDERPOWERED == "not detectable at this power"
    assert seed_verdict(-1.0, 3.0, -2.9, mdd=3.0) == UNDERPOWERED
    assert seed_verdict(-0.5, 7.0, 3.2, mdd=3.0) == NOT_DETECTED == "not detected"
    assert seed_verdict(0.0, 0.0, 0.0, mdd=0.0) == NOT_DETECTED  # no noise and no difference


def test_verdict_on_seed_values():
    # Three seeds each, a large difference with little noise: detected.
    a, b = [0.50, 0.51, 0.49], [0.60, 0.61, 0.59]
    w = welch_difference(a, b)
    mdd = minimum_detectable_difference(pooled_sd(a, b), 3, 3)
    assert seed_verdict(w.ci_low, w.ci_high, w.difference, mdd) == DETECTED
    # A 2 pp difference under 5 pp seed noise with three seeds: not detectable, never "no effect".
    a, b = [0.45, 0.50, 0.55], [0.47, 0.52, 0.57]
    w = welch_difference(a, b)
    mdd = minimum_detectable_difference(pooled_sd(a, b), 3, 3)
    assert mdd == pytest.approx(0.1535, abs=1e-3)
    assert seed_verdict(w.ci_low, w.ci_high, w.difference, mdd) == UNDERPOWERED
