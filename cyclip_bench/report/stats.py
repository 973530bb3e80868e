"""Statistics for the report: pure functions on numpy arrays, seeded, no I/O.

- `bootstrap_ci`: percentile bootstrap CI of a mean (accuracy from per-example 0/1 correctness).
- `paired_bootstrap`: the difference of two means on the same examples, resampling examples jointly.
- `mcnemar_exact`: McNemar's exact test on paired 0/1 outcomes (a two-sided binomial test on the discordant
  pairs).
- `compare_paired`: the two together, as the report prints them.
- `aggregate_seeds`: mean ± sample sd over seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
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
