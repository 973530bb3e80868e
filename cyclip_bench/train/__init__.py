"""Training: `TrainConfig` (frozen, TOML + flags) and `train(cfg)` → final checkpoint path.

The loop (and torch) load on first use, so the command line can read TrainConfig's flags without them."""

from typing import Any

from cyclip_bench.train.config import TrainConfig

__all__ = ["TrainConfig", "TrainingDiverged", "TrainingInterrupted", "lr_at", "param_groups", "train"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cyclip_bench.train import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'cyclip_bench.train' has no attribute {name!r}")
