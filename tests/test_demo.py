"""The main job end to end at a tiny size: world → train → eval → report, then a re-run that reuses everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cyclip_bench.demo import OBJECTIVES, DemoConfig, run_demo
from cyclip_bench.errors import ConfigError, UserError


def tiny_demo(out: Path, **overrides) -> DemoConfig:
    options = dict(out=out, quick=True, world_size=0.03, epochs=1, batch_size=32, progress=False, suite="world")
    options.update(overrides)
    return DemoConfig(**options)


@pytest.mark.slow
def test_demo_runs_every_stage_and_reuses_on_rerun(tmp_path):
    out = tmp_path / "demo"
    first = run_demo(tiny_demo(out))
    assert [p.parent.parent.name for p in first["checkpoints"]] == ["clip-s0", "cyclip-s0"]
    results = [json.loads(p.read_text()) for p in first["results"]]
    assert {r["checkpoint"]["label"] for r in results} == {"clip-s0", "cyclip-s0"}
    kinds = {task["kind"] for task in results[0]["tasks"]}
    assert {"zeroshot", "effective_robustness", "linear_probe", "retrieval", "consistency"} <= kinds
    # The two runs differ only in the objective: same seed, same budget.
    configs = [r["checkpoint"]["train_config"] for r in results]
    assert configs[0]["lambda_inmodal"] == 0.0 and configs[1]["lambda_inmodal"] == 0.25
    assert {
        k: v
        for k, v in configs[0].items()
        if k not in ("loss", "lambda_inmodal", "lambda_crossmodal", "name", "resume")
    } == {
        k: v
        for k, v in configs[1].items()
        if k not in ("loss", "lambda_inmodal", "lambda_crossmodal", "name", "resume")
    }
    html = first["report"]["html"].read_text()
    assert "clip-s0" in html and "cyclip-s0" in html
    assert first["report"]["markdown"].is_file()

    # A re-run reuses the world, the finished runs and the results: nothing is retrained.
    stamps = {p: p.stat().st_mtime_ns for p in first["checkpoints"]}
    world_stamp = (out / "world" / "world.json").stat().st_mtime_ns
    second = run_demo(tiny_demo(out))
    assert {p: p.stat().st_mtime_ns for p in second["checkpoints"]} == stamps
    assert (out / "world" / "world.json").stat().st_mtime_ns == world_stamp
    assert [json.loads(p.read_text())["checkpoint"]["sha256"] for p in second["results"]] == [
        r["checkpoint"]["sha256"] for r in results
    ]


def test_demo_refuses_a_different_world_without_fresh(tmp_path):
    out = tmp_path / "demo"
    (out / "world").mkdir(parents=True)
    (out / "world" / "world.json").write_text(json.dumps({"seed": 5, "size": 0.03, "image_size": 32}))
    with pytest.raises(UserError, match="another world"):
        run_demo(tiny_demo(out))


def test_demo_config_validation():
    assert set(OBJECTIVES) == {"clip", "cyclip", "c-cyclip", "i-cyclip"}
    with pytest.raises(ConfigError, match="--objectives"):
        DemoConfig(objectives=("clip", "simclr"))
    with pytest.raises(ConfigError, match="--seeds"):
        DemoConfig(seeds=())
    assert DemoConfig(quick=True).budget.world_size < DemoConfig().budget.world_size


def test_demo_cli_bad_flag_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cyclip_bench", "demo", "--out", str(tmp_path), "--seeds", "0,x"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --seeds: expected a comma list of integers such as 0,1,2 (got '0,x')"
    ]
