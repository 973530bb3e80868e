"""The linear probe's solver (eval/probe_solver.py) against scikit-learn's L-BFGS logistic regression.

At the C our validation search chooses, the probe's test accuracy is within 0.5 pt of scikit-learn's on the same
features, and our objective C·ΣCE + ½‖W‖² is as low as its (it is the same convex problem): on blobs, on
world-like features (80 classes, few informative directions) and on an ill-conditioned set shaped like an
untrained model's un-normalised features (a mean ~1,000× the spread, variances from 1e-5 down to 1e-10).
"""

from __future__ import annotations

import pytest
import scipy.optimize
import torch

from cyclip_bench.eval.probe_solver import ProbeBasis, fit_logistic_regression
from cyclip_bench.eval.tasks.linear_probe import COARSE_LOG10_C, climb, predict, search_C

sklearn_linear = pytest.importorskip("sklearn.linear_model")  # a dev dependency (pyproject's dev extra)


def _blobs(seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(5, 8, generator=g) * 1.5
    y = torch.arange(700) % 5
    x = centres[y] + torch.randn(700, 8, generator=g) * 1.5
    return x[:500], y[:500], x[500:], y[500:], 5


def _world_like(seed: int) -> tuple[torch.Tensor, ...]:
    """Many classes with 20 examples each, class signal in 4 directions, the rest noise and a common offset (the
    `fine` probe's shape at a tenth of its size)."""
    g = torch.Generator().manual_seed(seed)
    k, d = 24, 16
    centres = torch.zeros(k, d)
    centres[:, :4] = torch.randn(k, 4, generator=g)
    y = torch.arange(720) % k
    x = centres[y] + torch.randn(720, d, generator=g) * 0.5 + 2.0
    return x[:480], y[:480], x[480:], y[480:], k


def _ill_conditioned(seed: int) -> tuple[torch.Tensor, ...]:
    """An untrained tower's features: a large common offset, variances spanning five orders of magnitude."""
    g = torch.Generator().manual_seed(seed)
    k, d = 5, 8
    spread = torch.logspace(-2.5, -5, d)  # standard deviations 3e-3 … 1e-5 (variances 1e-5 … 1e-10)
    rotation, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    centres = torch.randn(k, d, generator=g) * spread * 0.7
    y = torch.arange(600) % k
    x = ((centres[y] + torch.randn(600, d, generator=g) * spread) @ rotation + 0.35 / d**0.5).float()
    return x[:400], y[:400], x[400:], y[400:], k


def _objective(x: torch.Tensor, y: torch.Tensor, C: float, w: torch.Tensor, b: torch.Tensor) -> float:
    ce = torch.nn.functional.cross_entropy(x.double() @ w.double() + b.double(), y, reduction="sum")
    return float(C * ce + 0.5 * (w.double() ** 2).sum())


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "make",
    [_blobs, _world_like, pytest.param(_ill_conditioned, marks=pytest.mark.slow)],  # scikit-learn: ~14,000 iterations
    ids=["blobs", "world-like", "ill-conditioned"],
)
def test_probe_matches_scikit_learn_at_the_chosen_C(make):
    x, y, x_test, y_test, k = make(0)
    C, _, near = search_C(x, y, k)
    w, b = fit_logistic_regression(x, y, k, C, init=near)
    ours = float((predict(x_test, w, b) == y_test).double().mean())

    reference = sklearn_linear.LogisticRegression(C=C, solver="lbfgs", max_iter=20000, tol=1e-8)
    reference.fit(x.double().numpy(), y.numpy())
    theirs = float((torch.from_numpy(reference.predict(x_test.double().numpy())) == y_test).double().mean())
    assert abs(ours - theirs) <= 0.005, (C, ours, theirs)
    assert ours > 1.5 / k  # the probe learns something on every set (chance is 1/k)
    w_ref, b_ref = torch.from_numpy(reference.coef_.T.copy()), torch.from_numpy(reference.intercept_.copy())
    assert _objective(x, y, C, w, b) <= _objective(x, y, C, w_ref, b_ref) * (1 + 1e-6)


def test_ill_conditioned_fits_converge_before_the_iteration_cap(monkeypatch):
    """The raw-feature L-BFGS ran 1,000 iterations per weak-regularisation fit here; the scaled basis converges."""
    found, minimize = [], scipy.optimize.minimize

    def recording_minimize(*args, **kwargs):
        result = minimize(*args, **kwargs)
        found.append(result)
        return result

    monkeypatch.setattr(scipy.optimize, "minimize", recording_minimize, raising=True)
    x, y, _, _, k = _ill_conditioned(1)
    basis = ProbeBasis.of(x)
    for log_c in (2.0, 4.0, 6.0, 8.0):
        fit_logistic_regression(x, y, k, 10.0**log_c, basis=basis)
    assert all(result.success for result in found)
    assert max(result.nit for result in found) < 300


def test_basis_round_trip_is_the_same_model():
    x, y, *_ = _world_like(2)
    basis = ProbeBasis.of(x)
    w, b = torch.randn(x.shape[1], 24, dtype=torch.float64), torch.randn(24, dtype=torch.float64)
    w2, b2 = basis.to_basis(w, b)
    torch.testing.assert_close(basis.design @ w2 + b2, x.double() @ w + b)
    w3, b3 = basis.from_basis(w2, b2)
    torch.testing.assert_close(w3, w)
    torch.testing.assert_close(b3, b)
    torch.testing.assert_close(w2.norm(), w.norm())  # the rotation leaves the penalty unchanged


def test_probe_search_is_bitwise_deterministic_whatever_the_thread_count():
    x, y, *_, k = _world_like(3)
    previous = torch.get_num_threads()
    runs = []
    try:
        for threads in (1, 2, 1):
            torch.set_num_threads(threads)
            C, history, (w, b) = search_C(x, y, k, seed=5)
            runs.append((C, history, w, b))
    finally:
        torch.set_num_threads(previous)
    assert torch.get_num_threads() == previous
    for C, history, w, b in runs[1:]:
        assert C == runs[0][0] and history == runs[0][1]
        assert torch.equal(w, runs[0][2]) and torch.equal(b, runs[0][3])
    # a different split seed is a different search: the seed is used
    assert search_C(x, y, k, seed=6)[1] != runs[0][1]


def _scored(curve: dict[float, float]):
    asked: list[float] = []

    def score(value: float) -> float:
        asked.append(value)
        return curve[value]

    return score, asked


def test_climb_stops_after_two_consecutive_falls_below_the_best():
    curve = dict(zip(COARSE_LOG10_C, [0.1, 0.5, 0.7, 0.6, 0.65, 0.9, 0.2], strict=True))
    score, asked = _scored(curve)
    # 0.6 and 0.65 are both below 0.7: the climb stops at 2.0 and never sees 4.0's 0.9
    assert climb(COARSE_LOG10_C, score) == -2.0
    assert asked == [-6.0, -4.0, -2.0, 0.0, 2.0]


def test_climb_counts_only_consecutive_falls_and_keeps_the_smaller_of_ties():
    # one fall, then a new best: the count restarts
    score, asked = _scored(dict(zip(COARSE_LOG10_C, [0.1, 0.5, 0.4, 0.8, 0.7, 0.6, 0.95], strict=True)))
    assert climb(COARSE_LOG10_C, score) == 0.0 and asked == list(COARSE_LOG10_C[:6])
    # ties with the best are not falls, and the smaller C keeps the place
    score, asked = _scored(dict(zip(COARSE_LOG10_C, [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3], strict=True)))
    assert climb(COARSE_LOG10_C, score) == -6.0 and asked == list(COARSE_LOG10_C)
    # a curve that keeps rising is climbed to the end (an untrained tower's features: the weakest C wins)
    score, asked = _scored(dict(zip(COARSE_LOG10_C, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], strict=True)))
    assert climb(COARSE_LOG10_C, score) == 6.0 and asked == list(COARSE_LOG10_C)


def test_climb_chooses_what_the_whole_grid_chooses_on_a_curve_with_one_peak():
    g = torch.Generator().manual_seed(11)
    for _ in range(50):
        peak = int(torch.randint(0, len(COARSE_LOG10_C), (1,), generator=g))
        values = [1.0 - abs(i - peak) * 0.1 for i in range(len(COARSE_LOG10_C))]
        whole = max(sorted(COARSE_LOG10_C), key=lambda c: (values[COARSE_LOG10_C.index(c)], -c))
        score, _ = _scored(dict(zip(COARSE_LOG10_C, values, strict=True)))
        assert climb(COARSE_LOG10_C, score) == whole


def test_row_blocks_on_threads_give_the_bits_of_the_blocks_in_order(monkeypatch):
    """The examples cut into blocks (a function of N only): computed on 1 or 2 threads, the same bits; and the
    same model as one block to float rounding."""
    import cyclip_bench.eval.probe_solver as solver

    x, y, *_, k = _world_like(4)
    one_block = fit_logistic_regression(x, y, k, 10.0)
    monkeypatch.setattr(solver, "ROWS_PER_BLOCK", 100)  # 480 examples → 4 blocks
    assert solver.row_blocks(len(y)) == [(0, 120), (120, 240), (240, 360), (360, 480)]
    previous = torch.get_num_threads()
    fits = []
    try:
        for threads in (1, 2, 1):
            torch.set_num_threads(threads)
            fits.append(fit_logistic_regression(x, y, k, 10.0))
    finally:
        torch.set_num_threads(previous)
    assert torch.get_num_threads() == previous
    for w, b in fits[1:]:
        assert torch.equal(w, fits[0][0]) and torch.equal(b, fits[0][1])
    probs = [torch.softmax(x.double() @ w + b, dim=1) for w, b in (one_block, fits[0])]
    torch.testing.assert_close(probs[0], probs[1], atol=1e-4, rtol=0)
    assert solver.row_blocks(10) == [(0, 10)] and len(solver.row_blocks(10**7)) == solver.MAX_BLOCKS


def test_a_failing_block_raises_in_the_caller_and_leaves_no_thread(monkeypatch):
    import threading

    import cyclip_bench.eval.probe_solver as solver

    x, y, *_, k = _world_like(5)
    monkeypatch.setattr(solver, "ROWS_PER_BLOCK", 100)
    original = solver._block_objective
    made: list[int] = []

    def failing_second(design, labels):
        part = original(design, labels)
        made.append(1)
        if len(made) != 2:
            return part

        def broken(v):
            raise FloatingPointError("block 1")

        return broken

    monkeypatch.setattr(solver, "_block_objective", failing_second)
    before, previous = threading.active_count(), torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(FloatingPointError, match="block 1"):
            fit_logistic_regression(x, y, k, 1.0)  # block 1 is computed by the helper thread
    finally:
        torch.set_num_threads(previous)
    assert threading.active_count() == before
