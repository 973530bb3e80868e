"""Read a training run's metrics.jsonl (docs/contracts.md) into pandas frames for the training-curve plot.

The loss terms are the run's objective's (``config.json``'s ``resolved.loss_terms``, written by the trainer; for
runs from before it was written, the registered objective named by ``loss``); this module names none itself."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

POSITION = ("step", "epoch")
SCALARS = ("lr", "logit_scale", "logit_bias")  # the schedule and the model's learnt scalars (bias: SigLIP)
NOT_TERMS = {"split", "time", "pairs_per_s", *POSITION, *SCALARS}


@dataclass(frozen=True)
class TrainingLog:
    path: Path
    train: pd.DataFrame
    val: pd.DataFrame
    skipped_lines: int  # lines that were not JSON objects (e.g. a line cut short by a killed run) — reported
    terms: tuple[str, ...] = ()  # the loss's parts (the objective's terms, then the cyclic ones), without "loss"


def read_metrics_jsonl(path: Path, terms: tuple[str, ...] | None = None) -> TrainingLog:
    """``terms``: the run's logged loss terms ("loss" first); None takes the numeric keys of the rows that are
    not a position or a scalar, in order of first appearance."""
    records, skipped = [], 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                skipped += 1
                continue
            if not isinstance(row, dict):
                skipped += 1
                continue
            records.append(row)
    if terms is None:
        found = dict.fromkeys(k for row in records for k, v in row.items() if k not in NOT_TERMS and _is_number(v))
        terms = ("loss", *(k for k in found if k != "loss"))
    train_columns = (*POSITION, "lr", *terms, "logit_scale", "logit_bias")
    val_columns = (*POSITION, *terms)
    train_rows = [_pick(row, train_columns) for row in records if row.get("split", "train") == "train"]
    val_rows = [_pick(row, val_columns) for row in records if row.get("split") == "val"]
    train = pd.DataFrame(train_rows, columns=list(train_columns))
    val = pd.DataFrame(val_rows, columns=list(val_columns))
    return TrainingLog(Path(path), train, val, skipped, tuple(t for t in terms if t != "loss"))


def _pick(row: dict, columns: tuple[str, ...]) -> dict[str, float]:
    return {k: _number(row.get(k)) for k in columns}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def run_loss_terms(run_dir: Path) -> tuple[str, ...] | None:
    """The logged terms of a run's objective from its config.json; None when it does not say (then the rows do)."""
    path = Path(run_dir) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    resolved = config.get("resolved")
    terms = resolved.get("loss_terms") if isinstance(resolved, dict) else None
    if isinstance(terms, list) and terms and all(isinstance(t, str) for t in terms):
        return tuple(terms)
    from cyclip_bench.objectives import OBJECTIVES  # a run from before loss_terms was written

    loss = config.get("loss")
    return OBJECTIVES.get(loss).logged_terms if isinstance(loss, str) and loss in OBJECTIVES else None


def _number(value: object) -> float:
    if _is_number(value):
        return float(value)
    return math.nan


def find_training_log(run_dir: Path | None) -> tuple[TrainingLog | None, str | None]:
    """The run's metrics, or a note saying why there are none (the report states it; never a silent gap)."""
    if run_dir is None:
        return None, None
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return None, f"no training curves: {path} not found"
    log = read_metrics_jsonl(path, run_loss_terms(Path(run_dir)))
    if log.train.empty and log.val.empty:
        return None, f"no training curves: {path} has no train or val rows"
    return log, None
