"""Task kinds are code, task instances are data: a kind is a class registered in ``TASKS`` (decorator, or the
``cyclip_bench.tasks`` entry-point group for other packages); a suite's ``[[tasks]]`` table
instantiates it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from cyclip_bench.data.catalog import LABELLED
from cyclip_bench.errors import ConfigError
from cyclip_bench.eval.context import EvalContext
from cyclip_bench.eval.needs import DataNeed
from cyclip_bench.eval.suite import SuiteSpec, TaskSpec, dataset_label
from cyclip_bench.registry import Registry, did_you_mean
from cyclip_bench.results import MetricInfo, MetricTable, TaskResult, add_metric_source
from cyclip_bench.validation import check_fields

TASKS: Registry[type[TaskKind]] = Registry("task kind", entry_point_group="cyclip_bench.tasks")


@dataclass(frozen=True)
class NoOptions:
    pass


def parse_options(cls: type, options: dict[str, Any], where: str) -> Any:
    """Strictly build the options dataclass: unknown keys, wrong types and values outside a field's declared
    range (``cyclip_bench.validation`` types, e.g. ``PositiveInts``) are errors naming the option."""
    allowed = {f.name for f in dataclasses.fields(cls)}
    for key in options:
        if key not in allowed:
            choices = sorted(allowed)
            raise ConfigError(
                f"{where}: unknown option {key!r}.{did_you_mean(str(key), choices)} "
                f"Allowed: {', '.join(choices) or '(none)'}"
            )
    return cls(**check_fields(cls, options, where, lambda key: f"option {key!r}"))


class TaskKind:
    """Base class. Subclasses set ``Options`` (a frozen dataclass) and implement ``needs`` and ``run``.

    ``scope = "suite"`` kinds (effective robustness) run after every checkpoint and see all their results.
    """

    Options: ClassVar[type] = NoOptions
    scope: ClassVar[str] = "checkpoint"
    requires_dataset: ClassVar[bool] = True
    # Every metric the kind produces, with its direction and unit; results files carry them (metric_info).
    metrics: ClassVar[MetricTable] = MetricTable()

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        where = f"task {spec.name!r} ({spec.kind})"
        if self.requires_dataset and spec.dataset is None:
            raise ConfigError(f"{where}: needs a 'dataset'")
        self.options = parse_options(self.Options, spec.options, where)

    @property
    def kind(self) -> str:
        return self.spec.kind

    def needs(self) -> list[DataNeed]:
        return [DataNeed(LABELLED, self.spec.dataset, self.spec.split)]

    def check_references(self, suite: SuiteSpec) -> None:
        """Check references to other tasks of the suite (suite-scope kinds), before anything runs."""

    def run(self, ctx: EvalContext) -> TaskResult:
        """This task's result for the checkpoint ``ctx`` encodes with (``scope = "checkpoint"`` kinds)."""
        raise NotImplementedError

    def run_suite(self, results: dict[str, dict[str, TaskResult]]) -> dict[str, TaskResult]:
        raise NotImplementedError

    def metric_info(self, name: str, per_example: str | None = None) -> MetricInfo:
        """The `MetricInfo` of metric ``name`` as this kind declares it (``metrics``); ``per_example`` names the
        per-example array whose mean the metric is. An undeclared metric is a KeyError: declare it first."""
        return self.metrics.info(name, per_example)

    def result(self, metrics: dict[str, float], info: dict[str, MetricInfo], **kw: Any) -> TaskResult:
        """The task's record; every fraction metric with a 0/1 per-example array gets its ``counts``
        (hits, n) and is stored as exactly hits / n in float64 (``fraction_counts``)."""
        metrics, counts = fraction_counts(metrics, info, kw.get("per_example") or {})
        return TaskResult(
            name=self.spec.name,
            kind=self.spec.kind,
            dataset=dataset_label(self.spec.dataset),
            split=self.spec.split,
            metrics=metrics,
            metric_info=info,
            counts=counts,
            **kw,
        )


def make_task(spec: TaskSpec) -> TaskKind:
    return TASKS.get(spec.kind)(spec)


def as_int_list(mask: Any) -> list[int]:
    return [int(x) for x in mask.tolist()]


def fraction(hits: Any) -> float:
    """The fraction of True in a bool tensor as exactly hits / n in float64 (NaN when empty) — not a float32
    mean, which stores 338/360 as 0.9388889074 where float64 tools compute 0.9388888888888889."""
    n = int(hits.numel())
    return int(hits.sum()) / n if n else float("nan")


def fraction_counts(
    metrics: dict[str, float], info: dict[str, MetricInfo], per_example: dict[str, list]
) -> tuple[dict[str, float], dict[str, dict[str, int]]]:
    """(metrics, counts): for each ``fraction`` metric whose per-example array is all 0/1 and non-empty,
    ``counts[m] = {"hits": sum, "n": length}`` and the metric becomes hits / n (float64). A metric more than
    1e-6 away from its own array's mean is a bug in the task, not a rounding: refused."""
    metrics, counts = dict(metrics), {}
    for name, meta in info.items():
        values = per_example.get(meta.per_example) if meta.per_example is not None else None
        if meta.unit != "fraction" or name not in metrics or not values or any(v not in (0, 1) for v in values):
            continue
        hits, n = int(sum(values)), len(values)
        if abs(float(metrics[name]) - hits / n) > 1e-6:
            raise ValueError(f"metric {name!r} = {metrics[name]} but its per-example array has {hits}/{n} hits")
        metrics[name] = hits / n
        counts[name] = {"hits": hits, "n": n}
    return metrics, counts


def kind_metrics(kind: str) -> MetricTable | None:
    """The metric declarations of a registered task kind (a results file names each task's kind), else None."""
    return TASKS.get(kind).metrics if kind in TASKS else None


add_metric_source(kind_metrics)  # results read back complete what a file leaves out from these
