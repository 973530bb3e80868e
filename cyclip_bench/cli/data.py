"""`cyclip-bench data …`: generate the benchmark world, write real-layout fixtures, validate datasets."""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any

import typer

from cyclip_bench.cli.app import app
from cyclip_bench.cli.derive import config_flags, config_from_flags, derived_command
from cyclip_bench.data.fixture_config import FixtureConfig, suite_fixture_flags
from cyclip_bench.errors import DataError

data_app = typer.Typer(help="Generate the benchmark world and validate datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("synth")
def synth(
    out_dir: Path = typer.Argument(
        ..., metavar="OUT_DIR", help="Folder to write the world into (must be new or empty)."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed: the same seed writes byte-identical files."),
    size: float = typer.Option(1.0, "--size", help="Scales every count (1.0 ≈ 16k training captions)."),
    image_size: int = typer.Option(32, "--image-size", help="Image side in pixels (multiple of 8)."),
    workers: int = typer.Option(0, "--workers", min=0, help="Worker processes (0: up to 2)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT_DIR if it exists and is not empty."),
) -> None:
    """Generate the benchmark world: caption sets, labelled shape sets, shifted test sets, a retrieval set."""
    from cyclip_bench.data.synth import generate_world
    from cyclip_bench.validation import PositiveFloat, check_output_dir, check_value

    check_value(size, PositiveFloat, "--size")
    check_output_dir(out_dir, "OUT_DIR")
    start = time.perf_counter()
    info = generate_world(
        out_dir, seed=seed, size=size, image_size=image_size, workers=workers or None, overwrite=overwrite
    )
    total = sum(info["counts"].values())
    typer.echo(
        f"wrote {out_dir}: {total} images, {info['captions']['train']} training captions "
        f"(seed {seed}, size {size}, {image_size} px) in {time.perf_counter() - start:.1f} s"
    )
    for part, count in info["counts"].items():
        typer.echo(f"  {part}: {count}")


def fixture(**options: Any) -> None:
    """Write generated images in the real datasets' on-disk layouts at their real class counts (a stand-in
    --data-root for the real-data suites: tests, benchmarks, dry runs without the datasets)."""
    from cyclip_bench.data.fixture import write_fixture
    from cyclip_bench.validation import check_output_dir

    suite = options.pop("suite")
    resolved = {}
    if suite is not None:
        from cyclip_bench.eval import suite_datasets

        flags = config_flags(FixtureConfig, options)
        resolved = suite_fixture_flags(suite, suite_datasets(suite), flags["datasets"], flags["train_per_class"])
    cfg = config_from_flags(FixtureConfig, options, **resolved)
    check_output_dir(cfg.out, "OUT_DIR")
    start = time.perf_counter()
    info = write_fixture(cfg)
    typer.echo(f"wrote {cfg.out}: {info['images']} images (seed {cfg.seed}) in {time.perf_counter() - start:.1f} s")
    for name, counts in info["datasets"].items():
        sizes = ", ".join(f"{k} {v}" for k, v in counts.items() if k not in ("path", "index", "layout", "shards"))
        shards = ", ".join(f"{split} {n}" for split, n in counts.get("shards", {}).items())
        typer.echo(f"  {name:16} {counts['path']}: {sizes}" + (f"; shards {shards}" if shards else ""))


_FIXTURE_ONLY = [
    inspect.Parameter(
        "suite",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(
            None, "--suite", "-s", metavar="NAME", help="Write the datasets a real-data suite reads (e.g. shifts, all)."
        ),
        annotation=str,
    )
]
data_app.command("fixture")(derived_command(FixtureConfig, _FIXTURE_ONLY, fixture, fixture.__doc__ or ""))


@data_app.command("check")
def check(
    path: Path = typer.Argument(
        ...,
        metavar="PATH",
        help="A caption CSV/TSV, a labelled folder (labels.csv or class folders) or a world folder.",
    ),
    image_key: str = typer.Option(
        "image", "--image-key", metavar="COLUMN", help="Image-path column of a caption table."
    ),
    caption_key: str = typer.Option(
        "caption", "--caption-key", metavar="COLUMN", help="Caption column of a caption table."
    ),
    delimiter: str = typer.Option(
        None, "--delimiter", metavar="CHAR|tab", help="Column delimiter (default: tab for .tsv, else ',')."
    ),
    metadata: Path = typer.Option(
        None, "--metadata", metavar="JSON", help="Class-metadata JSON for a labelled folder."
    ),
) -> None:
    """Validate a dataset and print what was found (counts, classes, problems); exit code 2 on problems."""
    from cyclip_bench.data.captions import check_delimiter
    from cyclip_bench.data.check import MAX_PROBLEMS_LISTED, check_path

    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        check_delimiter(delimiter)
    report = check_path(path, image_key, caption_key, delimiter, metadata)
    for line in report.lines:
        typer.echo(line)
    if report.ok:
        typer.echo(f"ok: no problems found in {path}")
        return
    for problem in report.problems[:MAX_PROBLEMS_LISTED]:
        typer.echo(f"problem: {problem}")
    if len(report.problems) > MAX_PROBLEMS_LISTED:
        typer.echo(f"… and {len(report.problems) - MAX_PROBLEMS_LISTED} more problems")
    raise DataError(f"{len(report.problems)} problem(s) in {path}; first: {report.problems[0]}")
