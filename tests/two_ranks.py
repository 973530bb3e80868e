"""Two gloo ranks against one process: the scaffolding shared by the loss tests (CyCLIP and SigLIP).

Each rank runs linear towers on its half of a fixed batch and saves its loss parts and gradients; a test compares
them with the same towers on the whole batch in one process."""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

from cyclip_bench.distributed import cleanup
from cyclip_bench.losses import cyclip_loss, distributed_cyclip_loss, siglip_loss


class Towers(torch.nn.Module):
    """Two linear towers; with ``bias`` SigLIP's learnable temperature (ln 10) and bias (−10), else CLIP's
    temperature (ln 1/0.07). forward returns (image, text, scale[, bias]) like open_clip."""

    def __init__(self, bias: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.image = torch.nn.Linear(6, 4)
        self.text = torch.nn.Linear(5, 4)
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(10) if bias else math.log(1 / 0.07)))
        self.logit_bias = torch.nn.Parameter(torch.tensor(-10.0)) if bias else None

    def forward(self, x, y):
        image, text = F.normalize(self.image(x), dim=-1), F.normalize(self.text(y), dim=-1)
        if self.logit_bias is None:
            return image, text, self.logit_scale.exp()
        return image, text, self.logit_scale.exp(), self.logit_bias


def inputs(n_total: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.randn(n_total, 6, generator=gen), torch.randn(n_total, 5, generator=gen)


def loss(objective: str, outputs: tuple, lam: float, distributed: bool) -> dict[str, torch.Tensor]:
    """``objective`` "cyclip" or "siglip" on the towers' outputs, λ_in = λ_cross = ``lam``."""
    if objective == "siglip":
        return siglip_loss(*outputs, lam, lam, distributed=distributed)
    return (distributed_cyclip_loss if distributed else cyclip_loss)(*outputs, lam, lam)


def _rank_main(rank: int, world: int, port: int, objective: str, lam: float, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    model = torch.nn.parallel.DistributedDataParallel(Towers(bias=objective == "siglip"))
    x, y = inputs(8)
    n = len(x) // world
    out = loss(objective, model(x[rank * n : (rank + 1) * n], y[rank * n : (rank + 1) * n]), lam, True)
    out["loss"].backward()
    grads = {k: p.grad.clone() for k, p in model.module.named_parameters()}
    torch.save({"loss": {k: v.detach() for k, v in out.items()}, "grads": grads}, f"{out_dir}/rank{rank}.pt")
    del model, out
    cleanup()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_two_ranks(objective: str, lam: float, out_dir: Path) -> list[dict]:
    """Each rank's {"loss": parts, "grads": {name: grad}} for ``objective`` on its half of ``inputs(8)``."""
    mp.spawn(_rank_main, args=(2, _free_port(), objective, lam, str(out_dir)), nprocs=2, join=True)
    return [torch.load(Path(out_dir) / f"rank{rank}.pt", weights_only=True) for rank in range(2)]


def assert_ranks_match(ranks: list[dict], ref: dict[str, torch.Tensor], model: torch.nn.Module) -> None:
    """Every rank's loss parts and gradients equal the one-process ``ref`` and ``model``'s gradients."""
    for got in ranks:
        for key, value in ref.items():
            torch.testing.assert_close(got["loss"][key], value.detach(), atol=1e-5, rtol=1e-5)
        for name, param in model.named_parameters():
            torch.testing.assert_close(got["grads"][name], param.grad, atol=1e-5, rtol=1e-5)
