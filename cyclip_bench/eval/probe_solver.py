"""The linear probe's solver: L2-regularised multinomial logistic regression, fast along a regularisation path.

Minimises C·Σ CE(xW + b, y) + ½‖W‖² (scikit-learn's convention; bias unregularised) exactly — no other objective
— but in coordinates where L-BFGS needs tens of iterations instead of running to its cap:

- **centred and rotated**: x − mean, in the eigenbasis of the feature covariance. Centring moves only the bias
  (b absorbs mean·W); the rotation is orthogonal, so ‖W‖² and hence the penalty are unchanged.
- **scaled per direction**: coordinate j of W is solved as v_j = √h_j · w_j with h_j = s_j / K + λ (s_j the
  variance along direction j, λ = 1/(C·N) the penalty per example, K classes; the bias row uses h = 1/K), the
  curvature of the mean cross-entropy near uniform predictions plus the penalty's. Un-normalised image features of
  an untrained model have variances from 1e-4 down to 1e-10 and a mean 1,000× their spread: scipy's L-BFGS on the
  raw features ran 1,000 iterations per weakly regularised fit without converging; here it converges in 10–100.

scipy's L-BFGS-B in float64 with the analytic gradient computed by torch. The examples are cut into a fixed
number of row blocks (a function of N only, `row_blocks`); each block's loss and gradient is computed on one
torch thread (one BLAS thread: busy-waiting BLAS workers cost more than they save at this size), the blocks run
on up to as many Python threads as the run has torch threads, and their sums are added in block order — so the
same input gives the same bits whatever the run's thread count, serial or parallel.

Stopping: scipy's ``gtol`` 1e-6 on the projected gradient and its default ``ftol`` (2.2e-9) on the relative
decrease of the objective, which is O(1) here (divided by C·N). A looser ``ftol`` (1e-7) saved ~30 % of the
iterations, but warm- and cold-started fits then ended 3e-3 apart in probability (tests/test_eval.py allows 1e-3).
The contract is scikit-learn's optimum: tests/test_linear_probe_solver.py.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.optimize
import torch

from cyclip_bench.eval.blas import single_threaded_blas


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """torch's intra-op threads set to 1 for the block (restored after): bitwise the same on any machine load."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class ProbeBasis:
    """The features centred and rotated into the eigenbasis of their covariance (float64)."""

    mean: torch.Tensor  # [d]
    rotation: torch.Tensor  # [d, d], orthogonal: columns are the eigenvectors
    variance: torch.Tensor  # [d], the covariance's eigenvalues (≥ 0)
    design: torch.Tensor  # [N, d] = (x − mean) @ rotation

    @classmethod
    def of(cls, x: torch.Tensor) -> ProbeBasis:
        with one_torch_thread():
            x = x.double()
            mean = x.mean(dim=0)
            centred = x - mean
            variance, rotation = torch.linalg.eigh(centred.T @ centred / max(len(x), 1))
            return cls(mean, rotation, variance.clamp_min(0.0), centred @ rotation)

    def to_basis(self, w: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, b) of the original features → the same model's (W', b') on ``design``."""
        with one_torch_thread():
            w, b = w.double(), b.double()
            return self.rotation.T @ w, b + self.mean @ w

    def from_basis(self, w: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(W', b') on ``design`` → the same model's (W, b) on the original features."""
        with one_torch_thread():
            w = self.rotation @ w
            return w, b - self.mean @ w


def fit_logistic_regression(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    C: float,
    *,
    max_iter: int = 1000,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    basis: ProbeBasis | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(W [d, K], b [K]) minimising C·Σ CE(xW + b, y) + ½‖W‖² (bias unregularised), float64.

    ``init``: a neighbouring solution (W, b) to start from (a regularisation path) — the problem is convex, so it
    changes how fast the solver gets there, not where. ``basis``: ``ProbeBasis.of(x)`` when the caller fits the
    same features at several C. The objective is divided by C·N, which keeps its scale O(1) for every C without
    moving the minimiser.
    """
    basis = basis or ProbeBasis.of(x)
    n, d = basis.design.shape
    k = num_classes
    l2 = 1.0 / (C * n)
    alpha = 1.0 / k
    # Row r of the (d + 1) × K parameter block is √h_r times row r of (W' ; b').
    h = torch.cat([alpha * basis.variance + l2, torch.tensor([alpha], dtype=torch.float64)])
    scale = h.rsqrt()
    design = torch.cat([basis.design, torch.ones(n, 1, dtype=torch.float64)], dim=1) * scale
    penalty = (torch.cat([torch.full((d,), l2, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)]) / h)[:, None]
    blocks = [_block_objective(design[lo:hi], y[lo:hi]) for lo, hi in row_blocks(n)]

    theta0 = np.zeros((d + 1) * k)
    if init is not None:
        w0, b0 = basis.to_basis(*init)
        theta0 = (torch.cat([w0, b0[None]]) * h.sqrt()[:, None]).numpy().ravel()
    threads = min(len(blocks), torch.get_num_threads())
    with single_threaded_blas(), one_torch_thread(), _block_runner(threads) as run_blocks:

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            v = torch.from_numpy(theta).view(d + 1, k)
            parts = run_blocks(blocks, v)  # in block order, whichever thread computed them
            pv = penalty * v
            log_likelihood, grad = parts[0]
            for block_ll, block_grad in parts[1:]:
                log_likelihood, grad = log_likelihood + block_ll, grad + block_grad
            loss = 0.5 * float((pv * v).sum()) - log_likelihood / n
            return loss, torch.add(pv, grad, alpha=1.0 / n).numpy().ravel()

        found = scipy.optimize.minimize(
            objective,
            theta0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iter, "gtol": 1e-6},
        )
    v = torch.from_numpy(found.x).view(d + 1, k) * scale[:, None]
    return basis.from_basis(v[:d], v[d])


ROWS_PER_BLOCK = 1500  # blocks of at least this many examples: below it a thread's hand-off costs more than it saves
MAX_BLOCKS = 8


def row_blocks(n: int) -> list[tuple[int, int]]:
    """[lo, hi) ranges cutting n examples into ⌊n / ROWS_PER_BLOCK⌋ blocks (1 to MAX_BLOCKS): a function of n
    only, so the order of the sums — the result's bits — does not depend on how many threads compute them."""
    count = max(1, min(MAX_BLOCKS, n // ROWS_PER_BLOCK))
    edges = [round(i * n / count) for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


BlockObjective = Callable[[torch.Tensor], tuple[float, torch.Tensor]]


def _block_objective(design: torch.Tensor, y: torch.Tensor) -> BlockObjective:
    """v ↦ (Σ log p(y|x) over the block, the block's Σ xᵀ(p − onehot(y))): the data term's share of this block."""
    design_t = design.T.contiguous()
    rows, labels = torch.arange(len(y)), y[:, None]

    def part(v: torch.Tensor) -> tuple[float, torch.Tensor]:
        shifted = design @ v
        shifted.sub_(shifted.amax(dim=1, keepdim=True))  # z − max z: exponentials ≤ 1, no overflow
        picked = shifted.gather(1, labels)  # z_y − max z, read before the exponentials overwrite it
        residual = shifted.exp_()
        total = residual.sum(dim=1, keepdim=True)
        log_likelihood = float(picked.sum() - total.log().sum())  # Σ log p(y|x)
        residual.div_(total)  # p(·|x)
        residual[rows, y] -= 1.0  # p − onehot(y)
        return log_likelihood, design_t @ residual

    return part


@contextlib.contextmanager
def _block_runner(threads: int) -> Iterator[Callable[[list[BlockObjective], torch.Tensor], list]]:
    """A function running every block on ``v`` and returning their parts in block order: inline for one thread;
    else the calling thread computes blocks 0, t, 2t, … and ``t − 1`` helper threads (torch releases the GIL in
    its kernels), each on one torch thread, the others — for the length of one fit."""
    if threads <= 1:
        yield lambda blocks, v: [block(v) for block in blocks]
        return
    helpers = _Helpers(threads - 1)
    try:
        yield helpers.run
    finally:
        helpers.close()


class _Helpers:
    """Threads that wait for the next evaluation by yielding (``time.sleep(0)``) instead of sleeping on a lock:
    on these VMs a lock's wake-up took as long as the work it handed over (a 1,600-row block: ~0.8 ms), so two
    threads behind a lock were slower than one; yielding, they are ~1.6x faster. They exist only while one fit
    runs, and hold the GIL only between torch calls."""

    def __init__(self, count: int) -> None:
        self.slots: list[dict[str, Any]] = [{"job": None, "done": None} for _ in range(count)]
        self.stopping = False
        self.threads = [threading.Thread(target=self._serve, args=(slot,), daemon=True) for slot in self.slots]
        for thread in self.threads:
            thread.start()

    def _serve(self, slot: dict[str, Any]) -> None:
        torch.set_num_threads(1)  # OpenMP's thread count is per calling thread: a new thread starts at the default
        while not self.stopping:
            job = slot["job"]
            if job is None:
                time.sleep(0)
                continue
            slot["job"] = None
            try:
                slot["done"] = (True, job())
            except BaseException as err:  # handed to the caller, raised there
                slot["done"] = (False, err)

    def run(self, blocks: list[BlockObjective], v: torch.Tensor) -> list:
        stride = len(self.slots) + 1
        parts: list = [None] * len(blocks)
        for offset, slot in enumerate(self.slots, start=1):
            mine = range(offset, len(blocks), stride)
            slot["done"] = None
            slot["job"] = lambda mine=mine: [(i, blocks[i](v)) for i in mine]
        for i in range(0, len(blocks), stride):
            parts[i] = blocks[i](v)
        for slot in self.slots:
            while slot["done"] is None:
                time.sleep(0)
            ok, value = slot["done"]
            if not ok:
                raise value
            for i, part in value:
                parts[i] = part
        return parts

    def close(self) -> None:
        self.stopping = True
        for thread in self.threads:
            thread.join()
