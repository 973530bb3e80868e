"""This project's checkpoint files: the payload's form, atomic saving, and loading that can never run code
(``torch.load(weights_only=True)``; a refusal names the blocked global and never suggests turning safety off)."""

from __future__ import annotations

import os
import pickletools
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.fileio import atomic_open
from cyclip_bench.models.spec import ModelInfo, check_model_config, check_preprocess

CHECKPOINT_FORMAT = "cyclip-bench"
CHECKPOINT_FORMAT_VERSION = 1


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Write a checkpoint atomically (temp file + rename): a crash never leaves a truncated file."""
    with atomic_open(path, "wb") as handle:
        torch.save(payload, handle)


def refuse_folder(path: Path, what: str = "checkpoint") -> None:
    """UserError when ``path`` is a folder: a checkpoint is a file (a run folder holds them in checkpoints/)."""
    if path.is_dir():
        raise UserError(
            f"{what} {str(path)!r} is a folder, expected a checkpoint file (a training run writes "
            f"RUN/checkpoints/latest.pt; a released model's folder holds open_clip_config.json + weights)"
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
