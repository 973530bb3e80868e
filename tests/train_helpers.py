"""A small, quick training configuration for tests that run the trainer in-process."""

from __future__ import annotations

from pathlib import Path

from cyclip_bench.train import TrainConfig


def train_config(data: Path, logs: Path, **kw) -> TrainConfig:
    """8-pair batches, 1 epoch, a 2-step warmup, no workers, a metrics line and a checkpoint every step."""
    base = dict(
        train_data=str(data),
        batch_size=8,
        epochs=1,
        lr=1e-3,
        warmup=2,
        workers=0,
        logs=str(logs),
        progress=False,
        log_every=1,
        checkpoint_steps=1,
    )
    return TrainConfig.from_sources(None, **{**base, **kw})
