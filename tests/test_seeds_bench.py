"""bench/seeds_bench.py: each method's step runs through the trainer's code, and its K-seed batched model (the
vmap candidate) trains what K single-seed runs train, so its figure compares like with like."""

from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("seeds_bench", ROOT / "bench" / "seeds_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_measure_interleaves_methods_and_reports_per_seed_figures(world_dir, one_thread, capsys):
    bench = _bench()
    train = str(world_dir / "captions" / "train.csv")
    figures = bench.measure(["eager", "vmap2"], train, rounds=2, chunk=1, skip=1)
    assert len(figures["rounds"]) == 2 and len(capsys.readouterr().out.strip().splitlines()) == 2
    rows = figures["methods"]
    assert rows["eager"]["seeds_per_step"] == 1 and rows["vmap2"]["seeds_per_step"] == 2
    assert rows["eager"]["speed_vs_first"] == rows["eager"]["cpu_speed_vs_first"] == 1.0
    for method, row in rows.items():
        wall = statistics.median(r[method]["wall_per_seed_s"] for r in figures["rounds"])
        assert row["pairs_per_s_per_seed"] == pytest.approx(64 / wall, rel=1e-2)
        hours = (2000 * wall + row["warmup_s"] / row["seeds_per_step"]) / (2 * 3600)
        assert row["seeds_per_hour"] == pytest.approx(1 / hours, rel=2e-2)
    assert torch.get_num_threads() >= 1


def test_batched_seeds_train_what_single_seed_runs_train(world_dir, tmp_path, one_thread):
    """Two steps of the 2-seed vmap model equal two steps of each seed's own run, BatchNorm running statistics
    included — to float tolerance, not bitwise: the batched kernels sum in another order, and Adam's first steps
    move a weight by ±lr whatever its gradient's size, so a gradient that is zero in exact arithmetic (a key bias
    under softmax) can take either sign: parameters agree within 2·Σlr, buffers within 1e-5. Seed 1's run is
    far from seed 0's copy, so the comparison can fail."""
    from cyclip_bench.train import loop

    bench = _bench()
    torch.set_num_threads(1)
    train = str(world_dir / "captions" / "train.csv")
    step, seeds = bench.METHODS["vmap2"](train, tmp_path / "batched")
    for _ in range(2):
        step()
    for seed in range(seeds):
        run, batches = bench._setup(train, seed, tmp_path / f"single{seed}")
        for _ in range(2):
            loop._optimizer_step(run, batches)
        moved = 2 * sum(loop.lr_at(k, run.cfg.lr, run.cfg.warmup, run.total_steps) for k in range(2))
        for name, value in run.raw_model.named_parameters():
            torch.testing.assert_close(step.params[name][seed], value, rtol=0, atol=moved + 1e-6, msg=name)
        other = step.params["visual.conv1.weight"][1 - seed]
        assert (other - run.raw_model.visual.conv1.weight).abs().max() > 100 * moved
        for name, value in run.raw_model.named_buffers():
            if name in step.buffers:
                torch.testing.assert_close(step.buffers[name][seed], value, rtol=1e-4, atol=1e-5, msg=name)


def test_active_rows_train_bitwise_what_the_whole_table_trains(world_dir, tmp_path, one_thread):
    """Training only the used token-embedding rows (and scaling the rest by 1 − lr·wd) gives the eager run's
    weights, BatchNorm statistics and AdamW moments bit for bit after 4 steps (warm-up: a new lr each step): the
    unused rows' moments are exactly 0 in the eager run, so a full-size optimizer state can be rebuilt from it."""
    from cyclip_bench.train import loop

    bench = _bench()
    torch.set_num_threads(1)
    train = str(world_dir / "captions" / "train.csv")
    eager, eager_batches = bench._setup(train, 0, tmp_path / "eager")
    lazy, lazy_batches = bench._setup(train, 0, tmp_path / "lazy")
    bench._active_rows(lazy)
    for _ in range(4):
        loop._optimizer_step(eager, eager_batches)
        loop._optimizer_step(lazy, lazy_batches)
    table, active = lazy.active_rows
    assert 0 < len(active) < table.shape[0] // 10  # the world's captions use few of the 49,408 ids
    assert torch.equal(bench.full_table(lazy), eager.raw_model.token_embedding.weight)
    lazy_params = dict(lazy.raw_model.named_parameters())
    for name, value in eager.raw_model.named_parameters():
        if name != "token_embedding.weight":
            assert torch.equal(lazy_params[name], value), name
    lazy_buffers = dict(lazy.raw_model.named_buffers())
    for name, value in eager.raw_model.named_buffers():
        assert torch.equal(lazy_buffers[name], value), name
    moments = eager.optimizer.state[eager.raw_model.token_embedding.weight]
    rows = lazy.optimizer.state[lazy.raw_model.token_embedding.rows]
    unused = torch.ones(table.shape[0], dtype=torch.bool)
    unused[active] = False
    for key in ("exp_avg", "exp_avg_sq"):
        assert torch.equal(moments[key][active], rows[key])
        assert not moments[key][unused].any()
    assert moments["exp_avg"][active].abs().sum() > 0  # the used rows did train
