"""Checkpoints for evaluation, whatever made them: this project's files, open_clip files and pretrained tags,
plain state dicts and the official CyCLIP release (the formats and the strict fit: ``models/weights.py``).
Each comes back as a ``LoadedCheckpoint``: the model in eval mode plus the provenance record results carry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import open_clip
import torch

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.fileio import sha256_file
from cyclip_bench.models.checkpoint import CHECKPOINT_FORMAT, check_payload, refuse_folder
from cyclip_bench.models.factory import create_model, create_model_from_config
from cyclip_bench.models.spec import ModelInfo
from cyclip_bench.models.weights import (
    OFFICIAL_KEYS,
    foreign_state_dict,
    infer_openai_architecture,
    load_state_dict_strictly,
    load_weights_file,
    openai_to_open_clip,
    read_weights_payload,
    strip_prefix,
)
from cyclip_bench.validation import safe_label


@dataclass
class LoadedCheckpoint:
    """A model ready for evaluation plus the provenance that goes into the results' ``checkpoint`` record."""

    model: torch.nn.Module
    info: ModelInfo
    label: str
    record: dict  # label, path, sha256, format, model_name, model_config, preprocess, train_config, run_dir

    @property
    def sha256(self) -> str:
        return self.record["sha256"]


def state_dict_sha256(model: torch.nn.Module) -> str:
    """Content hash of a model's weights (for pretrained tags, which have no file of ours to hash)."""
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _label_for(path: Path) -> str:
    # <logs>/<run>/checkpoints/latest.pt → "<run>"; epoch_3.pt → "<run>-epoch_3"; else the file stem.
    # The label becomes part of a file name (<label>__<suite>.json): safe_label keeps it one safe component.
    if path.parent.name == "checkpoints" and path.parent.parent.name:
        run = path.parent.parent.name
        return safe_label(run if path.stem == "latest" else f"{run}-{path.stem}")
    return safe_label(path.stem)


@dataclass(frozen=True)
class CheckpointSource:
    """A ``--checkpoint`` value resolved without reading its weights (what ``eval --dry-run`` lists)."""

    label: str  # the default label
    path: str  # the file, resolved, or "pretrained:<model>:<tag>"
    sha256: str | None  # the file's; None for a pretrained tag (its weights' hash is known once they load)


def checkpoint_source(source: str, model_name: str | None = None) -> CheckpointSource:
    """The file ``source`` (hashed) or, with ``model_name``, the open_clip pretrained tag ``source`` (its name
    checked); a folder, a missing file or an unknown tag is refused as ``load_for_eval`` refuses it."""
    path = Path(source)
    refuse_folder(path)  # a folder is never a pretrained tag: say what it is rather than "does not exist"
    if path.is_file():
        return CheckpointSource(_label_for(path), str(path.resolve()), sha256_file(path))
    model_name = _check_pretrained_tag(source, model_name)
    return CheckpointSource(safe_label(f"{model_name}-{source}"), f"pretrained:{model_name}:{source}", None)


def _check_pretrained_tag(tag: str, model_name: str | None) -> str:
    if model_name is None:
        raise UserError(f"checkpoint {tag!r} does not exist (a pretrained tag needs --model NAME)")
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if tag not in tags:
        known = ", ".join(tags) or "none"
        raise UserError(f"checkpoint {tag!r} is neither a file nor a pretrained tag of {model_name!r} ({known})")
    return model_name


def _foreign_model(name: str, device: str) -> tuple[torch.nn.Module, ModelInfo]:
    try:
        return create_model(name, device=device)
    except UserError as err:
        raise UserError(f"--model: {err}") from err


def load_for_eval(
    source: str, model_name: str | None = None, device: str = "cpu", *, sha256: str | None = None
) -> LoadedCheckpoint:
    """A checkpoint file (this project's, open_clip's, the official CyCLIP release, safetensors) or, with
    ``model_name``, an open_clip pretrained tag → model in eval mode + provenance record. ``sha256``: the file's
    hash when the caller has it already (``checkpoint_source``), so a large file is not hashed twice."""
    path = Path(source)
    refuse_folder(path)  # a folder is never a pretrained tag: say what it is rather than "does not exist"
    if not path.is_file():
        return _load_pretrained_tag(source, model_name, device)
    payload = read_weights_payload(path)
    sha = sha256 or sha256_file(path)
    record: dict[str, Any] = {
        "label": _label_for(path),
        "path": str(path.resolve()),
        "sha256": sha,
        "train_config": None,
        "run_dir": None,
    }
    if payload.get("format") == CHECKPOINT_FORMAT:
        check_payload(payload, f"checkpoint {source}")
        try:
            model, info = create_model_from_config(
                payload["model_name"], payload["model_config"], payload.get("preprocess"), device
            )
        except ConfigError as err:
            raise ConfigError(f"checkpoint {source}: {err}") from err
        load_state_dict_strictly(model, payload["state_dict"], source)
        run_dir = path.parent.parent if path.parent.name == "checkpoints" else None
        record.update(
            format=CHECKPOINT_FORMAT,
            train_config=payload.get("train_config"),
            run_dir=str(run_dir.resolve()) if run_dir else None,
        )
    else:
        state_dict, container = foreign_state_dict(payload, source)
        if model_name is None:
            # No architecture given: the official CyCLIP release / OpenAI layout, inferred from shapes.
            state_dict = openai_to_open_clip(state_dict)
            model_name = infer_openai_architecture(state_dict)
            fmt = "cyclip-official" if OFFICIAL_KEYS <= set(container) else "openai"
        else:
            state_dict = openai_to_open_clip(state_dict)
            fmt = "open_clip"
        model, info = _foreign_model(model_name, device)
        load_state_dict_strictly(model, state_dict, source)
        record["format"] = fmt
    record.update(model_name=info.name, model_config=info.config, preprocess=info.preprocess)
    model.eval()
    return LoadedCheckpoint(model=model, info=info, label=record["label"], record=record)


def _load_pretrained_tag(tag: str, model_name: str | None, device: str) -> LoadedCheckpoint:
    model_name = _check_pretrained_tag(tag, model_name)
    model, info = create_model(model_name, pretrained=tag, device=device)
    model.eval()
    record = {
        "label": safe_label(f"{model_name}-{tag}"),
        "path": f"pretrained:{model_name}:{tag}",
        "sha256": state_dict_sha256(model),
        "format": "open_clip",
        "model_name": info.name,
        "model_config": info.config,
        "preprocess": info.preprocess,
        "train_config": None,
        "run_dir": None,
    }
    return LoadedCheckpoint(model=model, info=info, label=record["label"], record=record)


__all__ = [
    "CheckpointSource",
    "LoadedCheckpoint",
    "checkpoint_source",
    "infer_openai_architecture",
    "load_for_eval",
    "load_state_dict_strictly",
    "load_weights_file",
    "openai_to_open_clip",
    "state_dict_sha256",
    "strip_prefix",
]
