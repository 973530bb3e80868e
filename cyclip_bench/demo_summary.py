"""The closing lines of ``cyclip-bench demo``: the headline comparison and the level of evidence behind it.

A test over the test examples of one training run (a paired bootstrap) compares *these checkpoints*; whether an
objective beats another as a *method* needs several training seeds per objective (the seed-to-seed spread of the
tiny models on the world is several points: docs/world.md §5). With one seed per objective the summary says so
and calls no difference a method effect; with two or more it compares seed means with Welch's CI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cyclip_bench.report.stats import paired_bootstrap, welch_difference
from cyclip_bench.results import Result, TaskResult, load

HEADLINE_METRIC = "top1"  # the first task of the suite that reports it is the headline (zero-shot on shapes)
METHOD_LEVEL_SEEDS = 2  # seeds per objective before a difference can speak for the method


@dataclass(frozen=True)
class Run:
    """One trained checkpoint's results: its objective, training seed and results file."""

    objective: str
    seed: int
    result: Path


def _pp(value: float) -> str:
    return f"{100 * value:+.1f} pp"


def _headline_task(result: Result) -> str | None:
    for task in result.tasks:
        if task.metrics.get(HEADLINE_METRIC) is not None:
            return task.name
    return None


def _task(result: Result, name: str) -> TaskResult:
    return next(t for t in result.tasks if t.name == name)


def summary_lines(runs: Sequence[Run]) -> list[str]:
    """3–5 lines: the headline metric per objective, each objective's difference from the first one (the
    baseline) with its 95% CI, and what that evidence can and cannot say."""
    loaded = {(r.objective, r.seed): load(r.result) for r in runs}
    objectives = list(dict.fromkeys(r.objective for r in runs))
    seeds = list(dict.fromkeys(r.seed for r in runs))
    first = loaded[(objectives[0], seeds[0])]
    task = _headline_task(first)
    if task is None:
        return ["no headline metric (top-1) in these results; see the report"]
    values = {o: [_task(loaded[(o, s)], task).metrics[HEADLINE_METRIC] for s in seeds] for o in objectives}
    baseline = objectives[0]
    if len(seeds) < METHOD_LEVEL_SEEDS:
        seed = seeds[0]
        shown = ", ".join(f"{o} {100 * values[o][0]:.1f}%" for o in objectives)
        lines = [f"headline: {task} top-1 (seed {seed}): {shown}"]
        base = _task(loaded[(baseline, seed)], task).per_example_of(HEADLINE_METRIC)
        diffs = []
        for objective in objectives[1:]:
            other = _task(loaded[(objective, seed)], task).per_example_of(HEADLINE_METRIC)
            if base is not None and other is not None and len(base) == len(other):
                ci = paired_bootstrap(base, other)
                diffs.append(f"{objective} − {baseline}: {_pp(ci.estimate)} (95% CI {_pp(ci.low)} to {_pp(ci.high)})")
            else:
                diffs.append(f"{objective} − {baseline}: {_pp(values[objective][0] - values[baseline][0])}")
        if diffs:
            lines.append("; ".join(diffs) + " over the test examples")
        lines.append(
            "evidence: one training seed per objective — this compares these checkpoints, not the objectives as "
            "methods (seed-to-seed spread alone moves this number by several points)"
        )
        lines.append(
            f"for a method-level comparison run ≥ {METHOD_LEVEL_SEEDS} seeds per objective, e.g. --seeds 0,1,2 "
            "(the committed reference in reports/ has five)"
        )
        return lines
    shown = ", ".join(f"{o} {100 * _mean(values[o]):.1f}% (sd {100 * _sd(values[o]):.1f})" for o in objectives)
    lines = [f"headline: {task} top-1, mean over {len(seeds)} seeds: {shown}"]
    diffs = []
    for objective in objectives[1:]:
        welch = welch_difference(values[baseline], values[objective])
        verdict = "detected" if welch.ci_low > 0 or welch.ci_high < 0 else "not detected with these seeds"
        diffs.append(
            f"{objective} − {baseline}: {_pp(welch.difference)} (Welch 95% CI {_pp(welch.ci_low)} to "
            f"{_pp(welch.ci_high)}; {verdict})"
        )
    if diffs:
        lines.append("; ".join(diffs))
    lines.append(
        f"evidence: {len(seeds)} training seeds per objective — a method-level comparison at this budget; the "
        "report states each CI's power"
    )
    return lines


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _sd(values: list[float]) -> float:
    mean = _mean(values)
    return (sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)) ** 0.5
