"""Results in the formats the field aggregates with (docs/export.md): CLIP_benchmark's JSON per (model, dataset,
task) and the CSV its ``build`` makes, DataComp's ``eval_results.jsonl``. Results are read only through the strict
reader of `cyclip_bench.results`; each format turns them into a plan of files, written atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cyclip_bench.errors import UserError
from cyclip_bench.export.config import ExportConfig
from cyclip_bench.export.formats import EXPORT_FORMATS
from cyclip_bench.export.output import ExportFormat, ExportOptions, ExportPlan, check_out_dir, write_plan
from cyclip_bench.results import load_all

__all__ = [
    "EXPORT_FORMATS",
    "ExportConfig",
    "ExportFormat",
    "ExportOptions",
    "ExportPlan",
    "ExportSummary",
    "export_results",
]


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: the files, how many task records they hold, and the notes (what was left out)."""

    format: ExportFormat
    files: list[Path]
    exported: int
    notes: list[str]


def export_results(config: ExportConfig) -> ExportSummary:
    """Load ``config.results`` (strict), plan the files of ``config.format`` and write them into ``config.out_dir``.
    Bad input, a file in the way or nothing the format can hold (without ``extras``) is one UserError, before
    anything is written."""
    fmt = EXPORT_FORMATS.get(config.format)
    check_out_dir(config.out_dir)
    results = load_all(list(config.results))
    plan = fmt.plan(results, config.out_dir, ExportOptions(language=config.language, extras=config.extras))
    if plan.exported == 0:  # an empty benchmark.csv / eval_results.jsonl would read as a successful export
        raise UserError(f"nothing to export in the {fmt.name} format: " + ("; ".join(plan.notes) or "no tasks"))
    files = write_plan(config.out_dir, plan, fmt)
    return ExportSummary(fmt, files, plan.exported, plan.notes)
