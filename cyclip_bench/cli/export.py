"""`cyclip-bench export`: eval results in CLIP_benchmark's or DataComp's layout. The flags are ExportConfig's
fields (cli/derive.py)."""

from __future__ import annotations

from typing import Any

import typer

from cyclip_bench.cli.app import app
from cyclip_bench.cli.derive import config_from_flags, derived_command
from cyclip_bench.export.config import ExportConfig


def export(**options: Any) -> None:
    """Write eval results in the layout another benchmark tool reads: CLIP_benchmark's JSON per (model, dataset,
    task) and its `build` CSV, or DataComp's eval_results.jsonl."""
    from cyclip_bench.export import export_results

    config = config_from_flags(ExportConfig, options)
    summary = export_results(config)
    for note in summary.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"wrote {len(summary.files)} files ({summary.exported} task results) to {config.out_dir}")
    typer.echo(f"  {config.format}: {summary.format.layout}")


app.command(name="export")(derived_command(ExportConfig, [], export, export.__doc__ or ""))
