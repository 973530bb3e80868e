"""The shared `tiny_checkpoints` fixture yields loadable checkpoints of both objectives."""

from __future__ import annotations

from cyclip_bench.models import load_checkpoint, model_from_checkpoint


def test_tiny_checkpoints_are_loadable(tiny_checkpoints):
    for loss, path in tiny_checkpoints.items():
        ckpt = load_checkpoint(path)
        assert ckpt["train_config"]["loss"] == loss
        model, info = model_from_checkpoint(ckpt)
        assert info.preprocess["image_size"] == 32
