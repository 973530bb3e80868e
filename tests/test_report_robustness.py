"""Effective robustness as the report shows it (cyclip_bench/report/robustness.py): one accuracy-on-the-line fit
per shift set over at least MIN_FIT_CHECKPOINTS checkpoints, else the plain shift − in-distribution gap; and
the scatter's legend inside the figure."""

from __future__ import annotations

import math

import matplotlib.colors
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from cyclip_bench.report import plots
from cyclip_bench.report.robustness import MIN_FIT_CHECKPOINTS, refit_results, shift_fits
from cyclip_bench.results import MetricInfo, Result, TaskResult


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _er_task(points: list[tuple[str, float, float]]) -> TaskResult:
    return TaskResult(
        name="effective-robustness",
        kind="effective_robustness",
        dataset="world-shapes",
        split="test",
        # what eval stored: one line pooled over the shift sets (replaced by the report)
        metrics={f"{d}/effective_robustness": 0.5 for d, _, _ in points},
        metric_info={f"{d}/effective_robustness": MetricInfo(True, "fraction") for d, _, _ in points},
        extra={
            "points": [
                {"dataset": d, "id_dataset": "world-shapes", "id_top1": i, "shift_top1": s} for d, i, s in points
            ]
        },
    )


def _result(label: str, points: list[tuple[str, float, float]]) -> Result:
    return Result(1, {"name": "world"}, {"label": label}, {}, [_er_task(points)], label=label, raw_label=label)


def test_two_checkpoints_get_the_plain_gap_not_a_fit():
    results = [
        _result("clip", [("world-resampled", 0.80, 0.82), ("world-hard", 0.80, 0.15)]),
        _result("cyclip", [("world-resampled", 0.85, 0.86), ("world-hard", 0.85, 0.17)]),
    ]
    refitted = refit_results(results)
    task = refitted[1].tasks[0]
    assert set(task.metrics) == {"world-resampled/shift_gap", "world-hard/shift_gap"}  # the stored 0.5s are gone
    assert task.metrics["world-resampled/shift_gap"] == pytest.approx(0.01)
    assert task.metrics["world-hard/shift_gap"] == pytest.approx(-0.68)
    assert task.unit("world-hard/shift_gap") == "fraction" and task.higher_is_better("world-hard/shift_gap")
    fits = task.extra["report_fits"]
    assert (
        fits["world-hard"]["fit"] is None and f"2 checkpoint(s) < {MIN_FIT_CHECKPOINTS}" in fits["world-hard"]["reason"]
    )


def test_enough_checkpoints_get_one_fit_per_shift_set():
    """Two shift sets on two different lines: each set's fit is its own line, so a checkpoint on its set's
    line has effective robustness 0 and one lifted above it has the lift — a pooled line would give neither."""
    lines = {"world-sketch": (1.0, 0.3), "world-hard": (0.8, -2.0)}
    results = []
    for i in range(MIN_FIT_CHECKPOINTS):
        id_top1 = 0.5 + 0.04 * i
        points = [(d, id_top1, _sigmoid(a * _logit(id_top1) + b)) for d, (a, b) in lines.items()]
        results.append(_result(f"m{i}", points))
    fits = shift_fits([r.tasks[0] for r in results])
    for dataset, (slope, intercept) in lines.items():
        assert fits[dataset].fit["slope"] == pytest.approx(slope) and fits[dataset].fit["intercept"] == pytest.approx(
            intercept
        )
        assert fits[dataset].metric == f"{dataset}/effective_robustness"
    refitted = refit_results(results)
    for res in refitted:
        for value in res.tasks[0].metrics.values():
            assert value == pytest.approx(0.0, abs=1e-9)
    # lift one checkpoint's sketch accuracy by 5 pp: its effective robustness is about +5 pp, the others ≈ 0
    results[3].tasks[0].extra["points"][0]["shift_top1"] += 0.05
    lifted = refit_results(results)
    values = [res.tasks[0].metrics["world-sketch/effective_robustness"] for res in lifted]
    # (the lifted point pulls its set's line up a little: the others move by under 1.5 points)
    assert values[3] > 0.04 and all(abs(v) < 0.015 for i, v in enumerate(values) if i != 3), values
    assert lifted[3].tasks[0].metrics["world-hard/effective_robustness"] == pytest.approx(0.0, abs=1e-9)


def test_a_shift_set_without_spread_in_id_accuracy_gets_the_gap():
    results = [_result(f"m{i}", [("world-noise", 0.8, 0.7 + 0.01 * i)]) for i in range(MIN_FIT_CHECKPOINTS)]
    (fit,) = shift_fits([r.tasks[0] for r in results]).values()
    assert fit.fit is None and "do not spread" in fit.reason and fit.metric == "world-noise/shift_gap"


@pytest.mark.parametrize("n", [2, 30])
def test_the_scatter_legend_stays_inside_the_figure(n):
    """The reference report's scatter cut its legend at the figure's right edge (six columns of 16-character
    labels in a 6-inch figure). Every legend text must lie inside the figure."""
    labels = [f"siglip-cyclic-s{i}" for i in range(n)]
    colours = {label: matplotlib.colors.to_rgb(f"C{i % 10}") for i, label in enumerate(labels)}
    rows = [
        {"checkpoint": label, "dataset": d, "id_dataset": "world-shapes", "id_top1": 0.8, "shift_top1": 0.7}
        for label in labels
        for d in ("world-resampled", "world-sketch", "world-rendition", "world-hard", "world-noise", "world-blur")
    ]
    fig = plots.effective_robustness(
        pd.DataFrame(rows), {"world-sketch": {"slope": 1.0, "intercept": 0.2}}, colours, "t"
    )
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    frame = fig.bbox
    texts = [t for legend in fig.legends for t in legend.get_texts()]
    assert len(texts) == n + 2  # y = x, the fit, one entry per checkpoint
    for text in texts:
        box = text.get_window_extent(renderer)
        assert box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1, text.get_text()
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 6  # one panel per shift set
