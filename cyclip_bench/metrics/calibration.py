"""Calibration of a classifier's softmax probabilities: expected calibration error (15 equal-width confidence bins,
Guo et al. 2017), negative log-likelihood, and one temperature fitted by NLL (temperature scaling, Guo et al.
2017) — fitted on held-out folds, never on the examples it is measured on. Logits of −inf (classes outside a
dataset's subset) get probability 0."""

from __future__ import annotations

import math

import torch
from scipy.optimize import minimize_scalar

ECE_BINS = 15
# The search range of log(scale): a temperature between e^-12 and e^12 times the logits given.
_LOG_SCALE_BOUNDS = (-12.0, 12.0)


def log_probabilities(logits: torch.Tensor, scale: float | torch.Tensor = 1.0) -> torch.Tensor:
    """[N, C] float64 log softmax of ``scale · logits`` (−inf logits stay −inf: probability 0); ``scale`` is one
    number or one per example ([N] or [N, 1])."""
    if isinstance(scale, torch.Tensor):
        scale = scale.double().view(-1, 1)
    return torch.log_softmax(logits.double() * scale, dim=1)


def negative_log_likelihood(logits: torch.Tensor, labels: torch.Tensor, scale: float | torch.Tensor = 1.0) -> float:
    """Mean over examples of −log softmax(scale · logits)[label], in nats; NaN when empty."""
    if labels.numel() == 0:
        return math.nan
    picked = log_probabilities(logits, scale).gather(1, labels.view(-1, 1))
    return float(-picked.mean())


def expected_calibration_error(confidence: torch.Tensor, correct: torch.Tensor, bins: int = ECE_BINS) -> float:
    """ECE = Σ_b (|B_b| / N) · |accuracy(B_b) − mean confidence(B_b)| over ``bins`` equal-width bins of (0, 1],
    bin b = (b/bins, (b+1)/bins] (a confidence of exactly 0 falls in the first). NaN when empty."""
    n = confidence.numel()
    if n == 0:
        return math.nan
    conf = confidence.double().flatten()
    hit = correct.double().flatten()
    which = (torch.ceil(conf * bins).long() - 1).clamp(0, bins - 1)
    gap = torch.bincount(which, weights=hit - conf, minlength=bins).abs()  # |B_b| · |acc_b − conf_b|
    return float(gap.sum() / n)


def confidence_of(logits: torch.Tensor, predictions: torch.Tensor, scale: float | torch.Tensor = 1.0) -> torch.Tensor:
    """[N] float64: the probability softmax(scale · logits) gives the predicted class (``predictions``)."""
    return log_probabilities(logits, scale).gather(1, predictions.view(-1, 1)).exp().flatten()


def fit_scale(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The one multiplier s > 0 of the logits that minimises the NLL of ``labels`` (temperature scaling: T = 1/s).
    NLL is convex in s, so the bounded one-dimensional search over log s finds its minimum; deterministic."""
    z = logits.double()
    y = labels.view(-1, 1)

    def nll(log_scale: float) -> float:
        return float(-torch.log_softmax(z * math.exp(log_scale), dim=1).gather(1, y).mean())

    found = minimize_scalar(nll, bounds=_LOG_SCALE_BOUNDS, method="bounded", options={"xatol": 1e-8})
    return math.exp(float(found.x))


def cross_fitted_scales(logits: torch.Tensor, labels: torch.Tensor, folds: int = 2, seed: int = 0) -> torch.Tensor:
    """[N] float64: for each example the scale ``fit_scale`` finds on the *other* folds (examples dealt into
    ``folds`` folds by a seeded permutation), so every example is measured with a temperature fitted on data it is
    not part of. Needs at least ``folds`` examples."""
    n = labels.numel()
    if n < folds:
        raise ValueError(f"{n} example(s) cannot be dealt into {folds} folds")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    fold_of = torch.empty(n, dtype=torch.long)
    fold_of[order] = torch.arange(n) % folds
    scales = torch.empty(n, dtype=torch.float64)
    for fold in range(folds):
        held = fold_of == fold
        scales[held] = fit_scale(logits[~held], labels[~held])
    return scales


__all__ = [
    "ECE_BINS",
    "confidence_of",
    "cross_fitted_scales",
    "expected_calibration_error",
    "fit_scale",
    "log_probabilities",
    "negative_log_likelihood",
]
