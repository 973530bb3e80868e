"""The task-plot registry: which plots a task's section gets, keyed by task kind or metric family.

A task plot is a function ``draw(view: TaskView) -> None`` registered with the task kinds and/or the metric
family (a regular expression over metric names) it draws for. The suite section runs every plot that applies to
a task, in ``order``; nothing in the report names a task kind to choose a plot. Plugins register theirs with
``@task_plot(...)`` or through the ``cyclip_bench.task_plots`` entry-point group (docs/reports.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from cyclip_bench.errors import UserError
from cyclip_bench.registry import Registry
from cyclip_bench.report import tables
from cyclip_bench.report.document import DataFile, Plot, ReportContext, Section
from cyclip_bench.report.plots import _text as plot_text  # noqa: F401  re-exported: results text in a figure
from cyclip_bench.report.stats import bootstrap_ci
from cyclip_bench.results import Result, TaskResult, find_task


@dataclass(frozen=True)
class TaskView:
    """One task of one suite across the checkpoints, and the section its plots, tables and notes go to."""

    context: ReportContext
    suite: str
    name: str
    labels: list[str]  # checkpoints with results on this suite, in report order
    reference: TaskResult  # the task in the first result that has it: kind, dataset, metric names
    section: Section

    @property
    def results(self) -> list[Result]:
        return self.context.results

    @property
    def baseline(self) -> str:
        return self.context.baseline

    @property
    def colours(self) -> dict[str, tuple]:
        return self.context.colours

    @property
    def stem(self) -> str:
        """``<suite>-<task>``: plots name their files ``<what>-<stem>`` so two tasks never share a file."""
        return f"{self.suite}-{self.name}"

    def task(self, label: str) -> TaskResult | None:
        return find_task(self.results, label, self.suite, self.name)

    def tasks(self) -> dict[str, TaskResult]:
        """{checkpoint label: task} for the checkpoints that have this task, in report order."""
        return {label: task for label in self.labels if (task := self.task(label)) is not None}

    def ci(self, task: TaskResult | None, metric: str) -> tuple[float, float, float] | None:
        """`metric_ci` with the report's bootstrap settings."""
        return metric_ci(task, metric, self.context.n_boot, self.context.seed)

    def add_plot(self, figure: Figure | None, stem: str, title: str, caption: str) -> Plot | None:
        """Save ``figure`` (None: nothing to draw) as plots/<stem>.png/.svg and show it in the task's section."""
        plot = self.context.writer.add_plot(figure, stem, title, caption)
        if plot is not None:
            self.section.plots.append(plot)
        return plot

    def add_table(self, title: str, table: tables.Table) -> None:
        self.section.tables.append((title, table))

    def add_note(self, text: str) -> None:
        self.section.notes.append(text)

    def add_csv(self, frame: pd.DataFrame, stem: str, description: str) -> DataFile:
        """Write ``frame`` beside the report and link it from the task's section (for data too long to show)."""
        data = self.context.writer.add_csv(frame, stem, description)
        self.section.files.append(data)
        return data


def metric_ci(task: TaskResult | None, metric: str, n_boot: int, seed: int) -> tuple[float, float, float] | None:
    """(value, CI low, CI high) in percent: the 95% bootstrap CI over test examples, NaN bounds where the task
    has no per-example array for the metric; None when the task lacks the metric."""
    if task is None or task.metrics.get(metric) is None:
        return None
    value = 100 * task.metrics[metric]
    per_example = task.per_example_of(metric)
    if not per_example:
        return (value, math.nan, math.nan)
    ci = bootstrap_ci(per_example, n_boot=n_boot, seed=seed)
    return (value, 100 * ci.low, 100 * ci.high)


Draw = Callable[[TaskView], None]


@dataclass(frozen=True)
class TaskPlot:
    """A plot for every task whose kind is in ``kinds`` and/or that has a metric matching ``metrics`` (a
    regular expression matched against whole metric names). With both given, both must hold."""

    draw: Draw
    kinds: tuple[str, ...] = ()
    metrics: str | None = None
    order: int = 100  # position among a task's plots; the built-ins use 10–40

    def __post_init__(self) -> None:
        if not self.kinds and not self.metrics:
            raise ValueError("a task plot needs task kinds or a metric family to apply to")
        if isinstance(self.kinds, str):
            raise ValueError(f"kinds must be a tuple of task kinds, not the string {self.kinds!r}")
        if self.metrics:
            re.compile(self.metrics)

    def applies(self, task: TaskResult) -> bool:
        if self.kinds and task.kind not in self.kinds:
            return False
        return not self.metrics or any(re.fullmatch(self.metrics, metric) for metric in task.metrics)


TASK_PLOTS: Registry[TaskPlot] = Registry("task plot", entry_point_group="cyclip_bench.task_plots")


def task_plot(name: str, *, kinds: tuple[str, ...] = (), metrics: str | None = None, order: int = 100):
    """Decorator: register ``draw(view)`` as the task plot ``name``.

    ``@task_plot("my-curve", kinds=("my_kind",))`` draws for every task of kind ``my_kind``;
    ``@task_plot("calibration", metrics=r"ece(@\\d+)?")`` for every task that has such a metric."""

    def decorate(draw: Draw) -> Draw:
        TASK_PLOTS.add(name, TaskPlot(draw, tuple(kinds), metrics, order))
        return draw

    return decorate


def plots_for(task: TaskResult) -> list[tuple[str, TaskPlot]]:
    """The registered plots that apply to ``task``, by (order, name)."""
    chosen = []
    for name, entry in TASK_PLOTS.items():
        if not isinstance(entry, TaskPlot):  # an entry point naming a plain function, not a registered plot
            raise UserError(
                f"task plot {name!r} (entry point group cyclip_bench.task_plots) is a {type(entry).__name__}, "
                f"not a registered plot: decorate its function with @task_plot({name!r}, kinds=… or metrics=…)"
            )
        if entry.applies(task):
            chosen.append((name, entry))
    return sorted(chosen, key=lambda item: (item[1].order, item[0]))
