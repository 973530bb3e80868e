"""Plots of the report (matplotlib, object API on the Agg canvas: no pyplot state, no display needed).

Every function takes the data and a {checkpoint label: colour} mapping, so a checkpoint has the same colour in
every figure, and returns a Figure (or None when there is nothing to draw). Text that comes from results files
goes through `_text`, which escapes '$' so a class name can never be parsed as mathtext.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from cyclip_bench.fileio import atomic_open  # noqa: E402

matplotlib.rcParams["svg.hashsalt"] = "cyclip-bench"  # deterministic SVG ids: same results → same files

# Beyond this many task · metric groups the bar chart's labels go upright on one line (30° ones overlap).
CROWDED_GROUPS = 10

PAPER_STYLE = {"color": "0.45", "linestyle": "--", "linewidth": 1.2}


def _text(value: object) -> str:
    return str(value).replace("$", r"\$")


def checkpoint_colours(labels: list[str], groups: dict[str, list[str]] | None = None) -> dict[str, tuple]:
    """One colour per checkpoint; seeds of one configuration (``groups``) share a hue in darker/lighter shades,
    so a plot with 12 checkpoints reads as 4 configurations × 3 seeds."""
    member_of = {label: name for name, members in (groups or {}).items() for label in members}
    units: list[str] = []  # a configuration or an ungrouped checkpoint, in label order
    for label in labels:
        unit = member_of.get(label, label)
        if unit not in units:
            units.append(unit)
    palette = colormaps["tab10"].colors if len(units) <= 10 else colormaps["tab20"].colors
    colours = {}
    for label in labels:
        base = palette[units.index(member_of.get(label, label)) % len(palette)]
        members = [m for m in labels if member_of.get(m, m) == member_of.get(label, label)]
        colours[label] = _shade(base, members.index(label), len(members))
    return colours


def _shade(rgb: tuple, index: int, count: int) -> tuple:
    """The ``index``-th of ``count`` shades of ``rgb``: from 35% darker to 35% lighter; the base colour for one."""
    if count == 1:
        return tuple(rgb)
    t = -0.35 + 0.7 * index / (count - 1)
    if t < 0:
        return tuple(c * (1 + t) for c in rgb)
    return tuple(c + (1 - c) * t for c in rgb)


def save_figure(fig: Figure, folder: Path, stem: str) -> dict[str, Path]:
    """Write PNG and SVG atomically; no timestamps or software tags, so the same data give the same bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"png": folder / f"{stem}.png", "svg": folder / f"{stem}.svg"}
    with atomic_open(paths["png"], "wb") as handle:
        fig.savefig(handle, format="png", dpi=80, metadata={"Software": None}, pil_kwargs={"optimize": True})
    # Text stays text in the SVG (searchable, and ~3x smaller than glyph outlines); a fixed hash salt keeps the
    # element ids, and so the bytes, the same from run to run.
    svg_rc = {"svg.fonttype": "none", "svg.hashsalt": "cyclip"}
    with atomic_open(paths["svg"], "wb") as handle, matplotlib.rc_context(svg_rc):
        fig.savefig(handle, format="svg", metadata={"Date": None, "Creator": None})
    return paths


MAX_LEGEND_IN_AXES = 8  # more entries than this (a report of many checkpoints) go below the plot, in columns
LEGEND_COLUMNS = 6


def _legend(ax, **kwargs) -> None:
    """The axes' legend; with many entries (e.g. 30 checkpoints) a figure legend below the plots, in columns,
    with the figure made taller to hold it — inside the axes it would cover the data or collapse the layout."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if len(handles) <= MAX_LEGEND_IN_AXES:
        ax.legend(fontsize=8, frameon=False, **kwargs)
        return
    figure_legend(ax.get_figure(), handles, labels)


LEGEND_CHAR_IN = 0.055  # width of one legend character at fontsize 7, inches (DejaVu Sans, generous)
LEGEND_HANDLE_IN = 0.65  # the marker or line, its padding and the column gap, inches


def legend_columns(labels: list[str], width_in: float) -> int:
    """As many columns (at most LEGEND_COLUMNS) as fit the figure's width with the longest label: more would
    run past the figure's edge and be cut off."""
    longest = max((len(label) for label in labels), default=1)
    fits = int(width_in // (LEGEND_HANDLE_IN + LEGEND_CHAR_IN * longest))
    return max(1, min(LEGEND_COLUMNS, len(labels), fits))


def figure_legend(fig: Figure, handles: list, labels: list[str]) -> None:
    """A legend below the plots, in as many columns as the figure's width holds; the figure grows to fit it."""
    width, height = fig.get_size_inches()
    columns = legend_columns(labels, width)
    rows = -(-len(handles) // columns)
    fig.set_size_inches(width, height + 0.2 * rows + 0.2)
    fig.legend(handles, labels, loc="outside lower center", ncols=columns, fontsize=7, frameon=False)


def grouped_bars(
    groups: list[str],
    series: dict[str, list[tuple[float, float, float] | None]],
    colours: dict[str, tuple],
    title: str,
    ylabel: str,
    points: dict[str, list[list[float]]] | None = None,
) -> Figure | None:
    """Bars per group (task · metric), one per series (a checkpoint, or a configuration); series[label][i] =
    (value, ci_low, ci_high) in %. ``points[label][i]``: values drawn as dots on that bar (a configuration's seeds)."""
    if not groups or not series:
        return None
    n = len(series)
    width = 0.8 / n
    # Many groups (suite "all": 24 task · metric pairs) are labelled on one line, upright, so no two labels can
    # overlap however narrow a group gets; the figure grows taller to hold them. A few keep the two-line labels.
    crowded = len(groups) > CROWDED_GROUPS
    labels = [_text(g).replace("\n", " · ") if crowded else _text(g) for g in groups]
    tall = 0.065 * max(len(label) for label in labels) if crowded else 0.0
    fig = Figure(figsize=(min(11.0, max(6.0, 0.55 * len(groups) * max(1, n) + 2)), 4.4 + tall), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(groups))
    for i, (label, values) in enumerate(series.items()):
        heights = [v[0] if v else np.nan for v in values]
        low = [max(0.0, v[0] - v[1]) if v and not math.isnan(v[1]) else 0.0 for v in values]
        high = [max(0.0, v[2] - v[0]) if v and not math.isnan(v[2]) else 0.0 for v in values]
        centres = x + (i - (n - 1) / 2) * width
        ax.bar(
            centres,
            heights,
            width,
            label=_text(label),
            color=colours[label],
            yerr=[low, high],
            capsize=3,
            error_kw={"elinewidth": 1, "ecolor": "0.2"},
        )
        for centre, dots in zip(centres, (points or {}).get(label, []), strict=False):
            if dots:  # spread across the bar so equal values stay countable
                offsets = np.linspace(-0.3, 0.3, len(dots)) * width if len(dots) > 1 else np.zeros(1)
                ax.scatter(centre + offsets, dots, s=6, color="0.1", alpha=0.7, linewidths=0, zorder=3)
    ax.set_xticks(
        x,
        labels,
        rotation=90 if crowded else 30 if len(groups) > 3 else 0,
        ha="right" if 3 < len(groups) <= CROWDED_GROUPS else "center",
        fontsize=8,
    )
    ax.set_ylabel(ylabel)
    ax.set_title(_text(title))
    tops = [v[2] if not math.isnan(v[2]) else v[0] for values in series.values() for v in values if v]
    tops += [max(dots) for per_group in (points or {}).values() for dots in per_group if dots]
    ax.set_ylim(0, min(100.0, max(tops, default=100.0) * 1.15 + 2))  # room for the legend, no empty 100%
    ax.grid(axis="y", alpha=0.3)
    if points:  # the dots reach above the bars: the legend goes below the plot, never over the data
        figure_legend(fig, *ax.get_legend_handles_labels())
    else:
        _legend(ax, loc="upper right")
    return fig


def _logit_curve(grid: np.ndarray, fit: dict) -> np.ndarray:
    p = np.clip(grid / 100, 1e-4, 1 - 1e-4)
    logit = np.log(p / (1 - p))
    return 100 / (1 + np.exp(-(fit["slope"] * logit + fit["intercept"])))


def effective_robustness(
    points: pd.DataFrame, fits: dict[str, dict | None], colours: dict[str, tuple], title: str
) -> Figure | None:
    """In-distribution vs shift top-1 (%), one panel per shift set, one colour per checkpoint; y = x and the
    set's own logit-space baseline fit (``fits[set]``; None: too few checkpoints for one, said in the panel).
    The checkpoints' legend sits below the panels, in as many columns as fit the width."""
    if points.empty:
        return None
    datasets = list(dict.fromkeys(points["dataset"]))
    columns = min(3, len(datasets))
    rows = -(-len(datasets) // columns)
    fig = Figure(figsize=(3.6 * columns + 0.6, 3.4 * rows + 0.4), layout="constrained")
    grid = fig.subplots(rows, columns, squeeze=False)
    top = min(100.0, max(100 * points["id_top1"].max(), 100 * points["shift_top1"].max()) * 1.1 + 2)
    line = np.linspace(0.5, top, 200)
    for i, ax in enumerate(grid.flat):
        if i >= len(datasets):
            ax.set_visible(False)
            continue
        dataset = datasets[i]
        mine = points[points["dataset"] == dataset]
        for _, row in mine.iterrows():
            ax.scatter(
                100 * row["id_top1"],
                100 * row["shift_top1"],
                color=colours[row["checkpoint"]],
                s=40,
                edgecolor="black",
                linewidth=0.5,
                zorder=3,
            )
        ax.plot(line, line, color="black", linestyle=":", linewidth=1)
        fit = fits.get(dataset)
        if fit:
            ax.plot(line, _logit_curve(line, fit), color="0.35", linestyle="--", linewidth=1.2)
        else:
            ax.text(
                0.03,
                0.97,
                f"no fit: {len(mine)} checkpoint(s)\nshown: shift − ID gap",
                transform=ax.transAxes,
                va="top",
                fontsize=8,
                color="0.3",
            )
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_title(_text(dataset), fontsize=10)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
        if i % columns == 0:
            ax.set_ylabel("shifted top-1 (%)", fontsize=9)
        if i // columns == rows - 1 or i + columns >= len(datasets):
            ax.set_xlabel("in-distribution top-1 (%)", fontsize=9)
    fig.suptitle(_text(title))
    handles = [Line2D([], [], color="black", linestyle=":", label="y = x")]
    if any(fits.get(d) for d in datasets):
        handles.append(Line2D([], [], color="0.35", linestyle="--", label="the set's baseline fit (logit)"))
    present = set(points["checkpoint"])
    handles += [
        Line2D([], [], color=colour, marker="o", linestyle="", markeredgecolor="black", label=_text(label))
        for label, colour in colours.items()
        if label in present
    ]
    figure_legend(fig, handles, [h.get_label() for h in handles])
    return fig


def consistency_curves(
    ks: list[int],
    series: dict[str, list[tuple[float, float, float] | None]],
    colours: dict[str, tuple],
    paper_series: dict[str, list[float]],
    title: str,
    points: dict[str, list[list[float]]] | None = None,
) -> Figure | None:
    """consistency@k (%) against k per series (a checkpoint, or a configuration's mean), 95% CI bars; the paper's
    curves dashed grey if known. ``points[label][i]``: values drawn as dots at the i-th k (a configuration's
    seeds)."""
    if not ks or not series:
        return None
    fig = Figure(figsize=(6.2, 4.2), layout="constrained")
    ax = fig.add_subplot()
    step = 0.06 * (max(ks) - min(ks) or 1) / max(1, len(series))
    for i, (label, values) in enumerate(series.items()):
        xs = [k + (i - (len(series) - 1) / 2) * step for k in ks]  # dodge, so error bars do not hide each other
        ys = [v[0] if v else np.nan for v in values]
        low = [max(0.0, v[0] - v[1]) if v else 0.0 for v in values]
        high = [max(0.0, v[2] - v[0]) if v else 0.0 for v in values]
        ax.errorbar(xs, ys, yerr=[low, high], color=colours[label], marker="o", capsize=3, label=_text(label))
        for x, dots in zip(xs, (points or {}).get(label, []), strict=False):
            ax.scatter([x] * len(dots), dots, s=6, color=colours[label], alpha=0.5, linewidths=0, zorder=1)
    for i, (model, values) in enumerate(paper_series.items()):
        ax.plot(
            ks,
            values,
            marker="x",
            label=_text(model),
            color="0.35" if i == 0 else "0.6",
            linestyle="--",
            linewidth=1.2,
        )
    ax.set_xticks(ks)
    ax.set_xlabel("k (nearest train images)")
    ax.set_ylabel("consistency@k (%)")
    ax.set_title(_text(title))
    ax.grid(alpha=0.3)
    _legend(ax, loc="best")
    return fig


SCALE_FREE_PANELS = (
    (
        "scale-free: Spearman rank correlations ↑",
        [
            ("inmodal_rank_correlation", "in-modal (IIᵀ vs TTᵀ)"),
            ("crossmodal_rank_correlation", "cross-modal (C vs Cᵀ)"),
        ],
    ),
    (
        "scale-free: gaps in units of similarity sd ↓",
        [("inmodal_gap_normalised", "in-modal gap / sd"), ("crossmodal_asymmetry_normalised", "cross-modal gap / sd")],
    ),
    ("cone: mean off-diagonal cosine (context)", [("cone_image", "image"), ("cone_text", "text")]),
)


def _metric_bars(ax, metrics: dict, labels: list[str], colours: dict, parts: list[tuple[str, str]]) -> None:
    """One group of bars per metric in ``parts`` ((key, name)), one bar per checkpoint; missing values blank."""
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        heights = [metrics[label].get(key) for key, _ in parts]
        ax.bar(
            np.arange(len(parts)) + (i - (len(labels) - 1) / 2) * width,
            [np.nan if v is None else v for v in heights],
            width,
            color=colours[label],
            label=_text(label),
        )
    ax.set_xticks(range(len(parts)), [name for _, name in parts], fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    _from_zero(ax)


MIN_SPAN = 0.1  # a scatter axis spans at least this share of its values' magnitude (no zoom on a tiny gap)


def _at_least_span(ax, values: list[float], axis: str) -> None:
    """Widen ``axis`` so it spans at least MIN_SPAN of the values' magnitude around them: two points 0.7371 and
    0.7317 must not fill the plot as if they were far apart."""
    if not values:
        return
    low, high = min(values), max(values)
    span = max(MIN_SPAN * max(abs(low), abs(high)), 1e-9)
    if high - low >= span:
        return
    centre = (low + high) / 2
    (ax.set_xlim if axis == "x" else ax.set_ylim)(centre - span, centre + span)


def geometry_panel(
    metrics: dict[str, dict[str, float | None]],
    colours: dict[str, tuple],
    title: str,
    extra: dict[str, tuple[dict[str, float | None], bool | None]] | None = None,
) -> Figure | None:
    """Three panels: modality gap; in-modal and cross-modal consistency gaps; alignment vs uniformity. When the
    results hold the scale-free measures, a second row: rank correlations, normalised gaps and the cones
    (a narrower cone shrinks the absolute gaps of the first row, not these). ``extra``: further geometry
    measures (name → ({label: value}, higher is better)), one bar panel each, three to a row. Every bar axis
    starts at 0."""
    extra = {name: data for name, data in (extra or {}).items() if any(v is not None for v in data[0].values())}
    labels = [
        label
        for label in metrics
        if any(v is not None for v in metrics[label].values())
        or any(data[0].get(label) is not None for data in extra.values())
    ]
    if not labels:
        return None
    scale_free = any(
        metrics[label].get(key) is not None
        for label in labels
        for _, parts in SCALE_FREE_PANELS[:2]
        for key, _ in parts
    )
    extra_rows = -(-len(extra) // 3)
    rows = (2 if scale_free else 1) + extra_rows
    fig = Figure(figsize=(12, 3.9 * rows), layout="constrained")
    grid = fig.subplots(rows, 3, squeeze=False)
    axes = grid[0]
    fig.suptitle(_text(title))

    ax = axes[0]
    values = [metrics[label].get("modality_gap") for label in labels]
    ax.bar(range(len(labels)), [np.nan if v is None else v for v in values], color=[colours[x] for x in labels])
    if len(labels) <= MAX_LEGEND_IN_AXES:
        ax.set_xticks(range(len(labels)), [_text(x) for x in labels], rotation=20, ha="right", fontsize=8)
    else:  # too many to name under the bars: the colours are the legend's
        ax.set_xticks([])
    ax.set_title("modality gap ‖mean(I) − mean(T)‖ ↓", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    _from_zero(ax)

    ax = axes[1]
    _metric_bars(ax, metrics, labels, colours, [("inmodal_gap", "in-modal gap"), ("crossmodal_gap", "cross-modal gap")])
    ax.set_title("consistency gaps ↓", fontsize=10)
    _legend(ax)

    ax = axes[2]
    xs, ys = [], []
    for label in labels:
        uniform = metrics[label].get("uniform_joint")
        if uniform is None:
            uniform = metrics[label].get("uniform_image")
        align = metrics[label].get("align_image_text")
        if uniform is not None and align is not None:
            xs.append(uniform)
            ys.append(align)
            ax.scatter(
                uniform,
                align,
                color=colours[label],
                s=70,
                edgecolor="black",
                linewidth=0.5,
                label=_text(label),
                zorder=3,
            )
    ax.set_xlabel("uniformity (log E exp(−2‖x − x′‖²)) ↓")
    ax.set_ylabel("alignment (E‖f(x) − g(y)‖²) ↓")
    ax.set_title("alignment vs uniformity (lower-left is better)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.margins(0.25)
    _at_least_span(ax, xs, "x")
    _at_least_span(ax, ys, "y")

    row = 1
    if scale_free:
        for ax, (panel_title, parts) in zip(grid[1], SCALE_FREE_PANELS, strict=True):
            _metric_bars(ax, metrics, labels, colours, parts)
            ax.axhline(0, color="black", linewidth=0.6)
            ax.set_title(panel_title, fontsize=10)
        row = 2
    names = list(extra)
    for i, ax in enumerate(grid[row:].flat):
        if i >= len(names):
            ax.set_visible(False)
            continue
        values_of, higher = extra[names[i]]
        heights = [values_of.get(label) for label in labels]
        ax.bar(range(len(labels)), [np.nan if v is None else v for v in heights], color=[colours[x] for x in labels])
        ax.set_xticks([])
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title(_text(names[i]) + direction_arrow(higher), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        _from_zero(ax)
    return fig


def direction_arrow(higher_is_better: bool | None) -> str:
    return "" if higher_is_better is None else " ↑" if higher_is_better else " ↓"


def _from_zero(ax) -> None:
    """Bars start at 0: the y axis always holds 0, whatever the values' sign."""
    low, high = ax.get_ylim()
    ax.set_ylim(min(low, 0.0), max(high, 0.0))


def _batch_text(sizes: set) -> str:
    known = sorted(str(v) for v in sizes if v is not None)
    return f"batches of {' / '.join(known)}" if known else "its batches"


def training_curves(
    logs: dict[str, object],
    colours: dict[str, tuple],
    batch_sizes: dict[str, tuple[int | None, int | None]] | None = None,
) -> Figure | None:
    """Train loss, val loss (each on its own axis), the loss parts, learning rate and logit scale against step.

    Train and val loss are not on one scale: a contrastive loss grows with the number of pairs it is computed
    over (log N for chance), and training batches and validation chunks differ in size (``batch_sizes``:
    label → (train batch, val chunk), from the runs' configs); each panel says its size. The parts are each
    run's objective's terms (``TrainingLog.terms``); one line style per term name."""
    if not logs:
        return None
    sizes = batch_sizes or {}
    fig = Figure(figsize=(15, 3.8), layout="constrained")
    axes = fig.subplots(1, 5)
    terms = dict.fromkeys(term for log in logs.values() for term in log.terms)
    styles = ["-", "--", ":", "-."]
    part_styles = {term: styles[i % len(styles)] for i, term in enumerate(terms)}
    for label, log in logs.items():
        colour = colours[label]
        train, val = log.train, log.val
        if not train.empty:
            axes[0].plot(train["step"], train["loss"], color=colour, label=_text(label))
            for part in log.terms:
                style = part_styles[part]
                if train[part].notna().any():
                    axes[2].plot(
                        train["step"],
                        train[part],
                        color=colour,
                        linestyle=style,
                    )
            axes[3].plot(train["step"], train["lr"], color=colour, label=_text(label))
            axes[4].plot(train["step"], train["logit_scale"], color=colour, label=_text(label))
        if not val.empty:
            axes[1].plot(val["step"], val["loss"], color=colour, marker="o", markersize=3, label=_text(label))
    train_sizes = {sizes.get(label, (None, None))[0] for label in logs}
    val_sizes = {sizes.get(label, (None, None))[1] for label in logs}
    titles = [
        f"train loss ({_batch_text(train_sizes)})",
        f"val loss (held out, {_batch_text(val_sizes)})",
        "loss parts (train, before λ)",
        "learning rate",
        "logit scale s = exp(t)",
    ]
    for ax, title in zip(axes, titles, strict=False):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[2].set_yscale("symlog", linthresh=1e-3)
    _legend(axes[0])
    styles = [Line2D([], [], color="0.2", linestyle=style, label=part) for part, style in part_styles.items()]
    axes[2].legend(handles=styles, fontsize=8, frameon=False, loc="upper right")
    return fig
