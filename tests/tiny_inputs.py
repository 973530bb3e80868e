"""Smallest valid inputs shared by the bad-input, file-system-fault, fuzzing and resume tests."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
from PIL import Image

_TASK = {
    "name": "z",
    "kind": "zeroshot",
    "dataset": "d",
    "split": "test",
    "metrics": {"top1": 0.5},
    "metric_info": {"top1": {"higher_is_better": True, "unit": "fraction", "per_example": "top1"}},
    "per_example": {"top1": [1, 0]},
    "extra": {},
}
_RESULT = {
    "schema_version": 1,
    "suite": {"name": "s", "version": 1},
    "checkpoint": {"label": "a", "sha256": "0" * 64},
    "run": {},
    "tasks": [_TASK],
}


def minimal_task() -> dict:
    """One zero-shot task of a results JSON, valid for the report's strict reader (a fresh copy)."""
    return copy.deepcopy(_TASK)


def minimal_result() -> dict:
    """A whole results JSON document with one task, valid for the report's strict reader (a fresh copy)."""
    return copy.deepcopy(_RESULT)


def write_random_pairs(root: Path, caption: str = "a picture number {}", n: int = 16, name: str = "train.csv") -> Path:
    """``n`` random 16-px PNGs and ``root/name`` (image,caption) naming them; returns the CSV."""
    rng = np.random.default_rng(0)
    rows = ["image,caption"]
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / f"{i}.png")
        rows.append(f"{i}.png,{caption.format(i)}")
    (root / name).write_text("\n".join(rows) + "\n")
    return root / name
