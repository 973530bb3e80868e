"""Where and how this process computes, decided once for train and eval alike: its place among the ranks
(torchrun's or SLURM's environment), its device, and the precision of its forward passes (the autocast dtype).
The collectives the ranks then exchange through are in ``distributed.py``."""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist

from cyclip_bench import distributed
from cyclip_bench.errors import ConfigError
from cyclip_bench.registry import did_you_mean
from cyclip_bench.validation import check_device_available

DEFAULT_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits: its rank among ``world_size``, its device, and whether it writes outputs."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def shard(self, n: int) -> range:
        """This rank's contiguous block of ``range(n)`` (the blocks concatenate back in rank order)."""
        return range(n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size)

    def all_true(self, flag: bool) -> bool:
        """Every rank's flag is true (so that the ranks take the same branch before a collective)."""
        return distributed.all_true(flag) if self.distributed else flag

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every rank's rows (any count, any device, any backend) concatenated in rank order, on the CPU."""
        return distributed.gather_rows(tensor) if self.distributed else tensor


# ---- the process group -----------------------------------------------------------------------------------------
# torchrun's variable first, then SLURM's (an srun step with one task per GPU sets these and not torchrun's).
_WORLD_SIZE = ("WORLD_SIZE", "SLURM_NTASKS")
_RANK = ("RANK", "SLURM_PROCID")
_LOCAL_RANK = ("LOCAL_RANK", "SLURM_LOCALID")


def _env_int(names: tuple[str, ...], environ: Mapping[str, str]) -> int | None:
    for name in names:
        value = environ.get(name)
        if value:
            try:
                return int(value)
            except ValueError:
                raise ConfigError(f"environment variable {name}={value!r}: expected an integer") from None
    return None


def env_ranks(environ: Mapping[str, str] | None = None) -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from torchrun's RANK/LOCAL_RANK/WORLD_SIZE or, where those are absent,
    SLURM's SLURM_PROCID/SLURM_LOCALID/SLURM_NTASKS; (0, 0, 1) for a plain single process."""
    environ = os.environ if environ is None else environ
    world = _env_int(_WORLD_SIZE, environ) or 1
    rank = _env_int(_RANK, environ) or 0
    local_rank = _env_int(_LOCAL_RANK, environ) or 0
    if world < 1 or not 0 <= rank < world or local_rank < 0:
        raise ConfigError(f"environment: rank {rank} / local rank {local_rank} do not fit a world of {world}")
    return rank, local_rank, world


def resolve_device(requested: str | None, local_rank: int = 0) -> torch.device:
    """'auto'/None → this rank's GPU when there is one, else the CPU; 'cuda' → cuda:<local_rank> (rank r of a
    node takes its r-th GPU); an explicit device (cuda:N, mps, cpu) as given, after checking that it exists."""
    if requested in (None, "auto"):
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    check_device_available(requested)
    if requested == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(requested)


def init_distributed(device: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> DistEnv:
    """This process's DistEnv; with more than one rank in the environment it joins the process group (NCCL on
    GPU, gloo on CPU; a collective waiting longer than ``timeout_s`` fails the run rather than hanging it).

    A group that is already initialised is joined as it is. A multi-rank environment without MASTER_ADDR (not
    started by torchrun, SLURM without an address exported) is a one-line ConfigError saying how to launch."""
    rank, local_rank, world = env_ranks()
    dev = resolve_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        if not os.environ.get("MASTER_ADDR"):
            raise ConfigError(
                f"a distributed run ({world} ranks in the environment) without MASTER_ADDR: launch with torchrun "
                "(cyclip-bench train --nproc N) or export MASTER_ADDR and MASTER_PORT"
            )
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(
            backend="nccl" if dev.type == "cuda" else "gloo",
            rank=rank,
            world_size=world,
            timeout=datetime.timedelta(seconds=timeout_s),
        )
    return DistEnv(rank=rank, local_rank=local_rank, world_size=world, device=dev)


def is_main_process() -> bool:
    """Rank 0 of the default group, or a process outside torch.distributed (it prints the summaries)."""
    return distributed.world_info()[0] == 0


# ---- precision ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Precision:
    """What a ``--precision`` means: the autocast dtype of forward passes (None: no autocast — fp32 weights and
    math), and whether training scales the loss (fp16's narrow exponent range underflows small gradients)."""

    name: str
    dtype: torch.dtype | None
    grad_scaling: bool = False


# The same on every device: autocast(device type, dtype) — bf16/fp16 autocast also on the CPU (slow there: fp16
# matmuls on CPU run ~18x slower than fp32, which is why train's "auto" takes fp32 on CPU).
PRECISIONS: dict[str, Precision] = {
    "fp32": Precision("fp32", None),
    "bf16": Precision("bf16", torch.bfloat16),
    "fp16": Precision("fp16", torch.float16, grad_scaling=True),
}


def precision(name: str) -> Precision:
    """The table entry for ``name``; an unknown name is a ConfigError listing the known ones."""
    try:
        return PRECISIONS[name]
    except KeyError:
        known = list(PRECISIONS)
        raise ConfigError(
            f"--precision {name}: unknown precision.{did_you_mean(name, known)} Known: {', '.join(known)}"
        ) from None


def resolve_precision(name: str, device: torch.device | str) -> str:
    """``auto`` → bf16 on a GPU, fp32 elsewhere (train's default); any other name is checked and kept."""
    if name == "auto":
        return "bf16" if torch.device(device).type == "cuda" else "fp32"
    return precision(name).name


@contextlib.contextmanager
def autocast(name: str, device: torch.device | str) -> Iterator[None]:
    """Run the block in ``name``'s autocast on ``device``'s type (fp32: no autocast at all)."""
    dtype = precision(name).dtype
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=torch.device(device).type, dtype=dtype):
        yield


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "PRECISIONS",
    "DistEnv",
    "Precision",
    "autocast",
    "env_ranks",
    "init_distributed",
    "is_main_process",
    "precision",
    "resolve_device",
    "resolve_precision",
]
