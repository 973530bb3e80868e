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
from typing import Annotated, Any, Literal

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover  (Python 3.10: the same parser from PyPI)
    import tomli as tomllib
from pydantic import BeforeValidator

from cyclip_bench.errors import ConfigError
from cyclip_bench.options import option, option_spec
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
    lists_as_tuples,
    name_problem,
)

ContrastiveBatch = at_least(2, "a contrastive batch needs negatives")
Beta = float_range(ge=0, lt=1)
# What --resume may be allowed to change (train/continuation.py compares each).
ResumeChange = Literal["world-size", "batch", "schedule", "data"]
ResumeChanges = Annotated[tuple[ResumeChange, ...], BeforeValidator(lists_as_tuples)]
HELP_DATA = "Caption CSV/TSV (image,caption) or webdataset shards, e.g. 'shards/{00000..00009}.tar'."


def parse_loss_params(values: list[str] | None) -> dict[str, float] | None:
    """``--loss-param NAME=VALUE`` (repeatable) → {NAME: VALUE}; the objective checks names and ranges."""
    if not values:
        return None
    table: dict[str, float] = {}
    for item in values:
        name, sep, value = item.partition("=")
        try:
            number = float(value) if sep and name.strip() else None
        except ValueError:
            number = None
        if number is None:
            raise ConfigError(f"--loss-param {item!r}: expected NAME=NUMBER, e.g. init_logit_bias=-10")
        table[name.strip()] = number
    return table


def parse_names(value: str | None) -> tuple[str, ...] | None:
    """``a,b`` → ('a', 'b') (blanks around commas ignored)."""
    return None if value is None else tuple(part.strip() for part in value.split(",") if part.strip())


def parse_delimiter(value: str | None) -> str | None:
    """``tab`` or a typed ``\\t`` mean a tab (a shell makes a literal tab awkward to pass)."""
    return {"\\t": "\t", "tab": "\t"}.get(value, value) if value is not None else None


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on, and the single list of ``cyclip-bench train``'s flags: each field
    declares its type and range (annotation), its default and help (``option``); the command is derived from
    these (cli/derive.py). Field names are the flags with ``_`` for ``-`` unless ``flag=`` says otherwise."""

    train_data: PathStr = option("", HELP_DATA, required=True)
    val_data: PathStr | None = option(None, "Caption CSV/TSV for a validation loss each epoch.")
    model: NonEmptyStr | None = option(
        None,
        "Preset (tiny, tiny-64) or any open_clip model name.",
        default_help="tiny; with --pretrained hf-hub:/local-dir: alone, that model's own architecture",
    )
    pretrained: NonEmptyStr | None = option(
        None,
        "Starting weights, as eval's --checkpoint takes them: a weights file (.pt/.bin/.safetensors), an open_clip "
        "pretrained tag of --model, hf-hub:ORG/REPO or local-dir:DIR (a folder with open_clip_config.json + "
        "weights); found offline first in the Hugging Face / open_clip caches.",
    )
    image_size: PositiveInt | None = option(None, "Override the model's input size.")
    loss: NonEmptyStr = option(
        "clip",
        "Objective: clip, cyclip, c-cyclip, i-cyclip (CyCLIP with only the cross-modal / in-modal term), siglip, "
        "siglip-cyclic or a plugin's (see docs/training.md).",
        metavar="NAME",
    )
    lambda_inmodal: NonNegativeFloat | None = option(
        None,
        "λ of the in-modal cyclic term L_I.",
        default_help="the objective's: 0.25 for cyclip, siglip-cyclic; else 0",
    )
    lambda_crossmodal: NonNegativeFloat | None = option(
        None, "λ of the cross-modal cyclic term L_C.", default_help="the objective's, as --lambda-inmodal"
    )
    cyclic_normalization: Literal["paper", "pair"] = option(
        "paper", "paper (1/N·Σ, grows with N) or pair (per-pair mean)."
    )
    loss_params: dict[str, float] = option(
        default_factory=dict,
        help="NAME=VALUE of an objective parameter, repeatable (siglip: init_logit_scale, init_logit_bias).",
        flag="--loss-param",
        cli_type=list[str],
        parse=parse_loss_params,
        default_help="the objective's",
        metavar="NAME=VALUE",
    )
    epochs: PositiveInt = option(10, "Epochs.")
    max_steps: PositiveInt | None = option(None, "Stop after this many optimiser steps.")
    batch_size: ContrastiveBatch = option(128, "Pairs per rank per step.")
    # the paper's lr; 1e-3 at batch 128 stayed at ln(batch) for 2 epochs on the world
    lr: PositiveFloat = option(5e-4, "Peak learning rate.")
    warmup: NonNegativeInt = option(50, "Linear warmup steps.")
    weight_decay: NonNegativeFloat = option(0.1, "AdamW decay on matrices.")
    beta1: Beta = option(0.9, "AdamW β1.", cli=False)
    beta2: Beta = option(0.999, "AdamW β2.", cli=False)
    eps: PositiveFloat = option(1e-8, "AdamW ε.", cli=False)
    grad_clip: PositiveFloat | None = option(None, "Clip the gradient norm to this value.")
    accum_steps: PositiveInt = option(1, "Micro-batches per optimiser step.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = option(
        "auto", "auto|fp32|bf16|fp16 (auto: bf16 GPU, fp32 CPU)."
    )
    seed: Seed = option(0, "Random seed.")
    name: FileName | None = option(None, "Run name.", default_help="<loss>-<model>-s<seed>")
    logs: PathStr = option("logs", "Folder of runs.")
    resume: PathStr | None = option(None, "latest (this run's latest.pt) or a checkpoint path.")
    allow_resume_changes: ResumeChanges = option(
        (),
        "Let --resume continue with these changed: world-size, batch, schedule (lr, warmup, epochs, max steps), "
        "data (comma-separated); config.json records each part.",
        cli_type=str,
        parse=parse_names,
        default_help="none: a change is refused",
        metavar="KIND,...",
    )
    save_every: NonNegativeInt = option(0, "Also keep epoch_<k>.pt every K epochs.")
    checkpoint_steps: PositiveInt = option(100, "Update latest.pt every N steps.")
    log_every: PositiveInt = option(10, "metrics.jsonl line every N steps.")
    workers: NonNegativeInt = option(2, "DataLoader workers per rank.")
    channels_last: bool | None = option(
        None,
        "NHWC image tensors (train/loop.py).",
        default_help="on for convolutional image towers (ResNets), off for ViTs",
    )
    data_cache: Literal["auto", "memory", "off"] = option(
        "auto", "auto|memory|off: decode a caption table once into RAM (auto: when it takes <= 4 GiB)."
    )
    device: Device = option("auto", "auto, cpu, cuda.")
    tensorboard: bool = option(False, "Also log to TensorBoard.")
    progress: bool = option(True, "Progress bar / plain log lines.")
    image_key: NonEmptyStr = option("image", "Image column.")
    caption_key: NonEmptyStr = option("caption", "Caption column.")
    delimiter: OneChar | None = option(
        None, "Column delimiter ('tab' or \\t for a tab).", default_help=", or tab for .tsv", parse=parse_delimiter
    )
    bad_rows: Literal["error", "skip"] = option("error", "error|skip rows whose image is missing/corrupt.")
    train_num_samples: PositiveInt | None = option(None, "Pairs in the shards (skip count).")
    val_batch_size: ContrastiveBatch = option(256, "Validation chunk size.")

    @property
    def model_name(self) -> str:
        """--model; without it, an hf-hub repo's or model folder's name (--pretrained builds that model), else
        the default preset."""
        if self.model is not None:
            return self.model
        if self.pretrained is not None:
            from cyclip_bench.models.sources import source_label  # imports open_clip: only when it can matter

            label = source_label(self.pretrained)
            if label is not None:
                return label
        return "tiny"  # models.DEFAULT_MODEL (not imported here: that imports open_clip)

    @property
    def run_name(self) -> str:
        return self.name or f"{self.loss}-{self.model_name}-s{self.seed}"

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
        given = check_fields(cls, given, "", flag)
        if "loss_params" in given:  # a table: the flags' entries override the file's, one by one
            given["loss_params"] = {**values.get("loss_params", {}), **given["loss_params"]}
        values.update(given)
        return validate(cls(**values))


def is_shards(spec: str) -> bool:
    """Whether ``--train-data`` names webdataset tar shards rather than a caption table."""
    return ".tar" in spec and not spec.lower().endswith((".csv", ".tsv"))


def flag(field_name: str) -> str:
    """The flag of a TrainConfig field: its declared ``flag=``, else ``--<name-with-dashes>``."""
    found = next((f for f in fields(TrainConfig) if f.name == field_name), None)
    spec = option_spec(found) if found is not None else None
    return (spec.flag if spec is not None and spec.flag else None) or flag_name(field_name)


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
    from cyclip_bench.objectives import get_objective  # imports torch: only when a config is validated

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


def _resolve_named(cfg: TrainConfig) -> TrainConfig:
    """``--loss c-cyclip``/``i-cyclip`` (cyclip_bench.objective_names, the names ``demo --objectives`` takes) →
    the objective they name with their λ; a λ flag that contradicts the name is refused. The run keeps the name."""
    from cyclip_bench.objective_names import NAMED_OBJECTIVES
    from cyclip_bench.objectives import OBJECTIVES

    named = NAMED_OBJECTIVES.get(cfg.loss)
    if named is None or cfg.loss in OBJECTIVES:
        return cfg
    for field_name in ("lambda_inmodal", "lambda_crossmodal"):
        given, fixed = getattr(cfg, field_name), getattr(named, field_name)
        if given is not None and float(given) != fixed:
            raise ConfigError(
                f"{flag(field_name)} {given}: --loss {named.name} sets it to {fixed}; drop {flag(field_name)} "
                f"or use --loss {named.loss} with both λ"
            )
    return dataclasses.replace(
        cfg,
        loss=named.loss,
        lambda_inmodal=named.lambda_inmodal,
        lambda_crossmodal=named.lambda_crossmodal,
        name=cfg.run_name,  # c-cyclip-<model>-s<seed> unless --name: the folder says which setting trained
    )


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check every field against its declaration (messages name the flag), then the rules that join fields;
    resolve λ defaults. Model names are checked on build; the device and the output folder when training starts."""
    check_fields(TrainConfig, {f.name: getattr(cfg, f.name) for f in fields(cfg)}, "", flag)
    _require(bool(cfg.train_data), "train_data", cfg.train_data, "a caption CSV/TSV or tar shards")
    if cfg.data_cache == "memory" and is_shards(cfg.train_data):
        raise ConfigError(f"--data-cache memory: {cfg.train_data!r} is tar shards, which always stream")
    if cfg.name is None and name_problem(cfg.run_name):  # the default name is built from --loss/--model/--seed
        raise ConfigError(f"run name {cfg.run_name!r} (from --loss, --model, --seed) is not a folder name; pass --name")
    cfg = _resolve_lambdas(_resolve_named(cfg))
    from cyclip_bench.objectives import get_objective

    params = get_objective(cfg.loss).resolve_params(cfg.loss_params, lambda name: f"--loss-param {name}")
    return dataclasses.replace(cfg, loss_params=params)
