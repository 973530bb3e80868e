"""`cyclip-bench suites`: list the built-in suites and their tasks."""

from __future__ import annotations

from rich.console import Console

from cyclip_bench.cli.app import app


@app.command()
def suites() -> None:
    """List the built-in evaluation suites, their versions and tasks."""
    from cyclip_bench.eval import builtin_suites
    from cyclip_bench.eval.summary import suites_table

    Console(width=140).print(suites_table(builtin_suites()))
