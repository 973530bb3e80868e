"""Checkpoints for evaluation, whatever made them: this project's files, open_clip files, plain state dicts and
the official CyCLIP release (the formats and the strict fit: ``models/weights.py``), and released models by
name — open_clip pretrained tags, ``hf-hub:ORG/REPO``, model folders (``local-dir:DIR``), found offline first
(``models/sources.py``). Each comes back as a ``LoadedCheckpoint``: the model in eval mode plus the provenance
record results carry (where the weights came from, their sha256, the preprocessing and tokenizer used)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.fileio import sha256_file
from cyclip_bench.models.checkpoint import CHECKPOINT_FORMAT, check_payload, refuse_folder
from cyclip_bench.models.factory import create_model, create_model_from_config, model_from_source
from cyclip_bench.models.sources import ModelSource, is_model_source, resolve_model_source
from cyclip_bench.models.spec import ModelInfo, check_model_name
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
    # label, path, sha256, format, source, model_name, model_config, preprocess, tokenizer, train_config, run_dir
    record: dict
    channels_last: bool = False  # the model's weights converted to NHWC by the evaluation that loaded it

    @property
    def sha256(self) -> str:
        return self.record["sha256"]


def state_dict_sha256(model: torch.nn.Module) -> str:
    """Content hash of a model's weights, independent of the file that held them."""
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
    path: str  # the file, resolved; "hf-hub:ORG/REPO", "local-dir:DIR" or "pretrained:<model>:<tag>"
    sha256: str | None  # the weights file's; None while a released model's weights are still to be downloaded
    kind: str = "file"  # "file" | "hf-hub" | "local-dir" | "pretrained"
    where: str = ""  # for a released model: the weights file it reads (and revision), or "not cached: …"


def checkpoint_source(source: str, model_name: str | None = None, *, flag: str = "--checkpoint") -> CheckpointSource:
    """The file ``source`` (hashed), or a released model — ``hf-hub:ORG/REPO``, a model folder, or with
    ``model_name`` an open_clip pretrained tag — found in the cache or on disk (its weights hashed, not loaded,
    nothing downloaded); ``model_name`` checked with did-you-mean. Refusals are ``load_for_eval``'s, naming ``flag``
    (the flag the user gave it with: ``--checkpoint`` or eval's ``--pretrained``)."""
    if model_name is not None and not is_model_source(source):
        check_model_flag(model_name)
    path = Path(source)
    if path.is_file():
        return CheckpointSource(_label_for(path), str(path.resolve()), sha256_file(path))
    if not is_model_source(source):
        refuse_folder(path)  # a folder is never a pretrained tag: say what it is rather than "does not exist"
    found = resolve_model_source(source, model_name, flag=flag, fetch=False)
    return CheckpointSource(found.label, found.path, found.sha256, found.kind, found.where)


def check_model_flag(model_name: str) -> None:
    """``--model NAME``: a preset or open_clip architecture, with did-you-mean (one line naming the flag)."""
    try:
        check_model_name(model_name)
    except UserError as err:
        raise UserError(f"--model: {err}") from None


def _foreign_model(name: str, device: str) -> tuple[torch.nn.Module, ModelInfo]:
    try:
        return create_model(name, device=device)
    except UserError as err:
        raise UserError(f"--model: {err}") from err


def load_for_eval(
    source: str,
    model_name: str | None = None,
    device: str = "cpu",
    *,
    sha256: str | None = None,
    flag: str = "--checkpoint",
) -> LoadedCheckpoint:
    """A checkpoint file (this project's, open_clip's, the official CyCLIP release, safetensors) or, with
    ``model_name``, an open_clip pretrained tag → model in eval mode + provenance record. ``sha256``: the file's
    hash when the caller has it already (``checkpoint_source``), so a large file is not hashed twice."""
    path = Path(source)
    if not path.is_file():
        if model_name is not None and not is_model_source(source):
            check_model_flag(model_name)
        if not is_model_source(source):
            refuse_folder(path)  # a folder is never a pretrained tag: say what it is rather than "does not exist"
        return _load_model_source(resolve_model_source(source, model_name, flag=flag), device)
    payload = read_weights_payload(path)
    sha = sha256 or sha256_file(path)
    record: dict[str, Any] = {
        "label": _label_for(path),
        "path": str(path.resolve()),
        "sha256": sha,
        "source": {"kind": "file", "weights_file": str(path.resolve()), "weights_sha256": sha},
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
    record.update(model_name=info.name, model_config=info.config, preprocess=info.preprocess, tokenizer=info.tokenizer)
    model.eval()
    return LoadedCheckpoint(model=model, info=info, label=record["label"], record=record)


def _load_model_source(source: ModelSource, device: str) -> LoadedCheckpoint:
    """A released model (hf-hub repo, model folder, pretrained tag) with its own preprocessing and tokenizer."""
    source = source.fetched()
    model, info = model_from_source(source, device)
    model.eval()
    record = {
        "label": source.label,
        "path": source.path,
        "sha256": source.sha256,
        "format": "open_clip",
        "source": source.record,
        "model_name": info.name,
        "model_config": info.config,
        "preprocess": info.preprocess,
        "tokenizer": info.tokenizer,
        "train_config": None,
        "run_dir": None,
    }
    return LoadedCheckpoint(model=model, info=info, label=record["label"], record=record)


__all__ = [
    "CheckpointSource",
    "LoadedCheckpoint",
    "check_model_flag",
    "checkpoint_source",
    "infer_openai_architecture",
    "load_for_eval",
    "load_state_dict_strictly",
    "load_weights_file",
    "openai_to_open_clip",
    "state_dict_sha256",
    "strip_prefix",
]
