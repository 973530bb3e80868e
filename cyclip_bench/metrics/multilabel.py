"""Multilabel zero-shot metrics (PASCAL VOC2007 classification): per-class average precision, 11-point and not.

Each class ranks every image by its score; an image is a positive of the class when its multi-hot target is set.
Ties are pessimistic, as everywhere in this package (docs/evaluation.md, "Ties"): among images with equal scores
the negatives come first, and a NaN score never helps (a positive's NaN counts as −inf, a negative's as +inf). So
no number depends on the order of the images.

- ``ap_11point``: the VOC2007 devkit's interpolated AP, the mean over recall levels r ∈ {0, 0.1, …, 1} of the
  highest precision reached at a recall ≥ r (0 where none is); recall ≥ i/10 is compared exactly, as
  10·TP ≥ i·P. The CLIP paper and ELEVATER report its mean over classes for VOC2007.
- ``average_precision``: the non-interpolated AP, the mean of the precision at the rank of each positive;
  CLIP_benchmark's ``mean_average_precision`` for ``voc2007_multilabel`` is its mean over classes.
"""

from __future__ import annotations

import torch

from cyclip_bench.metrics.ranking import as_threshold

RECALL_LEVELS = 11  # r = 0, 0.1, ..., 1.0


def _check(scores: torch.Tensor, targets: torch.Tensor) -> None:
    if scores.ndim != 2 or targets.shape != scores.shape:
        raise ValueError(
            f"expected scores and multi-hot targets of one shape [N, C], got {tuple(scores.shape)} and "
            f"{tuple(targets.shape)}"
        )


def pessimistic_order(scores: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Long [N]: the indices of a score vector, highest first, negatives before positives among equal scores; a
    positive's NaN ranks as −inf, a negative's as +inf."""
    positive = positive.bool()
    scores = scores.double()
    keyed = torch.where(positive, as_threshold(scores), torch.nan_to_num(scores, nan=float("inf")))
    # Two stable sorts make a lexicographic one: by score descending, then negatives first.
    order = torch.sort(positive.long(), stable=True).indices
    return order[torch.sort(keyed[order], descending=True, stable=True).indices]


def ranked_hits(scores: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Bool [N]: ``positive`` in the pessimistic order of ``scores`` (one class's column)."""
    return positive.bool()[pessimistic_order(scores, positive)]


def _precision_recall_counts(hits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(true positives, rank) at each cut-off 1..N of a ranked hit list (long tensors)."""
    tp = hits.long().cumsum(0)
    ranks = torch.arange(1, hits.numel() + 1, dtype=torch.long)
    return tp, ranks


def average_precision(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Float64 [C]: non-interpolated AP of each class = mean precision at the rank of each of its positives
    (0 for a class without positives, as CLIP_benchmark counts it)."""
    _check(scores, targets)
    out = torch.zeros(scores.shape[1], dtype=torch.float64)
    for c in range(scores.shape[1]):
        hits = ranked_hits(scores[:, c], targets[:, c])
        positives = int(hits.sum())
        if positives:
            tp, ranks = _precision_recall_counts(hits)
            out[c] = (tp[hits].double() / ranks[hits].double()).sum() / positives
    return out


def ap_11point(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Float64 [C]: the VOC2007 11-point interpolated AP of each class (NaN for a class without positives:
    recall is undefined there)."""
    _check(scores, targets)
    out = torch.full((scores.shape[1],), float("nan"), dtype=torch.float64)
    levels = torch.arange(RECALL_LEVELS, dtype=torch.long)
    for c in range(scores.shape[1]):
        hits = ranked_hits(scores[:, c], targets[:, c])
        positives = int(hits.sum())
        if not positives:
            continue
        tp, ranks = _precision_recall_counts(hits)
        precision = tp.double() / ranks.double()
        # reached[i, j]: cut-off j has recall >= i/10, compared in integers: 10·TP >= i·P.
        reached = (RECALL_LEVELS - 1) * tp.view(1, -1) >= levels.view(-1, 1) * positives
        best = torch.where(reached, precision.view(1, -1), torch.zeros((), dtype=torch.float64)).amax(dim=1)
        out[c] = best.mean()
    return out


def zeroshot_multilabel_metrics(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, object]:
    """Zero-shot multilabel metrics from logits [N, C] and multi-hot targets [N, C] (any 0/1 dtype):
    ``map_11point`` (mean 11-point AP over the classes with a positive; the main VOC2007 metric),
    ``mean_average_precision`` (mean non-interpolated AP over all classes, CLIP_benchmark's), and the per-class
    tensors ``ap_11point_per_class`` and ``ap_per_class`` (float64 [C])."""
    per_class_11 = ap_11point(logits, targets)
    per_class = average_precision(logits, targets)
    present = ~per_class_11.isnan()
    return {
        "map_11point": float(per_class_11[present].mean()) if bool(present.any()) else float("nan"),
        "mean_average_precision": float(per_class.mean()) if per_class.numel() else float("nan"),
        "ap_11point_per_class": per_class_11,
        "ap_per_class": per_class,
    }
