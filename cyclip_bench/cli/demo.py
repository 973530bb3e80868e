"""`cyclip-bench demo`: the whole pipeline on the generated world."""

from __future__ import annotations

from cyclip_bench.cli.app import app
from cyclip_bench.errors import UserError


@app.command()
def demo() -> None:
    """Generate the world, train CLIP and CyCLIP, evaluate and report (not yet available)."""
    raise UserError("`demo` is not available yet")
