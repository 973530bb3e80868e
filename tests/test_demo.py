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
def test_demo_runs_every_stage_and_reuses_on_rerun(tmp_path, capfd, monkeypatch):
    out = tmp_path / "demo"
    first = run_demo(tiny_demo(out))
    # The closing summary: the headline comparison, and that one seed compares checkpoints, not methods.
    assert 2 <= len(first["summary"]) <= 5
    assert first["summary"][0].startswith("cyclip vs clip (one seed: these checkpoints, not the methods): ")
    assert first["summary"][-1].startswith("for a method-level comparison run ≥ 2 seeds per objective")
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
    capfd.readouterr()
    monkeypatch.setenv("CYCLIP_BENCH_PROGRESS_S", "0")
    second = run_demo(tiny_demo(out, progress=True))  # stderr is not a terminal here: plain, labelled lines
    err = capfd.readouterr().err
    for run in ("clip-s0", "cyclip-s0"):  # from the worker processes, each line labelled with its run
        assert f"[{run}] {run[:-3]} (λ_in=" in err, err
        assert f"[{run}] reusing finished run {out / 'runs' / run} (" in err, err
        assert f"[eval] {run}: reusing " in err and " cached task(s) of " in err, err
    assert "decoding" not in err and "reusing the world in" in err
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
    assert set(OBJECTIVES) == {"clip", "cyclip", "c-cyclip", "i-cyclip", "siglip", "siglip-cyclic"}
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


def test_training_jobs_default_to_one_run_per_core_on_cpu(monkeypatch):
    import cyclip_bench.demo as demo

    monkeypatch.setattr(demo, "_cuda_available", lambda: False)
    monkeypatch.setattr(demo, "available_cores", lambda: 2)
    assert DemoConfig().training_jobs() == (2, 1)  # clip + cyclip side by side, one thread each
    assert DemoConfig(objectives=("clip",)).training_jobs() == (1, 2)  # never more jobs than runs
    assert DemoConfig(jobs=1).training_jobs() == (1, 2)
    assert DemoConfig(jobs=8, seeds=(0, 1, 2)).training_jobs() == (6, 1)
    monkeypatch.setattr(demo, "available_cores", lambda: 16)
    assert DemoConfig(seeds=(0, 1)).training_jobs() == (4, 4)
    monkeypatch.setattr(demo, "_cuda_available", lambda: True)
    assert DemoConfig(seeds=(0, 1)).training_jobs() == (1, 16)  # one GPU: one run at a time
    assert DemoConfig(seeds=(0, 1), extra_train={"device": "cpu"}).training_jobs() == (4, 4)
    with pytest.raises(ConfigError, match="jobs"):
        DemoConfig(jobs=0)


@pytest.mark.slow
def test_parallel_training_gives_the_runs_serial_training_gives(tmp_path):
    """--jobs 2 trains in worker processes with one thread each; the weights equal the same runs trained one after
    the other in this process with one thread, and come back in (seed, objective) order."""
    import shutil

    import torch

    from cyclip_bench.models import load_checkpoint

    parallel = run_demo(tiny_demo(tmp_path / "a", jobs=2, suite="world-consistency"))
    (tmp_path / "b").mkdir()
    shutil.copytree(tmp_path / "a" / "world", tmp_path / "b" / "world")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        serial = run_demo(tiny_demo(tmp_path / "b", jobs=1, suite="world-consistency"))
    finally:
        torch.set_num_threads(threads)
    assert [p.parent.parent.name for p in parallel["checkpoints"]] == ["clip-s0", "cyclip-s0"]
    for a, b in zip(parallel["checkpoints"], serial["checkpoints"], strict=True):
        wa, wb = load_checkpoint(a)["state_dict"], load_checkpoint(b)["state_dict"]
        assert wa.keys() == wb.keys()
        for key in wa:
            assert torch.equal(wa[key], wb[key]), (a, key)
    # Evaluated one checkpoint per worker process, then together (suite-scope tasks, results.csv): the same
    # metrics as one in-process evaluation of both.
    for a, b in zip(parallel["results"], serial["results"], strict=True):
        ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
        assert [t["name"] for t in ra["tasks"]] == [t["name"] for t in rb["tasks"]]
        for ta, tb in zip(ra["tasks"], rb["tasks"], strict=True):
            assert ta["metrics"] == pytest.approx(tb["metrics"], rel=1e-6), ta["name"]
    rows = (tmp_path / "a" / "results" / "results.csv").read_text().splitlines()
    assert {row.split(",")[0] for row in rows[1:]} == {"clip-s0", "cyclip-s0"}
