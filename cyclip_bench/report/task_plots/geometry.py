"""The embedding-geometry panel: modality gap, consistency gaps, alignment vs uniformity, scale-free measures."""

from __future__ import annotations

import re

from cyclip_bench.report import plots
from cyclip_bench.report.geometry import KNOWN_GEOMETRY, geometry_home, geometry_metrics
from cyclip_bench.report.task_plots.registry import TaskView, task_plot

# The panels of the geometry figure: every known geometry metric but the per-pair losses and the text-only
# uniformity (the figure shows the image and joint ones).
_NOT_PLOTTED = {"inmodal_loss_per_pair", "crossmodal_loss_per_pair", "uniform_text"}
GEOMETRY_METRICS = tuple(name for name in KNOWN_GEOMETRY if name not in _NOT_PLOTTED)


@task_plot("geometry", metrics="|".join(map(re.escape, GEOMETRY_METRICS)), order=30)
def geometry(view: TaskView) -> None:
    home = geometry_home(view.results, view.suite, view.name)
    if home is not None and home.owner != view.name:
        view.add_note(
            f"Embedding geometry: see {home.owner} — measured on the same caption pairs ({home.caption_set})."
        )
        return
    data = {label: {key: task.metrics.get(key) for key in GEOMETRY_METRICS} for label, task in view.tasks().items()}
    # Geometry measures beyond the built-in panels (a task kind's newer declarations): one small panel each.
    others = [m for m in geometry_metrics(view.reference) if m not in KNOWN_GEOMETRY]
    extra = {
        metric: (
            {label: task.metrics.get(metric) for label, task in view.tasks().items()},
            view.reference.higher_is_better(metric),
        )
        for metric in others
    }
    view.add_plot(
        plots.geometry_panel(data, view.colours, f"{view.name}: embedding geometry", extra=extra),
        f"geometry-{view.stem}",
        "Embedding geometry",
        "Modality gap (distance between the image and text embedding means), CyCLIP's in-modal and "
        "cross-modal consistency gaps, and Wang & Isola's alignment vs uniformity. Second row (results "
        "that carry them): the scale-free consistency measures — Spearman correlations of IIᵀ with TTᵀ "
        "and of C with Cᵀ, and the gaps divided by the spread of the similarities — beside the cones, "
        "since a narrower cone shrinks the absolute gaps but not these. Further rows: any other geometry "
        "measure the results carry, one panel each. Bars start at 0.",
    )
