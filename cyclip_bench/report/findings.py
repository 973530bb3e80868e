"""Findings: what the numbers say, per comparison of a configuration with the baseline's, as records.

Pure functions from loaded results to `Comparison` records (no I/O but the packaged seed reference); the
findings section (`report/sections/findings.py`) turns them into text and a table that both renderers show.

Levels of evidence:

- **method level** (`Evidence.METHOD`): both configurations have two or more seeds; the difference of their
  means over seeds with Welch's CI and the verdicts of the seed statistics (`report/stats.py`). Only this
  level may say that one *configuration* beats another.
- **these checkpoints** (`Evidence.CHECKPOINTS`): a configuration with one seed; McNemar / the paired
  bootstrap on the test examples compare the two *checkpoints*. A second seed of the same configuration
  differs too, so this says nothing about the method; the finding carries the seed spread where it is known
  (from the report's own seeds, else the packaged reference run on the same suite).
- **no test** (`Evidence.NONE`): one value per checkpoint without per-example data (the geometry, effective
  robustness): shown, never given a verdict.

The geometry story compares the change of the absolute gaps with the change of the scale-free measures and
of the cone (`report/geometry.py` finds the geometry metrics and their roles).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from typing import Any

from cyclip_bench.report.configurations import configurations
from cyclip_bench.report.geometry import Role, caption_set_name, geometry_metrics, role, shows_geometry
from cyclip_bench.report.stats import (
    DETECTED,
    aggregate_seeds,
    compare_paired,
    minimum_detectable_difference,
    pooled_sd,
    seed_verdict,
    welch_difference,
)
from cyclip_bench.report.tables import headline_metrics
from cyclip_bench.results import (
    Result,
    TaskResult,
    find_task,
    reference_task,
    same_examples,
    seed_values,
    suite_tasks,
    suites,
)

MIN_SEEDS = 2  # seeds per configuration for a method-level verdict
# Two single seeds of one configuration differ by sd·√2; 95% of such differences lie within 1.96·√2·sd.
SEED_NOISE_95 = 1.96 * math.sqrt(2)
# The geometry story: the absolute gaps must shrink by at least this share to be a story at all, …
GAP_CHANGE = 0.2
# … the cone (mean off-diagonal cosine) narrows when it rises by this much, …
CONE_CHANGE = 0.1
# … and the scale-free measures "move little" when their relative improvement is below this share of the gaps'.
SCALE_FREE_SHARE = 1 / 3


class Evidence(Enum):
    METHOD = "method level (across seeds)"
    CHECKPOINTS = "these checkpoints only (test examples)"
    NONE = "one value per checkpoint (no test)"


class Outcome(Enum):
    WIN = "better"
    LOSS = "worse"
    SAME = "indistinguishable"
    DIFFERS = "differs (no better direction)"
    UNTESTED = "not tested"


@dataclass(frozen=True)
class SeedSpread:
    """The seed-to-seed sample sd of a metric for one configuration, and where it comes from."""

    sd: float  # in the metric's own unit (a fraction for fractions)
    n: int
    source: str


@dataclass(frozen=True)
class MetricFinding:
    suite: str
    task: str
    metric: str
    unit: str
    higher_is_better: bool | None
    baseline_value: float  # the mean over seeds at method level, else the baseline checkpoint's value
    value: float
    difference: float  # value − baseline_value
    ci: tuple[float, float] | None
    p_value: float | None
    test: str  # "Welch", "McNemar exact", "paired bootstrap" or ""
    verdict: str
    evidence: Evidence
    outcome: Outcome
    role: Role | None = None  # a geometry metric's role, else None
    spread: SeedSpread | None = None  # one-seed comparisons: the seed spread when known
    mdd: float | None = None  # method level: the minimum detectable difference at 80% power

    @property
    def label(self) -> str:
        return f"{self.suite} · {self.task} · {self.metric}"


@dataclass(frozen=True)
class GeometryStory:
    suite: str
    task: str  # the task whose section shows this caption set's geometry
    caption_set: str
    text: str
    cone_explains: bool  # the absolute gaps shrink mostly through a narrower cone


@dataclass(frozen=True)
class Comparison:
    configuration: str
    baseline: str  # the baseline's configuration
    checkpoints: tuple[str, ...]
    baseline_checkpoints: tuple[str, ...]
    checkpoint: str  # the checkpoint the test-set tests use (same seed as the baseline checkpoint if any)
    baseline_checkpoint: str
    findings: tuple[MetricFinding, ...]
    stories: tuple[GeometryStory, ...]

    @property
    def method_level(self) -> bool:
        return len(self.checkpoints) >= MIN_SEEDS and len(self.baseline_checkpoints) >= MIN_SEEDS

    def with_outcome(self, *outcomes: Outcome) -> list[MetricFinding]:
        return [f for f in self.findings if f.outcome in outcomes]


# ---- the seed reference -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedReference:
    """Seed spreads measured in a stated earlier run (templates/seed_reference.json: the project's reference
    run), for one-seed reports on the same suite."""

    source: str
    suite: str
    n_seeds: int
    train_config: dict[str, Any]
    sd_pp: dict[str, dict[str, float]]  # "task/metric" → configuration → sd in percentage points

    def spread(
        self, suite: str, task: str, metric: str, configuration: str, train_config: dict | None
    ) -> SeedSpread | None:
        if suite != self.suite:
            return None
        sd = self.sd_pp.get(f"{task}/{metric}", {}).get(configuration)
        if sd is None:
            return None
        differs = [
            f"{key} {value} there, {train_config[key]} here"
            for key, value in self.train_config.items()
            if train_config is not None and key in train_config and train_config[key] != value
        ]
        where = f"{self.source}, {self.n_seeds} seeds"
        if differs:
            where += f"; a different budget: {', '.join(differs)}"
        return SeedSpread(sd / 100.0, self.n_seeds, where)


@functools.lru_cache(maxsize=1)
def packaged_seed_reference() -> SeedReference:
    text = resources.files("cyclip_bench.report").joinpath("templates/seed_reference.json").read_text("utf-8")
    doc = json.loads(text)
    return SeedReference(doc["source"], doc["suite"], int(doc["n_seeds"]), dict(doc["train_config"]), doc["sd_pp"])


# ---- comparisons --------------------------------------------------------------------------------------------


def _better(difference: float, higher_is_better: bool | None) -> Outcome:
    if higher_is_better is None:
        return Outcome.DIFFERS
    return Outcome.WIN if (difference > 0) == higher_is_better else Outcome.LOSS


def finding_metrics(results: list[Result], suite: str, task_name: str) -> list[tuple[str, Role | None]]:
    """The metrics a task's findings cover: its headline metrics, and — in the task that shows its caption
    set's geometry — every geometry metric (with its role); geometry shown elsewhere is left out."""
    ref = reference_task(results, suite, task_name)
    geometry = geometry_metrics(ref)
    shown = shows_geometry(results, suite, task_name)
    out = [(m, None) for m in headline_metrics(ref) if m not in geometry]
    if shown:
        out += [(m, role(ref, m)) for m in geometry]
    return out


def _representative(results: list[Result], members: list[str], baseline_checkpoint: str) -> str:
    """The member trained with the baseline checkpoint's seed, else the first."""
    seed_of = {r.label: (r.train_config or {}).get("seed") for r in results}
    same = [m for m in members if seed_of.get(m) is not None and seed_of.get(m) == seed_of.get(baseline_checkpoint)]
    return (same or members)[0]


def _spread(
    results: list[Result],
    configs: dict[str, list[str]],
    names: tuple[str, str],
    where: tuple[str, str, str],
    unit: str,
    reference: SeedReference | None,
    train_config: dict | None,
) -> SeedSpread | None:
    """The seed sd of the metric: from a configuration of this report with seeds (the baseline's first), else
    from the reference run (fractions only)."""
    suite, task, metric = where
    for name in names:
        values = seed_values(results, configs[name], suite, task, metric)
        if len(values) >= MIN_SEEDS:
            return SeedSpread(aggregate_seeds(values).sd, len(values), f"{name} in this report")
    if reference is None or unit != "fraction":
        return None
    for name in names:
        spread = reference.spread(suite, task, metric, name, train_config)
        if spread is not None:
            return SeedSpread(spread.sd, spread.n, f"{name}, {spread.source}")
    return None


def _method_finding(common: dict, a: list[float], b: list[float], outcome_dir: bool | None) -> MetricFinding:
    welch = welch_difference(a, b)
    mdd = minimum_detectable_difference(pooled_sd(a, b), len(a), len(b))
    verdict = seed_verdict(welch.ci_low, welch.ci_high, welch.difference, mdd)
    outcome = _better(welch.difference, outcome_dir) if verdict == DETECTED else Outcome.SAME
    return MetricFinding(
        **common,
        baseline_value=welch.mean_a,
        value=welch.mean_b,
        difference=welch.difference,
        ci=(welch.ci_low, welch.ci_high),
        p_value=welch.p_value,
        test="Welch",
        verdict=verdict,
        evidence=Evidence.METHOD,
        outcome=outcome,
        mdd=mdd,
    )


def _checkpoint_finding(
    common: dict, base: TaskResult, other: TaskResult, n_boot: int, seed: int, spread: SeedSpread | None
) -> MetricFinding | None:
    metric = common["metric"]
    value_a, value_b = base.metrics.get(metric), other.metrics.get(metric)
    if value_a is None or value_b is None:
        return None
    a, b = base.per_example_of(metric), other.per_example_of(metric)
    if not a or not b or not same_examples(base, other, metric):
        return MetricFinding(
            **common,
            baseline_value=value_a,
            value=value_b,
            difference=value_b - value_a,
            ci=None,
            p_value=None,
            test="",
            verdict="no test: one value per checkpoint",
            evidence=Evidence.NONE,
            outcome=Outcome.UNTESTED,
            spread=spread,
        )
    cmp = compare_paired(a, b, n_boot=n_boot, seed=seed)
    if cmp.significant:
        verdict = f"these checkpoints differ ({p_text(cmp.p_value)})"
        outcome = _better(cmp.difference, common["higher_is_better"])
    else:
        verdict = f"these checkpoints: not significant ({p_text(cmp.p_value)})"
        outcome = Outcome.SAME
    return MetricFinding(
        **common,
        baseline_value=cmp.mean_a,
        value=cmp.mean_b,
        difference=cmp.difference,
        ci=(cmp.ci_low, cmp.ci_high),
        p_value=cmp.p_value,
        test=cmp.test,
        verdict=verdict,
        evidence=Evidence.CHECKPOINTS,
        outcome=outcome,
        spread=spread,
    )


def compare(
    results: list[Result],
    baseline: str,
    n_boot: int = 2000,
    seed: int = 0,
    reference: SeedReference | None = None,
) -> list[Comparison]:
    """Each other configuration against the configuration of the ``baseline`` checkpoint, in report order."""
    configs = configurations(results)
    base_name = next(name for name, members in configs.items() if baseline in members)
    base_members = configs[base_name]
    by_label = {r.label: r for r in results}
    out = []
    for name, members in configs.items():
        if name == base_name:
            continue
        checkpoint = _representative(results, members, baseline)
        method = len(members) >= MIN_SEEDS and len(base_members) >= MIN_SEEDS
        findings: list[MetricFinding] = []
        for suite in suites(results):
            for task_name in suite_tasks(results, suite):
                ref = reference_task(results, suite, task_name)
                for metric, metric_role in finding_metrics(results, suite, task_name):
                    common = dict(
                        suite=suite,
                        task=task_name,
                        metric=metric,
                        unit=ref.unit(metric),
                        higher_is_better=ref.higher_is_better(metric),
                        role=metric_role,
                    )
                    if method:
                        a = seed_values(results, base_members, suite, task_name, metric)
                        b = seed_values(results, members, suite, task_name, metric)
                        if len(a) >= MIN_SEEDS and len(b) >= MIN_SEEDS:
                            findings.append(_method_finding(common, a, b, common["higher_is_better"]))
                        continue
                    base_task = find_task(results, baseline, suite, task_name)
                    other_task = find_task(results, checkpoint, suite, task_name)
                    if base_task is None or other_task is None:
                        continue
                    spread = _spread(
                        results,
                        configs,
                        (base_name, name),
                        (suite, task_name, metric),
                        common["unit"],
                        reference,
                        by_label[checkpoint].train_config,
                    )
                    finding = _checkpoint_finding(common, base_task, other_task, n_boot, seed, spread)
                    if finding is not None:
                        findings.append(finding)
        stories = tuple(
            story
            for suite in suites(results)
            for task_name in suite_tasks(results, suite)
            if (story := _story_for(results, suite, task_name, findings)) is not None
        )
        out.append(
            Comparison(
                configuration=name,
                baseline=base_name,
                checkpoints=tuple(members),
                baseline_checkpoints=tuple(base_members),
                checkpoint=checkpoint,
                baseline_checkpoint=baseline,
                findings=tuple(findings),
                stories=stories,
            )
        )
    return out


# ---- the geometry story -------------------------------------------------------------------------------------


def improvement(finding: MetricFinding) -> float | None:
    """The relative change in the better direction (+0.5 = 50% better); None without a direction or a base."""
    if finding.higher_is_better is None or finding.baseline_value == 0:
        return None
    change = finding.difference / abs(finding.baseline_value)
    return change if finding.higher_is_better else -change


def _story_for(results: list[Result], suite: str, task_name: str, findings: list[MetricFinding]):
    mine = [f for f in findings if f.suite == suite and f.task == task_name and f.role is not None]
    if not mine:
        return None
    text, cone_explains = geometry_story(mine)
    if text is None:
        return None
    name = caption_set_name(reference_task(results, suite, task_name))
    return GeometryStory(suite, task_name, name, text, cone_explains)


def _moves(findings: list[MetricFinding]) -> str:
    return "; ".join(
        f"{f.metric} {value_text(f.baseline_value, f.unit)} → {value_text(f.value, f.unit)}" for f in findings
    )


def geometry_story(findings: list[MetricFinding]) -> tuple[str | None, bool]:
    """The geometry of one caption set in words, from its findings (their roles): (text or None, whether the
    absolute gaps shrink mostly through a narrower cone). No text when the absolute gaps change by less than
    `GAP_CHANGE` (there is no gap change to explain)."""
    gaps = [f for f in findings if f.role is Role.ABSOLUTE_GAP and improvement(f) is not None]
    scale_free = [f for f in findings if f.role is Role.SCALE_FREE and improvement(f) is not None]
    cones = [f for f in findings if f.role is Role.CONE]
    if not gaps:
        return None, False
    gap_change = sum(improvement(f) for f in gaps) / len(gaps)
    if abs(gap_change) < GAP_CHANGE:
        return None, False
    shrink = gap_change > 0
    sentence = (
        f"The absolute gaps {'shrink' if shrink else 'grow'} by {abs(gap_change):.0%} on average ({_moves(gaps)})"
    )
    cone_change = sum(f.difference for f in cones) / len(cones) if cones else 0.0
    narrower, wider = cone_change >= CONE_CHANGE, cone_change <= -CONE_CHANGE
    if cones:
        how = "narrows" if narrower else "widens" if wider else "stays about as wide"
        sentence += f"; the cone {how} ({_moves(cones)})"
    cone_explains = False
    if scale_free:
        free_change = sum(improvement(f) for f in scale_free) / len(scale_free)
        worse = [f for f in scale_free if improvement(f) < 0]
        moves_with = free_change * gap_change > 0 and abs(free_change) >= SCALE_FREE_SHARE * abs(gap_change)
        if moves_with:
            sentence += (
                f"; the scale-free measures move the same way ({free_change:+.0%} on average: {_moves(scale_free)})"
            )
        else:
            wrong = f", {len(worse)} of {len(scale_free)} the wrong way" if worse else ""
            sentence += (
                f"; the scale-free measures move little ({free_change:+.0%} on average{wrong}: {_moves(scale_free)})"
            )
        cone_explains = shrink and narrower and not moves_with
        if cone_explains:
            sentence += ". The smaller absolute gaps come largely from a narrower cone, not from more consistent spaces"
        elif shrink and moves_with:
            sentence += ". The spaces become more consistent beyond what the cone explains"
    others = [f for f in findings if f.role is Role.OTHER]
    if others:
        sentence += f". Other geometry measures: {_moves(others)}"
    return sentence + ".", cone_explains


# ---- text ---------------------------------------------------------------------------------------------------


def p_text(p_value: float) -> str:
    return f"p = {p_value:.3g}" if p_value >= 1e-4 else "p < 0.0001"


def value_text(value: float, unit: str) -> str:
    return f"{100 * value:.2f}%" if unit == "fraction" else f"{value:.4g}"


def difference_text(value: float, unit: str) -> str:
    return f"{100 * value:+.2f} pp" if unit == "fraction" else f"{value:+.4g}"


def interval_text(ci: tuple[float, float] | None, unit: str) -> str:
    if ci is None:
        return "—"
    if unit == "fraction":
        return f"[{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}] pp"
    return f"[{ci[0]:+.4g}, {ci[1]:+.4g}]"


def spread_text(finding: MetricFinding) -> str:
    """'seed sd 5.61 pp (clip, …): within seed noise' for a one-seed finding with a known spread, else ''."""
    spread = finding.spread
    if spread is None:
        return ""
    sd = f"{100 * spread.sd:.2f} pp" if finding.unit == "fraction" else f"{spread.sd:.4g}"
    if spread.sd > 0 and abs(finding.difference) < SEED_NOISE_95 * spread.sd:
        size = "within what two seeds of one configuration differ by"
    else:
        size = "larger than two seeds of one configuration usually differ by, still one seed"
    return f"seed sd {sd} ({spread.source}): {size}"


def finding_text(finding: MetricFinding) -> str:
    """One finding in a line: values, difference, CI and verdict (and the seed spread for one seed)."""
    parts = [
        f"{finding.label}: {value_text(finding.baseline_value, finding.unit)} → "
        f"{value_text(finding.value, finding.unit)} ({difference_text(finding.difference, finding.unit)}"
    ]
    if finding.ci is not None:
        parts.append(f", 95% CI {interval_text(finding.ci, finding.unit)}")
    parts.append(f"; {finding.verdict}")
    if finding.evidence is Evidence.METHOD and finding.p_value is not None:
        parts.append(f", {p_text(finding.p_value)}")
    extra = spread_text(finding)
    if extra:
        parts.append(f"; {extra}")
    return "".join(parts) + ")"


def evidence_text(comparison: Comparison) -> str:
    """What kind of claim the comparison's verdicts are."""
    if comparison.method_level:
        return (
            f"Method level: {len(comparison.checkpoints)} seeds of {comparison.configuration} against "
            f"{len(comparison.baseline_checkpoints)} of {comparison.baseline}; differences of the means over seeds "
            "with Welch's 95% CI. 'detected' = the CI excludes 0; 'not detectable at this power' is not "
            "evidence of no difference."
        )
    seeds = f"{len(comparison.checkpoints)} / {len(comparison.baseline_checkpoints)} seed(s)"
    return (
        f"Not a method comparison ({seeds}; a method-level verdict needs ≥ {MIN_SEEDS} seeds per configuration): "
        f"the tests compare the checkpoints {comparison.checkpoint} and {comparison.baseline_checkpoint} on the "
        "same test examples (McNemar's exact test, paired bootstrap). A second seed of either configuration "
        "would differ too, so a difference here — significant or not — says nothing about the methods."
    )


def comparison_bullets(comparison: Comparison) -> list[str]:
    """The comparison in a few lines: evidence level, one line per better / worse finding, then the
    indistinguishable and untested ones by name, then the geometry story."""
    method = comparison.method_level
    lines = [evidence_text(comparison)]
    groups = (
        (Outcome.WIN, "Better" if method else "Better for these checkpoints"),
        (Outcome.LOSS, "Worse" if method else "Worse for these checkpoints"),
        (Outcome.DIFFERS, "Differs (no better direction)"),
    )
    for outcome, title in groups:
        lines.extend(f"{title}: {finding_text(f)}." for f in comparison.with_outcome(outcome))
    same = comparison.with_outcome(Outcome.SAME)
    if same:
        what = "across seeds" if method else "on these test examples"
        lines.append(
            f"Indistinguishable {what} ({len(same)}; CIs and verdicts in the table): "
            + ", ".join(f.label for f in same)
            + "."
        )
    untested = [f for f in comparison.with_outcome(Outcome.UNTESTED) if f.role is None]
    if untested:
        lines.append(
            f"Not tested ({len(untested)}: one value per checkpoint and no per-example data, so no uncertainty): "
            + ", ".join(f.label for f in untested)
            + "."
        )
    for story in comparison.stories:
        level = "" if method else " (one value per checkpoint: no uncertainty)"
        lines.append(f"Geometry on {story.caption_set}, {story.suite} · {story.task}{level}: {story.text}")
    return lines


def summary_lines(comparisons: list[Comparison], max_lines: int = 5) -> list[str]:
    """A few lines for a terminal (e.g. the end of ``demo``): per comparison, its evidence level and its first
    finding (the first headline metric of the first suite), at most ``max_lines``."""
    lines = []
    for comparison in comparisons[:max_lines]:
        level = (
            f"method level, {len(comparison.checkpoints)} vs {len(comparison.baseline_checkpoints)} seeds"
            if comparison.method_level
            else "one seed: these checkpoints, not the methods"
        )
        first = next((f for f in comparison.findings if f.role is None), None)
        what = finding_text(first) if first is not None else "no metric in common"
        lines.append(f"{comparison.configuration} vs {comparison.baseline} ({level}): {what}")
    return lines
