"""Weights into an architecture, strictly: this project's payloads, open_clip files, plain state dicts and the
official CyCLIP release.

Every path ends in a strict load: a state dict that does not fit the architecture is a UserError with the counts
(and first names) of missing, unexpected and mis-shaped keys — never a silent ``strict=False``.

The official CyCLIP release (``{epoch, name, state_dict, optimizer}``, saved from DDP so every key starts with
``module.``) holds OpenAI's model code's state dict. OpenAI's ResNet/ViT CLIP uses QuickGELU and the same
parameter names as open_clip's ``*-quickgelu`` architectures, so the mapping is: strip ``module.``, drop OpenAI's
non-parameter entries (``input_resolution``, ``context_length``, ``vocab_size``), infer the architecture from
tensor shapes (RN50 → ``RN50-quickgelu``; plain ``RN50`` would load too but compute different text embeddings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cyclip_bench.errors import UserError
from cyclip_bench.models.checkpoint import (
    CHECKPOINT_FORMAT,
    check_payload,
    check_state_dict_form,
    load_checkpoint,
    refuse_folder,
)

OPENAI_METADATA_KEYS = ("input_resolution", "context_length", "vocab_size")
# OpenAI ResNet depths (blocks per stage) → open_clip architecture with QuickGELU.
_RESNETS = {(3, 4, 6, 3): "RN50", (3, 4, 23, 3): "RN101", (4, 6, 10, 6): "RN50x4", (6, 8, 18, 8): "RN50x16"}
_VITS = {(768, 32): "ViT-B-32", (768, 16): "ViT-B-16", (1024, 14): "ViT-L-14"}
# The keys of the official CyCLIP release's checkpoint dict.
OFFICIAL_KEYS = {"epoch", "name", "state_dict", "optimizer"}


def strip_prefix(state_dict: dict[str, Any], prefix: str = "module.") -> dict[str, Any]:
    """Remove a DDP ``module.`` prefix when every key has it."""
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix) :]: v for k, v in state_dict.items()}
    return dict(state_dict)


def openai_to_open_clip(state_dict: dict[str, Any]) -> dict[str, torch.Tensor]:
    """OpenAI-layout (CyCLIP official) state dict → open_clip ``*-quickgelu`` names (see the module "
    "docstring)."""
    out = strip_prefix(state_dict)
    for key in OPENAI_METADATA_KEYS:
        out.pop(key, None)
    return out


def infer_openai_architecture(state_dict: dict[str, Any]) -> str:
    """open_clip model name of an OpenAI-layout state dict, from its tensor shapes."""
    sd = strip_prefix(state_dict)
    if "visual.layer1.0.conv1.weight" in sd:
        depths = tuple(
            len({k.split(".")[2] for k in sd if k.startswith(f"visual.layer{stage}.")}) for stage in range(1, 5)
        )
        name = _RESNETS.get(depths)
        if name is None:
            raise UserError(f"unrecognised ResNet CLIP with blocks per stage {depths}; pass --model NAME")
        return f"{name}-quickgelu"
    if "visual.conv1.weight" in sd and "visual.proj" in sd:
        width, _, patch, _ = sd["visual.conv1.weight"].shape
        name = _VITS.get((int(width), int(patch)))
        if name is None:
            raise UserError(f"unrecognised ViT CLIP (width {width}, patch {patch}); pass --model NAME")
        return f"{name}-quickgelu"
    raise UserError("state dict is not in OpenAI's CLIP layout (no visual.layer1 / visual.conv1 keys); pass --model")


def load_state_dict_strictly(
    model: torch.nn.Module, state_dict: dict[str, Any], source: str, optional: tuple[str, ...] = ()
) -> None:
    """Load every tensor; any missing, unexpected or mis-shaped key is a one-line UserError with counts.

    BatchNorm's ``num_batches_tracked`` counters are the one tolerated absence: they do not affect
    inference and
    some exporters (OpenAI's JIT archives) drop them. ``optional`` names keys the caller has initialised itself
    (an objective's own scalars, e.g. SigLIP's ``logit_bias`` when starting from CLIP weights): absent, they keep
    the model's value.
    """
    check_state_dict_form(state_dict, f"checkpoint {source}: state_dict")
    expected = model.state_dict()
    missing = [
        k for k in expected if k not in state_dict and not k.endswith("num_batches_tracked") and k not in optional
    ]
    unexpected = [k for k in state_dict if k not in expected]
    mis_shaped = [
        k
        for k, v in state_dict.items()
        if k in expected and hasattr(v, "shape") and tuple(v.shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or mis_shaped:

        def first(keys: list[str]) -> str:
            return f" (e.g. {', '.join(keys[:2])})" if keys else ""

        raise UserError(
            f"checkpoint {source} does not fit the architecture: {len(missing)} missing "
            f"key(s){first(missing)}, "
            f"{len(unexpected)} unexpected key(s){first(unexpected)}, {len(mis_shaped)} with the wrong shape"
            f"{first(mis_shaped)}"
        )
    filled = {k: v for k, v in expected.items() if k not in state_dict}  # num_batches_tracked and optional ones
    model.load_state_dict({**state_dict, **filled}, strict=True)


def read_weights_payload(path: Path) -> dict:
    refuse_folder(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as err:  # any parse failure means "not a usable checkpoint"
            raise UserError(f"cannot load checkpoint {str(path)!r}: {err}") from err
    return load_checkpoint(path)


def foreign_state_dict(payload: dict, source: str) -> tuple[dict[str, Any], dict]:
    """(state dict, its container) of an open_clip/CyCLIP dict with 'state_dict' or a plain state dict."""
    if "state_dict" in payload:
        state_dict, container = payload["state_dict"], payload
    elif payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
        state_dict, container = payload, {}
    else:
        keys = ", ".join(sorted(map(str, payload))[:6])
        raise UserError(
            f"checkpoint {source}: unrecognised layout (keys {keys}); expected this project's format, an "
            f"open_clip/CyCLIP dict with 'state_dict', or a plain state dict"
        )
    check_state_dict_form(state_dict, f"checkpoint {source}: state_dict")
    return state_dict, container


def _fit_scalars(model: torch.nn.Module, state_dict: dict[str, Any]) -> dict[str, Any]:
    """``logit_scale``/``logit_bias`` stored as shape [1] for a model holding a 0-d scalar (or the reverse), as
    open_clip's own loader reshapes them: the same number, so the strict fit does not call it mis-shaped."""
    expected = model.state_dict()
    for key in ("logit_scale", "logit_bias"):
        value = state_dict.get(key)
        if isinstance(value, torch.Tensor) and key in expected and value.numel() == expected[key].numel() == 1:
            state_dict[key] = value.reshape(expected[key].shape)
    return state_dict


def load_weights_file(model: torch.nn.Module, path: Path, flag: str, optional: tuple[str, ...] = ()) -> None:
    """Weight-only initialisation (``--pretrained FILE``): the weights of any checkpoint ``load_for_eval``
    reads, loaded strictly into ``model`` (``optional``: see ``load_state_dict_strictly``); optimizer, schedule
    and RNG state are ignored."""
    payload = read_weights_payload(path)
    source = f"{flag} {path}"
    if payload.get("format") == CHECKPOINT_FORMAT:
        check_payload(payload, source)
        state_dict = payload["state_dict"]
    else:
        state_dict = _fit_scalars(model, openai_to_open_clip(foreign_state_dict(payload, source)[0]))
    with torch.no_grad():
        load_state_dict_strictly(model, state_dict, source, optional)
