"""Building models: a preset or any open_clip architecture by name (random init, or weights from a file, a
pretrained tag, an ``hf-hub:`` repo or a model folder — ``models/sources.py``), a stored config (a checkpoint's
or a model folder's), and the tokenizer the model's config names (``ModelInfo.tokenizer``)."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from pathlib import Path

import open_clip
import torch

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.models.checkpoint import CHECKPOINT_FORMAT, check_payload
from cyclip_bench.models.sources import CONFIG_NAME, ModelSource, is_model_source, resolve_model_source
from cyclip_bench.models.spec import (
    DEFAULT_MODEL,
    ModelInfo,
    _vision_image_size,
    check_image_size,
    check_model_config,
    check_model_name,
    check_preprocess,
    merge_preprocess,
    tokenizer_spec,
)
from cyclip_bench.models.text_trim import enable_text_trim
from cyclip_bench.models.weights import load_state_dict_strictly, load_weights_file


def _preprocess_from(model: torch.nn.Module, config: dict) -> dict:
    cfg = getattr(model.visual, "preprocess_cfg", None) or {}
    preprocess = {
        "image_size": _vision_image_size(config),
        "mean": [float(x) for x in cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)],
        "std": [float(x) for x in cfg.get("std", open_clip.OPENAI_DATASET_STD)],
        "interpolation": cfg.get("interpolation", "bicubic"),
        "resize_mode": cfg.get("resize_mode", "shortest"),
    }
    if cfg.get("fill_color"):
        preprocess["fill_color"] = int(cfg["fill_color"])
    return preprocess


def create_model(
    name: str,
    pretrained: str | None = None,
    device: str | torch.device = "cpu",
    image_size: int | None = None,
    quick_gelu: bool = False,
) -> tuple[torch.nn.Module, ModelInfo]:
    """Build a preset or any open_clip architecture: random init, or (``pretrained``) the weights of a file, an
    open_clip pretrained tag, ``hf-hub:ORG/REPO`` or a model folder (``local-dir:DIR``), found offline first
    (``models/sources.py``) and always loaded strictly into ``name``'s architecture, with the source's own
    preprocessing (a tag's or the folder's mean/std/…)."""
    check_model_name(name)
    if pretrained is not None and Path(pretrained).is_file():
        # A weights file (this project's checkpoint, open_clip's, a plain state dict): loaded here with
        # torch.load(weights_only=True) and a strict fit, so a mismatch names what differs.
        model, info = create_model(name, None, device, image_size)
        load_weights_file(model, Path(pretrained), "--pretrained")
        return model, info
    if pretrained is not None:
        source = resolve_model_source(pretrained, name, flag="--pretrained")
        model, info = create_model(name, None, device, image_size, quick_gelu=source.quick_gelu)
        load_source_weights(model, source, f"--pretrained {pretrained}")
        info.preprocess = merge_preprocess(info.preprocess, source.preprocess_cfg, f"--pretrained {pretrained}")
        return model, info
    return _random_model(name, device, image_size, quick_gelu)


def create_training_model(
    name: str | None,
    pretrained: str | None = None,
    device: str | torch.device = "cpu",
    image_size: int | None = None,
) -> tuple[torch.nn.Module, ModelInfo]:
    """The model ``train`` starts from. ``--pretrained`` takes every form eval's ``--checkpoint`` takes: with
    ``--model`` (``name``), the weights of a file, a tag, an hf-hub repo or a model folder fitted strictly into that
    architecture (``create_model``); without it, an hf-hub repo or a model folder is built as it is — its own
    ``open_clip_config.json`` architecture, preprocessing and tokenizer, as eval builds it — and anything else
    starts from the default preset."""
    if name is None and pretrained is not None and is_model_source(pretrained):
        source = resolve_model_source(pretrained, None, flag="--pretrained")
        if image_size is not None:
            raise ConfigError(
                f"--image-size {image_size}: --pretrained {pretrained} is built as its {CONFIG_NAME} describes "
                "it (its own image size); drop --image-size, or pass --model NAME to fit its weights into NAME"
            )
        return model_from_source(source, device, where=f"--pretrained {pretrained}")
    return create_model(name or DEFAULT_MODEL, pretrained, device, image_size)


def _random_model(
    name: str, device: str | torch.device, image_size: int | None, quick_gelu: bool
) -> tuple[torch.nn.Module, ModelInfo]:
    config = copy.deepcopy(open_clip.get_model_config(name))
    if image_size is not None:
        check_image_size(name, config, image_size)
        config["vision_cfg"]["image_size"] = image_size
    if quick_gelu:
        config["quick_gelu"] = True
    try:
        # open_clip warns "initialized randomly" on every random init; for a trainer that is the normal case.
        logging.disable(logging.WARNING)
        model = open_clip.create_model(
            name, device=device, force_image_size=image_size, force_quick_gelu=quick_gelu, pretrained_text=False
        )
    finally:
        logging.disable(logging.NOTSET)
    enable_text_trim(model)
    return model, ModelInfo(name=name, config=config, preprocess=_preprocess_from(model, config))


def load_source_weights(model: torch.nn.Module, source: ModelSource, where: str) -> None:
    """The weights file ``source`` resolved (downloaded first when the cache lacked it), loaded strictly."""
    load_weights_file(model, source.fetched().weights, where)


def model_from_source(
    source: ModelSource, device: str | torch.device = "cpu", *, where: str | None = None
) -> tuple[torch.nn.Module, ModelInfo]:
    """The model a resolved source describes, with its weights: a folder's or repo's own config (architecture,
    preprocessing, tokenizer), or a tag's architecture (``--model``) with the tag's preprocessing and QuickGELU.
    ``where`` names the source in messages (default ``checkpoint <path>``)."""
    source = source.fetched()
    where = where or f"checkpoint {source.path}"
    if source.model_cfg is None:
        model, info = create_model(source.model_name, None, device, quick_gelu=source.quick_gelu)
    else:
        model, info = create_model_from_config(source.model_name, source.model_cfg, None, device)
        tokenizer = tokenizer_spec(source.model_name, source.model_cfg)
        if source.tokenizer_dir is not None and tokenizer["kind"] == "hf":
            tokenizer["name"] = str(source.tokenizer_dir)  # open_clip reads a folder's tokenizer from the folder
        info.tokenizer = tokenizer
    load_source_weights(model, source, where)
    info.preprocess = merge_preprocess(info.preprocess, source.preprocess_cfg, where)
    return model, info


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


def convolutional_image_tower(model: torch.nn.Module) -> bool:
    """Whether ``model``'s image tower is convolutional (a ResNet: more than one Conv2d) — where NHWC
    (channels_last) lets oneDNN/cuDNN pick faster convolution kernels. A ViT has one convolution (its patch
    embedding): nothing to win."""
    visual = getattr(model, "visual", model)
    return sum(isinstance(m, torch.nn.Conv2d) for m in visual.modules()) > 1


def wants_channels_last(model: torch.nn.Module, choice: bool | None) -> bool:
    """A ``--channels-last`` flag's value: ``choice`` as given, else (None) on for convolutional image towers."""
    return choice if choice is not None else convolutional_image_tower(model)


def get_tokenizer(name_or_info: str | ModelInfo) -> Callable[[list[str]], torch.Tensor]:
    """The tokenizer a model's config names (``ModelInfo.tokenizer``: kind, name, context length, kwargs such as
    ``clean``), padded to the context length; truncation keeps the end-of-text token."""
    if isinstance(name_or_info, ModelInfo):
        spec = name_or_info.tokenizer
    else:
        check_model_name(name_or_info)
        spec = tokenizer_spec(name_or_info, open_clip.get_model_config(name_or_info) or {})
    return _TOKENIZERS[spec["kind"]](spec)


def _simple_tokenizer(spec: dict) -> Callable[[list[str]], torch.Tensor]:
    return open_clip.tokenizer.SimpleTokenizer(context_length=spec["context_length"], **spec["kwargs"])


def _hf_tokenizer(spec: dict) -> Callable[[list[str]], torch.Tensor]:
    try:
        import transformers  # noqa: F401 -- open_clip's HFTokenizer needs it
    except ImportError:
        raise UserError(
            f"the model's tokenizer is Hugging Face's {spec['name']!r}, which needs the transformers package "
            "(pip install transformers)"
        ) from None
    return open_clip.tokenizer.HFTokenizer(
        spec["name"], context_length=spec["context_length"], tokenizer_mode=spec.get("mode"), **spec["kwargs"]
    )


def _siglip_tokenizer(spec: dict) -> Callable[[list[str]], torch.Tensor]:
    try:
        import transformers  # noqa: F401 -- open_clip's SigLipTokenizer needs it
    except ImportError:
        raise UserError(
            f"the model's tokenizer is SigLIP's ({spec['name']}), which needs the transformers package "
            "(pip install transformers)"
        ) from None
    return open_clip.tokenizer.SigLipTokenizer(spec["name"], context_length=spec["context_length"])


# ModelInfo.tokenizer["kind"] → the open_clip tokenizer built from the spec
_TOKENIZERS: dict[str, Callable[[dict], Callable[[list[str]], torch.Tensor]]] = {
    "simple": _simple_tokenizer,
    "hf": _hf_tokenizer,
    "siglip": _siglip_tokenizer,
}


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
