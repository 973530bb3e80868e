"""``EvalConfig``: the one frozen config of ``cyclip-bench eval``, validated here with messages naming
the flag."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cyclip_bench.errors import ConfigError

PRECISIONS = ("fp32", "bf16", "fp16")


def default_cache_dir() -> Path:
    if os.environ.get("CYCLIP_BENCH_CACHE"):
        return Path(os.environ["CYCLIP_BENCH_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "cyclip-bench" / "features"


@dataclass(frozen=True)
class EvalConfig:
    checkpoints: tuple[str, ...]
    suite: str
    out: Path
    data_root: Path | None = None
    batch_size: int = 256
    workers: int = 2
    precision: str = "fp32"
    device: str = "auto"
    model: str | None = None  # architecture for open_clip checkpoints / pretrained tags
    cache: bool = True
    cache_dir: Path | None = None  # None → $CYCLIP_BENCH_CACHE or ~/.cache/cyclip-bench/features
    resume: bool = False
    overwrite: bool = False
    dry_run: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.checkpoints:
            raise ConfigError("--checkpoint: give at least one checkpoint")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be ≥ 1 (got {self.batch_size})")
        if self.workers < 0:
            raise ConfigError(f"--workers must be ≥ 0 (got {self.workers})")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)} (got {self.precision!r})")
        if self.device != "auto" and not self.device.startswith(("cpu", "cuda", "mps")):
            raise ConfigError(f"--device must be auto, cpu, cuda[:N] or mps (got {self.device!r})")
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"--out {self.out} exists and is not a folder")
        if self.data_root is not None and not Path(self.data_root).is_dir():
            raise ConfigError(f"--data-root {self.data_root} is not a folder")

    @property
    def resolved_cache_dir(self) -> Path | None:
        if not self.cache:
            return None
        return Path(self.cache_dir) if self.cache_dir is not None else default_cache_dir()
