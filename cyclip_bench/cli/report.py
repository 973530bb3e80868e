"""`cyclip-bench report`: Markdown + HTML reports from eval results. The flags are ReportConfig's fields."""

from __future__ import annotations

from typing import Any

import typer

from cyclip_bench.cli.app import app
from cyclip_bench.cli.derive import config_from_flags, derived_command
from cyclip_bench.report.config import ReportConfig


def report(**options: Any) -> None:
    """Write Markdown and HTML reports (tables, plots, statistics) comparing checkpoints from eval results."""
    from cyclip_bench.report import write_report

    config = config_from_flags(ReportConfig, options)
    paths = write_report(config)
    typer.echo(f"wrote {paths['markdown']}")
    typer.echo(f"wrote {paths['html']} ({len(paths['plots']) // 2} plots in {config.out_dir / 'plots'})")


app.command(name="report")(derived_command(ReportConfig, [], report, report.__doc__ or ""))
