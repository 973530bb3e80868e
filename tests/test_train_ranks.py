"""A rank that dies takes the whole job down: non-zero exit, no hang."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PIL import Image


def test_a_dying_rank_ends_the_job(tmp_path):
    # 32 good images and one corrupt file: missing files are caught up front on every rank, but a corrupt one
    # fails only on the rank whose batch reads it — the other rank then waits in a collective until torchrun
    # tears the job down.
    rng = np.random.default_rng(0)
    rows = ["image,caption"]
    for i in range(32):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        rows.append(f"{i}.png,a red circle number {i}")
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    rows.append("bad.png,a broken image")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cyclip_bench",
            "train",
            "--train-data",
            str(tmp_path / "train.csv"),
            "--model",
            "tiny-vit",
            "--batch-size",
            "4",
            "--epochs",
            "1",
            "--workers",
            "0",
            "--no-progress",
            "--logs",
            str(tmp_path / "logs"),
            "--name",
            "dies",
            "--nproc",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert proc.returncode != 0
    assert "bad.png" in proc.stderr
