"""The collectives the ranks exchange through: the objective's gradient-carrying all-gather and sums, and the
gathers and agreement checks of evaluation. Joining the process group (and the device, the precision) is
``runtime.py``'s; everything here is a no-op outside torch.distributed."""

from __future__ import annotations

import gc
from typing import Any

import torch
import torch.distributed as dist


def world_info() -> tuple[int, int]:
    """(rank, world_size) of the default group; (0, 1) outside torch.distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient for our rows (works on gloo and NCCL alike)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        rank, world = world_info()
        ctx.rank, ctx.rows = rank, tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's rows (equal counts), in rank order, keeping the graph to our own rows."""
    return _GatherWithGrad.apply(tensor) if world_info()[1] > 1 else tensor


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over ranks (a copy; the input is untouched)."""
    out = tensor.clone()
    if world_info()[1] > 1:
        dist.all_reduce(out)
    return out


def all_gather_variable(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate rows from every rank when the ranks hold different numbers of rows (no gradient)."""
    rank, world = world_info()
    if world == 1:
        return tensor
    count = torch.tensor([tensor.shape[0]], device=tensor.device)
    counts = [torch.zeros_like(count) for _ in range(world)]
    dist.all_gather(counts, count)
    longest = int(max(c.item() for c in counts))
    padded = tensor.new_zeros((longest, *tensor.shape[1:]))
    padded[: tensor.shape[0]] = tensor
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(c.item())] for p, c in zip(parts, counts, strict=True)])


def gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's rows concatenated in rank order, on the CPU: any row counts, any device, any backend (sent as
    objects, so NCCL needs no CUDA copy and gloo no padding). Evaluation's features; no gradient."""
    world = world_info()[1]
    if world == 1:
        return tensor
    parts: list[Any] = [None] * world
    dist.all_gather_object(parts, tensor.cpu())
    return torch.cat(parts, dim=0)


def all_true(flag: bool) -> bool:
    """Every rank's flag is true (so that the ranks take the same branch before a collective)."""
    world = world_info()[1]
    if world == 1:
        return flag
    flags: list[Any] = [None] * world
    dist.all_gather_object(flags, bool(flag))
    return all(flags)


def barrier() -> None:
    if world_info()[1] > 1:
        dist.barrier()


def cleanup() -> None:
    """Destroy the process group once nothing uses it any more.

    A DDP wrapper (and its reducer) that outlives ``destroy_process_group`` can take a gloo rank down with SIGABRT
    ("terminate called without an active exception") at interpreter exit — ~1 run in 8 on 2 cores. Collecting the
    unreachable wrappers first makes the shutdown clean; callers drop their own references before calling this.
    """
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()
