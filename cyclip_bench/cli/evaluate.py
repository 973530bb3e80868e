"""`cyclip-bench eval`: run a suite over checkpoints. The flags are EvalConfig's fields; `--dry-run` prints the
plan (eval/plan.py) and stops."""

from __future__ import annotations

from typing import Any

import typer

from cyclip_bench.cli.app import app
from cyclip_bench.cli.derive import config_from_flags, derived_command
from cyclip_bench.eval.config import EvalConfig


def evaluate(**options: Any) -> None:
    """Evaluate checkpoints on a suite: results JSON per checkpoint + long-format results.csv."""
    from rich.console import Console

    from cyclip_bench.eval import make_plan, run_plan, write_results
    from cyclip_bench.eval.summary import headline_table
    from cyclip_bench.runtime import is_main_process

    cfg = config_from_flags(EvalConfig, options)
    plan = make_plan(cfg)
    if cfg.dry_run:
        for line in plan.lines():
            typer.echo(line)
        return
    paths = write_results(plan, run_plan(plan))
    if cfg.progress and is_main_process():
        console = Console()
        console.print(headline_table(paths))
        console.print(f"wrote {len(paths)} result file(s) and {plan.results_csv}")


app.command(name="eval")(derived_command(EvalConfig, [], evaluate, evaluate.__doc__ or ""))
