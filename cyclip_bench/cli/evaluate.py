"""`cyclip-bench eval`: run a suite over checkpoints (parse flags → EvalConfig → library call)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from cyclip_bench.cli.app import app


@app.command("eval")
def evaluate(
    checkpoint: list[str] = typer.Option(
        ...,
        "--checkpoint",
        "-c",
        help="Checkpoint file (repeat for several), or an open_clip pretrained tag with --model; LABEL=PATH "
        "sets its label (results are <LABEL>__<suite>.json; default: the run or file name).",
    ),
    suite: str = typer.Option(
        ..., "--suite", "-s", help="Built-in suite name (see `cyclip-bench suites`) or a suite .toml file."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for <label>__<suite>.json + results.csv."),
    data_root: Path | None = typer.Option(
        None,
        "--data-root",
        help="Folder holding the datasets (for world suites: the folder written by `cyclip-bench data synth`).",
    ),
    batch_size: int = typer.Option(256, "--batch-size", help="Images/texts per forward pass."),
    workers: int = typer.Option(2, "--workers", help="DataLoader worker processes for image decoding."),
    precision: str = typer.Option("fp32", "--precision", help="fp32 | bf16 | fp16 (fp16 is slow on CPU)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:N]."),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Architecture of an open_clip checkpoint or "
        "pretrained tag (this project's and CyCLIP's checkpoints need none).",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Encode everything; do not read or write the feature cache."
    ),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        help="Feature cache folder (default $CYCLIP_BENCH_CACHE or ~/.cache/cyclip-bench/features).",
    ),
    resume: bool = typer.Option(False, "--resume", help="Keep tasks already in --out; run only the others."),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Replace results in --out of another suite version or of another checkpoint under the same label.",
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Check suite, tasks, checkpoints, labels and data; print each task's files per split; encode nothing.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars and no table."),
) -> None:
    """Evaluate checkpoints on a suite: results JSON per checkpoint + long-format results.csv."""
    from cyclip_bench.eval import EvalConfig
    from cyclip_bench.eval import evaluate as run_evaluation
    from cyclip_bench.eval.runner import dry_run as plan_run
    from cyclip_bench.eval.summary import headline_table
    from cyclip_bench.runtime import is_main_process

    cfg = EvalConfig(
        checkpoints=tuple(checkpoint),
        suite=suite,
        out=out,
        data_root=data_root,
        batch_size=batch_size,
        workers=workers,
        precision=precision,
        device=device,
        model=model,
        cache=not no_cache,
        cache_dir=cache_dir,
        resume=resume,
        overwrite=overwrite,
        dry_run=dry_run,
        progress=not quiet,
    )
    if dry_run:
        spec, uses, paths = plan_run(cfg)
        typer.echo(f"suite {spec.name} v{spec.version}: {len(spec.tasks)} task(s); the data each one reads:")
        for task in dict.fromkeys(u.task for u in uses):
            typer.echo(f"  {task} ({spec.task(task).kind})")
            for use in (u for u in uses if u.task == task):
                unit = "captions" if use.kind == "retrieval" else "examples"
                typer.echo(f"    {use.split:5} {use.dataset}: {use.source} ({use.size} {unit})")
        for path in paths:
            typer.echo(f"would write {path}")
        return
    console = Console()
    paths = run_evaluation(cfg)
    if not quiet and is_main_process():
        console.print(headline_table(paths))
        console.print(f"wrote {len(paths)} result file(s) and {out / 'results.csv'}")
