"""`cyclip-bench demo`: the whole pipeline on the generated world (world → train → eval → report).

The flags are DemoConfig's fields (cli/derive.py)."""

from __future__ import annotations

from typing import Any

from cyclip_bench.cli.app import app
from cyclip_bench.cli.derive import config_from_flags, derived_command
from cyclip_bench.demo import DemoConfig
from cyclip_bench.progress import make_console, rule


def demo(**options: Any) -> None:
    """Generate the world, train CLIP and CyCLIP (same seed and budget), evaluate every world suite, and write
    the Markdown and HTML reports. Re-running reuses the world, finished runs and cached features."""
    from cyclip_bench.demo import run_demo

    cfg = config_from_flags(DemoConfig, options)
    console = make_console()
    outcome = run_demo(cfg, console)
    report = outcome["report"]
    rule(console, "done")
    console.print(f"stage times (s): {outcome['seconds']}", markup=False)
    for line in outcome["summary"]:  # the headline comparison and its level of evidence, then where to read on
        print(line)
    print(f"report (Markdown): {report['markdown']}")
    print(f"report (HTML):     {report['html']}")


app.command(name="demo")(derived_command(DemoConfig, [], demo, demo.__doc__ or ""))
