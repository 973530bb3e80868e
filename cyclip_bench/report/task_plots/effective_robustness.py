"""Effective robustness: the points table and the in-distribution vs shifted top-1 scatter."""

from __future__ import annotations

from cyclip_bench.report import plots, tables
from cyclip_bench.report.task_plots.registry import TaskView, task_plot


@task_plot("effective-robustness", kinds=("effective_robustness",), order=10)
def effective_robustness(view: TaskView) -> None:
    points = tables.effective_robustness_points(view.results, view.suite, view.name)
    if points.empty:
        return
    view.add_table("points", tables.points_table(points))
    fit = next((task.extra["fit"] for task in view.tasks().values() if task.extra.get("fit")), None)
    view.add_plot(
        plots.effective_robustness(points, fit, view.colours, f"{view.name}: effective robustness"),
        f"er-{view.stem}",
        "Effective robustness",
        "In-distribution vs shifted top-1; dotted: y = x; dashed: the logit-space linear fit "
        "over the checkpoints (points above it are effectively robust).",
    )
