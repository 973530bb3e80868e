"""Shared session fixtures. Add fixtures by appending; never rewrite another part's fixture."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated world (seed 0, size 0.05): 800 training captions, 50-200 images per split."""
    from cyclip_bench.data.synth import generate_world

    out = tmp_path_factory.mktemp("world") / "world"
    generate_world(out, seed=0, size=0.05, workers=1)
    return out


@pytest.fixture(scope="session")
def tiny_checkpoints(world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """CLIP and CyCLIP (λ = 0.25/0.25) trained briefly (3 epochs, batch 64) on the `world_dir` captions.

    Returns {"clip": path, "cyclip": path} of each run's final `checkpoints/latest.pt` (the run folders beside
    them hold metrics.jsonl and config.json)."""
    from cyclip_bench.train import TrainConfig, train

    logs = tmp_path_factory.mktemp("runs")
    paths = {}
    for loss in ("clip", "cyclip"):
        cfg = TrainConfig.from_sources(
            None,
            train_data=str(world_dir / "captions" / "train.csv"),
            val_data=str(world_dir / "captions" / "val.csv"),
            loss=loss,
            epochs=3,
            batch_size=64,
            lr=1e-3,
            warmup=10,
            workers=0,
            seed=0,
            logs=str(logs),
            name=loss,
            progress=False,
        )
        paths[loss] = train(cfg)
    return paths


@pytest.fixture(scope="session")
def eval_results(
    world_dir: Path, tiny_checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    """Results JSONs of the `tiny_checkpoints` (clip, cyclip — in that order) on the built-in `world` suite.

    The folder also holds results.csv; the feature cache is a private temp folder."""
    from cyclip_bench.eval import EvalConfig, evaluate

    base = tmp_path_factory.mktemp("eval")
    cfg = EvalConfig(
        checkpoints=(str(tiny_checkpoints["clip"]), str(tiny_checkpoints["cyclip"])),
        suite="world",
        out=base / "results",
        data_root=world_dir,
        workers=0,
        cache_dir=base / "cache",
        progress=False,
    )
    return evaluate(cfg)


@pytest.fixture(scope="session")
def same_label_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two untrained tiny models (different weights) saved as `exp1/clip/checkpoints/latest.pt` and
    `exp2/clip/checkpoints/latest.pt`: two checkpoint files with the same default label, "clip". Fast (no
    training); for plumbing tests. Returns {"exp1": path, "exp2": path}."""
    import torch

    from cyclip_bench.models import create_model, model_payload, save_checkpoint

    root = tmp_path_factory.mktemp("experiments")
    paths = {}
    for seed, experiment in enumerate(("exp1", "exp2")):
        torch.manual_seed(seed)
        model, info = create_model("tiny")
        paths[experiment] = root / experiment / "clip" / "checkpoints" / "latest.pt"
        paths[experiment].parent.mkdir(parents=True)
        save_checkpoint(paths[experiment], model_payload(model, info))
    return paths
