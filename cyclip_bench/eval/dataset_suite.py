"""``eval --dataset NAME …`` without a suite file: an in-memory suite whose tasks follow what each dataset holds.

A labelled dataset gets ``zeroshot``, and ``linear_probe`` + ``consistency`` when its train split is on disk; a
retrieval dataset gets ``retrieval`` and ``geometry`` (the consistency measurements of its image-caption pairs); a
multilabel dataset (multi-hot targets, e.g. VOC2007) gets ``zeroshot`` (11-point mAP) only; ``winogavil`` (DataComp's
association set, outside the catalog: ``NAMED_KINDS``) gets ``association`` (Jaccard), what ``--task zeroshot``
means for it. ``--task`` narrows to the kinds it names (``consistency`` on a retrieval set is its ``geometry``
task). The suite is named after the datasets, so the results file name (``<label>__<suite>.json``) is stable
across runs: ``datasets-<d1>+<d2>…`` with each dataset spelt as a file name (``/`` → ``-``; ``FORMAT:PATH`` →
``FORMAT-<folder name>``), shortened past ``MAX_NAME`` characters to the first three and a digest of the whole list."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from cyclip_bench.data.catalog import (
    LABELLED,
    MULTILABEL,
    REF_FORMATS,
    RETRIEVAL,
    DataKind,
    check_dataset_name,
    dataset_kind,
    has_split,
)
from cyclip_bench.data.winogavil import ASSOCIATION
from cyclip_bench.data.winogavil import NAME as WINOGAVIL
from cyclip_bench.errors import ConfigError, DataError, UserError
from cyclip_bench.eval.suite import DatasetRef, SuiteSpec, TaskSpec, suite_sha256
from cyclip_bench.registry import did_you_mean

SUITE_PREFIX = "datasets-"
SUITE_VERSION = 1
MAX_NAME = 120
# Dataset names outside the catalog, and the data kind each is read as.
NAMED_KINDS: dict[str, DataKind] = {WINOGAVIL: ASSOCIATION}
# --task name → the task kind it means for a labelled, a retrieval, a multilabel and an association dataset (None:
# not applicable).
TASK_KINDS: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    "zeroshot": ("zeroshot", None, "zeroshot", "association"),
    "linear_probe": ("linear_probe", None, None, None),
    "retrieval": (None, "retrieval", None, None),
    "consistency": ("consistency", "geometry", None, None),
}
_COLUMNS: tuple[DataKind, ...] = (LABELLED, RETRIEVAL, MULTILABEL, ASSOCIATION)
_HELD = {
    LABELLED: "labelled images",
    RETRIEVAL: "images with captions",
    MULTILABEL: "images with multi-hot labels",
    ASSOCIATION: "cues with candidate images",
}
_NEEDS_TRAIN = ("linear_probe", "consistency")


def dataset_ref(value: str) -> DatasetRef:
    """A ``--dataset`` value: ``FORMAT:PATH`` (a path table), else a catalog name or ``wds/<name>`` (checked,
    with did-you-mean)."""
    head, sep, path = value.partition(":")
    if sep and head in REF_FORMATS:
        if not path:
            raise ConfigError(f"--dataset {value}: nothing after '{head}:' (expected {head}:PATH)")
        return {"path": path, "format": head}
    if value in NAMED_KINDS:
        return value
    try:
        check_dataset_name(value)
    except UserError as err:
        hint = did_you_mean(value, list(NAMED_KINDS))
        if hint:
            raise UserError(f"unknown dataset {value!r}.{hint}") from None
        raise err from None
    return value


def _label(ref: DatasetRef) -> str:
    if isinstance(ref, str):
        return ref.replace("/", "-")
    return f"{ref['format']}-{Path(os.path.normpath(ref['path'])).name or 'root'}"


def suite_name(labels: Sequence[str]) -> str:
    """``datasets-<label>+<label>…``; past ``MAX_NAME`` characters the first three and a digest of all."""
    name = SUITE_PREFIX + "+".join(labels)
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256("\n".join(labels).encode("utf-8")).hexdigest()[:10]
    return f"{SUITE_PREFIX}{'+'.join(labels[:3])}+{len(labels) - 3}-more-{digest}"


def _kinds(value: str, ref: DatasetRef, data: DataKind, wanted: Sequence[str], data_root: Path | None) -> list[str]:
    """The task kinds for one dataset of kind ``data``, in a fixed order."""
    column = _COLUMNS.index(data)
    labelled = data is LABELLED
    has_train = labelled and has_split(ref, data_root, "train")
    chosen = []
    for task, kinds in TASK_KINDS.items():
        kind = kinds[column]
        if kind is None or (wanted and task not in wanted):
            continue
        if labelled and task in _NEEDS_TRAIN and not has_train:
            if wanted:
                raise DataError(
                    f"--task {task} on --dataset {value}: it fits on a train split, and none was found under "
                    f"{data_root} (no train/ split folder in its webdataset copy or released layout)"
                )
            continue
        chosen.append(kind)
    if not chosen:
        held = _HELD[data]
        fits = [t for t, k in TASK_KINDS.items() if k[column] is not None]
        raise ConfigError(
            f"--dataset {value} holds {held}: --task {', '.join(wanted)} has nothing to run on it (it supports "
            f"{', '.join(fits)})"
        )
    return chosen


def dataset_suite(
    datasets: Sequence[str], tasks: Sequence[str] = (), data_root: str | os.PathLike | None = None
) -> SuiteSpec:
    """The suite ``eval --dataset`` runs (see the module doc); every dataset is located (kind and train split
    found) but not read."""
    root = Path(data_root) if data_root is not None else None
    specs: list[TaskSpec] = []
    labels: list[str] = []
    for value in datasets:
        ref = dataset_ref(value)
        label = _label(ref)
        if label in labels:
            raise ConfigError(f"--dataset {value}: given twice (each dataset once)")
        labels.append(label)
        data = NAMED_KINDS[ref] if isinstance(ref, str) and ref in NAMED_KINDS else dataset_kind(ref, root)
        for kind in _kinds(value, ref, data, tasks, root):
            specs.append(TaskSpec(name=f"{label}-{kind}", kind=kind, dataset=ref))
    name = suite_name(labels)
    shown = " ".join(f"--dataset {d}" for d in datasets) + "".join(f" --task {t}" for t in tasks)
    return SuiteSpec(
        name=name,
        version=SUITE_VERSION,
        description=f"eval {shown}",
        tasks=tuple(specs),
        source="datasets",
        path=shown,
        sha256=suite_sha256(name, SUITE_VERSION, tuple(specs)),
    )


__all__ = ["NAMED_KINDS", "TASK_KINDS", "dataset_ref", "dataset_suite", "suite_name"]
