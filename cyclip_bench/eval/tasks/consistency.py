"""Consistency of the two embedding spaces (the benchmark's subject):

- consistency@k: zero-shot label of each test image vs the majority (true) label of its k nearest train
images;
- in-/cross-modal gaps, per-pair cyclic losses, their scale-free versions (rank correlations, gaps in units
  of the similarities' spread), modality gap, cone, alignment and uniformity over held-out image–caption
  pairs (``pairs``: a retrieval dataset; each image with its first caption);
- on the same pairs, the geometry of the 2024–2026 literature: relative modality gap and L2I (Schrodi et al.),
  mutual k-NN alignment, CKNNA and linear CKA (Huh et al.), hubness of retrieval both ways (``neighbours``: its k);
- fine / coarse zero-shot accuracy when the class metadata has superclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from cyclip_bench.data.catalog import LABELLED, RETRIEVAL, has_split
from cyclip_bench.eval.context import EvalContext
from cyclip_bench.eval.suite import dataset_label
from cyclip_bench.eval.tasks.base import TASKS, DataNeed, TaskKind, as_int_list, fraction
from cyclip_bench.eval.tasks.zeroshot import check_labels, zeroshot_logits
from cyclip_bench.metrics import (
    alignment,
    cknna,
    coarse_correct,
    cone,
    consistency_at_k,
    crossmodal_asymmetry_normalised,
    crossmodal_gap,
    crossmodal_rank_correlation,
    fine_correct,
    hubness,
    inmodal_gap,
    inmodal_gap_normalised,
    inmodal_rank_correlation,
    linear_cka,
    modality_gap,
    mutual_knn_alignment,
    paired_l2_gap,
    predictions_against,
    relative_modality_gap,
    uniformity,
)
from cyclip_bench.results import MetricInfo, MetricSpec, MetricTable, TaskResult
from cyclip_bench.validation import FileName, PositiveInts


@dataclass(frozen=True)
class ConsistencyOptions:
    train_split: FileName = "train"
    k: PositiveInts = (1, 3, 5, 10)
    # Held-out image–caption pairs for the gap measurements: a retrieval catalog name or a path table
    # ({path = "captions/val.csv", format = "captions"}); "" = skip them (recorded in extra.skipped).
    pairs: str | dict = ""
    # k of mutual k-NN alignment, CKNNA (k ≥ 2 only) and hubness on the pairs; capped at the number of pairs − 1.
    neighbours: PositiveInts = (10,)
    # True: where the train split is not on disk (a test-only copy, e.g. DataComp's), consistency@k is skipped
    # (recorded in extra.skipped_consistency) and the rest measured; False: a missing train split is an error.
    skip_without_train: bool = False


def first_caption_pairs(caption_image: torch.Tensor, num_images: int) -> torch.Tensor:
    """[I] index of the first caption of every image (every image must have one)."""
    first = torch.full((num_images,), -1, dtype=torch.long)
    for caption in range(len(caption_image) - 1, -1, -1):
        first[caption_image[caption]] = caption
    if (first < 0).any():
        raise ValueError(f"{int((first < 0).sum())} image(s) of the pairs dataset have no caption")
    return first


# Every metric this kind produces: direction and unit (the metric_info its results carry).
CONSISTENCY_METRICS = MetricTable(
    MetricSpec("consistency@*", True, "fraction"),
    MetricSpec("fine_top1", True, "fraction"),
    MetricSpec("coarse_top1", True, "fraction"),
    MetricSpec("inmodal_gap", False, "cosine"),
    MetricSpec("crossmodal_gap", False, "cosine"),
    MetricSpec("*_loss_per_pair", False, "squared cosine"),
    # Scale-free: unchanged by a narrower (or wider) cone, which shrinks (widens) the absolute gaps above.
    MetricSpec("*_rank_correlation", True, "rank correlation"),
    MetricSpec("inmodal_gap_normalised", False, "similarity std"),
    MetricSpec("crossmodal_asymmetry_normalised", False, "similarity std"),
    MetricSpec("modality_gap", False, "distance"),
    MetricSpec("cone_*", False, "cosine"),
    # Wang & Isola's alignment and uniformity (not CyCLIP's cross-modal mean-cosine variant, which is not reported).
    MetricSpec("align_image_text", False, "squared distance"),
    MetricSpec("uniform_*", False, "log"),
    # The 2024–2026 geometry (metrics/geometry.py).
    MetricSpec("relative_modality_gap", False, "ratio"),
    MetricSpec("l2i", False, "distance"),
    MetricSpec("mutual_knn@*", True, "fraction"),
    MetricSpec("cknna@*", True, "kernel alignment"),
    MetricSpec("linear_cka", True, "kernel alignment"),
    MetricSpec("hubness_skew_*", False, "skewness"),
    MetricSpec("antihubs_*", False, "fraction"),
)


def space_metrics(images: torch.Tensor, texts: torch.Tensor) -> dict[str, tuple[float, MetricInfo]]:
    """The geometry of paired image/text features: name → (value, its declared MetricInfo)."""
    inm, crm = inmodal_gap(images, texts), crossmodal_gap(images, texts)
    values = {
        "inmodal_gap": inm["gap"],
        "crossmodal_gap": crm["gap"],
        "inmodal_loss_per_pair": inm["loss_per_pair"],
        "crossmodal_loss_per_pair": crm["loss_per_pair"],
        "inmodal_rank_correlation": inmodal_rank_correlation(images, texts),
        "crossmodal_rank_correlation": crossmodal_rank_correlation(images, texts),
        "inmodal_gap_normalised": inmodal_gap_normalised(images, texts),
        "crossmodal_asymmetry_normalised": crossmodal_asymmetry_normalised(images, texts),
        "modality_gap": modality_gap(images, texts),
        "cone_image": cone(images),
        "cone_text": cone(texts),
        "align_image_text": alignment(images, texts),
        "uniform_image": uniformity(images),
        "uniform_text": uniformity(texts),
        "uniform_joint": uniformity(torch.cat([images, texts])),
    }
    return {name: (value, CONSISTENCY_METRICS.info(name)) for name, value in values.items()}


def geometry_metrics(
    images: torch.Tensor, texts: torch.Tensor, neighbours: tuple[int, ...] = (10,)
) -> tuple[dict[str, tuple[float, MetricInfo]], dict[str, Any]]:
    """The 2024–2026 geometry of N matched pairs: name → (value, MetricInfo), and notes for ``extra`` (a k capped
    at N − 1, CKNNA skipped for k < 2). Each k of ``neighbours`` gives ``mutual_knn@k``, ``cknna@k`` and the
    hubness of retrieval both ways (``*_image_to_text@k``: texts retrieved for image queries)."""
    n = int(images.shape[0])
    values: dict[str, float] = {
        "relative_modality_gap": relative_modality_gap(images, texts),
        "l2i": paired_l2_gap(images, texts),
        "linear_cka": linear_cka(images, texts),
    }
    notes: dict[str, Any] = {}
    for asked in dict.fromkeys(neighbours):
        k = min(asked, n - 1)
        if k < 1:
            notes.setdefault("skipped", []).append(f"k = {asked}: {n} pair(s) have no neighbours")
            continue
        if k != asked:
            notes.setdefault("neighbours_capped", {})[str(asked)] = k
        values[f"mutual_knn@{asked}"] = mutual_knn_alignment(images, texts, k)
        if k >= 2:
            values[f"cknna@{asked}"] = cknna(images, texts, k)
        else:
            notes.setdefault("skipped", []).append(f"cknna@{asked}: CKNNA needs k ≥ 2")
        for direction, (query, reference) in (("image_to_text", (images, texts)), ("text_to_image", (texts, images))):
            hub = hubness(query, reference, k)
            values[f"hubness_skew_{direction}@{asked}"] = hub["skewness"]
            values[f"antihubs_{direction}@{asked}"] = hub["antihub_fraction"]
    return {name: (value, CONSISTENCY_METRICS.info(name)) for name, value in values.items()}, notes


@TASKS.register("consistency")
class Consistency(TaskKind):
    Options = ConsistencyOptions
    metrics = CONSISTENCY_METRICS

    def needs(self) -> list[DataNeed]:
        ref = self.spec.dataset
        needs = [
            DataNeed(LABELLED, ref, self.spec.split),
            DataNeed(LABELLED, ref, self.options.train_split, optional=self.options.skip_without_train),
        ]
        if self.options.pairs:
            needs.append(DataNeed(RETRIEVAL, self.options.pairs))
        return needs

    def run(self, ctx: EvalContext) -> TaskResult:
        ref, opts = self.spec.dataset, self.options
        label = f"{self.result({}, {}).dataset}/{self.spec.split}"
        logits, labels, dataset = zeroshot_logits(ctx, ref, self.spec.split, label)
        predictions = predictions_against(logits, labels)  # ties as in zero-shot top-1 (docs/evaluation.md)
        metrics, info, per_example = {}, {}, {}
        extra: dict[str, Any] = {"zeroshot_top1": fraction(predictions == labels)}
        if opts.skip_without_train and not has_split(ref, ctx.data_root, opts.train_split):
            extra["skipped_consistency"] = (
                f"consistency@k: no {opts.train_split!r} split of {dataset_label(ref)} under the data root "
                f"(a test-only copy)"
            )
        else:
            self._consistency_at_k(ctx, predictions, metrics, info, per_example)
        superclasses = dataset.metadata.superclasses
        if superclasses:
            for name, hits in (
                ("fine_top1", fine_correct(logits, labels, superclasses)),
                ("coarse_top1", coarse_correct(logits, labels, superclasses)),
            ):
                metrics[name], info[name], per_example[name] = (
                    float(hits.float().mean()),
                    self.metric_info(name, name),
                    as_int_list(hits),
                )
        if opts.pairs:
            feats = ctx.retrieval_features(opts.pairs)
            captions = first_caption_pairs(feats.caption_image, feats.images.shape[0])
            pair_texts = feats.texts[captions]
            for name, (value, metric_info) in space_metrics(feats.images, pair_texts).items():
                metrics[name], info[name] = value, metric_info
            geometry, notes = geometry_metrics(feats.images, pair_texts, opts.neighbours)
            for name, (value, metric_info) in geometry.items():
                metrics[name], info[name] = value, metric_info
            if notes:
                extra["geometry"] = notes
            extra["pairs"] = {"dataset": dataset_label(opts.pairs), "num_pairs": int(feats.images.shape[0])}
        else:
            extra["skipped"] = "gap metrics: no 'pairs' dataset given"
        per_example["label"] = as_int_list(labels)
        per_example["prediction"] = as_int_list(predictions)
        return self.result(
            metrics, info, per_example=per_example, class_names=list(dataset.metadata.classes), extra=extra
        )

    def _consistency_at_k(
        self, ctx: EvalContext, predictions: torch.Tensor, metrics: dict, info: dict, per_example: dict
    ) -> None:
        """consistency@k for every k: each test image's zero-shot prediction against its k nearest train images."""
        ref, opts = self.spec.dataset, self.options
        check_labels(ctx.labelled(ref, opts.train_split), f"{self.spec.name}/{opts.train_split}")
        test_feats, train_feats = ctx.image_features(ref, self.spec.split), ctx.image_features(ref, opts.train_split)
        train_labels = ctx.labels(ref, opts.train_split)
        for k in opts.k:
            hits = consistency_at_k(predictions, test_feats, train_feats, train_labels, k)
            name = f"consistency@{k}"
            metrics[name], info[name], per_example[name] = (
                float(hits.float().mean()),
                self.metric_info(name, name),
                as_int_list(hits),
            )
