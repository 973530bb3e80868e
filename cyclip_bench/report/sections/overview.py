"""The overview (headline metric per task) and the seeds section (configurations over seeds)."""

from __future__ import annotations

from cyclip_bench.report import tables
from cyclip_bench.report.document import ReportContext, Section


def overview_section(context: ReportContext) -> Section:
    table = tables.overview_table(context.results)
    return Section("Overview", "overview", tables=[("headline metric per task", table)])


def seeds_section(context: ReportContext, seed_groups: dict[str, list[str]]) -> Section | None:
    """mean ± sd over seeds, and the differences between configurations; None without seeded configurations."""
    seeds = tables.seeds_table(context.results, seed_groups)
    if seeds is None:
        return None
    seed_tables = [("mean ± sd over seeds", seeds)]
    differences = tables.seed_differences_table(
        context.results, seed_groups, context.baseline, context.n_boot, context.seed
    )
    if differences is not None:
        seed_tables.append(("Differences between configurations (across seeds)", differences))
    return Section("Seeds", "seeds", tables=seed_tables, notes=[])
