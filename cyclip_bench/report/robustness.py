"""Effective robustness as the report shows it: a baseline fitted per shift set, only over enough checkpoints.

Effective robustness (Taori et al. 2020) is a checkpoint's shift accuracy above the accuracy-on-the-line fit
of shift against in-distribution accuracy (logit space). The fit is only meaningful over many checkpoints and
for one shift set at a time: fitted over two checkpoints, or pooled over shift sets of different difficulty,
the "effective robustness" of a set says how hard the set is, not which model is robust. So the report refits
from the points the results carry (``extra["points"]``: in-distribution and shift top-1 per checkpoint):

- a shift set with at least `MIN_FIT_CHECKPOINTS` checkpoints gets its own logit-linear fit over them, and the
  metric ``<set>/effective_robustness`` (shift top-1 − the fit's prediction);
- otherwise the metric is ``<set>/shift_gap``: the plain shift − in-distribution top-1, with the reason stated.

Whatever the results file stored under ``…/effective_robustness`` (eval fits one line over every checkpoint
and shift set of its run) is replaced, so every table, finding and plot of the report uses one definition.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cyclip_bench.metrics.robustness import effective_robustness, fit_logit_line
from cyclip_bench.results import MetricInfo, Result, TaskResult

MIN_FIT_CHECKPOINTS = 10  # checkpoints per shift set for an accuracy-on-the-line fit (two parameters)

EFFECTIVE_ROBUSTNESS = "effective_robustness"
SHIFT_GAP = "shift_gap"
KIND = "effective_robustness"


@dataclass(frozen=True)
class ShiftFit:
    """One shift set of one effective-robustness task: its fit over ``checkpoints`` points, or None (too few
    checkpoints, or no spread in in-distribution accuracy), and why."""

    dataset: str
    checkpoints: int
    fit: dict | None
    reason: str

    @property
    def metric(self) -> str:
        return f"{self.dataset}/{EFFECTIVE_ROBUSTNESS if self.fit else SHIFT_GAP}"


def _points(task: TaskResult) -> list[dict]:
    points = task.extra.get("points")
    return [p for p in points if isinstance(p, dict)] if isinstance(points, list) else []


def shift_fits(tasks: list[TaskResult], minimum: int = MIN_FIT_CHECKPOINTS) -> dict[str, ShiftFit]:
    """Per shift set (in order of first appearance): the fit over the checkpoints' points, or why there is none.
    ``tasks``: the same effective-robustness task of every checkpoint."""
    by_set: dict[str, list[tuple[float, float]]] = {}
    for task in tasks:
        for point in _points(task):
            by_set.setdefault(str(point.get("dataset", "")), []).append(
                (float(point["id_top1"]), float(point["shift_top1"]))
            )
    fits = {}
    for dataset, points in by_set.items():
        if len(points) < minimum:
            reason = (
                f"{len(points)} checkpoint(s) < {minimum}: too few for an accuracy-on-the-line fit, so the plain "
                "shift − in-distribution gap is shown"
            )
            fits[dataset] = ShiftFit(dataset, len(points), None, reason)
            continue
        fit = fit_logit_line(points)
        if fit.get("kind") == "identity":
            reason = "the checkpoints' in-distribution accuracies do not spread: no line can be fitted"
            fits[dataset] = ShiftFit(dataset, len(points), None, reason)
            continue
        reason = f"logit-linear fit over {len(points)} checkpoints"
        fits[dataset] = ShiftFit(dataset, len(points), dict(fit), reason)
    return fits


def refit_task(task: TaskResult, fits: dict[str, ShiftFit]) -> TaskResult:
    """The task with its metrics recomputed from its points under ``fits`` (and the fits in ``extra``)."""
    metrics: dict[str, float | None] = {}
    info: dict[str, MetricInfo] = {}
    for point in _points(task):
        shift = fits[str(point.get("dataset", ""))]
        id_top1, shift_top1 = float(point["id_top1"]), float(point["shift_top1"])
        value = effective_robustness(id_top1, shift_top1, shift.fit) if shift.fit else shift_top1 - id_top1
        metrics[shift.metric] = value
        info[shift.metric] = MetricInfo(higher_is_better=True, unit="fraction", per_example=None)
    extra = dict(task.extra)
    extra["report_fits"] = {
        d: {"checkpoints": f.checkpoints, "fit": f.fit, "reason": f.reason} for d, f in fits.items()
    }
    return replace(task, metrics=metrics, metric_info=info, counts={}, extra=extra)


def refit_results(results: list[Result], minimum: int = MIN_FIT_CHECKPOINTS) -> list[Result]:
    """The results with every effective-robustness task that carries points refitted per shift set over the
    checkpoints of this report (a task without points is left as the file has it)."""
    groups: dict[tuple[str, str], list[TaskResult]] = {}
    for res in results:
        for task in res.tasks:
            if task.kind == KIND and _points(task):
                groups.setdefault((res.suite_name, task.name), []).append(task)
    fits = {key: shift_fits(tasks, minimum) for key, tasks in groups.items()}
    out = []
    for res in results:
        tasks = [
            refit_task(task, fits[(res.suite_name, task.name)])
            if task.kind == KIND and (res.suite_name, task.name) in fits and _points(task)
            else task
            for task in res.tasks
        ]
        out.append(replace(res, tasks=tasks))
    return out


def fits_of(task: TaskResult) -> dict[str, dict]:
    """The per-shift-set fits `refit_task` stored in the task (empty for a task it did not refit)."""
    fits = task.extra.get("report_fits")
    return fits if isinstance(fits, dict) else {}
