"""The export's configuration: one frozen dataclass that is also the list of `cyclip-bench export`'s flags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cyclip_bench.export.formats import EXPORT_FORMATS
from cyclip_bench.options import option
from cyclip_bench.validation import FileName, Paths, PathValue, check_instance, flag_name


@dataclass(frozen=True)
class ExportConfig:
    """``cyclip-bench export``: each field declares its type (checked on construction) and its flag (``option``;
    the command is derived from these fields, cli/derive.py). ``format`` is a name in `EXPORT_FORMATS`."""

    results: Paths = option(
        help="Result JSON files or folders written by `cyclip-bench eval`.",
        argument=True,
        cli_type=list[Path],
        metavar="RESULTS",
    )
    out_dir: PathValue = option(help="Folder for the exported files (created if missing).", flag="--out", short="-o")
    format: str = option(
        "clip_benchmark",
        "clip_benchmark: one JSON per (model, dataset, task) + benchmark.csv as its `build` makes; datacomp: "
        "<checkpoint>/eval_results.jsonl, one line per task with its main_metric.",
        metavar="clip_benchmark|datacomp",
    )
    language: FileName = option("en", "Language of the prompts, recorded in CLIP_benchmark's files and names.")
    extras: bool = option(
        False,
        "Also export what the other tool has no name for (consistency, effective robustness, top-3, ...) under "
        "cyclip_bench_* names; without it those are left out with a note.",
    )

    def __post_init__(self) -> None:
        check_instance(self, name=lambda key: {"out_dir": "--out", "results": "RESULTS"}.get(key, flag_name(key)))
        object.__setattr__(self, "format", EXPORT_FORMATS.canonical(self.format))
