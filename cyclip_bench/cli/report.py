"""`cyclip-bench report`: Markdown + HTML reports from results (filled by the report issue)."""

from __future__ import annotations

from cyclip_bench.cli.app import app
from cyclip_bench.errors import UserError


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def report() -> None:
    """Write Markdown and HTML reports from eval results (not yet available)."""
    raise UserError("`report` is not available yet")
