"""`cyclip-bench train`: CLIP / CyCLIP training (filled by the trainer)."""

from __future__ import annotations

from cyclip_bench.cli.app import app
from cyclip_bench.errors import UserError


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train() -> None:
    """Train a CLIP or CyCLIP model (not yet available)."""
    raise UserError("`train` is not available yet")
