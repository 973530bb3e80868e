"""The training configuration: one frozen dataclass built once from defaults < TOML < flags, validated."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import tomllib

from cyclip_bench.errors import ConfigError
from cyclip_bench.registry import did_you_mean

CACHE_MODES = ("auto", "memory", "off")
LOSSES = ("clip", "cyclip")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CYCLIC_DEFAULT_LAMBDA = 0.25  # the CyCLIP README's λ1 = λ2


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on. Field names are the flags with ``_`` for ``-``."""

    train_data: str = ""
    val_data: str | None = None
    model: str = "tiny"
    pretrained: str | None = None
    image_size: int | None = None
    loss: str = "clip"
    lambda_inmodal: float | None = None  # None → 0.25 for --loss cyclip, 0 for clip (resolved by from_sources)
    lambda_crossmodal: float | None = None
    cyclic_normalization: str = "paper"
    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 128
    lr: float = 5e-4  # the paper's; 1e-3 at batch 128 stayed at ln(batch) for 2 epochs on the world
    warmup: int = 50
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    grad_clip: float | None = None
    accum_steps: int = 1
    precision: str = "auto"
    seed: int = 0
    name: str | None = None
    logs: str = "logs"
    resume: str | None = None
    save_every: int = 0
    checkpoint_steps: int = 100
    log_every: int = 10
    workers: int = 2
    channels_last: bool | None = None  # None: on for convolutional image towers (train/loop.py)
    data_cache: str = "auto"  # auto|memory|off: decode a caption table once into memory (train/memcache.py)
    device: str = "auto"
    tensorboard: bool = False
    progress: bool = True
    image_key: str = "image"
    caption_key: str = "caption"
    delimiter: str | None = None
    bad_rows: str = "error"
    train_num_samples: int | None = None
    val_batch_size: int = 256

    @property
    def run_name(self) -> str:
        return self.name or f"{self.loss}-{self.model}-s{self.seed}"

    @property
    def run_dir(self) -> Path:
        return Path(self.logs) / self.run_name

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_sources(cls, toml_path: str | os.PathLike | None = None, **flags: Any) -> TrainConfig:
        """defaults < TOML file < flags (flags set to None count as not given); then resolve and validate."""
        values: dict[str, Any] = {}
        if toml_path is not None:
            values.update(_read_toml(Path(toml_path)))
        values.update({k: v for k, v in flags.items() if v is not None})
        _check_keys(values, "flag")
        return validate(cls(**values))


def is_shards(spec: str) -> bool:
    """Whether ``--train-data`` names webdataset tar shards rather than a caption table."""
    return ".tar" in spec and not spec.lower().endswith((".csv", ".tsv"))


def flag(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"--config {path}: file not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"--config {path}: invalid TOML ({err})") from None
    table = raw.get("train", raw)  # either a [train] table or top-level keys
    values = {str(k).replace("-", "_"): v for k, v in table.items()}
    _check_keys(values, f"key in {path}")
    return values


def _check_keys(values: dict[str, Any], what: str) -> None:
    known = [f.name for f in fields(TrainConfig)]
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown {what} {key!r}.{did_you_mean(key, known)}")


def _require(ok: bool, field_name: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{flag(field_name)} {value!r}: expected {expected}")


def _resolve_lambdas(cfg: TrainConfig) -> TrainConfig:
    default = CYCLIC_DEFAULT_LAMBDA if cfg.loss == "cyclip" else 0.0
    lam_in = default if cfg.lambda_inmodal is None else float(cfg.lambda_inmodal)
    lam_cross = default if cfg.lambda_crossmodal is None else float(cfg.lambda_crossmodal)
    for name, value in (("lambda_inmodal", lam_in), ("lambda_crossmodal", lam_cross)):
        _require(value >= 0, name, value, "a weight >= 0")
        if cfg.loss == "clip" and value > 0:
            raise ConfigError(f"{flag(name)} {value} needs --loss cyclip (--loss clip has no cyclic terms)")
    return dataclasses.replace(cfg, lambda_inmodal=lam_in, lambda_crossmodal=lam_cross)


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check every value (messages name the flag); resolve λ defaults. Model names are checked on build."""
    _require(bool(cfg.train_data), "train_data", cfg.train_data, "a caption CSV/TSV or tar shards")
    _require(cfg.loss in LOSSES, "loss", cfg.loss, " or ".join(LOSSES))
    _require(cfg.precision in PRECISIONS, "precision", cfg.precision, "|".join(PRECISIONS))
    _require(
        cfg.cyclic_normalization in ("paper", "pair"),
        "cyclic_normalization",
        cfg.cyclic_normalization,
        "paper (1/N·Σ, the paper's) or pair (per-pair mean)",
    )
    _require(cfg.bad_rows in ("error", "skip"), "bad_rows", cfg.bad_rows, "error or skip")
    _require(cfg.batch_size >= 2, "batch_size", cfg.batch_size, "at least 2 (a contrastive batch needs negatives)")
    _require(cfg.epochs >= 1, "epochs", cfg.epochs, "at least 1")
    _require(cfg.max_steps is None or cfg.max_steps >= 1, "max_steps", cfg.max_steps, "at least 1")
    _require(cfg.lr > 0, "lr", cfg.lr, "a positive learning rate")
    _require(cfg.warmup >= 0, "warmup", cfg.warmup, "a number of steps >= 0")
    _require(cfg.weight_decay >= 0, "weight_decay", cfg.weight_decay, ">= 0")
    _require(cfg.grad_clip is None or cfg.grad_clip > 0, "grad_clip", cfg.grad_clip, "a positive norm")
    _require(cfg.accum_steps >= 1, "accum_steps", cfg.accum_steps, "at least 1")
    _require(cfg.workers >= 0, "workers", cfg.workers, ">= 0")
    _require(cfg.data_cache in CACHE_MODES, "data_cache", cfg.data_cache, "|".join(CACHE_MODES))
    if cfg.data_cache == "memory" and is_shards(cfg.train_data):
        raise ConfigError(f"--data-cache memory: {cfg.train_data!r} is tar shards, which always stream")
    _require(cfg.save_every >= 0, "save_every", cfg.save_every, "a number of epochs >= 0 (0: only latest)")
    _require(cfg.checkpoint_steps >= 1, "checkpoint_steps", cfg.checkpoint_steps, "at least 1")
    _require(cfg.log_every >= 1, "log_every", cfg.log_every, "at least 1")
    _require(cfg.val_batch_size >= 2, "val_batch_size", cfg.val_batch_size, "at least 2")
    _require(cfg.image_size is None or cfg.image_size > 0, "image_size", cfg.image_size, "a positive size")
    _require(cfg.delimiter is None or len(cfg.delimiter) == 1, "delimiter", cfg.delimiter, "one character")
    _require(cfg.name is None or (cfg.name and "/" not in cfg.name), "name", cfg.name, "a folder name")
    return _resolve_lambdas(cfg)
