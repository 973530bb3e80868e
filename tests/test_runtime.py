"""runtime.py: the ranks from torchrun's or SLURM's environment, the device each rank takes, the precision table
and its autocast — one implementation that train and eval both use."""

from __future__ import annotations

import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from cyclip_bench import runtime
from cyclip_bench.errors import ConfigError
from cyclip_bench.eval import EvalConfig, evaluate
from cyclip_bench.eval.features import Encoder
from cyclip_bench.runtime import DistEnv, autocast, env_ranks, init_distributed, precision, resolve_device
from cyclip_bench.train import loop

RANK_VARS = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID", "MASTER_ADDR")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in RANK_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# ---- ranks from the environment ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, (0, 0, 1)),
        ({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"}, (3, 1, 4)),
        ({"SLURM_NTASKS": "8", "SLURM_PROCID": "5", "SLURM_LOCALID": "1"}, (5, 1, 8)),
        # torchrun inside a SLURM allocation: torchrun's variables win
        (
            {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "SLURM_NTASKS": "1", "SLURM_PROCID": "0"},
            (1, 1, 2),
        ),
        # an empty variable is an absent one
        ({"WORLD_SIZE": "", "SLURM_NTASKS": "2", "SLURM_PROCID": "1"}, (1, 0, 2)),
    ],
)
def test_ranks_come_from_torchrun_or_slurm(environ: dict, expected: tuple) -> None:
    assert env_ranks(environ) == expected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two': expected an integer"),
        ({"SLURM_NTASKS": "2", "SLURM_PROCID": "2"}, "rank 2 / local rank 0 do not fit a world of 2"),
    ],
)
def test_bad_rank_variables_are_one_line(environ: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        env_ranks(environ)


def test_a_multi_rank_environment_without_master_addr_says_how_to_launch(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SLURM_NTASKS", "2")
    clean_env.setenv("SLURM_PROCID", "1")
    with pytest.raises(ConfigError, match="2 ranks in the environment\\) without MASTER_ADDR: launch with torchrun"):
        init_distributed("cpu")


def test_slurm_ranks_join_the_group_with_gloo_and_the_timeout(clean_env: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []
    clean_env.setattr(runtime.dist, "init_process_group", lambda **kw: calls.append(kw))
    clean_env.setenv("SLURM_NTASKS", "2")
    clean_env.setenv("SLURM_PROCID", "1")
    clean_env.setenv("SLURM_LOCALID", "1")
    clean_env.setenv("MASTER_ADDR", "127.0.0.1")
    env = init_distributed("cpu", timeout_s=30)
    assert env == DistEnv(rank=1, local_rank=1, world_size=2, device=torch.device("cpu"))
    assert env.distributed and not env.is_main
    assert calls == [
        {"backend": "gloo", "rank": 1, "world_size": 2, "timeout": datetime.timedelta(seconds=30)},
    ]


def test_one_process_joins_no_group(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setattr(runtime.dist, "init_process_group", lambda **kw: pytest.fail("no group for one process"))
    env = init_distributed("auto")
    assert env == DistEnv() and env.is_main and not env.distributed


def test_eval_reads_slurm_ranks_too(clean_env: pytest.MonkeyPatch, world_dir: Path, tmp_path: Path) -> None:
    # eval used to look at WORLD_SIZE only: under srun every rank ran as rank 0 of 1, each writing every result.
    from cyclip_bench.models import create_model, model_payload, save_checkpoint

    model, info = create_model("tiny")
    save_checkpoint(tmp_path / "random.pt", model_payload(model, info))
    clean_env.setenv("SLURM_NTASKS", "2")
    clean_env.setenv("SLURM_PROCID", "0")
    cfg = EvalConfig(
        checkpoints=(str(tmp_path / "random.pt"),),
        suite="world-zeroshot",
        data_root=world_dir,
        out=tmp_path / "out",
        device="cpu",
        cache=False,
        progress=False,
    )
    with pytest.raises(ConfigError, match="without MASTER_ADDR"):
        evaluate(cfg)
    assert not (tmp_path / "out").exists()


# ---- devices ------------------------------------------------------------------------------------------------------
def test_auto_is_the_cpu_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None, local_rank=3) == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_each_rank_takes_its_own_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto", local_rank=1) == torch.device("cuda", 1)
    assert resolve_device("cuda", local_rank=0) == torch.device("cuda", 0)
    assert resolve_device("cuda:1", local_rank=0) == torch.device("cuda", 1)  # an explicit index is kept


def test_a_missing_device_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="--device cuda: no CUDA GPU is available"):
        resolve_device("cuda")


def test_shards_concatenate_back_in_rank_order() -> None:
    for world in (1, 2, 3, 4):
        for n in (0, 1, 7, 10):
            blocks = [DistEnv(rank=r, world_size=world).shard(n) for r in range(world)]
            assert [i for block in blocks for i in block] == list(range(n))


# ---- precision ----------------------------------------------------------------------------------------------------
def test_the_precision_table() -> None:
    assert {name: (p.dtype, p.grad_scaling) for name, p in runtime.PRECISIONS.items()} == {
        "fp32": (None, False),
        "bf16": (torch.bfloat16, False),
        "fp16": (torch.float16, True),
    }
    assert runtime.resolve_precision("auto", "cpu") == "fp32"
    assert runtime.resolve_precision("auto", torch.device("cuda", 1)) == "bf16"
    assert runtime.resolve_precision("fp16", "cpu") == "fp16"
    with pytest.raises(ConfigError, match="unknown precision. Did you mean 'bf16'"):
        precision("bf61")


@pytest.mark.parametrize(
    ("name", "dtype"), [("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)]
)
def test_autocast_on_the_cpu(name: str, dtype: torch.dtype) -> None:
    a, b = torch.randn(4, 3), torch.randn(3, 2)
    with autocast(name, "cpu"):
        assert (a @ b).dtype == dtype
        assert torch.is_autocast_enabled("cpu") == (name != "fp32")
    assert not torch.is_autocast_enabled("cpu")


class _Probe(torch.nn.Module):
    """Records the dtype its linear layer computes in (autocast's dtype, or float32 without autocast)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)
        self.seen: list[torch.dtype] = []

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(x)
        self.seen.append(out.dtype)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_image(x)


@pytest.mark.parametrize(
    ("name", "dtype"), [("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)]
)
def test_train_and_eval_compute_in_the_same_dtype(name: str, dtype: torch.dtype) -> None:
    probe = _Probe()
    images = [(torch.randn(3), 0) for _ in range(5)]
    features = Encoder(probe, tokenizer=lambda t: t, precision=name, batch_size=2).images(images, "probe")
    assert features.dtype == torch.float32 and features.shape == (5, 2)  # stored in fp32 whatever the compute
    run = SimpleNamespace(cfg=SimpleNamespace(precision=name), env=DistEnv())
    with loop._autocast(run):  # the training forward's context
        probe(torch.randn(2, 3))
    assert set(probe.seen) == {dtype}
