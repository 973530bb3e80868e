"""WinoGAViL's association score: pick as many candidate images as the cue has associations, score the pick by
the Jaccard index against the true associations (DataComp's ``jaccard_score_10-12`` is its mean over the
instances with 10 or 12 candidates).

The pick is the k = |true associations| highest-scoring candidates with ties pessimistic (docs/evaluation.md,
"Ties"): at a tie across the k-th place the wrong candidates are taken first, and a NaN score never helps (a true
candidate's NaN counts as −inf, a wrong one's as +inf), so the score does not depend on the candidates' order.
"""

from __future__ import annotations

import torch

from cyclip_bench.metrics.multilabel import pessimistic_order


def jaccard_index(predicted: torch.Tensor, truth: torch.Tensor) -> float:
    """|predicted ∩ truth| / |predicted ∪ truth| of two boolean masks (0 when both are empty, as scikit-learn's
    ``jaccard_score`` with its default zero_division)."""
    if predicted.shape != truth.shape:
        raise ValueError(f"masks of different shapes: {tuple(predicted.shape)} and {tuple(truth.shape)}")
    predicted, truth = predicted.bool(), truth.bool()
    union = int((predicted | truth).sum())
    return int((predicted & truth).sum()) / union if union else 0.0


def top_k_pick(scores: torch.Tensor, truth: torch.Tensor, k: int) -> torch.Tensor:
    """Bool [M]: the k highest-scoring candidates, wrong candidates first among equal scores."""
    pick = torch.zeros(truth.shape, dtype=torch.bool)
    pick[pessimistic_order(scores, truth)[: max(0, int(k))]] = True
    return pick


def association_jaccard(scores: torch.Tensor, truth: torch.Tensor) -> float:
    """One WinoGAViL instance: scores [M] of the candidates against the cue, truth [M] its associations."""
    truth = truth.bool()
    return jaccard_index(top_k_pick(scores, truth, int(truth.sum())), truth)
