"""`cyclip-bench data …`: generate the benchmark world, write real-layout fixtures, validate datasets."""

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


@data_app.command("fixture")
def fixture(
    out_dir: Path = typer.Argument(..., help="Folder to write into (must be new or empty); use it as --data-root."),
    dataset: list[str] = typer.Option(
        None,
        "--dataset",
        "-d",
        help="Dataset to write (repeat; default: all): cifar10, cifar100, imagenet1k, imagenetv2, "
        "imagenet-sketch, imagenet-a, imagenet-r, flickr30k, mscoco.",
    ),
    suite: str | None = typer.Option(
        None, "--suite", "-s", help="Write the datasets a real-data suite reads (e.g. shifts, all)."
    ),
    per_class: int | None = typer.Option(
        None, "--per-class", help="Images per class of every test set (default 2; ImageNet val has 50)."
    ),
    train_per_class: int | None = typer.Option(
        None,
        "--train-per-class",
        help="Images per class of CIFAR train and ImageNet train (default: --per-class; with --suite, 0 when "
        "the suite reads no train split).",
    ),
    cifar_test_size: int | None = typer.Option(
        None,
        "--cifar-test-size",
        help="Images in each CIFAR test batch, up to the real 10000 (default: --per-class × classes).",
    ),
    retrieval_images: int | None = typer.Option(
        None, "--retrieval-images", help="Images per retrieval set, 5 captions each (default 100; real: 1000 / 5000)."
    ),
    real_sizes: bool = typer.Option(
        False,
        "--real-sizes",
        help="Every test set at its released size (ImageNet val 50,000, V2 10,000, Sketch 50,889, A 7,500, "
        "R 30,000, CIFAR test 10,000, Flickr30k 1,000, MS-COCO 5,000) and CIFAR train at 50,000 "
        "(--train-per-class then sets ImageNet train only).",
    ),
    image_size: int = typer.Option(64, "--image-size", help="Longer side of the image files in pixels."),
    imagenet_layout: str = typer.Option(
        "wnids", "--imagenet-layout", help="ImageNet val/train: wnids (class folders) or labels-csv."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed writes byte-identical files."),
    workers: int = typer.Option(0, "--workers", help="Worker processes (0: up to 2)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT_DIR if it exists and is not empty."),
) -> None:
    """Write generated images in the real datasets' on-disk layouts at their real class counts (a stand-in
    --data-root for the real-data suites: tests, benchmarks, dry runs without the datasets)."""
    from cyclip_bench.data.fixture import DATASETS, FixtureConfig, write_fixture
    from cyclip_bench.validation import check_output_dir

    names = [n for value in dataset or [] for n in value.split(",") if n]
    if suite is not None:
        from cyclip_bench.eval import suite_datasets

        needed = suite_datasets(suite)
        if train_per_class is None and not any("train" in splits for splits in needed.values()):
            train_per_class = 0  # e.g. shifts: no ImageNet train folder to write
        if not needed or any(n not in DATASETS for n in needed):
            other = [n for n in needed if n not in DATASETS]
            raise DataError(
                f"--suite {suite}: reads datasets the fixture does not write ({', '.join(other) or 'none by name'}); "
                f"it writes {', '.join(DATASETS)}"
            )
        names += [n for n in needed if n not in names]
    cfg = FixtureConfig(
        out=out_dir,
        datasets=tuple(names) if names else DATASETS,
        per_class=per_class,
        train_per_class=train_per_class,
        cifar_test_size=cifar_test_size,
        retrieval_images=retrieval_images,
        real_sizes=real_sizes,
        image_size=image_size,
        imagenet_layout=imagenet_layout,
        seed=seed,
        workers=workers,
        overwrite=overwrite,
    )
    check_output_dir(out_dir, "OUT_DIR")
    start = time.perf_counter()
    info = write_fixture(cfg)
    typer.echo(f"wrote {out_dir}: {info['images']} images (seed {seed}) in {time.perf_counter() - start:.1f} s")
    for name, counts in info["datasets"].items():
        sizes = ", ".join(f"{k} {v}" for k, v in counts.items() if k not in ("path", "index", "layout"))
        typer.echo(f"  {name:16} {counts['path']}: {sizes}")


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
