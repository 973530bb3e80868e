"""One section per suite: headline bars, then one subsection per task with its tables and the plots the
task-plot registry chooses for it (cyclip_bench.report.task_plots)."""

from __future__ import annotations

from cyclip_bench.report import plots, tables
from cyclip_bench.report.configurations import SEED_BARS, seed_series
from cyclip_bench.report.document import Plot, ReportContext, Section, slug
from cyclip_bench.report.task_plots import TaskView, plots_for
from cyclip_bench.report.task_plots.registry import metric_ci
from cyclip_bench.results import TaskResult, find_task, ordered_checkpoints, reference_task, suite_tasks


def suite_section(context: ReportContext, suite: str) -> Section:
    loaded = context.results
    versions = sorted({str(r.suite.get("version", "?")) for r in loaded if r.suite_name == suite})
    section = Section(f"Suite {suite}", slug(f"suite-{suite}"), meta=[("version", ", ".join(versions))])
    labels = [
        label
        for label in ordered_checkpoints(loaded)
        if any(r.label == label and r.suite_name == suite for r in loaded)
    ]
    section.plots.extend(p for p in [_headline_bars(context, suite, labels)] if p)
    for task_name in suite_tasks(loaded, suite):
        section.children.append(task_section(context, suite, task_name, labels))
    return section


def _headline_bars(context: ReportContext, suite: str, labels: list[str]) -> Plot | None:
    """Every headline fraction of the suite's tasks as bars: one per checkpoint, or — when some configuration has
    several seeds here — one per configuration (the mean over its seeds, its t-interval, each seed a dot), so 60
    checkpoints read as the 3 methods they compare."""
    loaded = context.results
    groups: list[str] = []
    cells: dict[str, list[tuple[TaskResult | None, str]]] = {label: [] for label in labels}  # (task, metric)
    for task_name in suite_tasks(loaded, suite):
        ref = reference_task(loaded, suite, task_name)
        if ref.kind == "effective_robustness":  # differences, not accuracies: they have their own plot
            continue
        for metric in tables.headline_metrics(ref):
            if ref.unit(metric) != "fraction":
                continue
            groups.append(f"{task_name}\n{metric}")
            for label in labels:
                cells[label].append((find_task(loaded, label, suite, task_name), metric))
    title = f"suite {suite}: headline metrics"
    values = {label: [_percent(task, metric) for task, metric in row] for label, row in cells.items()}
    seeds = seed_series(loaded, values)
    if seeds is None:
        series = {
            label: [metric_ci(task, metric, context.n_boot, context.seed) for task, metric in row]
            for label, row in cells.items()
        }
        fig = plots.grouped_bars(groups, series, context.colours, title, "%")
        caption = (
            "Bars: value per checkpoint; error bars: 95% bootstrap CI over test examples (where the results "
            "carry per-example correctness)."
        )
    else:
        fig = plots.grouped_bars(groups, seeds.series, seeds.colours, title, "%", points=seeds.points)
        caption = f"Bars: mean over each configuration's seeds (n in the legend); dots: each seed; {SEED_BARS}."
    return context.writer.add_plot(fig, f"bars-{suite}", f"Headline metrics of suite {suite}", caption)


def _percent(task: TaskResult | None, metric: str) -> float | None:
    value = None if task is None else task.metrics.get(metric)
    return None if value is None else 100 * value


# What a task records it left out (consistency.py: consistency@k without a train split, always shown; the gap
# metrics without caption pairs, shown when the task has no metric at all), in the order shown.
SKIP_KEYS = ("skipped_consistency", "skipped")


def skipped_notes(
    results: list, suite: str, task_name: str, labels: list[str], keys: tuple[str, ...] = SKIP_KEYS
) -> list[str]:
    """One note per distinct reason a task's results give for what it skipped (``keys`` of ``extra``), naming
    the checkpoints when only some of them skipped it."""
    by_reason: dict[str, list[str]] = {}
    ran = []
    for label in labels:
        task = find_task(results, label, suite, task_name)
        if task is None:
            continue
        ran.append(label)
        for key in keys:
            reason = task.extra.get(key)
            if isinstance(reason, str) and reason:
                by_reason.setdefault(reason, []).append(label)
    notes = []
    for reason, who in by_reason.items():
        whom = "" if len(who) == len(ran) else f" ({', '.join(who)})"
        notes.append(f"Skipped{whom}: {reason}.")
    return notes


def task_section(context: ReportContext, suite: str, task_name: str, labels: list[str]) -> Section:
    loaded = context.results
    ref = reference_task(loaded, suite, task_name)
    section = Section(
        f"{task_name}",
        slug(f"task-{suite}-{task_name}"),
        meta=[("kind", ref.kind), ("dataset", ref.dataset or "—"), ("split", ref.split or "—")],
    )
    metrics = tables.task_table(loaded, suite, task_name, context.n_boot, context.seed)
    if not metrics.frame.empty:
        section.notes.extend(skipped_notes(loaded, suite, task_name, labels, SKIP_KEYS[:1]))
        section.tables.append(("metrics", metrics))
    else:  # nothing measured: say why instead of an empty table
        skipped = skipped_notes(loaded, suite, task_name, labels, SKIP_KEYS)
        section.notes.extend(skipped or ["No metrics were recorded for this task."])
    if len(labels) > 1:
        comparison = tables.comparison_table(loaded, suite, task_name, context.baseline, context.n_boot, context.seed)
        if comparison is not None:
            section.tables.append((f"paired comparison against {context.baseline}", comparison))
    missing = [label for label in labels if find_task(loaded, label, suite, task_name) is None]
    if missing:
        section.notes.append(f"Not in the results of: {', '.join(missing)}.")
    view = TaskView(context, suite, task_name, labels, ref, section)
    for _, task_plot in plots_for(ref):
        task_plot.draw(view)
    return section
