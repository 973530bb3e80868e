"""`cyclip-bench data …`: generate the benchmark world, validate datasets."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from cyclip_bench.cli.app import app
from cyclip_bench.errors import DataError

data_app = typer.Typer(help="Generate the benchmark world and validate datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("synth")
def synth(
    out_dir: Path = typer.Argument(..., help="Folder to write the world into (must be new or empty)."),
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


@data_app.command("check")
def check(
    path: Path = typer.Argument(
        ..., help="A caption CSV/TSV, a labelled folder (labels.csv or class folders) or a world folder."
    ),
    image_key: str = typer.Option("image", "--image-key", help="Image-path column of a caption table."),
    caption_key: str = typer.Option("caption", "--caption-key", help="Caption column of a caption table."),
    delimiter: str = typer.Option(None, "--delimiter", help="Column delimiter (default: tab for .tsv, else ',')."),
    metadata: Path = typer.Option(None, "--metadata", help="Class-metadata JSON for a labelled folder."),
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
