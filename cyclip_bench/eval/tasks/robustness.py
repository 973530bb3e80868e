"""Effective robustness: each shift set's zero-shot top-1 against the in-distribution top-1, per checkpoint,
above a baseline fitted in logit space over every (checkpoint, shift set) point of the run (Taori et
al. 2020).
It reads the results of other zero-shot tasks of the same suite, so it runs after every checkpoint."""

from __future__ import annotations

from dataclasses import dataclass

from cyclip_bench.errors import ConfigError
from cyclip_bench.eval.suite import SuiteSpec
from cyclip_bench.eval.tasks.base import TASKS, DataNeed, TaskKind
from cyclip_bench.metrics import effective_robustness, fit_logit_line
from cyclip_bench.results import MetricSpec, MetricTable, TaskResult
from cyclip_bench.validation import Names


@dataclass(frozen=True)
class RobustnessOptions:
    id_task: str = ""
    shift_tasks: Names = ()
    metric: str = "top1"


@TASKS.register("effective_robustness", aliases=("effective-robustness",))
class EffectiveRobustness(TaskKind):
    Options = RobustnessOptions
    # shift top-1 minus what the accuracy-on-the-line fit predicts from in-distribution top-1, as a fraction
    metrics = MetricTable(MetricSpec("*/effective_robustness", True, "fraction"))
    scope = "suite"
    requires_dataset = False

    def needs(self) -> list[DataNeed]:
        return []

    def check_references(self, suite: SuiteSpec) -> None:
        where = f"task {self.spec.name!r} (effective_robustness)"
        if not self.options.id_task or not self.options.shift_tasks:
            raise ConfigError(f"{where}: options 'id_task' and 'shift_tasks' are required")
        names = [t.name for t in suite.tasks]
        for ref in (self.options.id_task, *self.options.shift_tasks):
            suite.task(ref)  # did-you-mean on a typo
            if names.index(ref) > names.index(self.spec.name):
                raise ConfigError(f"{where}: task {ref!r} must come before it in the suite")

    def run_suite(self, results: dict[str, dict[str, TaskResult]]) -> dict[str, TaskResult]:
        m = self.options.metric
        points = {}
        for label, tasks in results.items():
            id_result = tasks[self.options.id_task]
            points[label] = [
                {
                    "dataset": tasks[s].dataset,
                    "task": s,
                    "id_dataset": id_result.dataset,
                    "id_top1": id_result.metrics[m],
                    "shift_top1": tasks[s].metrics[m],
                }
                for s in self.options.shift_tasks
            ]
        fit = fit_logit_line([(p["id_top1"], p["shift_top1"]) for pts in points.values() for p in pts])
        out = {}
        for label, pts in points.items():
            metrics, info = {}, {}
            for p in pts:
                key = f"{p['dataset']}/effective_robustness"
                metrics[key] = effective_robustness(p["id_top1"], p["shift_top1"], fit)
                info[key] = self.metric_info(key)
            out[label] = TaskResult(
                name=self.spec.name,
                kind=self.spec.kind,
                dataset=pts[0]["id_dataset"] if pts else "",
                split="test",
                metrics=metrics,
                metric_info=info,
                extra={"points": pts, "fit": fit, "num_checkpoints": len(points)},
            )
        return out
