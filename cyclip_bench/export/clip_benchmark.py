"""CLIP_benchmark's result layout: one JSON file per (model, dataset, task) and the CSV its ``build`` makes.

Each file holds ``{"dataset", "model", "pretrained", "task", "metrics", "language"}`` (that order, one line, NaN
for a value that does not exist — CLIP_benchmark's own conventions) and is named by its default output template,
``{dataset}_{pretrained}_{model}_{language}_{task}.json`` with ``/`` → ``_``. Metrics are fractions in [0, 1], as
both tools store them. ``benchmark.csv`` is what ``clip_benchmark build OUT`` makes of every result file in the
folder: one row per file, the metrics as columns beside the file's other keys, and ``model_fullname``.

Task kinds map onto CLIP_benchmark's tasks (`TASKS` below); a kind it has no task for (consistency, effective
robustness), and a metric it has no name for (top-3), is left out with a note — or, with ``extras``, exported
under a ``cyclip_bench_`` name (docs/export.md).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cyclip_bench.errors import UserError
from cyclip_bench.export.naming import CLIP_BENCHMARK_DATASETS, ModelName, model_name, pretrained_slug, slug
from cyclip_bench.export.output import ExportFormat, ExportOptions, ExportPlan
from cyclip_bench.results import Result, TaskResult

CSV_NAME = "benchmark.csv"  # `clip_benchmark build`'s default --output
EXTRA_PREFIX = "cyclip_bench_"  # every key CLIP_benchmark does not define starts with this
KEYS = ("dataset", "model", "pretrained", "task", "metrics", "language")  # a result file's keys, in its order

# (their metric, our metric) in CLIP_benchmark's order; written always, NaN where our result lacks it.
Renames = tuple[tuple[str, str], ...]


def _renamed(task: TaskResult, pairs: Renames) -> tuple[dict[str, float], set[str]]:
    metrics = {theirs: _value(task.metrics.get(ours)) for theirs, ours in pairs}
    return metrics, {ours for _, ours in pairs}


def _zeroshot(task: TaskResult) -> tuple[dict[str, float], set[str]]:
    return _renamed(task, (("acc1", "top1"), ("acc5", "top5"), ("mean_per_class_recall", "mean_per_class_recall")))


def _linear_probe(task: TaskResult) -> tuple[dict[str, float], set[str]]:
    pairs = (("lp_acc1", "top1"), ("lp_acc5", "top5"), ("lp_mean_per_class_recall", "mean_per_class_recall"))
    return _renamed(task, pairs)


_RECALL = re.compile(r"(image_to_text|text_to_image)_R@(\d+)")


def _retrieval(task: TaskResult) -> tuple[dict[str, float], set[str]]:
    """CLIP_benchmark names retrieval by what is retrieved: its ``image_retrieval_recall@k`` is our text→image
    R@k (a caption finds its image), its ``text_retrieval_recall@k`` our image→text R@k."""
    found = {(m.group(1), int(m.group(2))): name for name in task.metrics if (m := _RECALL.fullmatch(name))}
    metrics: dict[str, float] = {}
    for k in sorted({k for _, k in found}):
        for direction, theirs in (("text_to_image", "image_retrieval"), ("image_to_text", "text_retrieval")):
            if (direction, k) in found:
                metrics[f"{theirs}_recall@{k}"] = _value(task.metrics[found[direction, k]])
    return metrics, set(found.values())


# Our task kind → (CLIP_benchmark's task, the function giving its metrics and the metrics of ours it used).
TASKS: dict[str, tuple[str, Callable[[TaskResult], tuple[dict[str, float], set[str]]]]] = {
    "zeroshot": ("zeroshot_classification", _zeroshot),
    "retrieval": ("zeroshot_retrieval", _retrieval),
    "linear_probe": ("linear_probe", _linear_probe),
}

# Settings of a task kind that say how its number was made, exported with --extras (name in `extra` → key).
EXTRA_SETTINGS = {"linear_probe": (("C", f"{EXTRA_PREFIX}C"),)}


def _value(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def task_metrics(task: TaskResult, extras: bool) -> tuple[str, dict[str, float], list[str]] | None:
    """CLIP_benchmark's task name, its metrics for ``task`` and the metrics of ours left out (those it has no name
    for, unless ``extras``); None for a task kind it has no task for, unless ``extras``."""
    mapped = TASKS.get(task.kind)
    if mapped is None and not extras:
        return None
    if mapped is not None:
        cb_task, metric_fn = mapped
        metrics, used = metric_fn(task)
    else:
        cb_task, metrics, used = f"{EXTRA_PREFIX}{task.kind}", {}, set()
    left_out = [m for m in task.metrics if m not in used]
    if extras:
        metrics.update({f"{EXTRA_PREFIX}{m}": _value(task.metrics[m]) for m in left_out})
        for key, name in EXTRA_SETTINGS.get(task.kind, ()):
            if isinstance(task.extra.get(key), (int, float)):
                metrics[name] = float(task.extra[key])
        left_out = []
    return cb_task, metrics, left_out


def task_document(result: Result, cb_task: str, dataset: str, metrics: dict[str, float], language: str) -> dict:
    """One CLIP_benchmark result document: its keys in its order (`KEYS`)."""
    name = model_name(result)
    return {
        "dataset": CLIP_BENCHMARK_DATASETS.get(dataset, dataset),
        "model": name.model,
        "pretrained": name.pretrained,
        "task": cb_task,
        "metrics": metrics,
        "language": language,
    }


def file_name(doc: dict[str, Any], pretrained: str) -> str:
    """CLIP_benchmark's default output template, ``{dataset}_{pretrained}_{model}_{language}_{task}.json``."""
    parts = (doc["dataset"], pretrained, doc["model"], doc["language"], doc["task"])
    return slug("_".join(str(p).replace("/", "_") for p in parts)) + ".json"


IDENTITY = ("dataset", "model", "pretrained", "task", "language")  # what a file name stands for


def plan(results: list[Result], out_dir: Path, options: ExportOptions) -> ExportPlan:
    """The result files and benchmark.csv (over these and the CLIP_benchmark files already in ``out_dir``)."""
    out = ExportPlan()
    existing = _existing_files(out_dir)
    skipped: dict[str, dict[str, None]] = {}  # kind → task names, in order
    dropped: dict[str, set[str]] = {}
    records: list[tuple[str, ModelName, dict[str, Any]]] = []
    for result in results:
        name = model_name(result)
        for task in result.tasks:
            mapped = task_metrics(task, options.extras)
            if mapped is None:
                skipped.setdefault(task.kind, {})[task.name] = None
                continue
            cb_task, metrics, left_out = mapped
            dropped.setdefault(task.kind, set()).update(left_out)
            doc = task_document(result, cb_task, task.dataset, metrics, options.language)
            records.append((f"{result.path}: task {task.name!r}", name, doc))
    full_path = _full_path_names(records, existing)
    made_by: dict[str, str] = {}
    docs: dict[str, dict[str, Any]] = {}
    for source, name, doc in records:
        target = file_name(doc, pretrained_slug(name, name.pretrained in full_path))
        if target in made_by:
            raise UserError(
                f"{source} and {made_by[target]} both export to {target} (one CLIP_benchmark file per model, "
                "dataset and task): export them separately"
            )
        earlier = existing.get(target)
        if earlier is not None and _identity(earlier) != _identity(doc):
            raise UserError(
                f"{source}: {out_dir / target} holds the result of {_identity(earlier)}, not of this one; "
                "choose another --out"
            )
        made_by[target] = source
        docs[target] = doc
        out.files[target] = json.dumps(doc) + "\n"
        out.exported += 1
    kept = {name: doc for name, doc in existing.items() if name not in docs}
    rows = [_csv_row(doc) for _, doc in sorted({**kept, **docs}.items())]
    out.files[CSV_NAME] = _csv_text(rows)
    out.notes.extend(
        f"left out {kind} tasks ({', '.join(names)}): CLIP_benchmark has no such task; --extras exports them as "
        f"task {EXTRA_PREFIX}{kind}"
        for kind, names in skipped.items()
    )
    out.notes.extend(
        f"left out {kind} metrics CLIP_benchmark has no name for ({', '.join(sorted(names))}); --extras exports "
        f"them as {EXTRA_PREFIX}<metric>"
        for kind, names in dropped.items()
        if names
    )
    if kept:
        out.notes.append(f"{CSV_NAME} also covers {len(kept)} CLIP_benchmark result files already in {out_dir}")
    return out


def _identity(doc: dict[str, Any]) -> tuple:
    return tuple(doc.get(key) for key in IDENTITY)


def _full_path_names(records: list[tuple[str, ModelName, dict[str, Any]]], existing: dict[str, dict]) -> set[str]:
    """Weights files named by their whole path in file names (CLIP_benchmark's ``{pretrained_full_path}``) rather
    than their base name: those whose base name another weights file shares (every run's ``latest.pt``), in this
    export or in a file already in the folder."""
    by_base: dict[str, set[str]] = {}
    full: set[str] = set()
    for _, name, doc in records:
        if not name.is_file:
            continue
        by_base.setdefault(Path(name.pretrained).name, set()).add(name.pretrained)
        earlier = existing.get(file_name(doc, pretrained_slug(name, full_path=False)))
        if earlier is not None and earlier.get("pretrained") != name.pretrained:
            full.add(name.pretrained)
    return full | {path for paths in by_base.values() if len(paths) > 1 for path in paths}


def _existing_files(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The result files already in ``out_dir``: ``clip_benchmark build OUT`` reads every ``*.json`` there, so each
    must be a CLIP_benchmark result (else it is refused, one line)."""
    if not out_dir.is_dir():
        return {}
    found = {}
    for path in sorted(out_dir.glob("*.json")):
        if not path.is_file():
            continue
        doc = read_document(path)
        if doc is None:
            raise UserError(
                f"{path}: not a CLIP_benchmark result file, and `clip_benchmark build {out_dir}` reads every "
                "*.json in the folder: move it or choose another --out"
            )
        found[path.name] = doc
    return found


def read_document(path: Path) -> dict[str, Any] | None:
    """A CLIP_benchmark result document (a JSON object with its keys and a metrics object), or None."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not set(KEYS) - {"language"} <= set(doc) or not isinstance(doc["metrics"], dict):
        return None
    return doc


def _csv_row(doc: dict[str, Any]) -> dict[str, Any]:
    """One row as ``build`` makes it: the metrics, then the document's other keys, then ``model_fullname``."""
    row = {**doc["metrics"], **{k: v for k, v in doc.items() if k != "metrics"}}
    row["model_fullname"] = f"{doc['model']} {doc['pretrained']}"
    return row


def _csv_text(rows: list[dict[str, Any]]) -> str:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)  # NaN is written "nan", as `build` writes it
    return buffer.getvalue()


def is_own(path: Path) -> bool:
    """A CLIP_benchmark result file, or a CSV whose header has ``build``'s ``model_fullname`` column."""
    if path.name == CSV_NAME:
        try:
            with path.open(encoding="utf-8") as handle:
                header = next(csv.reader(handle), [])
        except (OSError, ValueError):
            return False
        return "model_fullname" in header
    return read_document(path) is not None


FORMAT = ExportFormat(
    name="clip_benchmark",
    layout="one JSON per (model, dataset, task) as CLIP_benchmark writes them, and benchmark.csv as its `build` makes",
    plan=plan,
    is_own=is_own,
)
