"""Checkpoint contents beyond the weights: RNG states (as tensors, so weights_only loading works) and the
checkpoint payload itself."""

from __future__ import annotations

import platform
import random
from typing import Any

import numpy as np
import open_clip
import torch

import cyclip_bench
from cyclip_bench.models import model_payload


def capture_rng() -> dict[str, Any]:
    """Python, numpy, torch (CPU and CUDA) generator states as tensors and plain numbers."""
    version, py_state, gauss = random.getstate()
    _, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    return {
        "python": {"version": version, "state": torch.tensor(py_state, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "keys": torch.from_numpy(np_keys.astype(np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss"]))
    np_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["gauss"],
        )
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def versions() -> dict[str, str]:
    return {
        "cyclip_bench": cyclip_bench.__version__,
        "torch": str(torch.__version__),
        "open_clip": open_clip.__version__,
        "python": platform.python_version(),
    }


def checkpoint_payload(run: Any, rng_states: list[dict[str, Any]]) -> dict[str, Any]:
    """The contract's checkpoint dict (docs/contracts.md) for the run's current position."""
    return {
        **model_payload(run.raw_model, run.info, run.cfg.to_dict()),
        "step": run.step,
        "epoch": run.epoch,
        "optimizer": run.optimizer.state_dict(),
        "scheduler": {"step": run.step, "total_steps": run.total_steps, "warmup": run.cfg.warmup},
        "scaler": run.scaler.state_dict() if run.scaler.is_enabled() else {},
        "sampler": {"epoch": run.epoch, "batches_done": run.batches_done, "world_size": run.env.world_size},
        "rng": rng_states,
        "data": run.data_record,  # the training data's spec and fingerprint, compared on resume
        "versions": versions(),
    }
