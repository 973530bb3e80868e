"""Group and per-class metrics of the WILDS and fairness tasks, as DataComp reports them.

- ``worst_group_accuracy``: the lowest accuracy over the groups that have examples (WILDS ``worst`` over groups
  with a non-zero count). DataComp's FMoW main metric groups by region (the "Other" region left out: give it a
  negative group id), GeoDE's by region, Dollar Street's by income bucket with top-5 hits.
- ``macro_f1``: the unweighted mean of the per-class F1 = 2·TP / (2·TP + FP + FN) over the classes present in the
  labels (WILDS' ``F1(average="macro")`` passes ``labels=unique(y_true)`` to scikit-learn), iWildCam's main metric.

Hits come from ``topk_correct`` and predictions from ``predictions_against``, so ties are pessimistic.
"""

from __future__ import annotations

import torch


def group_accuracies(correct: torch.Tensor, groups: torch.Tensor) -> dict[int, float]:
    """Group id → fraction of its examples with ``correct`` set, for every group id ≥ 0 that has examples
    (negative ids are left out, e.g. FMoW's "Other" region)."""
    if correct.shape != groups.shape or correct.ndim != 1:
        raise ValueError(
            f"expected hits and group ids of one shape [N], got {tuple(correct.shape)} and {tuple(groups.shape)}"
        )
    correct, groups = correct.bool(), groups.long()
    out: dict[int, float] = {}
    for g in groups[groups >= 0].unique().tolist():
        member = groups == g
        out[int(g)] = int(correct[member].sum()) / int(member.sum())
    return out


def worst_group_accuracy(correct: torch.Tensor, groups: torch.Tensor) -> float:
    """The lowest per-group accuracy over the groups with examples (NaN when no example has a group ≥ 0)."""
    accuracies = group_accuracies(correct, groups)
    return min(accuracies.values()) if accuracies else float("nan")


def macro_f1(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over the classes present in ``labels`` of their F1 (NaN without labels)."""
    if predictions.shape != labels.shape or labels.ndim != 1:
        raise ValueError(
            f"expected predictions and labels of one shape [N], "
            f"got {tuple(predictions.shape)} and {tuple(labels.shape)}"
        )
    predictions, labels = predictions.long(), labels.long()
    scores = []
    for c in labels.unique().tolist():
        predicted, actual = predictions == c, labels == c
        tp = int((predicted & actual).sum())
        fp = int((predicted & ~actual).sum())
        fn = int((~predicted & actual).sum())
        scores.append(2 * tp / (2 * tp + fp + fn))  # > 0 denominator: c has at least one label
    return sum(scores) / len(scores) if scores else float("nan")
