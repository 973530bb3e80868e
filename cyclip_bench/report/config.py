"""The report's configuration: one frozen dataclass that is also the list of `cyclip-bench report`'s flags.

Kept apart from the report's code so the CLI can declare the command without importing pandas or matplotlib."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field

from cyclip_bench.options import option
from cyclip_bench.validation import Paths, PathValue, Seed, check_instance, flag_name


@dataclass(frozen=True)
class ReportConfig:
    """``cyclip-bench report``: each field declares its type and range (``cyclip_bench.validation``, checked on
    construction) and its flag (``option``; the command is derived from these fields, cli/derive.py)."""

    results: Paths = option(
        help="Result JSON files or folders written by `cyclip-bench eval`.",
        argument=True,
        cli_type=list[Path],
        metavar="RESULTS",
    )
    out_dir: PathValue = option(help="Folder for report.md, report.html and plots/.", flag="--out", short="-o")
    title: str = option("cyclip-bench report", "Title of the report.")
    baseline: str | None = option(
        None, "Checkpoint label the paired tests compare against.", default_help="the first checkpoint"
    )
    n_boot: Annotated[int, Field(ge=100, le=1_000_000)] = option(2000, "Bootstrap resamples for confidence intervals.")
    seed: Seed = option(0, "Seed of the bootstrap.")

    def __post_init__(self) -> None:
        check_instance(self, name=lambda key: {"out_dir": "--out", "results": "RESULTS"}.get(key, flag_name(key)))
