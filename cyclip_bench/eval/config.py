"""``EvalConfig``: the one frozen config of ``cyclip-bench eval`` — its fields are the command's flags — validated
here with messages naming the flag."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator

from cyclip_bench.errors import ConfigError
from cyclip_bench.options import option
from cyclip_bench.registry import did_you_mean
from cyclip_bench.validation import (
    Device,
    NonEmptyStr,
    NonNegativeInt,
    PathValue,
    PositiveInt,
    check_instance,
    flag_name,
    lists_as_tuples,
    name_problem,
)

PRECISIONS = ("fp32", "bf16", "fp16")
# What --task may name (``eval.dataset_suite``): consistency on a retrieval set is its geometry task.
DATASET_TASKS = ("zeroshot", "linear_probe", "retrieval", "consistency")
_FLAGS = {
    "checkpoints": "--checkpoint",
    "pretrained": "--pretrained",
    "cache": "--no-cache",
    "progress": "--quiet",
    "out": "--out",
    "datasets": "--dataset",
    "tasks": "--task",
}
Checkpoints = Annotated[tuple[NonEmptyStr, ...], BeforeValidator(lists_as_tuples)]


def default_cache_dir() -> Path:
    if os.environ.get("CYCLIP_BENCH_CACHE"):
        return Path(os.environ["CYCLIP_BENCH_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "cyclip-bench" / "features"


def checkpoint_entry(entry: str) -> tuple[str | None, str]:
    """One ``--checkpoint`` value → (label or None for the default label, file or pretrained tag).

    ``LABEL=PATH`` sets the label (the results file is ``<LABEL>__<suite>.json``). A value that is an existing
    file is always a path, '=' or not, so a file whose name holds '=' still loads under its default label."""
    if "=" not in entry or Path(entry).is_file():
        return None, entry
    label, source = entry.split("=", 1)
    problem = name_problem(label)
    if problem is not None:
        raise ConfigError(
            f"--checkpoint {entry}: no such file, and {label!r} before '=' is not a label for LABEL=PATH "
            f"({problem}; a label must be usable as a file name)"
        )
    if not source:
        raise ConfigError(f"--checkpoint {entry}: nothing after '=' (expected LABEL=PATH)")
    return label, source


def _is_released_model(name: str) -> bool:
    return name.startswith(("hf-hub:", "local-dir:"))


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


@dataclass(frozen=True)
class EvalConfig:
    """``cyclip-bench eval``: every field declares its type and range (``cyclip_bench.validation``), checked on
    construction, and its flag and help (``option``), from which the command is derived (``cli/derive.py``)."""

    out: PathValue = option(help="Output folder for <label>__<suite>.json + results.csv.", short="-o", metavar="DIR")
    suite: NonEmptyStr | None = option(
        None,
        "Built-in suite name (see `cyclip-bench suites`) or a suite .toml file (or --dataset instead).",
        short="-s",
        metavar="NAME|FILE",
    )
    datasets: Checkpoints = option(
        (),
        help="Evaluate on this dataset without a suite file (repeat for several): a catalog name (its webdataset "
        "copy under --data-root first, then its released layout), wds/<name> as CLIP_benchmark names it (e.g. "
        "wds/vtab/cifar10), or FORMAT:PATH (imagefolder:, labels-csv:, captions:). Tasks follow what each dataset "
        "holds; results are <label>__<suite>.json with the suite named after the datasets (docs/evaluation.md).",
        flag="--dataset",
        short="-d",
        cli_type=list[str],
        metavar="NAME",
    )
    tasks: Checkpoints = option(
        (),
        help=f"With --dataset: run only these task kinds (repeat): {' | '.join(DATASET_TASKS)}.",
        flag="--task",
        cli_type=list[str],
        metavar="KIND",
    )
    checkpoints: Checkpoints = option(
        (),
        help="Checkpoint file (.pt/.bin/.safetensors; repeat for several), a released model (hf-hub:ORG/REPO, "
        "local-dir:DIR or a folder with open_clip_config.json + weights), or an open_clip pretrained tag with "
        "--model; LABEL=SOURCE sets its label (results are <LABEL>__<suite>.json; default: the run, file, folder "
        "or repo name).",
        flag="--checkpoint",
        short="-c",
        cli_type=list[str],
        metavar="SOURCE",
    )
    pretrained: Checkpoints = option(
        (),
        help="open_clip pretrained tag of --model (repeat for several), as open_clip and CLIP_benchmark spell it: "
        "--model ViT-B-32 --pretrained laion2b_s34b_b79k (the same as --checkpoint TAG --model NAME). Found "
        "offline first in the Hugging Face cache or open_clip's cache.",
        cli_type=list[str],
        metavar="TAG",
    )
    data_root: PathValue | None = option(
        None,
        "Folder holding the datasets (for world suites: the folder written by `cyclip-bench data synth`).",
        metavar="DIR",
    )
    batch_size: PositiveInt = option(256, "Images/texts per forward pass.")
    workers: NonNegativeInt = option(2, "DataLoader worker processes for image decoding.")
    precision: Literal["fp32", "bf16", "fp16"] = option("fp32", "fp32 | bf16 | fp16 (fp16 is slow on CPU).")
    channels_last: bool | None = option(
        None,
        "NHWC image batches and weights (faster convolution kernels; the same features to float rounding).",
        default_help="on for convolutional image towers (ResNets), off for ViTs",
    )
    device: Device = option("auto", "auto | cpu | cuda[:N].")
    model: NonEmptyStr | None = option(
        None,
        "Architecture of an open_clip weights file or pretrained tag (this project's and CyCLIP's checkpoints, "
        "hf-hub: repos and model folders name their own); hf-hub:ORG/REPO or local-dir:DIR alone evaluates that "
        "model.",
        metavar="NAME",
    )
    cache: bool = option(
        True, "Read and write the feature cache; --no-cache encodes everything and reads or writes no cache."
    )
    cache_dir: PathValue | None = option(
        None,
        "Feature cache folder.",
        default_help="$CYCLIP_BENCH_CACHE or ~/.cache/cyclip-bench/features",
        metavar="DIR",
    )
    resume: bool = option(False, "Keep tasks already in --out; run only the others.")
    overwrite: bool = option(
        False, "Replace results in --out of another suite version or of another checkpoint under the same label."
    )
    dry_run: bool = option(
        False,
        "Check suite, tasks, checkpoints (hashed, not loaded), labels and data; print each task's files per split "
        "and the checkpoints; load no model, decode and encode nothing.",
    )
    progress: bool = option(
        True, "No progress bars and no table.", flag="--quiet", short="-q", parse=_not, default_help="off"
    )

    def __post_init__(self) -> None:
        check_instance(self, name=lambda key: _FLAGS.get(key, flag_name(key)))
        if (self.suite is None) == (not self.datasets):
            raise ConfigError(
                "--suite and --dataset: give one of them (--suite NAME|FILE, or --dataset NAME repeated), "
                + ("not both" if self.suite is not None else "neither was given")
            )
        if self.tasks and not self.datasets:
            raise ConfigError("--task narrows the tasks of --dataset; with --suite the suite file lists the tasks")
        for kind in self.tasks:
            if kind not in DATASET_TASKS:
                raise ConfigError(
                    f"--task {kind!r}: unknown.{did_you_mean(kind, list(DATASET_TASKS))} "
                    f"Expected one of {', '.join(DATASET_TASKS)}"
                )
        for path, flag in ((self.out, "--out"), (self.cache_dir, "--cache-dir")):
            if path is not None and Path(path).exists() and not Path(path).is_dir():
                raise ConfigError(f"{flag} {path}: exists and is not a folder")
        if self.data_root is not None and not Path(self.data_root).is_dir():
            raise ConfigError(f"--data-root {self.data_root} is not a folder")
        if not self.labelled_checkpoints:  # a bad LABEL=PATH fails on construction too
            raise ConfigError(
                "nothing to evaluate: pass --checkpoint FILE|hf-hub:ORG/REPO|local-dir:DIR (repeatable), or "
                "--model NAME --pretrained TAG"
            )
        if self.pretrained and (self.model is None or _is_released_model(self.model)):
            raise ConfigError(
                f"--pretrained {self.pretrained[0]}: a pretrained tag needs --model NAME (its architecture)"
            )

    @property
    def labelled_checkpoints(self) -> tuple[tuple[str | None, str], ...]:
        """(explicit label or None, source) of every ``--checkpoint`` and ``--pretrained`` (``checkpoint_entry``);
        a ``--model hf-hub:…``/``local-dir:…`` given alone (open_clip's spelling) is the one source."""
        entries = (*self.checkpoints, *self.pretrained)
        if not entries and self.model is not None and _is_released_model(self.model):
            entries = (self.model,)
        return tuple(checkpoint_entry(c) for c in entries)

    @property
    def architecture(self) -> str | None:
        """--model as the architecture of files and tags (None when --model names the released model itself)."""
        return None if self.model is None or _is_released_model(self.model) else self.model

    @property
    def resolved_cache_dir(self) -> Path | None:
        if not self.cache:
            return None
        return Path(self.cache_dir) if self.cache_dir is not None else default_cache_dir()
