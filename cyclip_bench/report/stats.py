"""Statistics for the report: pure functions on numpy arrays, seeded, no I/O.

- `bootstrap_ci`: percentile bootstrap CI of a mean (accuracy from per-example 0/1 correctness).
- `paired_bootstrap`: the difference of two means on the same examples, resampling examples jointly.
- `mcnemar_exact`: McNemar's exact test on paired 0/1 outcomes (a two-sided binomial test on the discordant
  pairs).
- `compare_paired`: the two together, as the report prints them.
- `aggregate_seeds`: mean ± sample sd over seeds; `seed_mean_interval`: the mean's t-interval over seeds.

Differences between configurations across seeds (n is small, a few seeds each):

- `welch_difference`: difference of means with Welch's t CI and p-value (unequal variances).
- `bootstrap_seed_difference`: a percentile bootstrap CI of the same difference, resampling each group's seeds.
- `pooled_sd`, `t_test_power`, `minimum_detectable_difference`, `seeds_needed`: the exact power of the
  two-sample t-test (noncentral t) and what it implies for these seed counts.
- `seed_verdict`: "detected", "not detected" or "not detectable at this power".
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import optimize as spo
from scipy import stats as sps

ALPHA = 0.05


class Interval(NamedTuple):
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class PairedComparison:
    n: int
    mean_a: float
    mean_b: float
    difference: float  # mean_b - mean_a
    ci_low: float
    ci_high: float
    a_only: int  # examples right for A, wrong for B
    b_only: int  # examples right for B, wrong for A
    p_value: float
    test: str

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


@dataclass(frozen=True)
class SeedAggregate:
    mean: float
    sd: float  # sample standard deviation (ddof=1); 0.0 for a single seed
    n: int


def _is_binary(values: np.ndarray) -> bool:
    return bool(np.all((values == 0) | (values == 1)))


def bootstrap_ci(values, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile bootstrap CI of mean(values).

    For 0/1 arrays the number of ones in a resample of n examples drawn with replacement is exactly
    Binomial(n, mean): drawing it directly is the same bootstrap distribution at O(n_boot) cost, not
    O(n·n_boot).
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    rng = np.random.default_rng(seed)
    n = x.size
    if _is_binary(x):
        means = rng.binomial(n, x.mean(), size=n_boot) / n
    else:
        means = np.concatenate(
            [x[rng.integers(0, n, size=(min(256, n_boot - start), n))].mean(axis=1) for start in range(0, n_boot, 256)]
        )
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(x.mean()), float(low), float(high))


def paired_bootstrap(a, b, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile bootstrap CI of mean(b) - mean(a), resampling examples (pairs) jointly.

    For 0/1 pairs a resample is a multinomial draw over the four outcome cells (00, 01, 10, 11); only the two
    discordant cells move the difference, so it is drawn directly (the same distribution, O(n_boot) cost).
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError("paired_bootstrap needs two non-empty 1-d arrays of the same length")
    rng = np.random.default_rng(seed)
    n = x.size
    if _is_binary(x) and _is_binary(y):
        b_only = float(np.sum((y == 1) & (x == 0)))
        a_only = float(np.sum((x == 1) & (y == 0)))
        probs = np.array([b_only, a_only, n - b_only - a_only]) / n
        counts = rng.multinomial(n, probs, size=n_boot)
        diffs = (counts[:, 0] - counts[:, 1]) / n
    else:
        d = y - x
        diffs = np.concatenate(
            [d[rng.integers(0, n, size=(min(256, n_boot - start), n))].mean(axis=1) for start in range(0, n_boot, 256)]
        )
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return Interval(float(y.mean() - x.mean()), float(low), float(high))


def mcnemar_exact(a, b) -> tuple[int, int, float]:
    """McNemar's exact test on paired 0/1 outcomes → (a_only, b_only, two-sided p-value).

    Under H0 each discordant pair is equally likely to favour either side:
    p = binomtest(a_only, a_only + b_only, ½).
    With no discordant pairs there is no evidence of a difference: p = 1.
    """
    x = np.asarray(a)
    y = np.asarray(b)
    if x.shape != y.shape:
        raise ValueError("mcnemar_exact needs two arrays of the same length")
    if not (_is_binary(x) and _is_binary(y)):
        raise ValueError("mcnemar_exact needs 0/1 arrays")
    a_only = int(np.sum((x == 1) & (y == 0)))
    b_only = int(np.sum((x == 0) & (y == 1)))
    discordant = a_only + b_only
    if discordant == 0:
        return a_only, b_only, 1.0
    p_value = sps.binomtest(a_only, discordant, 0.5, alternative="two-sided").pvalue
    return a_only, b_only, float(min(1.0, p_value))


def compare_paired(a, b, n_boot: int = 2000, seed: int = 0) -> PairedComparison:
    """B versus A on the same examples: difference, its paired-bootstrap 95% CI and McNemar's exact p-value
    (for 0/1 outcomes; a paired bootstrap p-value otherwise)."""
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    interval = paired_bootstrap(x, y, n_boot=n_boot, seed=seed)
    if _is_binary(x) and _is_binary(y):
        a_only, b_only, p_value = mcnemar_exact(x, y)
        test = "McNemar exact"
    else:
        a_only = int(np.sum(x > y))
        b_only = int(np.sum(y > x))
        p_value = paired_bootstrap_p(x, y, n_boot=n_boot, seed=seed)
        test = "paired bootstrap"
    return PairedComparison(
        n=int(x.size),
        mean_a=float(x.mean()),
        mean_b=float(y.mean()),
        difference=interval.estimate,
        ci_low=interval.low,
        ci_high=interval.high,
        a_only=a_only,
        b_only=b_only,
        p_value=p_value,
        test=test,
    )


def paired_bootstrap_p(a, b, n_boot: int = 2000, seed: int = 0) -> float:
    """Two-sided bootstrap p-value of mean(b - a) = 0 (resampling the centred differences)."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    observed = d.mean()
    if np.allclose(d, 0):
        return 1.0
    centred = d - observed
    rng = np.random.default_rng(seed)
    n = d.size
    means = np.concatenate(
        [
            centred[rng.integers(0, n, size=(min(256, n_boot - start), n))].mean(axis=1)
            for start in range(0, n_boot, 256)
        ]
    )
    return float((np.sum(np.abs(means) >= abs(observed)) + 1) / (n_boot + 1))


def aggregate_seeds(values) -> SeedAggregate:
    """Mean ± sample standard deviation (ddof = 1) of one metric over the seeds of one configuration."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if x.size == 0:
        raise ValueError("aggregate_seeds needs at least one value")
    sd = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    return SeedAggregate(mean=float(x.mean()), sd=sd, n=int(x.size))


def seed_mean_interval(values, level: float = 0.95) -> Interval:
    """The mean over seeds with its t-interval (mean ± t_{(1+level)/2, n-1} · sd/√n): where the configuration's
    mean would fall on re-running it with new seeds. One seed: no interval (NaN bounds)."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if x.size == 0:
        raise ValueError("seed_mean_interval needs at least one value")
    mean = float(x.mean())
    if x.size == 1:
        return Interval(mean, math.nan, math.nan)
    half = float(sps.t.ppf(0.5 + level / 2, x.size - 1) * np.std(x, ddof=1) / math.sqrt(x.size))
    return Interval(mean, mean - half, mean + half)


# ---- differences between configurations across seeds ---------------------------------------------------

POWER = 0.8
MAX_SEEDS = 10_000  # `seeds_needed` searches up to this many seeds per configuration

DETECTED = "detected"
NOT_DETECTED = "not detected"
UNDERPOWERED = "not detectable at this power"


@dataclass(frozen=True)
class WelchDifference:
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    difference: float  # mean_b - mean_a
    ci_low: float
    ci_high: float
    df: float  # Welch–Satterthwaite degrees of freedom (nan when both groups have sd 0)
    p_value: float


def _two_groups(a, b) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.ndim != 1 or y.ndim != 1 or x.size < 2 or y.size < 2:
        raise ValueError("needs two 1-d groups of at least two values each")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("needs finite values")
    return x, y


def welch_difference(a, b, level: float = 0.95) -> WelchDifference:
    """mean(b) − mean(a) with Welch's t CI (Welch–Satterthwaite df) and two-sided p-value.

    Welch, not Student: the seeds of two objectives need not spread equally. Computed by
    `scipy.stats.ttest_ind(b, a, equal_var=False)`. When both groups have sd 0 there is no noise to test
    against: the difference is exact, so the CI is [d, d] and p is 0 (d ≠ 0) or 1 (d = 0).
    """
    x, y = _two_groups(a, b)
    difference = float(y.mean() - x.mean())
    common = dict(n_a=int(x.size), n_b=int(y.size), mean_a=float(x.mean()), mean_b=float(y.mean()))
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        p_value = 1.0 if difference == 0 else 0.0
        return WelchDifference(
            **common, difference=difference, ci_low=difference, ci_high=difference, df=float("nan"), p_value=p_value
        )
    with warnings.catch_warnings():
        # One group of equal values (every seed at 60%, or saturated at 100%) has variance 0, which is exact; scipy
        # still warns of "precision loss … nearly identical" data, a line on the user's terminal with no news in it.
        warnings.filterwarnings(
            "ignore", message="Precision loss occurred in moment calculation", category=RuntimeWarning
        )
        result = sps.ttest_ind(y, x, equal_var=False)
        ci = result.confidence_interval(confidence_level=level)
    return WelchDifference(
        **common,
        difference=difference,
        ci_low=float(ci.low),
        ci_high=float(ci.high),
        df=float(result.df),
        p_value=float(result.pvalue),
    )


def bootstrap_seed_difference(a, b, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile bootstrap CI of mean(b) − mean(a), resampling each group's seed values with replacement
    (independently: seeds of two configurations are not paired).

    A second opinion beside Welch's CI that does not assume normal seed-to-seed noise; with two or three
    seeds a group has only a handful of distinct resamples, so this interval is coarse (and, unlike Welch's,
    tends to be too narrow).
    """
    x, y = _two_groups(a, b)
    rng = np.random.default_rng(seed)
    means_a = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    means_b = y[rng.integers(0, y.size, size=(n_boot, y.size))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means_b - means_a, [tail, 100 - tail])
    return Interval(float(y.mean() - x.mean()), float(low), float(high))


def pooled_sd(a, b) -> float:
    """Pooled sample sd of two groups, sqrt(((n_a − 1)·s_a² + (n_b − 1)·s_b²) / (n_a + n_b − 2)): the sd
    that the power calculations below use."""
    x, y = _two_groups(a, b)
    # Deviations from the first value: the same variance, but exactly 0 for a group of equal values (the
    # rounding of mean([v, v, v]) would otherwise leave a spurious ~1e-17 sd and an absurd power).
    ss = (x.size - 1) * np.var(x - x[0], ddof=1) + (y.size - 1) * np.var(y - y[0], ddof=1)
    return float(math.sqrt(ss / (x.size + y.size - 2)))


def t_test_power(delta: float, sd: float, n_a: float, n_b: float, alpha: float = ALPHA) -> float:
    """Exact power of the two-sided two-sample t-test (equal variances) to detect a true difference `delta`.

    With df = n_a + n_b − 2, c = t_{1−α/2, df} and noncentrality λ = |delta| / (sd · sqrt(1/n_a + 1/n_b)):
    power = P(T' > c) + P(T' < −c) for T' ~ noncentral t(df, λ) (`scipy.stats.nct`). sd is the common
    (pooled) per-seed sd. n may be fractional (the search in `seeds_needed` treats it as continuous). sd = 0
    means no noise: power 1 for any delta ≠ 0 (α for delta = 0).

    This is the pooled-variance (Student) test, the standard planning calculation; the report's CIs use
    Welch's test, which with 2–3 seeds per group has noticeably less power than this (the df it estimates
    can be near 1), so for such n the figures derived from here are optimistic.
    """
    if n_a < 2 or n_b < 2:
        raise ValueError("t_test_power needs at least two seeds per group")
    if sd < 0:
        raise ValueError("sd must be non-negative")
    if delta == 0:
        return alpha
    if sd == 0:
        return 1.0
    df = n_a + n_b - 2
    ncp = abs(delta) / (sd * math.sqrt(1.0 / n_a + 1.0 / n_b))
    if ncp > 1e6:  # P(miss) ≤ P(χ²_df / df > (λ/c)²) underflows long before; scipy's nct returns nan up there
        return 1.0
    crit = sps.t.ppf(1.0 - alpha / 2, df)
    # The lower tail P(T' < −c) is computed as P(T'(−λ) > c) (T'(λ) and −T'(−λ) have one distribution):
    # scipy's nct.cdf far in the left tail returns nan for large λ, its sf there stays finite.
    power = float(sps.nct.sf(crit, df, ncp) + sps.nct.sf(crit, df, -ncp))
    if not math.isfinite(power):
        raise ValueError(f"power not computable for df={df}, noncentrality={ncp}")
    return min(1.0, power)


def minimum_detectable_difference(sd: float, n_a: int, n_b: int, power: float = POWER, alpha: float = ALPHA) -> float:
    """The smallest true difference the two-sided t-test detects with probability `power` at level α for these
    seed counts: t_test_power(MDD, sd, n_a, n_b) = power, solved with `scipy.optimize.brentq`.

    sd is the pooled sample sd of the two groups (`pooled_sd`); the MDD scales with it. sd = 0: 0 (with no
    seed noise every difference is detected).
    """
    if not alpha < power < 1:
        raise ValueError("power must lie in (alpha, 1)")
    if sd == 0:
        return 0.0
    # In units of sd: power is increasing in the standardised effect, alpha at 0; bracket, then solve.
    high = 1.0
    while t_test_power(high, 1.0, n_a, n_b, alpha) < power:
        high *= 2
    effect = spo.brentq(lambda d: t_test_power(d, 1.0, n_a, n_b, alpha) - power, 0.0, high, xtol=1e-12)
    return float(effect * sd)


def seeds_needed(
    delta: float, sd: float, power: float = POWER, alpha: float = ALPHA, max_seeds: int = MAX_SEEDS
) -> int | None:
    """Seeds per configuration (equal n in both) for the two-sided t-test to detect a true difference `delta`
    with probability `power` at level α; None when more than `max_seeds` are needed (or delta = 0).

    sd is the per-seed sd (the report uses the pooled sample sd of the two groups). The power is increasing in
    n, so the root of power(n) = target over a continuous n (`brentq`) rounded up is the answer. sd = 0
    means no seed noise: the minimum of 2 seeds (to estimate an sd at all) suffices.
    """
    if not alpha < power < 1:
        raise ValueError("power must lie in (alpha, 1)")
    if delta == 0:
        return None
    if sd == 0 or t_test_power(delta, sd, 2, 2, alpha) >= power:
        return 2
    if t_test_power(delta, sd, max_seeds, max_seeds, alpha) < power:
        return None
    root = spo.brentq(lambda n: t_test_power(delta, sd, n, n, alpha) - power, 2.0, float(max_seeds), xtol=1e-9)
    n = max(2, math.ceil(root - 1e-6))
    while t_test_power(delta, sd, n, n, alpha) < power:  # guard the rounding at an integer root
        n += 1
    return n


def seed_verdict(ci_low: float, ci_high: float, difference: float, mdd: float) -> str:
    """The verdict word of a row: DETECTED when the CI excludes 0; otherwise UNDERPOWERED ("not detectable at
    this power") when |difference| is below the minimum detectable difference — these seeds could not tell an
    effect of that size from seed noise, so its absence is not shown — else NOT_DETECTED (the observed
    difference reaches the MDD and the CI still includes 0)."""
    if ci_low > 0 or ci_high < 0:
        return DETECTED
    if abs(difference) < mdd:
        return UNDERPOWERED
    return NOT_DETECTED
