"""Effective robustness (Taori et al. 2020): shift accuracy above a baseline fit in logit space."""

from __future__ import annotations

import math


def _logit(p: float, eps: float = 1e-6) -> float:
    p = min(max(p, eps), 1 - eps)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def fit_logit_line(points: list[tuple[float, float]]) -> dict[str, float | str]:
    """Least-squares line logit(shift) = slope·logit(id) + intercept through (id_acc, shift_acc) points.

    With fewer than two distinct in-distribution accuracies no line can be fitted: the baseline is then the
    identity (slope 1, intercept 0, ``kind = "identity"``), i.e. effective robustness = shift − id accuracy.
    """
    xs = [_logit(x) for x, _ in points]
    ys = [_logit(y) for _, y in points]
    n = len(xs)
    mean_x = sum(xs) / n if n else 0.0
    var_x = sum((x - mean_x) ** 2 for x in xs)
    if n < 2 or var_x < 1e-12:
        return {"slope": 1.0, "intercept": 0.0, "kind": "identity"}
    mean_y = sum(ys) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var_x
    return {"slope": slope, "intercept": mean_y - slope * mean_x, "kind": "logit-linear"}


def effective_robustness(id_acc: float, shift_acc: float, fit: dict[str, float | str]) -> float:
    """shift accuracy − the baseline's prediction of it from the in-distribution accuracy."""
    if fit.get("kind") == "identity":
        return shift_acc - id_acc
    predicted = _sigmoid(float(fit["slope"]) * _logit(id_acc) + float(fit["intercept"]))
    return shift_acc - predicted
