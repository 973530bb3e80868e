"""What a model is, as data: the tiny CPU presets (open_clip model-config JSON files in ``presets/``, registered
with open_clip in-process so every open_clip API knows them by name), ``ModelInfo`` (name, config,
preprocessing: what travels with the weights), and the checks on stored configs and preprocessing."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import open_clip
from open_clip.model import CLIPTextCfg, CLIPVisionCfg
from pydantic import Field

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.registry import Registry, did_you_mean
from cyclip_bench.validation import PositiveFloat, PositiveInt, check_fields

PRESET_DIR = Path(__file__).parent / "presets"
DEFAULT_MODEL = "tiny"
PRESETS: Registry[Path] = Registry("model preset")
for _json in sorted(PRESET_DIR.glob("*.json")):
    PRESETS.add(_json.stem, _json)
# open_clip keeps a process-wide config table; adding our folder makes the presets ordinary open_clip names.
open_clip.add_model_config(PRESET_DIR)
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Triple = Annotated[tuple[FiniteFloat, ...], Field(min_length=3, max_length=3)]


@dataclass(frozen=True)
class PreprocessSpec:
    """The form of a checkpoint's ``preprocess`` entry (what ``build_transform`` reads)."""

    image_size: PositiveInt
    mean: Triple
    std: Annotated[tuple[PositiveFloat, ...], Field(min_length=3, max_length=3)]
    interpolation: Literal["bicubic", "bilinear", "nearest"] = "bicubic"
    # open_clip's eval resize modes: shortest side + centre crop; longest side + pad (fill_color); squash
    resize_mode: Literal["shortest", "longest", "squash"] = "shortest"
    fill_color: Annotated[int, Field(ge=0, le=255)] = 0


TOKENIZER_KINDS = ("simple", "hf", "siglip")


def tokenizer_spec(name: str, config: dict) -> dict:
    """The tokenizer a model's config asks for, as open_clip's ``get_tokenizer`` decides it: an HF tokenizer when
    ``text_cfg.hf_tokenizer_name`` is set, SigLIP's for a built-in name containing "siglip", else open_clip's
    BPE ``SimpleTokenizer``; with the config's context length and ``tokenizer_kwargs`` (e.g. ``clean``). Every
    open_clip tokenizer pads (and truncates) to the context length — what SigLIP needs and what is recorded."""
    text = config.get("text_cfg", {}) or {}
    spec: dict[str, Any] = {
        "kind": "simple",
        "name": None,
        "context_length": int(text.get("context_length", 77)),
        "kwargs": dict(text.get("tokenizer_kwargs") or {}),
        "padding": "max_length",
    }
    if text.get("hf_tokenizer_name"):
        spec.update(kind="hf", name=str(text["hf_tokenizer_name"]), mode=text.get("tokenizer_mode"))
    elif ":" not in name and "siglip" in name.lower():
        variant = "gemma" if "siglip2" in name.lower() else "mc4" if "i18n" in name.lower() else "c4-en"
        spec.update(kind="siglip", name=variant, kwargs={})
    return spec


_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode", "fill_color")


def merge_preprocess(preprocess: dict, overrides: dict, where: str) -> dict:
    """``preprocess`` with open_clip's preprocess settings from ``overrides`` (a model folder's
    ``preprocess_cfg``, a pretrained tag's config): mean, std, interpolation, resize_mode, fill_color; checked."""
    merged = dict(preprocess)
    for key in _PREPROCESS_KEYS:
        if overrides.get(key) is not None:
            value = overrides[key]
            merged[key] = [float(x) for x in value] if key in ("mean", "std") else value
    if merged.get("fill_color", 0) == 0:
        merged.pop("fill_color", None)  # the default: kept out so existing records and cache keys stay the same
    check_preprocess(merged, where)
    return merged


@dataclass
class ModelInfo:
    """What travels with a model: its name, its open_clip config, its image preprocessing and its tokenizer."""

    name: str
    config: dict
    preprocess: dict = field(default_factory=dict)
    tokenizer: dict = field(default_factory=dict)  # ``tokenizer_spec`` of the config unless given

    def __post_init__(self) -> None:
        if not self.tokenizer:
            self.tokenizer = tokenizer_spec(self.name, self.config)

    @property
    def context_length(self) -> int:
        return int(self.config.get("text_cfg", {}).get("context_length", 77))

    @property
    def image_size(self) -> int:
        return int(self.preprocess["image_size"])


def model_names() -> list[str]:
    """Every name `create_model` accepts: our presets and open_clip's built-in architectures."""
    return sorted(set(PRESETS.names()) | set(open_clip.list_models()))


def check_model_name(name: str) -> None:
    """UserError with did-you-mean when ``name`` is neither a preset nor an open_clip architecture."""
    if name in PRESETS or name in open_clip.list_models():
        return
    known = model_names()
    presets = ", ".join(PRESETS.names())
    raise UserError(
        f"unknown model {name!r}.{did_you_mean(name, known)} "
        f"Presets: {presets}; or any open_clip model (open_clip.list_models())"
    )


def _vision_image_size(config: dict) -> int:
    size = config["vision_cfg"].get("image_size", 224)
    return int(size[0] if isinstance(size, (list, tuple)) else size)


def check_image_size(name: str, config: dict, image_size: int) -> None:
    """A ViT needs an image size that its patch size divides; open_clip's ResNet (layers given as a list) one
    that its 32x downsampling divides, since its attention pool is sized for image_size // 32."""
    vision = config["vision_cfg"]
    patch = vision.get("patch_size")
    if isinstance(vision.get("layers"), (list, tuple)):
        multiple, what = 32, "32 (the ResNet's downsampling)"
    else:
        multiple, what = (int(patch) if patch else 1), f"the patch size {patch}"
    if image_size < 1 or image_size % multiple:
        raise UserError(
            f"--image-size {image_size} cannot be used with model {name!r}: it must be a positive multiple of {what}"
        )


def _tuples(value: Any) -> Any:
    """Lists → tuples, recursively (a checkpoint stores open_clip's tuples as lists; the schema says tuple)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def _model_config_keys() -> set[str]:
    params = set(inspect.signature(open_clip.CLIP.__init__).parameters)
    params |= set(inspect.signature(open_clip.CustomTextCLIP.__init__).parameters)
    return (params - {"self", "cast_dtype"}) | {"custom_text"}


def check_model_config(config: Any, where: str) -> None:
    """A stored open_clip model config has the form ``CLIP(**config)`` takes: known top-level keys, a positive
    ``embed_dim``, and ``vision_cfg``/``text_cfg`` tables whose keys and value types are open_clip's
    ``CLIPVisionCfg``/``CLIPTextCfg`` fields. ConfigError naming the entry otherwise."""
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        found = type(config).__name__ if not isinstance(config, dict) else "a table with non-string keys"
        raise ConfigError(
            f"{where}: expected a table of open_clip model settings (embed_dim, vision_cfg, text_cfg), found {found}"
        )
    allowed = _model_config_keys()
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}.{did_you_mean(unknown[0], sorted(allowed))} "
            f"(open_clip's CLIP takes {', '.join(sorted(allowed))})"
        )
    for key in ("embed_dim", "vision_cfg", "text_cfg"):
        if key not in config:
            raise ConfigError(f"{where}: missing required key {key!r}")
    embed = config["embed_dim"]
    if not isinstance(embed, int) or isinstance(embed, bool) or embed < 1:
        raise ConfigError(f"{where}: 'embed_dim' {embed!r}: expected a positive integer")
    for key, cls in (("vision_cfg", CLIPVisionCfg), ("text_cfg", CLIPTextCfg)):
        table = config[key]
        if not isinstance(table, dict) or not all(isinstance(k, str) for k in table):
            raise ConfigError(f"{where}: {key!r} expected a table, found {type(table).__name__}")
        table = _tuples(table)
        if key == "vision_cfg" and isinstance(table.get("layers"), tuple) and table.get("patch_size", 0) is None:
            # open_clip's own ResNet configs (RN50, RN50-quickgelu, …) say patch_size = null: unused by a ResNet.
            table = {k: v for k, v in table.items() if k != "patch_size"}
        check_fields(cls, table, f"{where}.{key}", lambda k: f"key {k!r} =", partial=True)


def check_preprocess(preprocess: Any, where: str) -> None:
    if not isinstance(preprocess, dict) or not all(isinstance(k, str) for k in preprocess):
        raise ConfigError(f"{where}: expected a table (image_size, mean, std, …), found {type(preprocess).__name__}")
    check_fields(PreprocessSpec, _tuples(preprocess), where, lambda k: f"key {k!r} =")
