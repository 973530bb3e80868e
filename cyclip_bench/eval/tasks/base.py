"""Task kinds are code, task instances are data: a kind is a class registered in ``TASKS`` (decorator, or the
``cyclip_bench.tasks`` entry-point group for other packages); a suite's ``[[tasks]]`` table
instantiates it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from cyclip_bench.errors import ConfigError
from cyclip_bench.eval.results import MetricInfo, TaskResult
from cyclip_bench.eval.suite import DatasetRef, SuiteSpec, TaskSpec, dataset_label
from cyclip_bench.registry import Registry, did_you_mean
from cyclip_bench.validation import check_fields

TASKS: Registry[type[TaskKind]] = Registry("task kind", entry_point_group="cyclip_bench.tasks")


@dataclass(frozen=True)
class DataNeed:
    """A dataset a task reads: ``kind`` "labelled" (with a split) or "retrieval"."""

    kind: str
    ref: DatasetRef
    split: str = "test"


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
        return [DataNeed("labelled", self.spec.dataset, self.spec.split)]

    def validate(self, suite: SuiteSpec) -> None:
        """Check references to other tasks of the suite (suite-scope kinds)."""

    def run(self, ctx: Any) -> TaskResult:
        raise NotImplementedError

    def run_suite(self, results: dict[str, dict[str, TaskResult]]) -> dict[str, TaskResult]:
        raise NotImplementedError

    def result(self, metrics: dict[str, float], info: dict[str, MetricInfo], **kw: Any) -> TaskResult:
        return TaskResult(
            name=self.spec.name,
            kind=self.spec.kind,
            dataset=dataset_label(self.spec.dataset),
            split=self.spec.split,
            metrics=metrics,
            metric_info=info,
            **kw,
        )


def make_task(spec: TaskSpec) -> TaskKind:
    return TASKS.get(spec.kind)(spec)


def as_int_list(mask: Any) -> list[int]:
    return [int(x) for x in mask.tolist()]
