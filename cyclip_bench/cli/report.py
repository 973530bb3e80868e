"""`cyclip-bench report`: Markdown + HTML reports from eval results."""

from __future__ import annotations

from pathlib import Path

import typer

from cyclip_bench.cli.app import app


@app.command()
def report(
    results: list[Path] = typer.Argument(..., help="Result JSON files or folders written by `cyclip-bench eval`."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for report.md, report.html and plots/."),
    title: str = typer.Option("cyclip-bench report", "--title", help="Title of the report."),
    baseline: str | None = typer.Option(
        None, "--baseline", help="Checkpoint label the paired tests compare against (default: the first)."
    ),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap resamples for confidence intervals."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
) -> None:
    """Write Markdown and HTML reports (tables, plots, statistics) comparing checkpoints from eval results."""
    from cyclip_bench.report import ReportConfig, write_report

    config = ReportConfig(results=tuple(results), out_dir=out, title=title, baseline=baseline, n_boot=n_boot, seed=seed)
    paths = write_report(config)
    typer.echo(f"wrote {paths['markdown']}")
    typer.echo(f"wrote {paths['html']} ({len(paths['plots']) // 2} plots in {out / 'plots'})")
