"""Zero-shot classification metrics: class embeddings from templates, top-k, per-class recall, fine/coarse."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cyclip_bench.metrics.ranking import pessimistic_argmax, pessimistic_rank


def class_embeddings(template_embeddings: torch.Tensor) -> torch.Tensor:
    """[C, T, d] text embeddings (one per class × template) → [C, d] class embeddings.

    Each template embedding is L2-normalised, the templates are averaged and the mean is renormalised (CLIP's
    prompt ensembling, as docs/paper.md describes it).
    """
    if template_embeddings.ndim != 3:
        raise ValueError(f"expected [classes, templates, dim], got shape {tuple(template_embeddings.shape)}")
    mean = F.normalize(template_embeddings.float(), dim=-1).mean(dim=1)
    return F.normalize(mean, dim=-1)


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Bool [N]: the true label is among the k highest logits, ties pessimistic (fewer than k other classes
    score at least as high as the label; docs/evaluation.md, "Ties"). k is capped at the number of classes."""
    k = max(1, min(int(k), logits.shape[1]))
    return pessimistic_rank(logits, labels) < k


def predictions_against(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Long [N]: the predicted class under the same tie rule as ``topk_correct``: the label only when every other
    class scores strictly lower, else the highest other class (equal logits: the lowest index). So
    ``predictions_against(l, y) == y`` exactly where ``topk_correct(l, y, 1)``, and per-class recall agrees with
    top-1."""
    return pessimistic_argmax(logits, labels)


def mean_per_class_recall(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over the classes present in ``labels`` of the fraction of their examples predicted correctly
    (balanced accuracy, scikit-learn's ``balanced_accuracy_score``; counted in integers, averaged in float64)."""
    labels = labels.long().view(-1)
    if labels.numel() == 0:
        return float("nan")
    if int(labels.min()) < 0:
        raise ValueError(f"labels must be class indices >= 0, got {int(labels.min())}")
    counts = torch.bincount(labels)
    hits = torch.bincount(labels[predictions.long().view(-1) == labels], minlength=counts.numel())
    present = counts > 0
    return float((hits[present].double() / counts[present].double()).mean())


def _class_to_superclass(superclasses: dict[str, list[int]], num_classes: int) -> torch.Tensor:
    """[C] index of each class's superclass (order of ``superclasses``); -1 for a class in none."""
    owner = torch.full((num_classes,), -1, dtype=torch.long)
    for s, members in enumerate(superclasses.values()):
        for c in members:
            if not 0 <= c < num_classes:
                raise ValueError(f"superclass member {c} is outside 0..{num_classes - 1}")
            if owner[c] != -1:
                raise ValueError(f"class {c} belongs to more than one superclass")
            owner[c] = s
    return owner


def fine_correct(logits: torch.Tensor, labels: torch.Tensor, superclasses: dict[str, list[int]]) -> torch.Tensor:
    """Bool [N]: correct when classifying among the subclasses of the true label's superclass only.

    A label in no superclass is classified among all classes (so every test image counts, as in docs/paper.md).
    Ties are pessimistic, as in ``topk_correct``.
    """
    owner = _class_to_superclass(superclasses, logits.shape[1])
    label_owner = owner[labels]
    # Mask out every class outside the true superclass; classes of unowned labels keep all logits.
    same = owner.view(1, -1) == label_owner.view(-1, 1)
    keep = same | (label_owner.view(-1, 1) == -1)
    masked = logits.masked_fill(~keep, float("-inf"))
    return pessimistic_rank(masked, labels) == 0


def coarse_correct(
    logits: torch.Tensor, labels: torch.Tensor, superclasses: dict[str, list[int]], k: int = 1
) -> torch.Tensor:
    """Bool [N]: superclass score = max over its subclasses' logits; the true superclass is in the top k."""
    owner = _class_to_superclass(superclasses, logits.shape[1])
    scores = torch.stack([logits[:, members].max(dim=1).values for members in superclasses.values()], dim=1)
    target = owner[labels]
    hit = topk_correct(scores, target.clamp(min=0), k)
    return hit & (target >= 0)
