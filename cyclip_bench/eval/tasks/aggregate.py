"""DataComp's aggregate as a suite-level result (kind ``datacomp_aggregate``): from each task's main metric, the
means DataComp's ``aggregate_scores.py`` reports — ``imagenet`` (ImageNet-1k's), ``imagenet_dist_shifts`` (the
mean over its six shift sets: Sketch, V2, A, O, R, ObjectNet), ``vtab`` (the mean over its 13 VTAB sets),
``retrieval`` (the mean over Flickr, MSCOCO and WinoGAViL) and ``average`` (the mean over all 38). The suite names
the tasks of each group (suites/datacomp.toml), so the grouping is data.

A task's main metric: a zero-shot task's ``extra.main_metric`` (the dataset's: top1, mean per-class recall,
11-point mAP, macro-F1, worst-group accuracy); an association task's (``jaccard_10-12``); a retrieval task's is
DataComp's ``mean_recall@1``, the mean of ``image_to_text_R@1`` and ``text_to_image_R@1``. A group with a task
that did not run, or whose main metric is null, is null itself and ``extra.missing`` says which task and why —
never a mean over fewer tasks. A task whose main metric stood in for one it could not compute (a worst-group
metric without group metadata: top-k instead) is listed in ``extra.stand_ins``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cyclip_bench.errors import ConfigError
from cyclip_bench.eval.suite import SuiteSpec
from cyclip_bench.eval.tasks.base import TASKS, DataNeed, TaskKind
from cyclip_bench.results import MetricSpec, MetricTable, TaskResult
from cyclip_bench.validation import Names

# Task kind → (its main metric's name, the metrics whose mean it is), for kinds whose results do not name one: a
# retrieval task's is DataComp's mean_recall@1.
DERIVED_MAIN: dict[str, tuple[str, tuple[str, ...]]] = {
    "retrieval": ("mean_R@1", ("image_to_text_R@1", "text_to_image_R@1")),
}
# The aggregate's metrics, in the order a results file holds them (the first is the suite's headline).
GROUPS = ("average", "imagenet", "imagenet_dist_shifts", "vtab", "retrieval")


@dataclass(frozen=True)
class AggregateOptions:
    imagenet: str = ""
    imagenet_dist_shifts: Names = ()
    vtab: Names = ()
    retrieval: Names = ()
    average: Names = ()


def main_metric(task: TaskResult) -> tuple[str, float | None]:
    """(the name of ``task``'s main metric, its value or None when absent or NaN)."""
    if task.kind in DERIVED_MAIN:
        name, parts = DERIVED_MAIN[task.kind]
        values = [task.metrics.get(p) for p in parts]
        ok = all(v is not None and not math.isnan(v) for v in values)
        return name, (sum(values) / len(values) if ok else None)  # type: ignore[arg-type]
    name = task.extra.get("main_metric")
    if name is None:
        return "(none)", None
    value = task.metrics.get(name)
    return name, (None if value is None or math.isnan(value) else float(value))


def aggregate(tasks: dict[str, TaskResult], groups: dict[str, tuple[str, ...]]) -> tuple[dict, dict]:
    """(metrics, extra) of one checkpoint: each group's mean over its tasks' main metrics, or None with the
    reasons in ``extra["missing"]`` when one of its tasks did not run or has no value."""
    metrics: dict[str, float | None] = {}
    missing: dict[str, dict[str, str]] = {}
    mains: dict[str, dict] = {}
    stand_ins: dict[str, str] = {}
    for group, names in groups.items():
        values, absent = [], {}
        for name in names:
            task = tasks.get(name)
            if task is None:
                absent[name] = "did not run"
                continue
            metric, value = main_metric(task)
            mains[name] = {"metric": metric, "value": value}
            if "main_metric_missing" in task.extra:
                stand_ins[name] = task.extra["main_metric_missing"]
            if value is None:
                absent[name] = f"its main metric {metric} has no value"
            else:
                values.append(value)
        metrics[group] = sum(values) / len(values) if not absent and values else None
        if absent:
            missing[group] = absent
    extra = {
        "groups": {g: list(n) for g, n in groups.items()},
        "main_metrics": mains,
        "missing": missing,
        "stand_ins": stand_ins,
    }
    return metrics, extra


@TASKS.register("datacomp_aggregate", aliases=("datacomp-aggregate",))
class DataCompAggregate(TaskKind):
    Options = AggregateOptions
    metrics = MetricTable(*(MetricSpec(g, True, "fraction") for g in GROUPS))
    scope = "suite"
    requires_dataset = False

    def needs(self) -> list[DataNeed]:
        return []

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        o = self.options
        imagenet = (o.imagenet,) if o.imagenet else ()
        found = {
            "average": o.average,
            "imagenet": imagenet,
            "imagenet_dist_shifts": o.imagenet_dist_shifts,
            "vtab": o.vtab,
            "retrieval": o.retrieval,
        }
        return {g: found[g] for g in GROUPS}

    def check_references(self, suite: SuiteSpec) -> None:
        where = f"task {self.spec.name!r} (datacomp_aggregate)"
        names = [t.name for t in suite.tasks]
        for group, members in self.groups.items():
            if not members:
                raise ConfigError(f"{where}: option {group!r} names no task (each group lists the tasks it averages)")
            for ref in members:
                suite.task(ref)  # did-you-mean on a typo
                if names.index(ref) > names.index(self.spec.name):
                    raise ConfigError(f"{where}: task {ref!r} must come before it in the suite")
        outside = sorted({r for g, m in self.groups.items() if g != "average" for r in m} - set(self.options.average))
        if outside:
            raise ConfigError(f"{where}: task {outside[0]!r} is in a group but not in 'average' (the mean over all)")

    def run_suite(self, results: dict[str, dict[str, TaskResult]]) -> dict[str, TaskResult]:
        out = {}
        for label, tasks in results.items():
            metrics, extra = aggregate(tasks, self.groups)
            out[label] = TaskResult(
                name=self.spec.name,
                kind=self.spec.kind,
                dataset="",
                split="test",
                metrics={k: float("nan") if v is None else v for k, v in metrics.items()},
                metric_info={k: self.metric_info(k) for k in metrics},
                extra=extra,
            )
        return out
