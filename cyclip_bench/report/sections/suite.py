"""One section per suite: headline bars, then one subsection per task with its tables and the plots the
task-plot registry chooses for it (cyclip_bench.report.task_plots)."""

from __future__ import annotations

from cyclip_bench.report import plots, tables
from cyclip_bench.report.document import Plot, ReportContext, Section, slug
from cyclip_bench.report.task_plots import TaskView, plots_for
from cyclip_bench.report.task_plots.registry import metric_ci
from cyclip_bench.results import find_task, ordered_checkpoints, reference_task, suite_tasks


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
    loaded = context.results
    groups, series = [], {label: [] for label in labels}
    for task_name in suite_tasks(loaded, suite):
        ref = reference_task(loaded, suite, task_name)
        if ref.kind == "effective_robustness":  # differences, not accuracies: they have their own plot
            continue
        for metric in tables.headline_metrics(ref):
            if ref.unit(metric) != "fraction":
                continue
            groups.append(f"{task_name}\n{metric}")
            for label in labels:
                task = find_task(loaded, label, suite, task_name)
                series[label].append(metric_ci(task, metric, context.n_boot, context.seed))
    fig = plots.grouped_bars(groups, series, context.colours, f"suite {suite}: headline metrics", "%")
    return context.writer.add_plot(
        fig,
        f"bars-{suite}",
        f"Headline metrics of suite {suite}",
        "Bars: value per checkpoint; error bars: 95% bootstrap CI over test examples (where the results "
        "carry per-example correctness).",
    )


def task_section(context: ReportContext, suite: str, task_name: str, labels: list[str]) -> Section:
    loaded = context.results
    ref = reference_task(loaded, suite, task_name)
    section = Section(
        f"{task_name}",
        slug(f"task-{suite}-{task_name}"),
        meta=[("kind", ref.kind), ("dataset", ref.dataset or "—"), ("split", ref.split or "—")],
    )
    section.tables.append(("metrics", tables.task_table(loaded, suite, task_name, context.n_boot, context.seed)))
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
