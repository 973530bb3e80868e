"""Metric math: pure functions on tensors (no I/O, no models). Each is tested against a naive reference."""

from cyclip_bench.metrics.classification import (
    class_embeddings,
    coarse_correct,
    fine_correct,
    mean_per_class_recall,
    predictions_against,
    topk_correct,
)
from cyclip_bench.metrics.consistency import (
    alignment,
    average_ranks,
    cone,
    consistency_at_k,
    crossmodal_asymmetry_normalised,
    crossmodal_gap,
    crossmodal_rank_correlation,
    inmodal_gap,
    inmodal_gap_normalised,
    inmodal_rank_correlation,
    knn_majority_labels,
    modality_gap,
    spearman,
    uniformity,
)
from cyclip_bench.metrics.retrieval import (
    image_to_text_hits,
    image_to_text_ranks,
    text_to_image_hits,
    text_to_image_ranks,
)
from cyclip_bench.metrics.robustness import effective_robustness, fit_logit_line

__all__ = [
    "alignment",
    "average_ranks",
    "class_embeddings",
    "coarse_correct",
    "cone",
    "consistency_at_k",
    "crossmodal_asymmetry_normalised",
    "crossmodal_gap",
    "crossmodal_rank_correlation",
    "effective_robustness",
    "fine_correct",
    "fit_logit_line",
    "image_to_text_hits",
    "image_to_text_ranks",
    "inmodal_gap",
    "inmodal_gap_normalised",
    "inmodal_rank_correlation",
    "knn_majority_labels",
    "mean_per_class_recall",
    "modality_gap",
    "predictions_against",
    "spearman",
    "text_to_image_hits",
    "text_to_image_ranks",
    "topk_correct",
    "uniformity",
]
