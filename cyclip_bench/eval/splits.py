"""What every task of a suite reads, split by split, built (never encoded) before a run starts — and the check
that no task fits on its own test images.

A task that reads two splits of one dataset (the linear probe's train split, consistency@k's kNN train split)
is refused when they are the same split or share an image file — its number would be measured on the images it
was fit on — or when their class lists differ (label i would name another class in each split). A missing split
is an error naming the task and the expected layout; nothing falls back from train to test
(``cyclip_bench.data.catalog.split_folder``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cyclip_bench.data.catalog import LABELLED, DataKind, has_split
from cyclip_bench.errors import ConfigError, DataError
from cyclip_bench.eval.needs import DataNeed
from cyclip_bench.eval.suite import dataset_label


@dataclass(frozen=True)
class SplitUse:
    """One dataset split a task reads: where its files are and how many examples (captions) it has."""

    task: str
    kind: DataKind
    dataset: str  # the catalog name or the path given in the suite
    split: str
    source: str  # the labels.csv, class-folder root or captions CSV read (a catalog name for in-memory sets)
    size: int  # ``kind.unit``: examples (labelled) or captions (retrieval)


def data_source(data: Any) -> str:
    """The file or folder a built dataset was read from: labels.csv, the class folders' root, a captions CSV."""
    if hasattr(data, "path"):  # a retrieval dataset: its captions CSV
        return str(Path(data.path).resolve())
    root = getattr(data, "root", None)
    if root is None:  # in memory (CIFAR's pickles): the dataset's name says which part
        return str(getattr(data, "name", "?"))
    root = Path(root).resolve()
    return str(root / "labels.csv") if (root / "labels.csv").is_file() else f"{root}{os.sep}"


def build_needs(tasks: list[Any], data_root: Path | None) -> dict[str, Any]:
    """Build (with no transform, encoding and decoding nothing) every dataset split the tasks read, each once,
    keyed by ``DataNeed.key``; then refuse a task whose fit split shares files with its test split."""
    for task in tasks:
        check_distinct_split_names(task)
    built: dict[str, Any] = {}
    for task in tasks:
        for need in task.needs():
            if need.key in built:
                continue
            if need.optional and not has_split(need.ref, data_root, need.split):
                continue  # not on disk: the task runs without it (it says so in its result)
            try:
                built[need.key] = need.kind.build(need.ref, data_root, need.split, None)
            except (DataError, ConfigError) as err:
                if need.kind is not LABELLED or need.split == task.spec.split:
                    raise  # the error names the file; only a fit split needs saying which task fits on it
                raise type(err)(
                    f"task {task.spec.name!r} ({task.kind}) fits on the {need.split!r} split of "
                    f"{dataset_label(need.ref)}: {err}"
                ) from None
    for task in tasks:
        check_separate_splits(task, built)
    return built


def _canonical_files(files: list[str]) -> set[str]:
    # Folders through realpath (a split folder that is a link to another is the same files); one call per folder.
    folders: dict[str, str] = {}
    out = set()
    for file in files:
        head, tail = os.path.split(file)
        if head not in folders:
            folders[head] = os.path.realpath(head)
        out.add(os.path.join(folders[head], tail))
    return out


def _split_pairs(task: Any) -> list[tuple[DataNeed, DataNeed, str]]:
    """(test need, fit need, where) for every two labelled splits ``task`` reads of one dataset."""
    labelled = [n for n in task.needs() if n.kind is LABELLED]
    pairs = []
    for i, first in enumerate(labelled):
        for other in labelled[i + 1 :]:
            if first.dataset_key == other.dataset_key:
                test, fit = (first, other) if first.split == task.spec.split else (other, first)
                pairs.append((test, fit, f"task {task.spec.name!r} ({task.kind}) on dataset {dataset_label(test.ref)}"))
    return pairs


def check_distinct_split_names(task: Any) -> None:
    """Refuse ``task`` when it fits on the split it is tested on (``train_split`` = ``split``): a configuration
    error, found before any data is read."""
    for test, fit, where in _split_pairs(task):
        if fit.split == test.split:
            raise ConfigError(
                f"{where}: fits on split {fit.split!r}, the split it is tested on (set its train_split option to the "
                f"dataset's train split)"
            )


def check_separate_splits(task: Any, built: dict[str, Any]) -> None:
    """Refuse ``task`` when two splits it reads of one dataset have other classes or share image files."""
    for test, fit, where in _split_pairs(task):
        if fit.key not in built or test.key not in built:  # an optional split that is not on disk
            continue
        fit_data, test_data = built[fit.key], built[test.key]
        fit_classes, test_classes = list(fit_data.metadata.classes), list(test_data.metadata.classes)
        if fit_classes != test_classes:  # label i would be another class in each split
            first_diff = next(
                (i for i, pair in enumerate(zip(fit_classes, test_classes, strict=False)) if pair[0] != pair[1]),
                min(len(fit_classes), len(test_classes)),
            )
            raise DataError(
                f"{where}: its {fit.split!r} split ({data_source(fit_data)}) has {len(fit_classes)} classes and "
                f"its {test.split!r} split ({data_source(test_data)}) {len(test_classes)}, first differing at "
                f"class {first_diff}; both splits need the same classes in the same order (one metadata file)"
            )
        shards = {os.path.realpath(p) for p in getattr(test_data, "shards", ())}
        shared_shard = sorted(shards & {os.path.realpath(p) for p in getattr(fit_data, "shards", ())})
        if shared_shard:  # webdataset splits (data/wds.py): a split folder linked to the other one
            raise DataError(
                f"{where}: its {fit.split!r} and {test.split!r} splits read the same shard {shared_shard[0]} — it "
                f"would be fit on the images it is tested on; give each split its own shards"
            )
        if not (hasattr(fit_data, "files") and hasattr(test_data, "files")):
            continue  # in-memory splits (CIFAR) come from separate files of the release
        shared = _canonical_files(test_data.files) & _canonical_files(fit_data.files)
        if shared:
            raise DataError(
                f"{where}: its {fit.split!r} split ({data_source(fit_data)}) holds {len(shared)} of the "
                f"{len(test_data)} images of its {test.split!r} split ({data_source(test_data)}), e.g. "
                f"{sorted(shared)[0]} — it would be fit on the images it is tested on; give the {fit.split} split "
                f"its own files (docs/formats.md, splits)"
            )


def describe(tasks: list[Any], built: dict[str, Any]) -> list[SplitUse]:
    """Every (task, split) the tasks read, in task order, from the datasets ``build_needs`` built."""
    uses = []
    for task in tasks:
        for need in task.needs():
            if need.key not in built:  # an optional split that is not on disk
                continue
            data = built[need.key]
            source, size = data_source(data), need.kind.size(data)
            uses.append(
                SplitUse(
                    task=task.spec.name,
                    kind=need.kind,
                    dataset=dataset_label(need.ref),
                    split=need.split,
                    source=source,
                    size=size,
                )
            )
    return uses


__all__ = [
    "SplitUse",
    "build_needs",
    "check_distinct_split_names",
    "check_separate_splits",
    "data_source",
    "describe",
]
