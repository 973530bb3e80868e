"""``EvalConfig``: the one frozen config of ``cyclip-bench eval``, validated here with messages naming
the flag."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from cyclip_bench.errors import ConfigError
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
_FLAGS = {"checkpoints": "--checkpoint", "cache": "--no-cache", "progress": "--quiet", "out": "--out"}
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


@dataclass(frozen=True)
class EvalConfig:
    """Every field declares its type and range (``cyclip_bench.validation``); checked on construction."""

    checkpoints: Annotated[Checkpoints, Field(min_length=1)]
    suite: NonEmptyStr
    out: PathValue
    data_root: PathValue | None = None
    batch_size: PositiveInt = 256
    workers: NonNegativeInt = 2
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    device: Device = "auto"
    model: NonEmptyStr | None = None  # architecture for open_clip checkpoints / pretrained tags
    cache: bool = True
    cache_dir: PathValue | None = None  # None → $CYCLIP_BENCH_CACHE or ~/.cache/cyclip-bench/features
    resume: bool = False
    # Replace results in --out of another suite version, or of another checkpoint under the same label.
    overwrite: bool = False
    dry_run: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        check_instance(self, name=lambda key: _FLAGS.get(key, flag_name(key)))
        for path, flag in ((self.out, "--out"), (self.cache_dir, "--cache-dir")):
            if path is not None and Path(path).exists() and not Path(path).is_dir():
                raise ConfigError(f"{flag} {path}: exists and is not a folder")
        if self.data_root is not None and not Path(self.data_root).is_dir():
            raise ConfigError(f"--data-root {self.data_root} is not a folder")
        self.labelled_checkpoints  # noqa: B018 -- a bad LABEL=PATH fails on construction

    @property
    def labelled_checkpoints(self) -> tuple[tuple[str | None, str], ...]:
        """(explicit label or None, source) of every ``--checkpoint`` (``checkpoint_entry``)."""
        return tuple(checkpoint_entry(c) for c in self.checkpoints)

    @property
    def resolved_cache_dir(self) -> Path | None:
        if not self.cache:
            return None
        return Path(self.cache_dir) if self.cache_dir is not None else default_cache_dir()
