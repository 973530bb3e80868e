"""What ``--resume`` continues, and config.json's record of each part (segment) of a run.

A resumed run must be the run it stopped as. The checkpoint records the world size (``sampler.world_size``),
the training config (per-rank batch, accumulation, learning-rate schedule, seed, training data) and the
training data's fingerprint (``data``: a caption table's sha256). A difference of one of the kinds in
``CHANGES`` is refused with one line naming each change, old → new, unless ``--allow-resume-changes KIND,...``
allows that kind; the run then goes on with it, and config.json gets a new segment recording the part from the
resumed step on, keeping the record of every earlier part.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any, get_args

from cyclip_bench.errors import ConfigError
from cyclip_bench.fileio import sha256_file
from cyclip_bench.train.config import ResumeChange, TrainConfig, flag, is_shards

# Each kind of change → the recorded values it compares (names of TrainConfig fields, or the derived ones below).
CHANGES: dict[str, tuple[str, ...]] = {
    "world-size": ("world_size",),
    "batch": ("global_batch", "batch_size", "accum_steps"),
    "schedule": ("lr", "warmup", "epochs", "max_steps"),
    "data": ("train_data", "data_sha256", "seed"),
}
assert tuple(CHANGES) == get_args(ResumeChange), "CHANGES and config.ResumeChange list the same kinds"
_LABELS = {"world_size": "world size", "global_batch": "global batch", "data_sha256": "the --train-data file's sha256"}
_CONFIG_KEYS = ("batch_size", "accum_steps", "lr", "warmup", "epochs", "max_steps", "train_data", "seed")


def data_record(cfg: TrainConfig) -> dict[str, Any]:
    """What the checkpoint records of the training data: the ``--train-data`` spec and, for a caption table,
    its sha256 (shards are recorded by their spec only: hashing every tar would cost a pass over the data)."""
    path = Path(cfg.train_data)
    table = not is_shards(str(cfg.train_data)) and path.is_file()
    return {"train_data": str(cfg.train_data), "sha256": sha256_file(path) if table else None}


def _recorded(ckpt: dict[str, Any]) -> dict[str, Any]:
    saved = ckpt.get("train_config") if isinstance(ckpt.get("train_config"), dict) else {}
    values = {key: saved[key] for key in _CONFIG_KEYS if key in saved}
    sampler = ckpt.get("sampler") if isinstance(ckpt.get("sampler"), dict) else {}
    if "world_size" in sampler:
        values["world_size"] = sampler["world_size"]
    if {"batch_size", "accum_steps", "world_size"} <= values.keys():
        values["global_batch"] = values["batch_size"] * values["world_size"] * values["accum_steps"]
    data = ckpt.get("data") if isinstance(ckpt.get("data"), dict) else {}
    if data.get("sha256"):
        values["data_sha256"] = data["sha256"]
    return values


def _current(cfg: TrainConfig, world_size: int, data: dict[str, Any]) -> dict[str, Any]:
    values = {key: getattr(cfg, key) for key in _CONFIG_KEYS}
    values["train_data"] = str(cfg.train_data)
    values.update(world_size=world_size, global_batch=cfg.batch_size * world_size * cfg.accum_steps)
    if data.get("sha256"):
        values["data_sha256"] = data["sha256"]
    return values


def _show(key: str, value: Any) -> str:
    return f"{value[:12]}…" if key == "data_sha256" else str(value)


def resume_changes(ckpt: dict[str, Any], cfg: TrainConfig, world_size: int, data: dict) -> dict[str, list[str]]:
    """{kind: ['<what> <old> → <new>', ...]} for every guarded value this run would change (values the
    checkpoint does not record are not compared). Equal content under a moved path is no data change."""
    old, new = _recorded(ckpt), _current(cfg, world_size, data)
    if "data_sha256" in old and old.get("data_sha256") == new.get("data_sha256"):
        old.pop("train_data", None)
    found: dict[str, list[str]] = {}
    for kind, keys in CHANGES.items():
        changes = [
            f"{_LABELS.get(key) or flag(key)} {_show(key, old[key])} → {_show(key, new.get(key))}"
            for key in keys
            if key in old and key in new and old[key] != new[key]
        ]
        if changes:
            found[kind] = changes
    return found


def check_continuation(ckpt: dict[str, Any], cfg: TrainConfig, world_size: int, data: dict, where: str) -> list[str]:
    """Refuse a change of a kind ``--allow-resume-changes`` does not allow (one line naming every change);
    return the allowed changes, for config.json's segment."""
    found = resume_changes(ckpt, cfg, world_size, data)
    refused = [kind for kind in found if kind not in cfg.allow_resume_changes]
    if refused:
        listed = ", ".join(change for kind in found for change in found[kind])
        raise ConfigError(
            f"{where}: this run would continue differently from the checkpoint ({listed}); resume with the "
            f"checkpoint's values, or pass --allow-resume-changes {','.join(found)} to continue with the change "
            "(config.json records it as a new segment)"
        )
    return [change for changes in found.values() for change in changes]


def read_segments(config_json: Path) -> list[dict[str, Any]]:
    """The segments of a run's config.json. A config.json written before segments existed is its own first
    segment; none, or one that cannot be read, gives none (the new record starts the list)."""
    try:
        record = json.loads(config_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(record, dict):
        return []
    if isinstance(record.get("segments"), list):
        return [s for s in record["segments"] if isinstance(s, dict) and isinstance(s.get("from_step"), int)]
    config = {key: value for key, value in record.items() if key != "resolved"}
    return [{"from_step": 0, "from_epoch": 0, "config": config, "resolved": record.get("resolved")}]


def add_segment(segments: list[dict[str, Any]], segment: dict[str, Any]) -> list[dict[str, Any]]:
    """The earlier parts up to the new one's first step, then the new one. Parts that began at or after it were
    rolled back by this resume (their steps are repeated, as metrics.jsonl's lines after it are dropped)."""
    return [s for s in segments if s["from_step"] < segment["from_step"]] + [segment]


def new_segment(cfg: TrainConfig, resolved: dict, step: int, epoch: int, resumed_from: Path | None, changes: list):
    """One part of a run: where it started, from which checkpoint, the changes it was allowed, its config."""
    return {
        "from_step": step,
        "from_epoch": epoch,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "resumed_from": None if resumed_from is None else str(resumed_from),
        "changes": changes,
        "config": cfg.to_dict(),
        "resolved": resolved,
    }
