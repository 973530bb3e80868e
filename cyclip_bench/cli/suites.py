"""`cyclip-bench suites`: list the built-in suites and their tasks (filled by the evaluation engine)."""

from __future__ import annotations

from cyclip_bench.cli.app import app
from cyclip_bench.errors import UserError


@app.command()
def suites() -> None:
    """List the built-in evaluation suites and their tasks (not yet available)."""
    raise UserError("`suites` is not available yet")
