"""consistency@k against k per checkpoint, with the paper's curves on the paper's own datasets."""

from __future__ import annotations

import re

from cyclip_bench.report import paper, plots
from cyclip_bench.report.configurations import SEED_BARS, seed_series
from cyclip_bench.report.task_plots.registry import TaskView, task_plot

CONSISTENCY_K = re.compile(r"^consistency@(\d+)$")


@task_plot("consistency-at-k", metrics=r"consistency@\d+", order=20)
def consistency_at_k(view: TaskView) -> None:
    ref = view.reference
    ks = sorted(int(m.group(1)) for metric in ref.metrics if (m := CONSISTENCY_K.match(metric)))
    if not ks:
        return
    tasks = view.tasks()
    values = {label: [_percent(task.metrics.get(f"consistency@{k}")) for k in ks] for label, task in tasks.items()}
    seeds = seed_series(view.results, values)
    paper_series: dict[str, list[float]] = {}
    numbers = [paper.lookup(ref.kind, ref.dataset, f"consistency@{k}") for k in ks]
    if all(n is not None and not n.analogue for n in numbers):  # only the paper's own dataset, never an analogue
        for model in paper.paper_columns():
            paper_series[f"paper {model} (RN50, CC3M, {numbers[0].display_dataset})"] = [
                n.values[model] for n in numbers
            ]
    title = f"{view.name}: consistency@k"
    what = "Share of test images whose zero-shot label equals the majority label of their k nearest train images"
    if seeds is None:
        series = {label: [view.ci(task, f"consistency@{k}") for k in ks] for label, task in tasks.items()}
        figure = plots.consistency_curves(ks, series, view.colours, paper_series, title)
        caption = f"{what}; error bars: 95% bootstrap CI over test images."
    else:
        figure = plots.consistency_curves(ks, seeds.series, seeds.colours, paper_series, title, points=seeds.points)
        caption = f"{what}: mean over each configuration's seeds (n in the legend), dots: each seed; {SEED_BARS}."
    view.add_plot(figure, f"consistency-{view.stem}", "Consistency@k", caption)


def _percent(value: float | None) -> float | None:
    return None if value is None else 100 * value
