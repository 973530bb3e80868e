"""Calibration of zero-shot classification (the zero-shot task calls ``zeroshot_calibration``): ECE and NLL of the
softmax over the class cosines at the model's own logit scale, and again after temperature scaling with one
scale fitted on held-out folds (docs/evaluation.md, "Calibration")."""

from __future__ import annotations

import math
from typing import Any

import torch

from cyclip_bench.metrics.calibration import (
    ECE_BINS,
    confidence_of,
    cross_fitted_scales,
    expected_calibration_error,
    negative_log_likelihood,
)
from cyclip_bench.results import MetricSpec

CALIBRATION_FOLDS = 2

# Lower is better for all four; ECE is a probability gap (0–1), NLL in nats.
CALIBRATION_METRICS = (
    MetricSpec("ece", False, "calibration error"),
    MetricSpec("nll", False, "nats"),
    MetricSpec("ece_temperature_scaled", False, "calibration error"),
    MetricSpec("nll_temperature_scaled", False, "nats"),
)


def model_logit_scale(model: Any) -> float | None:
    """exp(logit_scale) of a CLIP-style model (the multiplier of the cosines it was trained with), or None for a
    model without one. A wrapper's ``module`` is looked through."""
    model = getattr(model, "module", model)
    log_scale = getattr(model, "logit_scale", None)
    if not isinstance(log_scale, torch.Tensor) or log_scale.numel() != 1:
        return None
    return math.exp(float(log_scale.detach().float().cpu()))


def zeroshot_calibration(
    cosines: torch.Tensor, labels: torch.Tensor, predictions: torch.Tensor, logit_scale: float | None
) -> tuple[dict[str, float], dict[str, Any]]:
    """(metrics, extra) for zero-shot ``cosines`` [N, C] (−inf outside a class subset) and the ``predictions``
    of the zero-shot task (its tie rule): ``ece``/``nll`` at ``logit_scale`` (left out when the model has none),
    ``ece_temperature_scaled``/``nll_temperature_scaled`` with each example's scale fitted by NLL on the other
    fold of a seeded two-fold split (left out below four examples)."""
    correct = predictions == labels
    metrics: dict[str, float] = {}
    extra: dict[str, Any] = {"bins": ECE_BINS, "logit_scale": logit_scale}
    if logit_scale is not None:
        metrics["ece"] = expected_calibration_error(confidence_of(cosines, predictions, logit_scale), correct)
        metrics["nll"] = negative_log_likelihood(cosines, labels, logit_scale)
    else:
        extra["skipped"] = "ece, nll: the model has no logit_scale"
    if labels.numel() >= 2 * CALIBRATION_FOLDS:
        scales = cross_fitted_scales(cosines, labels, folds=CALIBRATION_FOLDS)
        metrics["ece_temperature_scaled"] = expected_calibration_error(
            confidence_of(cosines, predictions, scales), correct
        )
        metrics["nll_temperature_scaled"] = negative_log_likelihood(cosines, labels, scales)
        extra["fitted_scales"] = sorted({float(s) for s in scales.tolist()})
        extra["folds"] = CALIBRATION_FOLDS
    return metrics, extra


__all__ = ["CALIBRATION_METRICS", "model_logit_scale", "zeroshot_calibration"]
