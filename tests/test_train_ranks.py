"""A rank that dies takes the whole job down: non-zero exit, no hang, one `error:` line (tests/test_launch.py has
the rank killed by a signal and the bad input refused before any rank starts)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PIL import Image


def test_bad_data_a_rank_finds_late_is_one_error_line_exit_2(tmp_path):
    # 32 good images and one whose header reads but whose pixels are cut off: the launcher's header check passes
    # it, and (without the memory cache) only the rank whose batch holds it fails — the other rank then waits in
    # a collective until the agent stops it. The job still reports the rank's DataError once, as one process.
    rng = np.random.default_rng(0)
    rows = ["image,caption"]
    for i in range(32):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        rows.append(f"{i}.png,a red circle number {i}")
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "bad.png")
    whole = (tmp_path / "bad.png").read_bytes()
    (tmp_path / "bad.png").write_bytes(whole[: len(whole) // 2])
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
            "--data-cache",
            "off",
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
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert [line for line in lines if line.startswith("error:")] == [lines[-1]]
    assert (
        lines[-1]
        == f"error: image file {tmp_path / 'bad.png'} is unreadable or corrupt (OSError: image file is truncated)"
    )
    assert "Traceback" not in proc.stderr and "torch" not in proc.stderr
