"""The embedding-geometry panel: modality gap, consistency gaps, alignment vs uniformity, scale-free measures."""

from __future__ import annotations

import re

from cyclip_bench.report import plots
from cyclip_bench.report.task_plots.registry import TaskView, task_plot

GEOMETRY_METRICS = (
    "modality_gap",
    "inmodal_gap",
    "crossmodal_gap",
    "align_image_text",
    "uniform_image",
    "uniform_joint",
    "inmodal_rank_correlation",
    "crossmodal_rank_correlation",
    "inmodal_gap_normalised",
    "crossmodal_asymmetry_normalised",
    "cone_image",
    "cone_text",
)


@task_plot("geometry", metrics="|".join(map(re.escape, GEOMETRY_METRICS)), order=30)
def geometry(view: TaskView) -> None:
    data = {label: {key: task.metrics.get(key) for key in GEOMETRY_METRICS} for label, task in view.tasks().items()}
    view.add_plot(
        plots.geometry_panel(data, view.colours, f"{view.name}: embedding geometry"),
        f"geometry-{view.stem}",
        "Embedding geometry",
        "Modality gap (distance between the image and text embedding means), CyCLIP's in-modal and "
        "cross-modal consistency gaps, and Wang & Isola's alignment vs uniformity. Second row (results "
        "that carry them): the scale-free consistency measures — Spearman correlations of IIᵀ with TTᵀ "
        "and of C with Cᵀ, and the gaps divided by the spread of the similarities — beside the cones, "
        "since a narrower cone shrinks the absolute gaps but not these.",
    )
