"""Zero-shot classification: top-1/3/5 (k capped at the class count) and mean per-class recall."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from cyclip_bench.errors import DataError
from cyclip_bench.eval.calibration import CALIBRATION_METRICS, model_logit_scale, zeroshot_calibration
from cyclip_bench.eval.context import EvalContext
from cyclip_bench.eval.suite import DatasetRef
from cyclip_bench.eval.tasks.base import TASKS, TaskKind, as_int_list, fraction
from cyclip_bench.metrics import mean_per_class_recall, predictions_against, topk_correct
from cyclip_bench.results import MetricSpec, MetricTable, TaskResult
from cyclip_bench.validation import PositiveInts


@dataclass(frozen=True)
class ZeroShotOptions:
    topk: PositiveInts = (1, 3, 5)


def check_labels(dataset: Any, name: str) -> None:
    """Class metadata must cover every label (a count mismatch is bad input, not a wrong number)."""
    labels = list(dataset.labels)
    num_classes = len(dataset.metadata.classes)
    if labels and (max(labels) >= num_classes or min(labels) < 0):
        raise DataError(f"{name}: labels go up to {max(labels)} but the class metadata lists {num_classes} classes")


def zeroshot_logits(
    ctx: EvalContext, ref: DatasetRef, split: str, label: str
) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """(logits [N, C], labels [N], dataset). Classes outside the dataset's ``class_subset`` get −inf."""
    dataset = ctx.labelled(ref, split)
    check_labels(dataset, label)
    head = ctx.zeroshot_head(dataset.metadata, label)
    images = torch.nn.functional.normalize(ctx.image_features(ref, split), dim=-1)
    logits = images @ head.T
    subset = getattr(dataset, "class_subset", None)
    if subset is not None:  # in place: at 50,000 × 1,000 a masked copy would be another 200 MB
        outside = torch.ones(logits.shape[1], dtype=torch.bool)
        outside[list(subset)] = False
        logits[:, outside] = float("-inf")
    return logits, ctx.labels(ref, split), dataset


@TASKS.register("zeroshot", aliases=("zero-shot",))
class ZeroShot(TaskKind):
    Options = ZeroShotOptions
    metrics = MetricTable(
        MetricSpec("top*", True, "fraction"),
        MetricSpec("mean_per_class_recall", True, "fraction"),
        *CALIBRATION_METRICS,
    )

    def run(self, ctx: EvalContext) -> TaskResult:
        label = f"{self.result({}, {}).dataset}/{self.spec.split}"
        logits, labels, dataset = zeroshot_logits(ctx, self.spec.dataset, self.spec.split, label)
        metrics, info, per_example = {}, {}, {}
        for k in self.options.topk:  # ties pessimistic: docs/evaluation.md, "Ties"
            hits = topk_correct(logits, labels, k)
            metrics[f"top{k}"] = fraction(hits)
            info[f"top{k}"] = self.metric_info(f"top{k}", f"top{k}")
            per_example[f"top{k}"] = as_int_list(hits)
        predictions = predictions_against(logits, labels)  # == label exactly where top-1 is a hit
        metrics["mean_per_class_recall"] = mean_per_class_recall(predictions, labels)
        info["mean_per_class_recall"] = self.metric_info("mean_per_class_recall")
        per_example["label"] = as_int_list(labels)
        per_example["prediction"] = as_int_list(predictions)
        calibration, calibration_extra = zeroshot_calibration(
            logits, labels, predictions, model_logit_scale(getattr(ctx.encoder, "model", None))
        )
        for name, value in calibration.items():
            metrics[name], info[name] = value, self.metric_info(name)
        subset = getattr(dataset, "class_subset", None)
        extra = {
            "num_classes": len(dataset.metadata.classes),
            "num_examples": len(labels),
            "k_capped_at": int(logits.shape[1] if subset is None else len(subset)),
        }
        if subset is not None:
            extra["class_subset"] = list(subset)
        extra["calibration"] = calibration_extra
        return self.result(
            metrics, info, per_example=per_example, class_names=list(dataset.metadata.classes), extra=extra
        )
