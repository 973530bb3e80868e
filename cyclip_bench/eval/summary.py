"""Terminal summaries: the headline number of every task per checkpoint, and the suite listing."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from cyclip_bench.eval.suite import SuiteSpec, dataset_label
from cyclip_bench.eval.tasks import TaskKind
from cyclip_bench.results import TaskResult, load

# The one number a task kind is known by (first present wins).
HEADLINE = ("top1", "image_to_text_R@1", "consistency@1")


def _headline(task: TaskResult) -> tuple[str, float | None] | None:
    """The task's main metric where it declares one (a dataset's: mean per-class recall for Pets, 11-point mAP for
    VOC, …), else the first of ``HEADLINE`` it has, else its first metric."""
    metrics = task.metrics
    main = (task.extra or {}).get("main_metric")
    if main in metrics:
        return main, metrics[main]
    for name in HEADLINE:
        if name in metrics:
            return name, metrics[name]
    if metrics:
        name = next(iter(metrics))
        return name, metrics[name]
    return None


def headline_table(paths: list[Path]) -> Table:
    results = [load(Path(p)) for p in paths]
    suite = results[0].suite_name if results else ""
    table = Table(title=f"suite {suite}: headline metrics (fractions as %)")
    table.add_column("task")
    table.add_column("metric")
    for res in results:
        table.add_column(res.raw_label, justify="right")
    if not results:
        return table
    for i, task in enumerate(results[0].tasks):
        head = _headline(task)
        if head is None:
            continue
        values = []
        for res in results:
            value = res.tasks[i].metrics.get(head[0])
            unit = res.tasks[i].unit(head[0])
            values.append("" if value is None else f"{100 * value:.2f}" if unit == "fraction" else f"{value:.4f}")
        table.add_row(task.name, head[0], *values)
    return table


def datasets_read(task: TaskKind) -> str:
    """Every dataset a task reads with its splits, e.g. ``cifar10 (test, train), mscoco (test)``: a consistency
    task also reads caption pairs, a linear probe a train split."""
    splits: dict[str, list[str]] = {}
    for need in task.needs():
        found = splits.setdefault(dataset_label(need.ref), [])
        if need.split not in found:
            found.append(need.split)
    return ", ".join(f"{name} ({', '.join(parts)})" for name, parts in splits.items())


def suites_table(suites: list[SuiteSpec]) -> Table:
    from cyclip_bench.eval.plan import load_tasks

    table = Table(title="built-in suites (cyclip-bench eval --suite NAME | FILE.toml)")
    for col in ("suite", "version", "task", "kind", "datasets read (splits)"):
        table.add_column(col, overflow="fold")  # long task names (DataComp's keys) wrap, never cut
    for suite in suites:
        kinds = load_tasks(suite)[1]
        for i, (task, kind) in enumerate(zip(suite.tasks, kinds, strict=True)):
            first = i == 0
            dataset = datasets_read(kind)
            table.add_row(
                suite.name if first else "",
                str(suite.version) if first else "",
                task.name,
                task.kind,
                dataset,
            )
        table.add_section()
    return table
