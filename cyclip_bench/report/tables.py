"""Tables of the report, built with pandas from the loaded results.

A `Table` is a DataFrame of display strings plus a same-shaped boolean frame marking the best cell of each
row; the Markdown writer and the HTML template both render it, so the two reports always show the same
numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from cyclip_bench.report.geometry import geometry_home, geometry_metrics
from cyclip_bench.report.stats import (
    MAX_SEEDS,
    POWER,
    aggregate_seeds,
    bootstrap_ci,
    bootstrap_seed_difference,
    compare_paired,
    minimum_detectable_difference,
    pooled_sd,
    seed_verdict,
    seeds_needed,
    welch_difference,
)
from cyclip_bench.results import (
    Result,
    TaskResult,
    find_task,
    ordered_checkpoints,
    reference_task,
    same_examples,
    seed_values,
    suite_tasks,
    suites,
)

# The metric(s) the overview shows for each task kind; other kinds show their first metric.
HEADLINE_METRICS = {
    "zeroshot": ("top1",),
    "linear_probe": ("top1",),
    "retrieval": ("image_to_text_R@1", "text_to_image_R@1"),
    # The gaps CyCLIP optimises, and their scale-free forms (a narrower cone shrinks absolute gaps by itself).
    "consistency": (
        "consistency@1",
        "consistency@10",
        "fine_top1",
        "coarse_top1",
        "inmodal_gap",
        "crossmodal_gap",
        "inmodal_rank_correlation",
        "crossmodal_asymmetry_normalised",
        "modality_gap",
    ),
}


@dataclass
class Table:
    frame: pd.DataFrame  # display strings; index = row labels
    best: pd.DataFrame | None = None  # same shape, True where the cell is the best of its row
    notes: list[str] = field(default_factory=list)
    index_name: str = ""

    def rows(self) -> list[dict]:
        """Rows for the template: {"label": str, "cells": [{"text", "best"}]}."""
        out = []
        for i, (label, row) in enumerate(self.frame.iterrows()):
            best = self.best.iloc[i] if self.best is not None else None
            cells = [
                {"text": str(value), "best": bool(best.iloc[j]) if best is not None else False}
                for j, value in enumerate(row)
            ]
            out.append({"label": label if isinstance(label, str) else " · ".join(map(str, label)), "cells": cells})
        return out

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


def format_value(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "fraction":
        return f"{100 * value:.2f}"
    return f"{value:.4g}"


def unit_suffix(unit: str) -> str:
    return " (%)" if unit == "fraction" else ""


def direction_mark(higher_is_better: bool | None) -> str:
    """' ↑' (higher is better), ' ↓' (lower is better) or '' for a metric without a direction."""
    return "" if higher_is_better is None else " ↑" if higher_is_better else " ↓"


def headline_metrics(task: TaskResult) -> list[str]:
    if task.kind == "effective_robustness":
        return list(task.metrics)
    wanted = [m for m in HEADLINE_METRICS.get(task.kind, ()) if m in task.metrics]
    return wanted or list(task.metrics)[:1]


def headline_rows(results: list[Result], suite: str, task_name: str) -> list[str]:
    """The task's headline metrics as the report's rows show them: geometry measured on caption pairs that an
    earlier task of the suite also measured on is shown once, under that task (report/geometry.py)."""
    ref = reference_task(results, suite, task_name)
    home = geometry_home(results, suite, task_name)
    if home is None or home.owner == task_name:
        return headline_metrics(ref)
    geometry = set(geometry_metrics(ref))
    return [m for m in headline_metrics(ref) if m not in geometry]


def _shared_geometry_note(results: list[Result]) -> str | None:
    """A note naming the tasks whose geometry rows are shown under another task, or None."""
    moved = []
    for suite in suites(results):
        for task_name in suite_tasks(results, suite):
            home = geometry_home(results, suite, task_name)
            if home is not None and home.owner != task_name:
                moved.append(f"{suite} · {task_name} (see {home.owner}, same caption pairs {home.caption_set})")
    if not moved:
        return None
    return "Geometry is shown once per caption set: " + "; ".join(moved) + "."


def _best_flags(values: list[float | None], higher_is_better: bool | None) -> list[bool]:
    present = [v for v in values if v is not None]
    if higher_is_better is None or len(present) < 2:
        return [False] * len(values)  # no direction, or nothing to compare
    if all(math.isclose(v, present[0], rel_tol=1e-12, abs_tol=1e-12) for v in present):
        return [False] * len(values)  # nothing to single out
    target = max(present) if higher_is_better else min(present)
    return [v is not None and math.isclose(v, target, rel_tol=1e-12, abs_tol=1e-12) for v in values]


def overview_table(results: list[Result]) -> Table:
    """Rows: suite · task · headline metric; columns: checkpoints. The paper's numbers have their own table
    (the findings' "paper beside us")."""
    labels = ordered_checkpoints(results)
    rows, best_rows, index = [], [], []
    for suite in suites(results):
        for task_name in suite_tasks(results, suite):
            ref = reference_task(results, suite, task_name)
            for metric in headline_rows(results, suite, task_name):
                values = []
                for label in labels:
                    task = find_task(results, label, suite, task_name)
                    values.append(task.metrics.get(metric) if task is not None else None)
                unit = ref.unit(metric)
                direction = direction_mark(ref.higher_is_better(metric))
                rows.append([format_value(v, unit) for v in values])
                best_rows.append(_best_flags(values, ref.higher_is_better(metric)))
                index.append(f"{suite} · {task_name} · {metric}{unit_suffix(unit)}{direction}")
    frame = pd.DataFrame(rows, index=index, columns=labels)
    best = pd.DataFrame(best_rows, index=index, columns=labels)
    notes = ["Best checkpoint per row in bold; ↑ higher is better, ↓ lower is better. Percentages for fractions."]
    shared = _shared_geometry_note(results)
    if shared:
        notes.append(shared)
    return Table(frame, best, notes, index_name="suite · task · metric")


def task_table(results: list[Result], suite: str, task_name: str, n_boot: int, seed: int) -> Table:
    """Every metric of one task: value per checkpoint with a 95% bootstrap CI where per-example data exist.
    Geometry already shown under an earlier task measured on the same caption pairs is left out (a note
    says where it is)."""
    labels = ordered_checkpoints(results)
    ref = reference_task(results, suite, task_name)
    metrics: list[str] = []
    for label in labels:
        task = find_task(results, label, suite, task_name)
        if task is not None:
            metrics.extend(m for m in task.metrics if m not in metrics)
    notes = []
    home = geometry_home(results, suite, task_name)
    if home is not None and home.owner != task_name:
        geometry = set(geometry_metrics(ref))
        metrics = [m for m in metrics if m not in geometry]
        notes.append(
            f"Geometry (caption pairs {home.caption_set}): shown under {home.owner}, measured on the same pairs."
        )
    rows, best_rows, index = [], [], []
    for metric in metrics:
        unit = ref.unit(metric)
        values, cells = [], []
        for label in labels:
            task = find_task(results, label, suite, task_name)
            value = task.metrics.get(metric) if task is not None else None
            values.append(value)
            text = format_value(value, unit)
            per_example = task.per_example_of(metric) if task is not None else None
            if value is not None and per_example:
                ci = bootstrap_ci(per_example, n_boot=n_boot, seed=seed)
                text += f" [{format_value(ci.low, unit)}, {format_value(ci.high, unit)}]"
            cells.append(text)
        rows.append(cells)
        best_rows.append(_best_flags(values, ref.higher_is_better(metric)))
        direction = direction_mark(ref.higher_is_better(metric))
        index.append(f"{metric}{unit_suffix(unit)}{direction}")
    frame = pd.DataFrame(rows, index=index, columns=labels)
    best = pd.DataFrame(best_rows, index=index, columns=labels)
    if any(ref.per_example_of(m) for m in metrics):
        notes.insert(0, f"[a, b]: 95% percentile bootstrap CI over test examples ({n_boot} resamples, seed {seed}).")
    return Table(frame, best, notes, index_name="metric")


def comparison_table(
    results: list[Result], suite: str, task_name: str, baseline: str, n_boot: int, seed: int
) -> Table | None:
    """Paired comparisons of every other checkpoint against the baseline on the same examples."""
    labels = ordered_checkpoints(results)
    base = find_task(results, baseline, suite, task_name)
    if base is None:
        return None
    rows, index, notes = [], [], []
    for label in labels:
        if label == baseline:
            continue
        other = find_task(results, label, suite, task_name)
        if other is None:
            continue
        for metric in base.metrics:
            a, b = base.per_example_of(metric), other.per_example_of(metric)
            if not a or not b:
                continue
            if not same_examples(base, other, metric):
                notes.append(f"{label} vs {baseline}: not paired (the per-example labels or counts differ).")
                break
            cmp = compare_paired(a, b, n_boot=n_boot, seed=seed)
            unit = base.unit(metric)
            scale, suffix = (100.0, " pp") if unit == "fraction" else (1.0, "")
            verdict = (
                f"checkpoints differ ({_p(cmp.p_value)})" if cmp.significant else f"not significant ({_p(cmp.p_value)})"
            )
            rows.append(
                [
                    label,
                    str(cmp.n),
                    format_value(cmp.mean_a, unit),
                    format_value(cmp.mean_b, unit),
                    f"{scale * cmp.difference:+.2f}{suffix}",
                    f"[{scale * cmp.ci_low:+.2f}, {scale * cmp.ci_high:+.2f}]",
                    f"{cmp.a_only} / {cmp.b_only}",
                    cmp.test,
                    verdict,
                ]
            )
            index.append(f"{metric}{unit_suffix(unit)}")
    if not rows:
        return Table(pd.DataFrame(), None, notes) if notes else None
    columns = [
        "checkpoint",
        "n",
        "baseline",
        "value",
        "difference",
        "95% CI",
        "discordant (base / ckpt)",
        "test",
        "verdict",
    ]
    frame = pd.DataFrame(rows, index=index, columns=columns)
    notes.insert(
        0,
        f"Paired on the same examples; difference = checkpoint − baseline ({baseline}); CI from a paired "
        f"bootstrap ({n_boot} resamples); 'not significant' where p ≥ 0.05. These tests compare these "
        "checkpoints on this test set: they resample test examples, not training runs, so 'checkpoints differ' "
        "says nothing about the methods (a second seed differs too; see the findings and the seeds section).",
    )
    return Table(frame, None, notes, index_name="metric")


def _p(p_value: float) -> str:
    """'p = 0.0123' or 'p < 0.0001'."""
    return f"p = {p_value:.3g}" if p_value >= 1e-4 else "p < 0.0001"


def _p_cell(p_value: float) -> str:
    """A p-value in a column headed 'p': '0.0123' or '< 0.0001'."""
    return f"{p_value:.3g}" if p_value >= 1e-4 else "< 0.0001"


def effective_robustness_points(results: list[Result], suite: str, task_name: str) -> pd.DataFrame:
    rows = []
    for label in ordered_checkpoints(results):
        task = find_task(results, label, suite, task_name)
        if task is None:
            continue
        for point in task.extra.get("points", []):
            dataset = str(point.get("dataset", ""))
            rows.append(
                {
                    "checkpoint": label,
                    "dataset": dataset,
                    "id_dataset": str(point.get("id_dataset", "")),
                    "id_top1": float(point["id_top1"]),
                    "shift_top1": float(point["shift_top1"]),
                    "effective_robustness": task.metrics.get(f"{dataset}/effective_robustness"),
                    "shift_gap": task.metrics.get(f"{dataset}/shift_gap"),
                }
            )
    return pd.DataFrame(
        rows,
        columns=["checkpoint", "dataset", "id_dataset", "id_top1", "shift_top1", "effective_robustness", "shift_gap"],
    )


def _pp(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{100 * value:+.2f}"


def points_table(points: pd.DataFrame) -> Table:
    frame = pd.DataFrame(
        {
            "checkpoint": points["checkpoint"],
            "in-distribution": [
                f"{d} {100 * v:.2f}" for d, v in zip(points["id_dataset"], points["id_top1"], strict=False)
            ],
            "shift top-1 (%)": [f"{100 * v:.2f}" for v in points["shift_top1"]],
            "effective robustness (pp)": [_pp(v) for v in points["effective_robustness"]],
            "shift − ID gap (pp)": [_pp(v) for v in points["shift_gap"]],
        }
    )
    for column in ("effective robustness (pp)", "shift − ID gap (pp)"):
        if (frame[column] == "—").all():
            frame = frame.drop(columns=column)
    frame.index = list(points["dataset"])
    return Table(frame, None, [], index_name="shift dataset")


# ---- seeds -----------------------------------------------------------------------------------------------


def seeds_table(results: list[Result], groups: dict[str, list[str]]) -> Table | None:
    if not groups:
        return None
    rows, index = [], []
    for suite in suites(results):
        for task_name in suite_tasks(results, suite):
            ref = reference_task(results, suite, task_name)
            for metric in headline_rows(results, suite, task_name):
                unit = ref.unit(metric)
                cells = []
                for members in groups.values():
                    values = [
                        t.metrics.get(metric)
                        for t in (find_task(results, m, suite, task_name) for m in members)
                        if t is not None
                    ]
                    values = [v for v in values if v is not None]
                    if not values:
                        cells.append("—")
                        continue
                    agg = aggregate_seeds(values)
                    scale = 100.0 if unit == "fraction" else 1.0
                    cells.append(f"{scale * agg.mean:.2f} ± {scale * agg.sd:.2f} (n = {agg.n})")
                rows.append(cells)
                index.append(f"{suite} · {task_name} · {metric}{unit_suffix(unit)}")
    frame = pd.DataFrame(rows, index=index, columns=list(groups))
    members = "; ".join(f"{name}: {', '.join(labels)}" for name, labels in groups.items())
    notes = [f"Mean ± sample standard deviation over seeds (n = number of seeds). Groups: {members}."]
    return Table(frame, None, notes, index_name="suite · task · metric")


SEED_DIFFERENCE_TARGET = 0.02  # the difference (2 pp) for "seeds needed" on fraction metrics


def _diff_text(value: float, unit: str, signed: bool = True) -> str:
    """A difference: percentage points for fractions (+1.23 pp), else 4 significant digits."""
    if unit == "fraction":
        return f"{100 * value:+.2f} pp" if signed else f"{100 * value:.2f} pp"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _interval_text(low: float, high: float, unit: str) -> str:
    if unit == "fraction":
        return f"[{100 * low:+.2f}, {100 * high:+.2f}]"
    return f"[{low:+.4g}, {high:+.4g}]"


def _seeds_needed_text(difference: float, sd: float, unit: str) -> str:
    """Seeds per configuration to detect 2 pp (fractions) or, in other units, a difference the size of the
    observed one."""
    if unit == "fraction":
        target, what = SEED_DIFFERENCE_TARGET, "2 pp"
    else:
        target, what = abs(difference), f"{abs(difference):.4g} (observed)"
        if target == 0:
            return "— (observed 0)"
    n = seeds_needed(target, sd)
    return f"{n} for {what}" if n is not None else f"> {MAX_SEEDS} for {what}"


def seed_differences_table(
    results: list[Result], groups: dict[str, list[str]], baseline: str, n_boot: int, seed: int
) -> Table | None:
    """Differences between configurations across seeds: each configuration with two or more seeds against the
    baseline's configuration, per headline metric: Welch and bootstrap CIs, Welch p, the minimum detectable
    difference at 80% power, the seeds needed, and a verdict that never calls an underpowered effect absent."""
    if not groups:
        return None
    base_group = next((name for name, members in groups.items() if baseline in members), None)
    if base_group is None:
        note = (
            f"No differences across seeds: the baseline {baseline} has a single seed (choose a baseline from a "
            "configuration with two or more seeds with --baseline)."
        )
        return Table(pd.DataFrame(), None, [note])
    others = [name for name in groups if name != base_group]
    if not others:
        return Table(pd.DataFrame(), None, [f"No differences across seeds: only {base_group} has several seeds."])
    rows, index, zero_sd = [], [], False
    for suite in suites(results):
        for task_name in suite_tasks(results, suite):
            ref = reference_task(results, suite, task_name)
            for metric in headline_rows(results, suite, task_name):
                unit = ref.unit(metric)
                a = seed_values(results, groups[base_group], suite, task_name, metric)
                for name in others:
                    b = seed_values(results, groups[name], suite, task_name, metric)
                    if len(a) < 2 or len(b) < 2:
                        continue  # one seed: no spread to compare against
                    welch = welch_difference(a, b)
                    boot = bootstrap_seed_difference(a, b, n_boot=n_boot, seed=seed)
                    sd = pooled_sd(a, b)
                    zero_sd = zero_sd or sd == 0
                    mdd = minimum_detectable_difference(sd, len(a), len(b))
                    rows.append(
                        [
                            name,
                            f"{len(a)} / {len(b)}",
                            format_value(welch.mean_a, unit),
                            format_value(welch.mean_b, unit),
                            _diff_text(welch.difference, unit),
                            _interval_text(welch.ci_low, welch.ci_high, unit),
                            _interval_text(boot.low, boot.high, unit),
                            _p_cell(welch.p_value),
                            _diff_text(mdd, unit, signed=False),
                            _seeds_needed_text(welch.difference, sd, unit),
                            seed_verdict(welch.ci_low, welch.ci_high, welch.difference, mdd),
                        ]
                    )
                    index.append(f"{suite} · {task_name} · {metric}{unit_suffix(unit)}")
    if not rows:
        return None
    columns = [
        "configuration",
        "seeds (base / config)",
        "baseline mean",
        "mean",
        "difference",
        "Welch 95% CI",
        "bootstrap 95% CI",
        "p (Welch)",
        f"MDD ({POWER:.0%} power)",
        f"seeds needed ({POWER:.0%} power)",
        "verdict",
    ]
    notes = [
        f"Difference = configuration mean − mean of the baseline configuration {base_group} (the one holding "
        f"{baseline}), over seeds; fractions in percent, differences in percentage points (pp). Welch 95% CI "
        "and p: Welch's t-test (unequal variances, Welch–Satterthwaite df). Bootstrap 95% CI: percentile "
        f"bootstrap resampling each configuration's seeds ({n_boot} resamples, seed {seed}), shown as a check: "
        "with a few seeds it is coarse and too narrow (it ignores the uncertainty of the sd), so the verdict "
        "uses the Welch CI.",
        f"MDD: the smallest true difference a two-sided t-test at α = 0.05 finds with {POWER:.0%} probability "
        "with these seed counts, from the pooled sd of the two configurations (noncentral t). Seeds needed: "
        "seeds per configuration for that power at a difference of 2 pp (for metrics not in percent: at the "
        "observed difference), with the same pooled sd. With 2–3 seeds Welch's test has less power than the "
        "pooled t-test these assume, so read the MDD as a lower bound there.",
        "Verdict: 'detected' = the Welch CI excludes 0; 'not detectable at this power' = the CI includes 0 and "
        "the observed difference is below the MDD, so these seeds could not tell an effect of this size from "
        "seed noise (not evidence that there is none); 'not detected' = the CI includes 0 although the "
        "observed difference reaches the MDD (still no proof of a zero effect: smaller ones can hide below "
        "the MDD).",
    ]
    if zero_sd:
        notes.append(
            "Where both configurations' seeds agree exactly (sd 0), there is no seed noise: the difference is "
            "exact (CI = the difference, MDD 0) and 2 seeds suffice."
        )
    frame = pd.DataFrame(rows, index=index, columns=columns)
    return Table(frame, None, notes, index_name="suite · task · metric")


def mapping_table(items: Iterable[tuple[str, object]]) -> Table:
    frame = pd.DataFrame([[str(v)] for _, v in items], index=[k for k, _ in items], columns=["value"])
    return Table(frame, None, [])
