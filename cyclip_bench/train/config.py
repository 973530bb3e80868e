"""The training configuration: one frozen dataclass built once from defaults < TOML < flags, validated.

Each field declares its type and range once (``cyclip_bench.validation``); ``from_sources`` checks TOML keys and
flags with the same declarations, so a string where a number belongs, ``inf`` for a rate or a weight, or a value
out of range is one line naming the flag or the file and key — before anything is written.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import tomllib

from cyclip_bench.errors import ConfigError
from cyclip_bench.objectives import get_objective
from cyclip_bench.registry import did_you_mean
from cyclip_bench.validation import (
    Device,
    FileName,
    NonEmptyStr,
    NonNegativeFloat,
    NonNegativeInt,
    OneChar,
    PathStr,
    PositiveFloat,
    PositiveInt,
    Seed,
    at_least,
    check_fields,
    flag_name,
    float_range,
    name_problem,
)

ContrastiveBatch = at_least(2, "a contrastive batch needs negatives")
Beta = float_range(ge=0, lt=1)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on. Field names are the flags with ``_`` for ``-``."""

    train_data: PathStr = ""
    val_data: PathStr | None = None
    model: NonEmptyStr = "tiny"
    pretrained: NonEmptyStr | None = None
    image_size: PositiveInt | None = None
    loss: NonEmptyStr = "clip"  # a registered objective (cyclip_bench.objectives): clip, cyclip, siglip, …
    lambda_inmodal: NonNegativeFloat | None = None  # None → the objective's default: 0.25 for cyclip, 0 for clip
    lambda_crossmodal: NonNegativeFloat | None = None
    cyclic_normalization: Literal["paper", "pair"] = "paper"
    epochs: PositiveInt = 10
    max_steps: PositiveInt | None = None
    batch_size: ContrastiveBatch = 128
    lr: PositiveFloat = 5e-4  # the paper's; 1e-3 at batch 128 stayed at ln(batch) for 2 epochs on the world
    warmup: NonNegativeInt = 50
    weight_decay: NonNegativeFloat = 0.1
    beta1: Beta = 0.9
    beta2: Beta = 0.999
    eps: PositiveFloat = 1e-8
    grad_clip: PositiveFloat | None = None
    accum_steps: PositiveInt = 1
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    seed: Seed = 0
    name: FileName | None = None
    logs: PathStr = "logs"
    resume: PathStr | None = None
    save_every: NonNegativeInt = 0
    checkpoint_steps: PositiveInt = 100
    log_every: PositiveInt = 10
    workers: NonNegativeInt = 2
    channels_last: bool | None = None  # None: on for convolutional image towers (train/loop.py)
    data_cache: Literal["auto", "memory", "off"] = "auto"  # decode a caption table once into memory (memcache.py)
    device: Device = "auto"
    tensorboard: bool = False
    progress: bool = True
    image_key: NonEmptyStr = "image"
    caption_key: NonEmptyStr = "caption"
    delimiter: OneChar | None = None
    bad_rows: Literal["error", "skip"] = "error"
    train_num_samples: PositiveInt | None = None
    val_batch_size: ContrastiveBatch = 256

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
        """defaults < TOML file < flags (flags set to None count as not given); then resolve and validate.

        TOML values are checked with the file and key named; flags with the flag named."""
        values: dict[str, Any] = {}
        if toml_path is not None:
            path = Path(toml_path)
            toml_values = _read_toml(path)
            values.update(check_fields(cls, toml_values, f"--config {path}", lambda key: f"key {key!r} ="))
        given = {k: v for k, v in flags.items() if v is not None}
        _check_keys(given, "", "flag")
        values.update(check_fields(cls, given))
        return validate(cls(**values))


def is_shards(spec: str) -> bool:
    """Whether ``--train-data`` names webdataset tar shards rather than a caption table."""
    return ".tar" in spec and not spec.lower().endswith((".csv", ".tsv"))


flag = flag_name


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        what = "is a folder, not a TOML file" if path.is_dir() else "file not found"
        raise ConfigError(f"--config {path}: {what}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"--config {path}: invalid TOML ({err})") from None
    except OSError as err:
        raise ConfigError(f"--config {path}: cannot read ({err.strerror or err})") from None
    table = raw.get("train", raw)  # either a [train] table or top-level keys
    if not isinstance(table, dict):
        raise ConfigError(f"--config {path}: 'train' must be a table ([train])")
    values = {str(k).replace("-", "_"): v for k, v in table.items()}
    _check_keys(values, f"--config {path}: ", "key")
    return values


def _check_keys(values: dict[str, Any], prefix: str, what: str) -> None:
    known = [f.name for f in fields(TrainConfig)]
    for key in values:
        if key not in known:
            raise ConfigError(f"{prefix}unknown {what} {key!r}.{did_you_mean(key, known)}")


def _require(ok: bool, field_name: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{flag(field_name)} {value!r}: expected {expected}")


def _resolve_lambdas(cfg: TrainConfig) -> TrainConfig:
    """λ not given → the objective's default. An objective with a cyclic variant (clip → cyclip) refuses λ > 0,
    so that the run's name says it trained with cyclic terms; others (siglip) take λ as an add-on."""
    objective = get_objective(cfg.loss)
    default = objective.cyclic_lambda
    lam_in = default if cfg.lambda_inmodal is None else float(cfg.lambda_inmodal)
    lam_cross = default if cfg.lambda_crossmodal is None else float(cfg.lambda_crossmodal)
    for name, value in (("lambda_inmodal", lam_in), ("lambda_crossmodal", lam_cross)):
        if objective.cyclic_variant and value > 0:
            raise ConfigError(
                f"{flag(name)} {value} needs --loss {objective.cyclic_variant} "
                f"(--loss {objective.name} has no cyclic terms)"
            )
    return dataclasses.replace(cfg, lambda_inmodal=lam_in, lambda_crossmodal=lam_cross)


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check every field against its declaration (messages name the flag), then the rules that join fields;
    resolve λ defaults. Model names are checked on build; the device and the output folder when training starts."""
    check_fields(TrainConfig, {f.name: getattr(cfg, f.name) for f in fields(cfg)})
    _require(bool(cfg.train_data), "train_data", cfg.train_data, "a caption CSV/TSV or tar shards")
    if cfg.data_cache == "memory" and is_shards(cfg.train_data):
        raise ConfigError(f"--data-cache memory: {cfg.train_data!r} is tar shards, which always stream")
    if cfg.name is None and name_problem(cfg.run_name):  # the default name is built from --loss/--model/--seed
        raise ConfigError(f"run name {cfg.run_name!r} (from --loss, --model, --seed) is not a folder name; pass --name")
    return _resolve_lambdas(cfg)
