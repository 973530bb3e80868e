"""`cyclip-bench eval`: run a suite over checkpoints (filled by the evaluation engine)."""

from __future__ import annotations

from cyclip_bench.cli.app import app
from cyclip_bench.errors import UserError


@app.command("eval", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def evaluate() -> None:
    """Evaluate checkpoints on a suite (not yet available)."""
    raise UserError("`eval` is not available yet")
