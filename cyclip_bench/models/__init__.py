"""Models through open_clip: tiny CPU presets, creation, preprocessing, tokenizers and checkpoint files.

Presets are open_clip model-config JSON files in ``presets/``; they are registered with open_clip
in-process, so every open_clip API (``create_model``, ``get_tokenizer``) also knows them by name.
"""

from __future__ import annotations

import copy
import inspect
import logging
import os
import pickletools
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import open_clip
import torch
from open_clip.model import CLIPTextCfg, CLIPVisionCfg
from pydantic import Field
from torchvision import transforms

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.fileio import atomic_open
from cyclip_bench.models.text_trim import enable_text_trim
from cyclip_bench.registry import Registry, did_you_mean
from cyclip_bench.validation import PositiveFloat, PositiveInt, check_fields

PRESET_DIR = Path(__file__).parent / "presets"
DEFAULT_MODEL = "tiny"
CHECKPOINT_FORMAT = "cyclip-bench"
CHECKPOINT_FORMAT_VERSION = 1

PRESETS: Registry[Path] = Registry("model preset")
for _json in sorted(PRESET_DIR.glob("*.json")):
    PRESETS.add(_json.stem, _json)
# open_clip keeps a process-wide config table; adding our folder makes the presets ordinary open_clip names.
open_clip.add_model_config(PRESET_DIR)

_INTERPOLATIONS = {
    "bicubic": transforms.InterpolationMode.BICUBIC,
    "bilinear": transforms.InterpolationMode.BILINEAR,
    "nearest": transforms.InterpolationMode.NEAREST,
}


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Triple = Annotated[tuple[FiniteFloat, ...], Field(min_length=3, max_length=3)]


@dataclass(frozen=True)
class PreprocessSpec:
    """The form of a checkpoint's ``preprocess`` entry (what ``build_transform`` reads)."""

    image_size: PositiveInt
    mean: Triple
    std: Annotated[tuple[PositiveFloat, ...], Field(min_length=3, max_length=3)]
    interpolation: Literal["bicubic", "bilinear", "nearest"] = "bicubic"
    resize_mode: Literal["shortest"] = "shortest"


@dataclass
class ModelInfo:
    """What travels with a model: its name, its open_clip config and its image preprocessing."""

    name: str
    config: dict
    preprocess: dict = field(default_factory=dict)

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


def _preprocess_from(model: torch.nn.Module, config: dict) -> dict:
    cfg = getattr(model.visual, "preprocess_cfg", None) or {}
    return {
        "image_size": _vision_image_size(config),
        "mean": [float(x) for x in cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)],
        "std": [float(x) for x in cfg.get("std", open_clip.OPENAI_DATASET_STD)],
        "interpolation": cfg.get("interpolation", "bicubic"),
        "resize_mode": cfg.get("resize_mode", "shortest"),
    }


def create_model(
    name: str,
    pretrained: str | None = None,
    device: str | torch.device = "cpu",
    image_size: int | None = None,
) -> tuple[torch.nn.Module, ModelInfo]:
    """Build a preset or any open_clip architecture (random init unless ``pretrained`` is a tag or a file)."""
    check_model_name(name)
    config = copy.deepcopy(open_clip.get_model_config(name))
    if image_size is not None:
        check_image_size(name, config, image_size)
        config["vision_cfg"]["image_size"] = image_size
    if pretrained is not None and Path(pretrained).is_file():
        # A weights file (this project's checkpoint, open_clip's, a plain state dict): loaded here with
        # torch.load(weights_only=True) and a strict fit, so a mismatch names what differs.
        from cyclip_bench.models.interop import load_weights_file

        model, info = create_model(name, None, device, image_size)
        load_weights_file(model, Path(pretrained), "--pretrained")
        return model, info
    try:
        # open_clip warns "initialized randomly" on every random init; for a trainer that is the normal case.
        # With a tag, a failure is logged by open_clip and raised: the raised message is the one we show.
        logging.disable(logging.WARNING if pretrained is None else logging.ERROR)
        model = open_clip.create_model(
            name, pretrained=pretrained, device=device, force_image_size=image_size, pretrained_text=False
        )
    except RuntimeError as err:
        # open_clip raises RuntimeError for an unknown tag, a missing file or a failed download.
        if pretrained:
            raise UserError(f"--pretrained {pretrained!r} for model {name!r}: {err}") from err
        raise
    finally:
        logging.disable(logging.NOTSET)
    enable_text_trim(model)
    return model, ModelInfo(name=name, config=config, preprocess=_preprocess_from(model, config))


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


def create_model_from_config(
    name: str, config: dict, preprocess: dict | None = None, device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, ModelInfo]:
    """Build an architecture from a stored open_clip config (e.g. a checkpoint's), with random weights.
    A config of the wrong form, or one open_clip cannot build, is a ConfigError naming the model."""
    check_model_config(config, f"model {name!r}: model_config")
    if preprocess is not None:
        check_preprocess(preprocess, f"model {name!r}: preprocess")
    config = copy.deepcopy(config)
    text_cfg = config.get("text_cfg", {})
    custom = bool(config.pop("custom_text", False)) or "hf_model_name" in text_cfg
    model_class = open_clip.CustomTextCLIP if custom else open_clip.CLIP
    if custom:
        config["custom_text"] = True  # kept in the returned info so a round trip rebuilds the same class
    build_cfg = {k: v for k, v in config.items() if k != "custom_text"}
    try:
        model = model_class(**build_cfg)
    except Exception as err:
        # open_clip's constructors check next to nothing (a zero width divides by zero, a string width fails in
        # torch): whatever building from a stored config raises is that config's fault, said as one line.
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"model {name!r}: model_config cannot build an open_clip model ({reason})") from err
    model = model.to(device)
    enable_text_trim(model)
    info = ModelInfo(name=name, config=config, preprocess=preprocess or _preprocess_from(model, config))
    return model, info


def build_transform(preprocess: dict, train: bool = False) -> Callable:
    """PIL image → normalised tensor: resize the shortest side (bicubic), centre crop, normalise.

    ``train`` gives the same transform: the generated world's captions name positions and sizes, which random
    crops would falsify, and the paper trains with the evaluation transform too. Being deterministic, it splits
    into a PIL stage (``build_pil_stage``) whose uint8 output can be cached and ``normalize_uint8``.
    """
    return transforms.Compose(
        [
            build_pil_stage(preprocess),
            transforms.ToTensor(),
            transforms.Normalize(preprocess["mean"], preprocess["std"]),
        ]
    )


def build_pil_stage(preprocess: dict) -> Callable:
    """The geometric part of ``build_transform``: PIL image → resized, centre-cropped RGB PIL image."""
    size = int(preprocess["image_size"])
    interpolation = _INTERPOLATIONS[preprocess.get("interpolation", "bicubic")]
    return transforms.Compose(
        [
            transforms.Resize(size, interpolation=interpolation),
            transforms.CenterCrop(size),
            transforms.Lambda(_to_rgb),
        ]
    )


def normalize_uint8(images: torch.Tensor, preprocess: dict) -> torch.Tensor:
    """uint8 [..., 3, H, W] → what ``build_transform`` gives for those pixels, bit for bit (ToTensor, Normalize)."""
    mean = torch.tensor(preprocess["mean"], dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(preprocess["std"], dtype=torch.float32).view(3, 1, 1)
    return images.to(torch.float32).div(255).sub_(mean).div_(std)


def _to_rgb(image: Any) -> Any:
    return image.convert("RGB") if getattr(image, "mode", "RGB") != "RGB" else image


def get_tokenizer(name_or_info: str | ModelInfo) -> Callable[[list[str]], torch.Tensor]:
    """open_clip's tokenizer at the model's context length (truncation keeps the end-of-text token)."""
    if isinstance(name_or_info, ModelInfo):
        name, context = name_or_info.name, name_or_info.context_length
        known = name in open_clip.list_models()
    else:
        check_model_name(name_or_info)
        name, context, known = name_or_info, None, True
    if known:
        return open_clip.get_tokenizer(name, context_length=context)
    return open_clip.tokenizer.SimpleTokenizer(context_length=context)


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Write a checkpoint atomically (temp file + rename): a crash never leaves a truncated file."""
    with atomic_open(path, "wb") as handle:
        torch.save(payload, handle)


def refuse_folder(path: Path, what: str = "checkpoint") -> None:
    """UserError when ``path`` is a folder: a checkpoint is a file (a run folder holds them in checkpoints/)."""
    if path.is_dir():
        raise UserError(
            f"{what} {str(path)!r} is a folder, expected a checkpoint file (a training run writes "
            f"RUN/checkpoints/latest.pt)"
        )


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load with ``weights_only=True`` (a checkpoint can never run code); UserError when it cannot be read.

    A refusal says why in one line (the global it names, the damage) and never suggests loading unsafely;
    torch's warnings about the file's pickle protocol are not shown (the error line says all there is)."""
    path = Path(path)
    refuse_folder(path)
    if not path.exists():
        raise UserError(f"checkpoint {str(path)!r} does not exist")
    if not path.is_file():
        raise UserError(f"checkpoint {str(path)!r} is not a regular file, expected a checkpoint file")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"torch(\.|$)")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in many types; all mean "not a usable checkpoint"
        raise UserError(f"cannot load checkpoint {str(path)!r}: {_refusal_reason(err, path)}") from err
    if not isinstance(payload, dict):
        raise UserError(f"checkpoint {str(path)!r} is not a dict (found {type(payload).__name__})")
    return payload


# torch's weights-only refusals (torch 2.6 … 2.14 wording): the global it blocked, or the unpickler's own reason.
_BLOCKED_GLOBAL = (
    re.compile(r"unsupported GLOBAL (\S+) whose module \S+ is blocked"),
    re.compile(r"Unsupported global: GLOBAL (\S+) was not an allowed global"),
)
_UNSUPPORTED_OPCODE = re.compile(r"Unsupported operand (\d+)")
_UNPICKLER_REASON = re.compile(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\s*\n|Check the documentation|$)", re.S)
_SAFE_CONTENTS = "a checkpoint may hold only tensors, numbers, strings and containers; nothing in it is run"
_MENTIONS_WEIGHTS_ONLY = re.compile(r"weights.only", re.I)  # torch's advice to turn it off is never passed on
_OPCODE_NAMES = {ord(op.code): op.name for op in pickletools.opcodes}


def _refusal_reason(err: Exception, path: Path) -> str:
    """Why ``path`` did not load, for the error line: the blocked global or torch's reason, else the damage.

    Only names and reasons are taken from torch's text: its advice to retry with weights-only loading off
    (which would run the file's code) is never shown."""
    from cyclip_bench.safe_pickle import python3_global

    text = str(err)
    for pattern in _BLOCKED_GLOBAL:
        match = pattern.search(text)
        if match:
            name = python3_global(match.group(1))
            return f"refused: it names {name}, which safe loading does not allow ({_SAFE_CONTENTS})"
    match = _UNSUPPORTED_OPCODE.search(text)
    if match:
        code = int(match.group(1))
        if code in _OPCODE_NAMES:
            opcode = f"pickle opcode {_OPCODE_NAMES[code]} is not read by the safe loader"
        else:
            opcode = f"byte {code} is not a pickle opcode"
        blocked = _blocked_globals(path)
        if blocked:
            return (
                f"refused: not a torch.save file ({opcode}), and it names "
                f"{', '.join(blocked[:3])}, which safe loading does not allow ({_SAFE_CONTENTS})"
            )
        return f"not a torch.save checkpoint ({opcode})"
    match = _UNPICKLER_REASON.search(text)
    if match:
        detail = " ".join(match.group(1).split())
        return f"refused by the safe loader: {detail}" if not _MENTIONS_WEIGHTS_ONLY.search(detail) else "refused"
    if isinstance(err, OSError):
        return f"cannot read it ({err.strerror or type(err).__name__})"
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as read_err:
        return f"cannot read it ({read_err.strerror or type(read_err).__name__})"
    if not head:
        return "the file is empty (expected a torch.save checkpoint)"
    if isinstance(err, EOFError):
        return "truncated or corrupt (the data ends early)"
    detail = " ".join(text.split(". ")[0].split())
    if not detail or _MENTIONS_WEIGHTS_ONLY.search(detail):
        detail = type(err).__name__
    else:
        detail = f"{type(err).__name__}: {detail}"
    # a zip archive (as torch.save writes) that does not open, or data that stops early: damaged or cut short
    if head == b"PK\x03\x04" or re.search(r"\bEOF\b", text):
        return f"truncated or corrupt ({detail})"
    return f"not a torch.save checkpoint ({detail})"


def _blocked_globals(path: Path) -> list[str]:
    """Globals a plain pickle names that torch's weights-only loader would not allow, read without loading.

    torch stops at the first opcode it does not read (protocol 4+ framing) before it sees any global; this
    scan names them all so a booby-trapped pickle is reported as one."""
    from cyclip_bench.safe_pickle import referenced_globals

    try:
        from torch._weights_only_unpickler import _get_allowed_globals  # private: fall back when it moves

        allowed = set(_get_allowed_globals())
    except Exception:  # noqa: BLE001
        allowed = set()
    try:
        with open(path, "rb") as handle:
            names = referenced_globals(handle)
    except OSError:
        return []
    return [name for name in names if name not in allowed and not (not allowed and name.startswith("torch."))]


def model_payload(model: torch.nn.Module, info: ModelInfo, train_config: dict | None = None) -> dict:
    """The model part of this project's checkpoint dict: format, architecture, preprocessing and weights.
    The trainer adds its resume state; a model saved with only this part is evaluable as it is."""
    return {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "model_name": info.name,
        "model_config": info.config,
        "preprocess": info.preprocess,
        "state_dict": model.state_dict(),
        "train_config": train_config,
    }


def check_state_dict_form(state_dict: Any, where: str) -> None:
    """A state dict is a mapping of parameter names (strings) to tensors; ConfigError naming the entry otherwise."""
    if not isinstance(state_dict, dict):
        raise ConfigError(
            f"{where}: expected a mapping of parameter names to tensors, found {type(state_dict).__name__}"
        )
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise ConfigError(f"{where}: key {key!r} is {type(key).__name__}, expected parameter names (strings)")
        if not isinstance(value, torch.Tensor):
            raise ConfigError(f"{where}: entry {key!r} is {type(value).__name__}, expected a tensor")


def check_payload(payload: dict, where: str = "checkpoint") -> None:
    """The model part of this project's checkpoint (``model_payload``) has the documented form: the entries
    exist and ``model_config``, ``preprocess`` and ``state_dict`` are what the model is built from."""
    for key in ("model_name", "model_config", "state_dict"):
        if key not in payload:
            raise ConfigError(f"{where}: {CHECKPOINT_FORMAT} format but no {key!r} entry")
    if not isinstance(payload["model_name"], str) or not payload["model_name"]:
        raise ConfigError(f"{where}: 'model_name' {payload['model_name']!r}: expected a model name (string)")
    check_model_config(payload["model_config"], f"{where}: model_config")
    if payload.get("preprocess") is not None:
        check_preprocess(payload["preprocess"], f"{where}: preprocess")
    check_state_dict_form(payload["state_dict"], f"{where}: state_dict")


def model_from_checkpoint(payload: dict, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, ModelInfo]:
    """Rebuild the model of one of this project's checkpoints and load its weights strictly."""
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"not a {CHECKPOINT_FORMAT} checkpoint (format={payload.get('format')!r})")
    from cyclip_bench.models.interop import load_state_dict_strictly

    check_payload(payload)
    model, info = create_model_from_config(
        payload["model_name"], payload["model_config"], payload.get("preprocess"), device
    )
    load_state_dict_strictly(model, payload["state_dict"], f"of model {info.name!r}")
    return model, info


__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMAT_VERSION",
    "DEFAULT_MODEL",
    "PRESETS",
    "ModelInfo",
    "build_transform",
    "check_image_size",
    "check_model_config",
    "check_payload",
    "check_state_dict_form",
    "check_model_name",
    "create_model",
    "create_model_from_config",
    "get_tokenizer",
    "load_checkpoint",
    "model_from_checkpoint",
    "model_payload",
    "model_names",
    "refuse_folder",
    "save_checkpoint",
]
