"""Read a training run's metrics.jsonl (docs/contracts.md) into pandas frames for the training-curve plot."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

TRAIN_COLUMNS = ("step", "epoch", "lr", "loss", "contrastive", "inmodal", "crossmodal", "logit_scale")
VAL_COLUMNS = ("step", "epoch", "loss", "contrastive", "inmodal", "crossmodal")


@dataclass(frozen=True)
class TrainingLog:
    path: Path
    train: pd.DataFrame
    val: pd.DataFrame
    skipped_lines: int  # lines that were not JSON objects (e.g. a line cut short by a killed run) — reported


def read_metrics_jsonl(path: Path) -> TrainingLog:
    train_rows, val_rows, skipped = [], [], 0
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
            split = row.get("split", "train")
            if split == "train":
                train_rows.append({k: _number(row.get(k)) for k in TRAIN_COLUMNS})
            elif split == "val":
                val_rows.append({k: _number(row.get(k)) for k in VAL_COLUMNS})
    train = pd.DataFrame(train_rows, columns=list(TRAIN_COLUMNS))
    val = pd.DataFrame(val_rows, columns=list(VAL_COLUMNS))
    return TrainingLog(Path(path), train, val, skipped)


def _number(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return math.nan


def find_training_log(run_dir: Path | None) -> tuple[TrainingLog | None, str | None]:
    """The run's metrics, or a note saying why there are none (the report states it; never a silent gap)."""
    if run_dir is None:
        return None, None
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return None, f"no training curves: {path} not found"
    log = read_metrics_jsonl(path)
    if log.train.empty and log.val.empty:
        return None, f"no training curves: {path} has no train or val rows"
    return log, None
