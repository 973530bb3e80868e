"""`cyclip-bench data …`: generate the benchmark world, validate datasets."""

from __future__ import annotations

import typer

from cyclip_bench.cli.app import app

data_app = typer.Typer(help="Generate the benchmark world and validate datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
