"""Training CLIP / CyCLIP: `TrainConfig` (frozen, TOML + flags) and `train(cfg)` → final checkpoint path."""

from cyclip_bench.train.config import TrainConfig
from cyclip_bench.train.loop import TrainingDiverged, TrainingInterrupted, lr_at, param_groups, train

__all__ = ["TrainConfig", "TrainingDiverged", "TrainingInterrupted", "lr_at", "param_groups", "train"]
