"""Zero-shot classification: top-1/3/5 (k capped at the class count), mean per-class recall, and the dataset's main
metric (``extra.main_metric``: macro-F1, worst-group accuracy over the dataset's groups); multilabel datasets
(multi-hot ``targets``, e.g. VOC2007) get 11-point mAP and per-class AP instead (``zeroshot_multilabel_metrics``).

The groups of a worst-group metric (``dataset_groups``) are the dataset's own ``groups`` when it has them, else
its webdataset copy's per-sample ``.npy`` metadata grouped as DataComp groups it (``metrics.fairness.
SAMPLE_METADATA``: FMoW by region without "Other", GeoDE by region, Dollar Street by income bucket); without
either, a worst-group main metric stands in with top-k and the result says so (``extra.main_metric_missing``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cyclip_bench.data.catalog import LABELLED, classes_kind
from cyclip_bench.data.metadata import (
    DEFAULT_MAIN_METRIC,
    MAIN_METRICS,
    ClassMetadata,
    dataset_main_metric,
    dataset_metadata,
    load_class_metadata,
    metadata_key,
)
from cyclip_bench.errors import ConfigError, DataError, UserError
from cyclip_bench.eval.calibration import CALIBRATION_METRICS, model_logit_scale, zeroshot_calibration
from cyclip_bench.eval.context import EvalContext
from cyclip_bench.eval.needs import DataNeed
from cyclip_bench.eval.suite import DatasetRef, TaskSpec
from cyclip_bench.eval.tasks.base import TASKS, TaskKind, as_int_list, fraction
from cyclip_bench.metrics import (
    macro_f1,
    mean_per_class_recall,
    predictions_against,
    topk_correct,
    worst_group_accuracy,
    zeroshot_multilabel_metrics,
)
from cyclip_bench.metrics.fairness import SAMPLE_METADATA, group_accuracies
from cyclip_bench.registry import did_you_mean
from cyclip_bench.results import MetricSpec, MetricTable, TaskResult
from cyclip_bench.validation import NonEmptyStr, PositiveInts


@dataclass(frozen=True)
class ZeroShotOptions:
    topk: PositiveInts = (1, 3, 5)
    # The suite's own class names and templates for this task: a class-metadata JSON file (absolute, or relative to
    # the working directory) or a shipped dataset's name ("food101", "vtab/pets"); its class count must be the
    # dataset's. None: the dataset's own (a wds copy's txt files, else the shipped JSON).
    class_metadata: NonEmptyStr | None = None
    # The task's main metric (``metadata.MAIN_METRICS``), as a suite states it (suites/datacomp.toml); None: the
    # dataset's own (its metadata's ``main_metric``, else top1).
    main_metric: NonEmptyStr | None = None


def resolve_class_metadata(value: str, where: str) -> tuple[ClassMetadata, str]:
    """(metadata, what it was read from) for a ``class_metadata`` option: a path to a JSON file when the value
    ends in .json or names a file, else a shipped dataset's name."""
    path = Path(value)
    if value.endswith(".json") or path.is_file():
        try:
            return load_class_metadata(path), str(path)
        except UserError as err:
            raise DataError(f"{where}: class_metadata: {err}") from None
    try:
        return dataset_metadata(value), f"built-in metadata {value!r}"
    except UserError as err:
        raise ConfigError(
            f"{where}: class_metadata {value!r} is neither a .json file nor a shipped dataset: {err}"
        ) from None


def is_multilabel(dataset: Any) -> bool:
    """A dataset whose examples carry multi-hot ``targets`` [N, C] rather than one label each."""
    targets = getattr(dataset, "targets", None)
    return targets is not None and getattr(targets, "ndim", 0) == 2


def main_metric_for(ref: DatasetRef | None, *declared: Any) -> str:
    """The dataset's main metric: the first ``declared`` metadata that names one (the suite's override, then the
    dataset's own), else the shipped metadata of its catalog name, else top1."""
    for meta in declared:
        main = getattr(meta, "main_metric", None)  # a dataset's metadata may be any object with classes
        if main is not None:
            return main
    if isinstance(ref, str):
        try:
            return dataset_main_metric(ref)
        except UserError:
            pass
    return DEFAULT_MAIN_METRIC


def check_labels(dataset: Any, name: str) -> None:
    """Class metadata must cover every label (a count mismatch is bad input, not a wrong number)."""
    labels = list(dataset.labels)
    num_classes = len(dataset.metadata.classes)
    if labels and (max(labels) >= num_classes or min(labels) < 0):
        raise DataError(f"{name}: labels go up to {max(labels)} but the class metadata lists {num_classes} classes")


def dataset_groups(ref: DatasetRef, dataset: Any, label: str) -> tuple[torch.Tensor | None, dict[str, Any]]:
    """(the group id of each example, < 0 for none — or None —, how they were found for ``extra.groups``): the
    dataset's own ``groups``, else its per-sample metadata rows (``sample_metadata``, a wds copy's ``.npy``)
    grouped as ``SAMPLE_METADATA`` says for its catalog name. Rows that do not fit that layout are a DataError."""
    groups = getattr(dataset, "groups", None)
    if groups is not None:
        return torch.as_tensor(list(groups), dtype=torch.long), {"source": "the dataset's groups"}
    rows = getattr(dataset, "sample_metadata", None)
    layout = SAMPLE_METADATA.get(metadata_key(ref)) if isinstance(ref, str) else None
    if rows is None or layout is None or layout.group_by is None:
        return None, {}
    try:
        ids = layout.group_ids(rows)
    except ValueError as err:
        raise DataError(f"{label}: per-sample metadata (.npy, columns {', '.join(layout.fields)}): {err}") from None
    how = {"source": "per-sample metadata (.npy)", "by": layout.group_by, "excluded": list(layout.excluded)}
    return ids, how


def zeroshot_logits(
    ctx: EvalContext, ref: DatasetRef, split: str, label: str, metadata: ClassMetadata | None = None
) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """(logits [N, C], labels [N] — or multi-hot targets [N, C] for a multilabel dataset —, dataset). The head
    is built from ``metadata`` when given (a suite's override, same class count), else the dataset's own.
    Classes outside the dataset's ``class_subset`` get −inf."""
    need = DataNeed(classes_kind(ref), ref, split)
    dataset = ctx.labelled(ref, split) if need.kind is LABELLED else ctx.dataset(need)
    multilabel = is_multilabel(dataset)
    if metadata is not None and len(metadata.classes) != len(dataset.metadata.classes):
        raise DataError(
            f"{label}: the task's class_metadata lists {len(metadata.classes)} classes but the dataset has "
            f"{len(dataset.metadata.classes)}"
        )
    if not multilabel:
        check_labels(dataset, label)
    head = ctx.zeroshot_head(metadata or dataset.metadata, label)
    features = ctx.image_features(ref, split) if need.kind is LABELLED else ctx.need_image_features(need)
    images = torch.nn.functional.normalize(features, dim=-1)
    logits = images @ head.T
    subset = getattr(dataset, "class_subset", None)
    if subset is not None:  # in place: at 50,000 × 1,000 a masked copy would be another 200 MB
        outside = torch.ones(logits.shape[1], dtype=torch.bool)
        outside[list(subset)] = False
        logits[:, outside] = float("-inf")
    targets = torch.as_tensor(dataset.targets).long() if multilabel else ctx.labels(ref, split)
    return logits, targets, dataset


@TASKS.register("zeroshot", aliases=("zero-shot",))
class ZeroShot(TaskKind):
    Options = ZeroShotOptions
    metrics = MetricTable(
        MetricSpec("top*", True, "fraction"),
        MetricSpec("mean_per_class_recall", True, "fraction"),
        MetricSpec("macro_f1", True, "fraction"),
        MetricSpec("worst_group_top*", True, "fraction"),
        MetricSpec("map_11point", True, "fraction"),
        MetricSpec("mean_average_precision", True, "fraction"),
        *CALIBRATION_METRICS,
    )

    def __init__(self, spec: TaskSpec) -> None:
        super().__init__(spec)
        where = f"task {spec.name!r} ({spec.kind})"
        self.data_kind = classes_kind(spec.dataset)  # LABELLED, or MULTILABEL (multi-hot targets: 11-point mAP)
        main = self.options.main_metric
        if main is not None and main not in MAIN_METRICS:
            raise ConfigError(
                f"{where}: main_metric {main!r} is not a known metric.{did_you_mean(main, list(MAIN_METRICS))} "
                f"Known: {', '.join(MAIN_METRICS)}"
            )
        # Read at plan time, so a bad file fails a --dry-run rather than the run.
        self.class_metadata, self.class_metadata_source = (
            resolve_class_metadata(self.options.class_metadata, where)
            if self.options.class_metadata is not None
            else (None, None)
        )

    def needs(self) -> list[DataNeed]:
        return [DataNeed(self.data_kind, self.spec.dataset, self.spec.split)]

    def run(self, ctx: EvalContext) -> TaskResult:
        label = f"{self.result({}, {}).dataset}/{self.spec.split}"
        logits, targets, dataset = zeroshot_logits(ctx, self.spec.dataset, self.spec.split, label, self.class_metadata)
        meta = self.class_metadata or dataset.metadata
        main = main_metric_for(self.spec.dataset, self.options, self.class_metadata, dataset.metadata)
        extra: dict[str, Any] = {"num_classes": len(meta.classes), "num_examples": int(targets.shape[0])}
        extra["main_metric"] = main
        if self.class_metadata_source is not None:
            extra["class_metadata"] = self.class_metadata_source
        if is_multilabel(dataset):
            return self._multilabel(logits, targets, meta, extra)
        metrics, info, per_example = {}, {}, {}
        labels = targets
        wanted_k = _topk_of(main.removeprefix(GROUP_METRIC_PREFIX))  # a worst-group top-k's stand-in is top-k
        for k in sorted({*self.options.topk, *wanted_k}):  # ties pessimistic: docs/evaluation.md, "Ties"
            hits = topk_correct(logits, labels, k)
            metrics[f"top{k}"] = fraction(hits)
            info[f"top{k}"] = self.metric_info(f"top{k}", f"top{k}")
            per_example[f"top{k}"] = as_int_list(hits)
        predictions = predictions_against(logits, labels)  # == label exactly where top-1 is a hit
        metrics["mean_per_class_recall"] = mean_per_class_recall(predictions, labels)
        info["mean_per_class_recall"] = self.metric_info("mean_per_class_recall")
        if main == "macro_f1":
            metrics["macro_f1"] = macro_f1(predictions, labels)
            info["macro_f1"] = self.metric_info("macro_f1")
        groups, grouping = dataset_groups(self.spec.dataset, dataset, label)
        if groups is not None:  # per-example group ids (WILDS region, income bucket); < 0 = in no group
            if groups.shape != labels.shape:
                raise DataError(f"{label}: {groups.numel()} group ids for {labels.numel()} examples")
            member = groups >= 0
            ids, counts = groups[member].unique(return_counts=True)
            grouping["counts"] = {str(g): int(n) for g, n in zip(ids.tolist(), counts.tolist(), strict=True)}
            for k in (1, 5):
                name = f"worst_group_top{k}"
                hits = topk_correct(logits, labels, k)
                metrics[name] = worst_group_accuracy(hits, groups)
                info[name] = self.metric_info(name)
                grouping[f"top{k}"] = {str(g): a for g, a in group_accuracies(hits, groups).items()}
            per_example["group"] = as_int_list(groups)
            extra["groups"] = grouping
        elif main.startswith(GROUP_METRIC_PREFIX):
            # The group of each example (FMoW's region, Dollar Street's income bucket, GeoDE's region) is
            # per-example metadata the dataset as read here does not carry: say so, and stand in with top-k.
            stand_in = main[len(GROUP_METRIC_PREFIX) :]
            extra["main_metric_missing"] = (
                f"{main} needs the group of each example (per-example metadata this copy of the dataset does not "
                f"supply); {stand_in} is reported as the main metric instead"
            )
            extra["main_metric_wanted"], extra["main_metric"] = main, stand_in
        per_example["label"] = as_int_list(labels)
        per_example["prediction"] = as_int_list(predictions)
        calibration, calibration_extra = zeroshot_calibration(
            logits, labels, predictions, model_logit_scale(getattr(getattr(ctx, "encoder", None), "model", None))
        )
        for name, value in calibration.items():
            metrics[name], info[name] = value, self.metric_info(name)
        subset = getattr(dataset, "class_subset", None)
        extra["k_capped_at"] = int(logits.shape[1] if subset is None else len(subset))
        if subset is not None:
            extra["class_subset"] = list(subset)
        extra["calibration"] = calibration_extra
        return self.result(metrics, info, per_example=per_example, class_names=list(meta.classes), extra=extra)

    def _multilabel(
        self, logits: torch.Tensor, targets: torch.Tensor, meta: ClassMetadata, extra: dict[str, Any]
    ) -> TaskResult:
        """11-point mAP (main) and CLIP_benchmark's non-interpolated mAP; per-class APs in ``extra``."""
        found = zeroshot_multilabel_metrics(logits, targets)
        metrics = {m: found[m] for m in ("map_11point", "mean_average_precision")}
        info = {m: self.metric_info(m) for m in metrics}
        extra["ap_11point_per_class"] = [float(x) for x in found["ap_11point_per_class"].tolist()]
        extra["ap_per_class"] = [float(x) for x in found["ap_per_class"].tolist()]
        extra["positives_per_class"] = [int(x) for x in (targets > 0).sum(dim=0).tolist()]
        return self.result(metrics, info, class_names=list(meta.classes), extra=extra)


GROUP_METRIC_PREFIX = "worst_group_"


def _topk_of(metric: str) -> tuple[int, ...]:
    """The k a main metric 'top<k>' needs computed whatever the task's ``topk`` option says."""
    return (int(metric[3:]),) if metric.startswith("top") and metric[3:].isdigit() else ()
