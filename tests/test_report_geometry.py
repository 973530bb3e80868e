"""The report's geometry panel: the scale-free consistency measures get a second row when results carry them."""

from __future__ import annotations

import math

import pytest

from cyclip_bench.report import plots

OLD_KEYS = {
    "modality_gap": 0.4,
    "inmodal_gap": 0.1,
    "crossmodal_gap": 0.05,
    "align_image_text": 1.1,
    "uniform_image": -1.5,
    "uniform_joint": -1.7,
    "cone_image": 0.3,
    "cone_text": 0.5,
}
SCALE_FREE = {
    "inmodal_rank_correlation": 0.62,
    "crossmodal_rank_correlation": 0.87,
    "inmodal_gap_normalised": 0.71,
    "crossmodal_asymmetry_normalised": 0.33,
}
COLOURS = {"clip": (0.1, 0.2, 0.8, 1.0), "cyclip": (0.8, 0.2, 0.1, 1.0)}


def _bar_heights(ax) -> list[float]:
    return [patch.get_height() for patch in ax.patches]


def test_results_without_the_scale_free_measures_keep_one_row():
    fig = plots.geometry_panel({"clip": dict(OLD_KEYS), "cyclip": dict(OLD_KEYS)}, COLOURS, "t")
    assert len(fig.axes) == 3


def test_scale_free_measures_get_a_second_row_with_their_values():
    metrics = {
        "clip": {**OLD_KEYS, **SCALE_FREE},
        "cyclip": {**OLD_KEYS, **{k: v / 2 for k, v in SCALE_FREE.items()}, "cone_image": 0.8},
    }
    fig = plots.geometry_panel(metrics, COLOURS, "t")
    assert len(fig.axes) == 6
    rank, normalised, cone = fig.axes[3:]
    # bars are drawn checkpoint by checkpoint, metric by metric
    assert _bar_heights(rank) == pytest.approx([0.62, 0.87, 0.31, 0.435])
    assert _bar_heights(normalised) == pytest.approx([0.71, 0.33, 0.355, 0.165])
    assert _bar_heights(cone) == pytest.approx([0.3, 0.5, 0.8, 0.5])
    assert "rank" in rank.get_title().lower() and "↑" in rank.get_title()
    assert "↓" in normalised.get_title()


def test_a_checkpoint_without_the_new_measures_shows_blank_bars():
    metrics = {"clip": dict(OLD_KEYS), "cyclip": {**OLD_KEYS, **SCALE_FREE}}  # e.g. an older results file
    fig = plots.geometry_panel(metrics, COLOURS, "t")
    heights = _bar_heights(fig.axes[3])
    assert len(fig.axes) == 6 and all(math.isnan(h) for h in heights[:2]) and heights[2:] == pytest.approx([0.62, 0.87])


@pytest.mark.parametrize("n", [3, 30])
def test_many_checkpoints_get_a_legend_below_the_plots_without_collapsing_the_layout(n):
    """30 checkpoints (the reference run) once put a 30-entry legend inside the axes: matplotlib's constrained
    layout collapsed and the bars were squashed to a strip. Beyond MAX_LEGEND_IN_AXES entries the legend is a
    figure legend in columns below the plots and the figure grows to hold it; a few stay inside the axes."""
    import io
    import warnings

    import matplotlib.colors

    labels = [f"cfg{i // 5}-s{i % 5}" for i in range(n)]
    colours = {label: matplotlib.colors.to_rgb(f"C{i % 10}") for i, label in enumerate(labels)}
    series = {label: [(50.0 + i, 45.0 + i, 55.0 + i)] * 4 for i, label in enumerate(labels)}
    bars = plots.grouped_bars([f"task{j}\ntop1" for j in range(4)], series, colours, "t", "%")
    geometry = plots.geometry_panel({label: dict(OLD_KEYS) for label in labels}, colours, "t")
    for fig in (bars, geometry):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "constrained_layout not applied because axes sizes collapsed"
            fig.savefig(io.BytesIO(), format="png", dpi=40)
        many = n > plots.MAX_LEGEND_IN_AXES
        assert len(fig.legends) == (1 if many else 0)
        in_axes = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        assert len(in_axes) == (0 if many else 1)
        entries = fig.legends[0].get_texts() if many else in_axes[0].get_texts()
        assert [t.get_text() for t in entries][:n] == labels
    if n > plots.MAX_LEGEND_IN_AXES:
        assert bars.get_size_inches()[1] > 4.4 + 0.2 * (n // plots.LEGEND_COLUMNS)  # grown by the legend's rows
        assert geometry.axes[0].get_xticklabels() == []  # the bars are named by the legend's colours


@pytest.mark.parametrize("count", [11, 24, 40])
def test_headline_bar_labels_never_overlap(count):
    """Suite "all" has 24 task · metric groups: its two-line labels at 30° overlapped one another. Beyond
    CROWDED_GROUPS they are upright on one line and no two labels' boxes may intersect (a few groups keep their
    two-line labels at 30°, whose boxes, not their text, overlap by construction)."""
    import matplotlib.colors
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    groups = [f"imagenet-sketch-zeroshot{j}\ntop1" for j in range(count)]
    series = {"RN50": [(10.0, 5.0, 15.0)] * count}
    fig = plots.grouped_bars(groups, series, {"RN50": matplotlib.colors.to_rgb("C0")}, "t", "%")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # the constrained layout is applied here
    renderer = canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].get_xticklabels()]
    assert len(boxes) == count
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left.x1 <= right.x0 or left.y1 <= right.y0 or right.y1 <= left.y0, (left, right)
    texts = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert texts[0] == "imagenet-sketch-zeroshot0 · top1" and count > plots.CROWDED_GROUPS


def test_close_values_are_not_zoomed_into_a_large_difference():
    """Alignment 0.7371 vs 0.7317 once filled the whole axis. The scatter spans at least MIN_SPAN of the values'
    magnitude, and every bar axis holds 0."""
    a = {**OLD_KEYS, **SCALE_FREE, "align_image_text": 0.7371, "uniform_joint": -1.70}
    b = {**OLD_KEYS, **SCALE_FREE, "align_image_text": 0.7317, "uniform_joint": -1.71}
    fig = plots.geometry_panel({"clip": a, "cyclip": b}, COLOURS, "t")
    scatter = fig.axes[2]
    low, high = scatter.get_ylim()
    assert high - low >= 2 * plots.MIN_SPAN * 0.7371 * 0.999
    low, high = scatter.get_xlim()
    assert high - low >= 2 * plots.MIN_SPAN * 1.71 * 0.999
    for ax in (fig.axes[0], fig.axes[1], *fig.axes[3:]):
        low, high = ax.get_ylim()
        assert low <= 0 <= high


def test_geometry_measures_the_panel_does_not_know_get_a_panel_each():
    extra = {
        "mutual_knn@10": ({"clip": 0.3, "cyclip": 0.35}, True),
        "hubness": ({"clip": 1.2, "cyclip": None}, False),
    }
    fig = plots.geometry_panel({"clip": dict(OLD_KEYS), "cyclip": dict(OLD_KEYS)}, COLOURS, "t", extra=extra)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 5  # the first row, then one panel per extra measure (the third slot hidden)
    knn, hub = visible[3:]
    assert knn.get_title() == "mutual_knn@10 ↑" and hub.get_title() == "hubness ↓"
    assert _bar_heights(knn) == pytest.approx([0.3, 0.35])
    assert math.isnan(_bar_heights(hub)[1])


def test_train_and_val_loss_have_their_own_axes_with_their_batch_sizes(tmp_path):
    from test_report_helpers import write_run_dir

    from cyclip_bench.report.training import read_metrics_jsonl

    log = read_metrics_jsonl(write_run_dir(tmp_path / "run", "clip") / "metrics.jsonl")
    fig = plots.training_curves({"clip": log}, {"clip": COLOURS["clip"]}, {"clip": (64, 256)})
    train, val = fig.axes[:2]
    assert (
        train.get_title() == "train loss (batches of 64)" and val.get_title() == "val loss (held out, batches of 256)"
    )
    assert len(train.get_lines()) == 1 and len(val.get_lines()) == 1
    assert list(val.get_lines()[0].get_xdata()) == list(log.val["step"])
