"""Effective robustness: the per-shift-set fits (or why there are none), the points table and the
in-distribution vs shifted top-1 scatter, one panel per shift set (report/robustness.py refits them)."""

from __future__ import annotations

import pandas as pd

from cyclip_bench.report import plots, tables
from cyclip_bench.report.robustness import MIN_FIT_CHECKPOINTS, fits_of
from cyclip_bench.report.task_plots.registry import TaskView, task_plot


@task_plot("effective-robustness", kinds=("effective_robustness",), order=10)
def effective_robustness(view: TaskView) -> None:
    points = tables.effective_robustness_points(view.results, view.suite, view.name)
    if points.empty:
        return
    fits = next((fits_of(task) for task in view.tasks().values() if fits_of(task)), {})
    if fits:
        view.add_table("baseline fit per shift set", fits_table(fits))
        if not all(f.get("fit") for f in fits.values()):
            view.add_note(
                f"Effective robustness needs an accuracy-on-the-line fit per shift set over ≥ {MIN_FIT_CHECKPOINTS} "
                "checkpoints; shift sets with fewer show the plain shift − in-distribution top-1 gap (metric "
                "'<set>/shift_gap'). A line through a few checkpoints mostly says how hard the shift set is, not "
                "which model is robust."
            )
    view.add_table("points", tables.points_table(points))
    view.add_plot(
        plots.effective_robustness(
            points, {d: f.get("fit") for d, f in fits.items()}, view.colours, f"{view.name}: effective robustness"
        ),
        f"er-{view.stem}",
        "Effective robustness",
        "In-distribution vs shifted top-1, one panel per shift set; dotted: y = x; dashed: that set's "
        f"logit-space fit over the checkpoints (drawn only with ≥ {MIN_FIT_CHECKPOINTS} checkpoints; points above "
        "it are effectively robust).",
    )


def fits_table(fits: dict[str, dict]) -> tables.Table:
    rows, index = [], []
    for dataset, entry in fits.items():
        fit = entry.get("fit")
        rows.append(
            [
                str(entry.get("checkpoints", "—")),
                f"{fit['slope']:.3f}" if fit else "—",
                f"{fit['intercept']:.3f}" if fit else "—",
                "effective robustness" if fit else "shift − in-distribution gap",
                str(entry.get("reason", "")),
            ]
        )
        index.append(dataset)
    columns = ["checkpoints", "slope", "intercept", "reported as", "why"]
    notes = [
        "Fit: logit(shift top-1) = slope · logit(in-distribution top-1) + intercept, least squares over the "
        "checkpoints of this report, one line per shift set."
    ]
    return tables.Table(pd.DataFrame(rows, index=index, columns=columns), None, notes, index_name="shift set")
