"""Linear probe: L2-regularised multinomial logistic regression on frozen, un-normalised image features.

CLIP's protocol: the regularisation strength C (sklearn's convention: loss = C·ΣCE + ½‖W‖²) is chosen on a
validation split carved from the train split with a coarse-to-fine search over log10 C, then the probe is refit
on train+val with that C. The solver (eval/probe_solver.py): L-BFGS (scipy) in float64 on a centred, rotated and
per-direction scaled basis of the features, along a warm-started regularisation path on a fixed split:
deterministic.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from cyclip_bench.data.catalog import LABELLED
from cyclip_bench.eval.context import EvalContext
from cyclip_bench.eval.probe_solver import ProbeBasis, fit_logistic_regression
from cyclip_bench.eval.tasks.base import TASKS, DataNeed, TaskKind, as_int_list
from cyclip_bench.eval.tasks.zeroshot import check_labels
from cyclip_bench.metrics import mean_per_class_recall, predictions_against
from cyclip_bench.results import MetricSpec, MetricTable, TaskResult
from cyclip_bench.validation import FileName, OpenFraction, PositiveInt, Seed

__all__ = [
    "LinearProbe",
    "LinearProbeOptions",
    "climb",
    "fit_logistic_regression",
    "predict",
    "search_C",
    "split_train_val",
]


def predict(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (x.double() @ w + b).argmax(dim=1)


def split_train_val(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(round(n * val_fraction)))
    return order[n_val:], order[:n_val]


def search_C(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
    max_iter: int = 1000,
) -> tuple[float, list[dict[str, float]], tuple[torch.Tensor, torch.Tensor]]:
    """Coarse grid log10 C ∈ {−6, −4, …, 6}, then two refinements (±1, ±0.5) around the best.

    Ties keep the smaller C (stronger regularisation). The coarse grid is climbed from strong to weak
    regularisation and stops climbing once the validation accuracy at two consecutive larger C has fallen below
    the best so far (the curve has turned; the weakly regularised fits beyond run to the iteration cap on
    well-separated features without converging, so their scores are not the optimum's anyway). Each fit starts
    from the solution at the nearest C already fitted (a regularisation path). Returns (C, every (log10 C, val
    accuracy) tried, the chosen C's (W, b) on the search split — the start for the refit on all the data).
    """
    train, val = split_train_val(len(y), val_fraction, seed)
    basis = ProbeBasis.of(x[train])
    tried: dict[float, float] = {}
    solutions: dict[float, tuple[torch.Tensor, torch.Tensor]] = {}

    def score(log_c: float) -> float:
        if log_c not in tried:
            nearest = min(solutions, key=lambda c: (abs(c - log_c), c), default=None)
            init = solutions[nearest] if nearest is not None else None
            w, b = fit_logistic_regression(
                x[train], y[train], num_classes, 10.0**log_c, max_iter=max_iter, init=init, basis=basis
            )
            solutions[log_c] = (w, b)
            tried[log_c] = float((predict(x[val], w, b) == y[val]).double().mean())
        return tried[log_c]

    def best_of(candidates: list[float]) -> float:
        return max(sorted(candidates), key=lambda c: (score(c), -c))

    best = climb(COARSE_LOG10_C, score)
    for step in (1.0, 0.5):
        best = best_of([best - step, best, best + step])
    history = [{"log10_C": k, "val_top1": v} for k, v in sorted(tried.items())]
    return 10.0**best, history, solutions[best]


COARSE_LOG10_C = (-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0)
FALLS_TO_STOP = 2  # consecutive coarse points below the best that end the climb


def climb(grid: tuple[float, ...], score: Callable[[float], float]) -> float:
    """The best of ``grid`` (ascending; ties → the smaller value), scored in order, stopping after
    ``FALLS_TO_STOP`` consecutive points below the best so far (a tie with the best is not a fall)."""
    best, falls = grid[0], 0
    best_score = score(best)
    for value in grid[1:]:
        value_score = score(value)
        if value_score > best_score:
            best, best_score, falls = value, value_score, 0
        elif value_score < best_score:
            falls += 1
            if falls == FALLS_TO_STOP:
                break
        else:
            falls = 0
    return best


@dataclass(frozen=True)
class LinearProbeOptions:
    train_split: FileName = "train"
    val_fraction: OpenFraction = 0.2
    seed: Seed = 0  # a torch.Generator seed
    max_iter: PositiveInt = 1000


@TASKS.register("linear_probe", aliases=("linear-probe",))
class LinearProbe(TaskKind):
    Options = LinearProbeOptions
    metrics = MetricTable(
        MetricSpec("top1", True, "fraction"),
        MetricSpec("mean_per_class_recall", True, "fraction"),
    )

    def needs(self) -> list[DataNeed]:
        ref = self.spec.dataset
        return [
            DataNeed(LABELLED, ref, self.options.train_split),
            DataNeed(LABELLED, ref, self.spec.split),
        ]

    def run(self, ctx: EvalContext) -> TaskResult:
        ref, opts = self.spec.dataset, self.options
        train_set = ctx.labelled(ref, opts.train_split)
        check_labels(train_set, f"{self.spec.name}/{opts.train_split}")
        check_labels(ctx.labelled(ref, self.spec.split), f"{self.spec.name}/{self.spec.split}")
        x_train, y_train = ctx.image_features(ref, opts.train_split), ctx.labels(ref, opts.train_split)
        x_test, y_test = ctx.image_features(ref, self.spec.split), ctx.labels(ref, self.spec.split)
        num_classes = len(train_set.metadata.classes)

        def fit() -> dict:
            C, history, near = search_C(
                x_train, y_train, num_classes, val_fraction=opts.val_fraction, seed=opts.seed, max_iter=opts.max_iter
            )
            # refit on train+val, from the search split's solution at that C
            w, b = fit_logistic_regression(x_train, y_train, num_classes, C, max_iter=opts.max_iter, init=near)
            return {"C": C, "history": history, "w": w, "b": b}

        # The fit is a deterministic function of the train features and the options: cache it with them.
        probe = ctx.cached_result(
            fit,
            task="linear_probe",
            train=train_set.fingerprint(),
            options=dataclasses.asdict(opts),
            solver=4,  # 2: warm-started path; 3: whitened basis (eval/probe_solver.py); 4: the climb stops
        )
        C, history, w, b = probe["C"], probe["history"], probe["w"], probe["b"]
        predictions = predictions_against(x_test.double() @ w + b, y_test)  # ties: docs/evaluation.md, "Ties"
        hits = predictions == y_test
        metrics = {
            "top1": float(hits.double().mean()),
            "mean_per_class_recall": mean_per_class_recall(predictions, y_test),
        }
        info = {
            "top1": self.metric_info("top1", "top1"),
            "mean_per_class_recall": self.metric_info("mean_per_class_recall"),
        }
        per_example = {
            "top1": as_int_list(hits),
            "label": as_int_list(y_test),
            "prediction": as_int_list(predictions),
        }
        extra = {
            "C": C,
            "log10_C": math.log10(C),
            "search": history,
            "num_train": len(y_train),
            "val_fraction": opts.val_fraction,
        }
        return self.result(
            metrics, info, per_example=per_example, class_names=list(train_set.metadata.classes), extra=extra
        )
