"""Per-class top-1: every class of every checkpoint in a CSV beside the report, and per-class differences
against the baseline as a plot that stays readable at ImageNet's 1,000 classes (the largest gains and losses as
bars, every class in a histogram)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from scipy import stats as sps

from cyclip_bench.report.task_plots.registry import TaskView, plot_text, task_plot
from cyclip_bench.results import TaskResult, comparison_labels, seed_groups

MAX_CLASSES = 30  # bars in the per-class plot; with more classes that differ, the rest are in the histogram
HISTOGRAM_BINS = 41


def per_class_top1(task: TaskResult) -> pd.DataFrame | None:
    """Per class with test examples (index: class index, ascending): ``class`` (name), ``examples`` and
    ``accuracy`` (top-1, a fraction). None without per-example labels, top-1 and class names. Indexed by class
    index, not name: class lists such as ImageNet's hold the same name twice."""
    correct = task.per_example_of("top1")
    labels = task.per_example.get("label")
    if not correct or not labels or not task.class_names:
        return None
    frame = pd.DataFrame({"label": np.asarray(labels, dtype=int), "correct": np.asarray(correct, dtype=float)})
    grouped = frame.groupby("label")["correct"]
    out = pd.DataFrame({"examples": grouped.size(), "accuracy": grouped.mean()})
    names = task.class_names
    out.insert(0, "class", [names[i] if 0 <= i < len(names) else f"class {i}" for i in out.index])
    return out


def per_class_csv(per_class: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per class (by index), one top-1 column per checkpoint; one ``examples`` column when every
    checkpoint has the same examples per class, else one per checkpoint."""
    index = sorted(set().union(*(frame.index for frame in per_class.values())))
    names = pd.concat([frame["class"] for frame in per_class.values()])
    names = names[~names.index.duplicated()]
    out = pd.DataFrame({"class_index": index, "class": [names[i] for i in index]})
    counts = {label: frame["examples"].reindex(index) for label, frame in per_class.items()}
    first = next(iter(counts.values()))
    if all(c.equals(first) for c in counts.values()):
        out["examples"] = first.to_numpy()
    else:
        for label, c in counts.items():
            out[f"examples {label}"] = c.astype("Int64").array
    for label, frame in per_class.items():
        out[f"top1 {label}"] = frame["accuracy"].reindex(index).round(6).to_numpy()
    return out


@task_plot("per-class-top1", metrics="top1", order=40)
def per_class_differences_plots(view: TaskView) -> None:
    per_class = {label: pc for label, task in view.tasks().items() if (pc := per_class_top1(task)) is not None}
    if not per_class:
        return
    view.add_csv(
        per_class_csv(per_class),
        f"per-class-{view.stem}",
        f"Top-1 per class ({len(next(iter(per_class.values())))} classes) of every checkpoint",
    )
    base = view.task(view.baseline)
    if len(view.labels) < 2 or base is None or view.baseline not in per_class:
        return
    groups = seed_groups(view.results)
    for label in comparison_labels(view.results, view.labels, view.baseline):
        paired = _seed_pairs(view, groups, label, per_class)
        if paired is not None:  # the mean over seed pairs: one seed's per-class differences are mostly noise
            base_name, name, pairs = paired
            diffs = pd.concat([_difference(per_class[b], per_class[o]) for b, o in pairs], axis=1)
            diffs = diffs.dropna()  # a class some pair lacks: not averaged over fewer pairs
            t = sps.t.ppf(0.975, len(pairs) - 1)
            diff = _named(diffs.mean(axis=1), per_class[view.baseline])
            half = _named(t * diffs.std(axis=1, ddof=1) / np.sqrt(len(pairs)), per_class[view.baseline])
            colours = {base_name: view.colours[view.baseline], name: view.colours[label]}
            title = f"{view.name}: per-class top-1, mean over {len(pairs)} seed pairs"
            figure = per_class_differences(diff, base_name, name, colours, title, errors=half)
            stem, what = f"per-class-{view.stem}-{name}", f"{name} − {base_name}"
            caption = (
                f"Top-1 accuracy per class of {name} minus {base_name}, in percentage points: the mean of the "
                f"difference over {len(pairs)} pairs of checkpoints trained with the same seed "
                f"({', '.join(f'{o} − {b}' for b, o in pairs[:3])}{', …' if len(pairs) > 3 else ''}); error bars: "
                "95% t-interval of that mean over the pairs"
            )
        else:
            task = view.task(label)
            if label not in per_class or task.per_example.get("label") != base.per_example.get("label"):
                continue
            diff = _named(_difference(per_class[view.baseline], per_class[label]), per_class[view.baseline])
            figure = per_class_differences(diff, view.baseline, label, view.colours, f"{view.name}: per-class top-1")
            stem, what = f"per-class-{view.stem}-{label}", f"{label} − {view.baseline}"
            caption = "Top-1 accuracy per class of the second checkpoint minus the baseline's, in percentage points"
        many = (diff.abs() > 1e-12).sum() > MAX_CLASSES
        caption += (
            f"; the {MAX_CLASSES // 2} largest gains and losses as bars, every class in the histogram." if many else "."
        )
        if view.add_plot(figure, stem, f"Per-class accuracy: {what}", caption) is None:
            view.add_note(f"Per-class top-1: {what} is 0 on every class.")


def _difference(base: pd.DataFrame, other: pd.DataFrame) -> pd.Series:
    """Per-class top-1 of ``other`` minus ``base`` (fractions), indexed by class index."""
    return (other["accuracy"] - base["accuracy"]).dropna()


def _named(values: pd.Series, per_class: pd.DataFrame) -> pd.Series:
    """``values`` indexed by class name instead of class index; a name that repeats (ImageNet has two "crane"
    classes) carries its class index, so every bar has its own label and the index stays unique."""
    names = per_class["class"].reindex(values.index)
    repeated = names.duplicated(keep=False)
    labels = [f"{n} (class {i})" if r else n for i, n, r in zip(values.index, names, repeated, strict=True)]
    return pd.Series(values.to_numpy(), index=labels)


def _seed_pairs(
    view: TaskView, groups: dict[str, list[str]], label: str, per_class: dict[str, pd.DataFrame]
) -> tuple[str, str, list[tuple[str, str]]] | None:
    """(baseline's configuration, ``label``'s configuration, [(baseline member, member) trained with one seed,
    on the same test examples]) when the two configurations (of ``groups``, `seed_groups`) share two or more
    seeds; else None."""
    member_of = {m: name for name, members in groups.items() for m in members}
    base_name, name = member_of.get(view.baseline), member_of.get(label)
    if base_name is None or name is None or base_name == name:
        return None
    seed_of = {r.label: str((r.train_config or {}).get("seed")) for r in view.results}
    others = {seed_of[m]: m for m in groups[name] if m in per_class}
    pairs = []
    for member in (m for m in groups[base_name] if m in per_class and seed_of[m] in others):
        other = others[seed_of[member]]
        if view.task(member).per_example.get("label") == view.task(other).per_example.get("label"):
            pairs.append((member, other))
    return (base_name, name, pairs) if len(pairs) >= 2 else None


def per_class_differences(
    diff: pd.Series, baseline: str, other: str, colours: dict[str, tuple], title: str, errors: pd.Series | None = None
) -> Figure | None:
    """Horizontal bars of per-class accuracy difference (other − baseline, pp), largest |difference| first;
    classes with no difference are left out (counted in the title). When more than MAX_CLASSES classes differ,
    the bars are the largest gains and the largest losses, and a histogram beside them shows every class. None
    when no class differs. ``errors``: half-widths of each class's interval (fractions), drawn as error bars."""
    changed = diff[diff.abs() > 1e-12]
    if changed.empty:
        return None
    if len(changed) > MAX_CLASSES:
        return _gains_losses_and_histogram(diff, changed, baseline, other, colours, title, errors)
    shown = changed.reindex(changed.abs().sort_values(ascending=False, kind="stable").index)[:MAX_CLASSES]
    shown = shown.iloc[::-1]
    fig = Figure(figsize=(7.0, max(2.5, 0.28 * len(shown) + 1.4)), layout="constrained")
    ax = fig.add_subplot()
    _bars(ax, shown, baseline, other, colours, errors)
    suffix = f"\n{len(changed)} of {len(diff)} classes differ"
    ax.set_title(plot_text(title) + suffix, fontsize=10)
    _bar_legend(ax, baseline, other, colours)
    return fig


def _bars(
    ax, shown: pd.Series, baseline: str, other: str, colours: dict[str, tuple], errors: pd.Series | None = None
) -> None:
    bar_colours = [colours[other] if v >= 0 else colours[baseline] for v in shown]
    xerr = None if errors is None else 100 * errors.reindex(shown.index).to_numpy()
    ax.barh(range(len(shown)), 100 * shown.to_numpy(), color=bar_colours, xerr=xerr, error_kw={"elinewidth": 0.8})
    ax.set_yticks(range(len(shown)), [plot_text(name) for name in shown.index], fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"accuracy difference, {plot_text(other)} − {plot_text(baseline)} (percentage points)")
    ax.grid(axis="x", alpha=0.3)


def _bar_legend(ax, baseline: str, other: str, colours: dict[str, tuple]) -> None:
    handles = [
        Patch(color=colours[other], label=f"{plot_text(other)} better"),
        Patch(color=colours[baseline], label=f"{plot_text(baseline)} better"),
    ]
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="lower right")


def _gains_losses_and_histogram(
    diff: pd.Series,
    changed: pd.Series,
    baseline: str,
    other: str,
    colours: dict[str, tuple],
    title: str,
    errors: pd.Series | None = None,
) -> Figure:
    # Half the bars each for gains and losses; a side with fewer gives its share to the other.
    gains = changed[changed > 0].sort_values(ascending=False, kind="stable")
    losses = changed[changed < 0].sort_values(ascending=True, kind="stable")
    n_gains = min(len(gains), max(MAX_CLASSES // 2, MAX_CLASSES - len(losses)))
    n_losses = min(len(losses), MAX_CLASSES - n_gains)
    # barh draws from the bottom: the largest loss at the bottom, the largest gain on top
    shown = pd.concat([losses[:n_losses], gains[:n_gains].iloc[::-1]])
    fig = Figure(figsize=(12.0, 0.28 * len(shown) + 1.8), layout="constrained")
    bars_ax, hist_ax = fig.subplots(1, 2, width_ratios=(1.4, 1))
    _bars(bars_ax, shown, baseline, other, colours, errors)
    bars_ax.set_title(f"the {n_gains} largest gains and {n_losses} largest losses", fontsize=9)
    _bar_legend(bars_ax, baseline, other, colours)
    _histogram(hist_ax, diff, baseline, other, colours)
    fig.suptitle(plot_text(title) + f" — {len(changed)} of {len(diff)} classes differ", fontsize=10)
    return fig


def _histogram(ax, diff: pd.Series, baseline: str, other: str, colours: dict[str, tuple]) -> None:
    """Every class's difference: one bar per distinct value when there are few (a test set with n examples per
    class gives differences on a 100/n pp lattice), else bins with one centred on 0; stacked by sign."""
    values = 100 * diff.to_numpy()
    better, worse = diff.to_numpy() > 1e-12, diff.to_numpy() < -1e-12
    equal = ~(better | worse)
    distinct = np.unique(np.round(values, 6))
    if len(distinct) <= HISTOGRAM_BINS:
        gap = float(np.diff(distinct).min()) if len(distinct) > 1 else 1.0
        edges = np.unique(np.round(np.concatenate([distinct - gap / 2, distinct + gap / 2]), 6))
    else:
        width = 2 * float(np.abs(values).max()) / HISTOGRAM_BINS
        half = np.ceil(float(np.abs(values).max()) / width - 0.5) + 1
        edges = (np.arange(-half, half + 1) + 0.5) * width
    ax.hist(
        [values[worse], values[equal], values[better]],
        bins=edges,
        stacked=True,
        rwidth=0.85,
        color=[colours[baseline], "0.7", colours[other]],
        label=[f"{plot_text(baseline)} better", "equal", f"{plot_text(other)} better"],
    )
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("accuracy difference (percentage points)")
    ax.set_ylabel("classes")
    ax.set_title(
        f"all {len(diff)} classes: {int(better.sum())} better, {int(worse.sum())} worse, {int(equal.sum())} equal",
        fontsize=9,
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
