"""What `cyclip-bench data fixture` writes: the datasets, their sizes, and the configuration that is also the
command's list of flags (cli/derive.py). Kept apart from the image writer so the CLI declares the command
without importing numpy or PIL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from cyclip_bench.errors import ConfigError, DataError
from cyclip_bench.options import option
from cyclip_bench.registry import did_you_mean
from cyclip_bench.validation import Names, NonNegativeInt, PathValue, PositiveInt, Seed, check_instance, flag_name

FIXTURE_VERSION = 2  # 2: every dataset entry has path, layout (released|wds), shards per split, classes
# Catalog names, in the order they are written. "imagenet1k" writes its val (test) and train splits.
DATASETS = (
    "cifar10",
    "cifar100",
    "imagenet1k",
    "imagenetv2",
    "imagenet-sketch",
    "imagenet-a",
    "imagenet-r",
    "flickr30k",
    "mscoco",
)
# The datasets of DataComp's 38 tasks and CLIP_benchmark's vtab+ (cyclip_bench/data/benchmarks.py), written only
# when named (cyclip_bench/data/fixture_benchmarks.py): their released layout where the catalog reads one, else
# (and with --layout wds) their webdataset copy. The same names as benchmarks.BENCHMARKS (tested).
BENCHMARK_DATASETS = tuple(
    "food101 sun397 cars fgvc_aircraft dtd pets caltech101 flowers mnist stl10 fer2013 voc2007 voc2007_multilabel "
    "imagenet-o objectnet eurosat gtsrb country211 pcam renderedsst2 svhn resisc45 kitti_closest_vehicle_distance "
    "clevr_count_all clevr_closest_object_distance dmlab diabetic_retinopathy dsprites_label_orientation "
    "dsprites_label_x_position dsprites_label_y_position smallnorb_label_azimuth smallnorb_label_elevation "
    "camelyon17 fmow iwildcam dollar_street geode".split()
)
# DataComp's association task, in its released layout (cyclip_bench/data/winogavil.py), written only when named.
WINOGAVIL = "winogavil"
FIXTURE_DATASETS = (*DATASETS, *BENCHMARK_DATASETS, WINOGAVIL)
CIFAR_TEST_SIZE = 10_000  # the real test batch of CIFAR-10 and of CIFAR-100
CIFAR_TRAIN_SIZE = 50_000
# --real-sizes: the released test sets' image counts, spread evenly over the classes (the releases of Sketch, A and
# R are slightly uneven per class; the totals are theirs).
REAL_SIZES = {
    "imagenet1k": 50_000,
    "imagenetv2": 10_000,
    "imagenet-sketch": 50_889,
    "imagenet-a": 7_500,
    "imagenet-r": 30_000,
    "flickr30k": 1_000,  # Karpathy test split
    "mscoco": 5_000,  # Karpathy 5k test split
}
DEFAULT_PER_CLASS = 2
DEFAULT_RETRIEVAL_IMAGES = 100
CAPTIONS_PER_IMAGE = 5  # Flickr30k and MS-COCO (Karpathy splits)
DEFAULT_WDS_SHARD_SIZE = 1000
ImageSide = Annotated[int, Field(ge=16, le=4096)]


def parse_dataset_flags(values: list[str] | None) -> tuple[str, ...] | None:
    """``-d cifar10 -d imagenet1k,imagenetv2`` → the names in order; nothing given → None (the default: all)."""
    if not values:
        return None
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())


def suite_fixture_flags(
    suite: str, needed: Mapping[str, Sequence[str]], datasets: Sequence[str] | None, train_per_class: int | None
) -> dict[str, Any]:
    """The ``datasets`` and ``train_per_class`` that ``--suite`` implies: the suite's datasets after any named
    with ``--dataset``, and no train images when no task of the suite reads a train split (unless given).
    ``needed`` maps each catalog dataset the suite reads to its splits (``cyclip_bench.eval.suite_datasets``)."""
    other = [name for name in needed if name not in FIXTURE_DATASETS]
    if not needed or other:
        raise DataError(
            f"--suite {suite}: reads datasets the fixture does not write ({', '.join(other) or 'none by name'}); "
            f"it writes {', '.join(FIXTURE_DATASETS)}"
        )
    names = list(datasets or ())
    names += [name for name in needed if name not in names]
    if train_per_class is None and not any("train" in splits for splits in needed.values()):
        train_per_class = 0  # e.g. shifts: no ImageNet train folder to write
    return {"datasets": tuple(names), "train_per_class": train_per_class}


@dataclass(frozen=True)
class FixtureConfig:
    """``cyclip-bench data fixture``; every field's type and range is declared once and checked on construction.

    ``per_class`` (default 2) images per class for every test set (ImageNet val, V2, Sketch, A, R);
    ``train_per_class`` (default ``per_class``) for CIFAR train and ImageNet train (0: no ImageNet train, empty
    CIFAR train batches); ``cifar_test_size`` (default: ``per_class`` × classes, at most the real 10,000) for each
    CIFAR test batch; ``retrieval_images`` (default 100) images per retrieval set (5 captions each).
    ``real_sizes``: every test set at its released size (``REAL_SIZES``, CIFAR test 10,000) and CIFAR train at its
    real 50,000 (``train_per_class`` then sets ImageNet train only); it excludes the three test-size options.
    ``image_size``: the longer side of the file images (CIFAR is always 32×32)."""

    out: PathValue = option(
        help="Folder to write into (must be new or empty); use it as --data-root.", argument=True, metavar="OUT_DIR"
    )
    datasets: Names = option(
        DATASETS,
        f"Dataset to write (repeat, or a comma list): {', '.join(DATASETS)}; or a benchmark dataset of DataComp / "
        "CLIP_benchmark vtab+ by catalog name (food101, pets, dsprites_label_orientation, ...: docs/formats.md).",
        flag="--dataset",
        short="-d",
        cli_type=list[str],
        parse=parse_dataset_flags,
        default_help="all",
    )
    per_class: PositiveInt | None = option(
        None, "Images per class of every test set (ImageNet val has 50).", default_help=str(DEFAULT_PER_CLASS)
    )
    train_per_class: NonNegativeInt | None = option(
        None,
        "Images per class of CIFAR train and ImageNet train.",
        default_help="--per-class; with --suite, 0 when the suite reads no train split",
    )
    cifar_test_size: Annotated[int, Field(ge=1, le=CIFAR_TEST_SIZE)] | None = option(
        None, "Images in each CIFAR test batch, up to the real 10000.", default_help="--per-class × classes"
    )
    retrieval_images: PositiveInt | None = option(
        None,
        "Images per retrieval set, 5 captions each (real: 1000 / 5000).",
        default_help=str(DEFAULT_RETRIEVAL_IMAGES),
    )
    real_sizes: bool = option(
        False,
        "Every test set at its released size (ImageNet val 50,000, V2 10,000, Sketch 50,889, A 7,500, R 30,000, "
        "CIFAR test 10,000, Flickr30k 1,000, MS-COCO 5,000) and CIFAR train at 50,000 (--train-per-class then "
        "sets ImageNet train only).",
    )
    image_size: ImageSide = option(64, "Longer side of the image files in pixels.")
    imagenet_layout: Literal["wnids", "labels-csv"] = option(
        "wnids", "ImageNet val/train: wnids (class folders) or labels-csv."
    )
    layout: Literal["released", "wds"] = option(
        "released",
        "released: each dataset's released files; wds: CLIP_benchmark's webdataset copy (OUT_DIR/wds_<name>/<split>/"
        "0..N-1.tar of webp images, nshards.txt, classnames.txt, templates), written with webdataset's ShardWriter.",
    )
    wds_shard_size: PositiveInt = option(
        DEFAULT_WDS_SHARD_SIZE, "With --layout wds: samples per tar shard (smaller: more shards)."
    )
    seed: Seed = option(0, "Seed: the same seed writes byte-identical files.")
    workers: NonNegativeInt = option(0, "Worker processes (0: up to 2).")
    overwrite: bool = option(False, "Replace OUT_DIR if it exists and is not empty.")

    def __post_init__(self) -> None:
        check_instance(self, name=lambda key: {"out": "OUT_DIR", "datasets": "--dataset"}.get(key, flag_name(key)))
        if not self.datasets:
            raise ConfigError(f"--dataset: name at least one of {', '.join(DATASETS)}")
        for name in self.datasets:
            if name not in FIXTURE_DATASETS:
                raise ConfigError(
                    f"--dataset {name!r}: not a dataset the fixture writes."
                    f"{did_you_mean(name, list(FIXTURE_DATASETS))} Known: {', '.join(FIXTURE_DATASETS)}"
                )
        benchmarks = [name for name in self.datasets if name in (*BENCHMARK_DATASETS, WINOGAVIL)]
        if self.real_sizes and benchmarks:
            raise ConfigError(
                f"--real-sizes: not for the benchmark datasets ({', '.join(benchmarks)}); use --per-class"
            )
        given = [f for f in ("per_class", "cifar_test_size", "retrieval_images") if getattr(self, f) is not None]
        if self.real_sizes and given:
            raise ConfigError(f"--real-sizes sets every test set's size: drop {', '.join(flag_name(f) for f in given)}")
        out = Path(self.out)
        if out.exists() and not out.is_dir():
            raise ConfigError(f"OUT_DIR {out}: exists and is not a folder")

    @property
    def test_per_class(self) -> int:
        return self.per_class or DEFAULT_PER_CLASS

    @property
    def train_count(self) -> int:
        """Images per class of ImageNet train (and of CIFAR train, except with ``real_sizes``)."""
        return self.test_per_class if self.train_per_class is None else self.train_per_class

    def counts(self, dataset: str, num_classes: int) -> list[int]:
        """Images of each class of a file-based test set."""
        if not self.real_sizes:
            return [self.test_per_class] * num_classes
        base, extra = divmod(REAL_SIZES[dataset], num_classes)
        return [base + (c < extra) for c in range(num_classes)]

    def cifar_train_count(self, num_classes: int) -> int:
        if self.real_sizes:  # the full 50,000: arrays, cheap to write (unlike ImageNet train's 1.28 M files)
            return CIFAR_TRAIN_SIZE
        return num_classes * self.train_count

    def cifar_test_count(self, num_classes: int) -> int:
        if self.real_sizes:
            return CIFAR_TEST_SIZE
        return self.cifar_test_size or min(CIFAR_TEST_SIZE, self.test_per_class * num_classes)

    def retrieval_count(self, dataset: str) -> int:
        return REAL_SIZES[dataset] if self.real_sizes else self.retrieval_images or DEFAULT_RETRIEVAL_IMAGES
