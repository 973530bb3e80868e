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
