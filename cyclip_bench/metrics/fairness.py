"""Group and per-class metrics of the WILDS and fairness tasks, as DataComp reports them.

- ``worst_group_accuracy``: the lowest accuracy over the groups that have examples (WILDS ``worst`` over groups
  with a non-zero count). DataComp's FMoW main metric groups by region (the "Other" region left out: give it a
  negative group id), GeoDE's by region, Dollar Street's by income bucket with top-5 hits.
- ``macro_f1``: the unweighted mean of the per-class F1 = 2·TP / (2·TP + FP + FN) over the classes present in the
  labels (WILDS' ``F1(average="macro")`` passes ``labels=unique(y_true)`` to scikit-learn), iWildCam's main metric.

Hits come from ``topk_correct`` and predictions from ``predictions_against``, so ties are pessimistic.

Where the groups come from: DataComp's webdataset copies of the WILDS and fairness sets carry one ``.npy`` per
sample, a vector of integer metadata whose columns DataComp's evaluators name (``SAMPLE_METADATA``: FMoW
``region, year, y``; Dollar Street ``income_ds, income_meta, region``; GeoDE ``region, country``; iWildCam
``location, sequence, year, month, day, hour, minute, second, y``; Camelyon17 ``hospital, slide, y``).
``SampleMetadata.group_ids`` turns those rows into the group id of each example for the dataset's worst-group metric
(FMoW and GeoDE by ``region``, Dollar Street by ``income_ds``), the left-out values mapped to −1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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


# WILDS' FMoW region list (``metadata_map["region"]``): Asia, Europe, Africa, Americas, Oceania, Other. WILDS leaves
# "Other" out of the worst-region accuracy.
FMOW_OTHER_REGION = 5


@dataclass(frozen=True)
class SampleMetadata:
    """The per-sample metadata of one of DataComp's WILDS/fairness copies: its ``fields`` (the ``.npy`` columns in
    DataComp's order), the field its worst-group metric groups by (None: no group metric, e.g. iWildCam's macro-F1)
    and the values of that field left out of every group (FMoW's "Other" region)."""

    fields: tuple[str, ...]
    group_by: str | None = None
    excluded: tuple[int, ...] = ()

    def group_ids(self, rows: np.ndarray) -> torch.Tensor:
        """The group of each example from its metadata row ([N, len(fields)] integers), −1 where left out.
        A row of another width, a non-integer or a negative group value is a ValueError (WILDS' grouper refuses
        negative values too)."""
        if self.group_by is None:
            raise ValueError(f"no group field: the metadata {', '.join(self.fields)} defines no worst-group metric")
        rows = np.asarray(rows)
        if rows.ndim != 2 or rows.shape[1] != len(self.fields):
            raise ValueError(
                f"expected metadata rows of {len(self.fields)} values ({', '.join(self.fields)}), got shape "
                f"{tuple(rows.shape)}"
            )
        column = rows[:, self.fields.index(self.group_by)]
        if column.dtype.kind == "f" and not np.all(np.isfinite(column) & (column == np.round(column))):
            raise ValueError(f"{self.group_by}: metadata values must be whole numbers")
        groups = torch.as_tensor(column.astype(np.int64))
        if groups.numel() and int(groups.min()) < 0:
            raise ValueError(
                f"{self.group_by}: metadata value {int(groups.min())} is negative (group ids are 0, 1, ...)"
            )
        for value in self.excluded:
            groups[groups == value] = -1
        return groups


# DataComp's catalog names (``cyclip_bench.data.metadata.metadata_key``) → their copies' per-sample metadata.
SAMPLE_METADATA: dict[str, SampleMetadata] = {
    "fmow": SampleMetadata(("region", "year", "y"), "region", (FMOW_OTHER_REGION,)),
    "dollar_street": SampleMetadata(("income_ds", "income_meta", "region"), "income_ds"),
    "geode": SampleMetadata(("region", "country"), "region"),
    "iwildcam": SampleMetadata(("location", "sequence", "year", "month", "day", "hour", "minute", "second", "y")),
    "camelyon17": SampleMetadata(("hospital", "slide", "y")),
}
