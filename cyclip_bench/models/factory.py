"""Building models: a preset or any open_clip architecture by name (random init, a pretrained tag or a weights
file), a stored config (a checkpoint's), and the tokenizer at the model's context length."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from pathlib import Path

import open_clip
import torch

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.models.checkpoint import CHECKPOINT_FORMAT, check_payload
from cyclip_bench.models.spec import (
    ModelInfo,
    _vision_image_size,
    check_image_size,
    check_model_config,
    check_model_name,
    check_preprocess,
)
from cyclip_bench.models.text_trim import enable_text_trim
from cyclip_bench.models.weights import load_state_dict_strictly, load_weights_file


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


def model_from_checkpoint(payload: dict, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, ModelInfo]:
    """Rebuild the model of one of this project's checkpoints and load its weights strictly."""
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"not a {CHECKPOINT_FORMAT} checkpoint (format={payload.get('format')!r})")
    check_payload(payload)
    model, info = create_model_from_config(
        payload["model_name"], payload["model_config"], payload.get("preprocess"), device
    )
    load_state_dict_strictly(model, payload["state_dict"], f"of model {info.name!r}")
    return model, info
