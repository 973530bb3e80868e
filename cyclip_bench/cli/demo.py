"""`cyclip-bench demo`: the whole pipeline on the generated world (world → train → eval → report)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from cyclip_bench.cli.app import app
from cyclip_bench.errors import ConfigError


def _int_list(text: str, flag: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{flag}: expected a comma list of integers such as 0,1,2 (got {text!r})") from None


@app.command()
def demo(
    quick: bool = typer.Option(
        False, "--quick", help="The ~2.5-minute version: a half-size world (750 training steps per run)."
    ),
    out: Path = typer.Option(
        None,
        "--out",
        help="Folder for the world, runs, results, cache and report (default: demo-out, or "
        "demo-out-quick with --quick, so the two never collide).",
    ),
    objectives: str = typer.Option(
        "clip,cyclip",
        "--objectives",
        help="Comma list of objectives: clip, cyclip, c-cyclip, i-cyclip, siglip, siglip-cyclic.",
    ),
    seeds: str = typer.Option("0", "--seeds", help="Comma list of training seeds (each objective × each seed)."),
    world_seed: int = typer.Option(0, "--world-seed", help="Seed of the generated world."),
    world_size: float = typer.Option(None, "--world-size", help="World size knob (default: 1.0, --quick: 0.5)."),
    epochs: int = typer.Option(None, "--epochs", help="Training epochs per run (default: the flavour's budget)."),
    batch_size: int = typer.Option(None, "--batch-size", help="Training batch size (default 64)."),
    lr: float = typer.Option(None, "--lr", help="Peak learning rate (default 1e-3)."),
    suite: str = typer.Option("world", "--suite", help="Suite to evaluate (a world suite name or a TOML file)."),
    jobs: int = typer.Option(
        None,
        "--jobs",
        help="Training runs at once, each with an equal share of the CPU cores (default: one per core on a CPU "
        "machine, 1 on a GPU).",
    ),
    fresh: bool = typer.Option(False, "--fresh", help="Start over instead of reusing runs, results and cache."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars / plain log lines."),
    title: str = typer.Option(None, "--title", help="Report title."),
) -> None:
    """Generate the world, train CLIP and CyCLIP (same seed and budget), evaluate every world suite, and write
    the Markdown and HTML reports. Re-running reuses the world, finished runs and cached features."""
    from cyclip_bench.demo import DemoConfig, run_demo

    cfg = DemoConfig(
        out=out if out is not None else Path("demo-out-quick" if quick else "demo-out"),
        quick=quick,
        objectives=tuple(o.strip() for o in objectives.split(",") if o.strip()),
        seeds=_int_list(seeds, "--seeds"),
        world_seed=world_seed,
        world_size=world_size,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        suite=suite,
        fresh=fresh,
        jobs=jobs,
        progress=progress,
        title=title,
    )
    console = Console(stderr=True)
    outcome = run_demo(cfg, console)
    report = outcome["report"]
    console.rule("[bold green]done")
    console.print(f"stage times (s): {outcome['seconds']}")
    print(f"report (Markdown): {report['markdown']}")
    print(f"report (HTML):     {report['html']}")
