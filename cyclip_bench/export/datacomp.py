"""DataComp's result layout: ``eval_results.jsonl`` per model, one line per task,
``{"key", "dataset", "metrics"}`` with the task's summary number as ``metrics["main_metric"]``.

DataComp evaluates through CLIP_benchmark's metric code, so a line's metric names are CLIP_benchmark's (acc1, acc5,
mean_per_class_recall; image_/text_retrieval_recall@k plus ``mean_recall@1``, the mean of the two directions'
R@1); a value that does not exist is null, as DataComp writes it. The main metric is DataComp's own choice for the
datasets it evaluates (naming.DATACOMP_TASKS), else top-1 accuracy (zero-shot) and mean_recall@1 (retrieval).
Other task kinds have no DataComp task: left out with a note, or with ``extras`` one line each keyed
``cyclip_bench/<kind>/<dataset>`` whose ``main_metric`` is null (DataComp's "no summary metric": its averages skip it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

from cyclip_bench.errors import UserError
from cyclip_bench.export.clip_benchmark import task_metrics
from cyclip_bench.export.naming import DATACOMP_TASKS, slug
from cyclip_bench.export.output import ExportFormat, ExportOptions, ExportPlan
from cyclip_bench.results import Result, TaskResult

FILE_NAME = "eval_results.jsonl"  # the file DataComp's evaluate.py writes in a model's output folder
LINE_KEYS = ("key", "dataset", "metrics")


def _no_derived(metrics: dict[str, Any]) -> dict[str, Any]:
    return {}


def _mean_recall_at_1(metrics: dict[str, Any]) -> dict[str, Any]:
    """DataComp's retrieval summary: the mean of the two directions' R@1 (null when either is)."""
    pair = (metrics.get("text_retrieval_recall@1"), metrics.get("image_retrieval_recall@1"))
    return {"mean_recall@1": 0.5 * (pair[0] + pair[1]) if None not in pair else None}


@dataclass(frozen=True)
class DataCompKind:
    """How one of our task kinds appears in DataComp's file."""

    prefix: str  # the key prefix for a dataset DataComp does not list
    default_main: str  # the main metric of such a dataset
    derived: Callable[[dict[str, Any]], dict[str, Any]] = dataclass_field(default=_no_derived)  # metrics DataComp adds


# Our task kinds DataComp evaluates.
KINDS = {
    "zeroshot": DataCompKind("", "acc1"),
    "retrieval": DataCompKind("retrieval/", "mean_recall@1", _mean_recall_at_1),
}


def _null(value: float) -> float | None:
    return None if math.isnan(value) else value


def task_line(task: TaskResult, extras: bool) -> dict[str, Any] | None:
    """The DataComp line of one task, or None when DataComp has no such task and ``extras`` is off."""
    kind = KINDS.get(task.kind)
    if kind is None and not extras:
        return None
    mapped = task_metrics(task, extras=extras or kind is None)
    if mapped is None:  # not reached: both kinds DataComp evaluates are CLIP_benchmark tasks
        return None
    _, cb_metrics, _ = mapped
    metrics: dict[str, Any] = {name: _null(value) for name, value in cb_metrics.items()}
    if kind is None:
        metrics["main_metric"] = None
        return {"key": f"cyclip_bench/{task.kind}/{task.dataset}", "dataset": task.name, "metrics": metrics}
    metrics.update(kind.derived(metrics))
    known = DATACOMP_TASKS.get(task.dataset)
    if known is not None:
        key, name, main = known.key, known.name, known.main_metric
    else:
        key, name, main = kind.prefix + task.dataset, task.dataset, kind.default_main
    metrics["main_metric"] = metrics.get(main)
    return {"key": key, "dataset": name, "metrics": metrics}


def plan(results: list[Result], out_dir: Path, options: ExportOptions) -> ExportPlan:
    """``<label>/eval_results.jsonl`` per checkpoint (its tasks over every suite given)."""
    out = ExportPlan()
    skipped: dict[str, dict[str, None]] = {}  # kind → task names, in order
    by_label: dict[str, list[Result]] = {}
    for result in results:  # one file per checkpoint, over every suite given
        by_label.setdefault(result.label, []).append(result)
    for label, suites in by_label.items():
        lines: list[str] = []
        seen: dict[str, str] = {}
        for result, task in ((r, t) for r in suites for t in r.tasks):
            line = task_line(task, options.extras)
            if line is None:
                skipped.setdefault(task.kind, {})[task.name] = None
                continue
            for field in ("key", "dataset"):
                where = f"{result.path}: task {task.name!r}"
                earlier = seen.get(f"{field}={line[field]}")
                if earlier is not None:
                    raise UserError(
                        f"{where} and {earlier} of checkpoint {label!r} are both DataComp {field} "
                        f"{line[field]!r} (one line per dataset): export them separately"
                    )
                seen[f"{field}={line[field]}"] = where
            lines.append(json.dumps(line) + "\n")
            out.exported += 1
        if lines:  # a checkpoint with no task DataComp has gets no file (the note below says what was left out)
            out.files[f"{slug(label)}/{FILE_NAME}"] = "".join(lines)
    out.notes.extend(
        f"left out {kind} tasks ({', '.join(names)}): DataComp has no such task; --extras exports them keyed "
        f"cyclip_bench/{kind}/<dataset> with main_metric null"
        for kind, names in skipped.items()
    )
    return out


def is_own(path: Path) -> bool:
    """Every line a JSON object with DataComp's keys."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        docs = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError):
        return False
    return all(isinstance(doc, dict) and set(LINE_KEYS) <= set(doc) for doc in docs)


FORMAT = ExportFormat(
    name="datacomp",
    layout="<checkpoint>/eval_results.jsonl per checkpoint, one line per task, as DataComp's evaluate.py writes it",
    plan=plan,
    is_own=is_own,
)
