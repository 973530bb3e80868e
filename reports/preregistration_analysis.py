"""The analysis fixed in reports/preregistration.md, run on the study's results folder; prints Markdown.

    python reports/preregistration_analysis.py runs/prereg/results [runs/prereg/compositional] > /tmp/prereg.md

Confirmatory: four one-sided paired t-tests (CyCLIP and I-CyCLIP against CLIP, seed s against seed s, on shapes
zero-shot top-1 and shapes consistency@1), Holm over the four at family-wise α = 0.05, each with its mean
difference, one-sided 95% lower bound, two-sided 95% CI, wins, raw and Holm p, and the power at the observed sd.
Exploratory (labelled so, no correction): every other measurement of the `world` suite per objective, mean ± sd
over seeds, and the paired difference from CLIP with its two-sided 95% t CI; with a second folder, the same for
the `world-compositional` suite's results (run on the same checkpoints after the study).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from cyclip_bench.results import load

BASELINE = "clip"
CONFIGURATIONS = {"cyclip": "CyCLIP", "i-cyclip": "I-CyCLIP"}
HYPOTHESES = [  # (configuration, task, metric, effect in pp), in the pre-registration's order
    ("cyclip", "shapes-zeroshot", "top1", 2.0),
    ("cyclip", "shapes-consistency", "consistency@1", 4.2),
    ("i-cyclip", "shapes-zeroshot", "top1", 2.0),
    ("i-cyclip", "shapes-consistency", "consistency@1", 4.2),
]
ALPHA = 0.05
POWER_ALPHA = ALPHA / len(HYPOTHESES)  # the level the seed count was planned at (Bonferroni, guarantees Holm)
# Exploratory measurements: (task, metric, scale) — scale 100 shows a fraction in percent.
EXPLORATORY = [
    ("shapes-zeroshot", "top1", 100),
    ("fine-zeroshot", "top1", 100),
    ("shapes-zeroshot", "ece", 100),
    ("shapes-zeroshot", "ece_temperature_scaled", 100),
    ("shapes-zeroshot", "nll", 1),
    ("shapes-zeroshot", "nll_temperature_scaled", 1),
    ("shapes-linear-probe", "top1", 100),
    ("retrieval", "image_to_text_R@1", 100),
    ("retrieval", "text_to_image_R@1", 100),
    ("shapes-consistency", "consistency@1", 100),
    ("fine-consistency", "consistency@1", 100),
    ("shapes-consistency", "inmodal_gap", 1),
    ("shapes-consistency", "crossmodal_gap", 1),
    ("shapes-consistency", "inmodal_gap_normalised", 1),
    ("shapes-consistency", "crossmodal_asymmetry_normalised", 1),
    ("shapes-consistency", "modality_gap", 1),
    ("shapes-consistency", "relative_modality_gap", 1),
    ("shapes-consistency", "l2i", 1),
    ("shapes-consistency", "mutual_knn@10", 1),
    ("shapes-consistency", "cknna@10", 1),
    ("shapes-consistency", "linear_cka", 1),
    ("shapes-consistency", "hubness_skew_image_to_text@10", 1),
    ("shapes-consistency", "hubness_skew_text_to_image@10", 1),
    ("shapes-consistency", "antihubs_image_to_text@10", 100),
    ("shapes-consistency", "antihubs_text_to_image@10", 100),
    ("shapes-consistency", "cone_image", 1),
    ("shapes-consistency", "cone_text", 1),
    ("shapes-consistency", "align_image_text", 1),
    ("shapes-consistency", "uniform_joint", 1),
]
COMPOSITIONAL = [  # the world-compositional suite's measurements (exploratory)
    ("compositional", "image_to_text_mean", 100),
    ("compositional", "image_to_text/replace_att", 100),
    ("compositional", "image_to_text/swap_att", 100),
    ("compositional", "image_to_text/replace_obj", 100),
    ("compositional", "image_to_text/swap_obj", 100),
    ("compositional", "text_score", 100),
    ("compositional", "image_score", 100),
    ("compositional", "group_score", 100),
    ("compositional", "disagreement", 100),
]
LABEL = re.compile(r"^(?P<objective>.+)-s(?P<seed>\d+)$")


@dataclass(frozen=True)
class Test:
    configuration: str
    task: str
    metric: str
    effect: float
    n: int
    mean: float
    sd: float
    lower_one_sided: float
    ci: tuple[float, float]
    wins: int
    p: float
    power_at_observed_sd: float
    p_holm: float = float("nan")


def _values(folder: Path, suite: str = "world") -> dict[str, dict[int, dict[tuple[str, str], float]]]:
    """objective → seed → (task, metric) → value, from every ``*__<suite>.json`` in ``folder``."""
    out: dict[str, dict[int, dict[tuple[str, str], float]]] = {}
    for path in sorted(folder.glob(f"*__{suite}.json")):
        result = load(path)
        match = LABEL.match(result.raw_label)
        if match is None:
            raise SystemExit(f"{path}: label {result.raw_label!r} is not <objective>-s<seed>")
        metrics = {(t.name, m): float(v) for t in result.tasks for m, v in t.metrics.items() if v is not None}
        out.setdefault(match["objective"], {})[int(match["seed"])] = metrics
    return out


def _paired(values, configuration: str, task: str, metric: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    seeds = sorted(values[BASELINE])
    if sorted(values[configuration]) != seeds:
        raise SystemExit(f"{configuration}: seeds {sorted(values[configuration])} differ from CLIP's {seeds}")
    x = np.array([values[configuration][s][(task, metric)] for s in seeds]) * scale
    base = np.array([values[BASELINE][s][(task, metric)] for s in seeds]) * scale
    return x, base


def _power(effect: float, sd: float, n: int, alpha: float) -> float:
    """One-sided paired t-test's power to detect ``effect`` at ``sd`` with ``n`` pairs (noncentral t)."""
    if sd == 0:
        return 1.0 if effect > 0 else 0.0
    df = n - 1
    critical = stats.t.ppf(1 - alpha, df)
    return float(stats.nct.sf(critical, df, effect / (sd / np.sqrt(n))))  # sf: cdf is nan far in the tail


def confirmatory(values) -> list[Test]:
    tests = []
    for configuration, task, metric, effect in HYPOTHESES:
        x, base = _paired(values, configuration, task, metric, 100)
        d = x - base
        n, mean, sd = len(d), float(d.mean()), float(d.std(ddof=1))
        se = sd / np.sqrt(n)
        p = float(stats.ttest_rel(x, base, alternative="greater").pvalue)
        half = stats.t.ppf(0.975, n - 1) * se
        tests.append(
            Test(
                configuration,
                task,
                metric,
                effect,
                n,
                mean,
                sd,
                mean - stats.t.ppf(0.95, n - 1) * se,
                (mean - half, mean + half),
                int((d > 0).sum()),
                p,
                _power(effect, sd, n, POWER_ALPHA),
            )
        )
    return _holm(tests)


def _holm(tests: list[Test]) -> list[Test]:
    """Holm–Bonferroni adjusted p-values (monotone step-down), in the tests' own order."""
    order = sorted(range(len(tests)), key=lambda i: tests[i].p)
    adjusted = [0.0] * len(tests)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(tests) - rank) * tests[i].p))
        adjusted[i] = running
    return [Test(**{**t.__dict__, "p_holm": a}) for t, a in zip(tests, adjusted, strict=True)]


def _verdict(test: Test) -> str:
    if test.p_holm < ALPHA:
        return "**supported**"
    if test.ci[1] < test.effect:
        return f"not supported (CI's upper end below the +{test.effect:.1f} pp the study was powered for)"
    return "not supported"


def _p(p: float) -> str:
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def confirmatory_table(tests: list[Test]) -> str:
    lines = [
        "| # | hypothesis | mean d (pp) | one-sided 95% lower bound | two-sided 95% CI | sd of d | wins | p | "
        "Holm p | power at observed sd | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, t in enumerate(tests, 1):
        lines.append(
            f"| {i} | {CONFIGURATIONS[t.configuration]} − CLIP, `{t.task}` {t.metric} > 0 | {t.mean:+.2f} | "
            f"{t.lower_one_sided:+.2f} | {t.ci[0]:+.2f} to {t.ci[1]:+.2f} | {t.sd:.2f} | {t.wins}/{t.n} | "
            f"{_p(t.p)} | {_p(t.p_holm)} | {100 * t.power_at_observed_sd:.0f}% (for +{t.effect:.1f} pp) | "
            f"{_verdict(t)} |"
        )
    return "\n".join(lines)


def exploratory_table(values, rows=EXPLORATORY) -> str:
    objectives = [BASELINE, *CONFIGURATIONS]
    head = "| task · metric | " + " | ".join(
        [f"{o} (mean ± sd)" for o in objectives] + [f"{o} − clip (95% CI)" for o in CONFIGURATIONS]
    )
    lines = [head + " |", "|" + "---|" * (1 + len(objectives) + len(CONFIGURATIONS))]
    for task, metric, scale in rows:
        if not all((task, metric) in values[o][s] for o in objectives for s in values[o]):
            continue
        cells = []
        for o in objectives:
            v = np.array([values[o][s][(task, metric)] for s in sorted(values[o])]) * scale
            cells.append(
                f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if scale == 1 else f"{v.mean():.1f} ± {v.std(ddof=1):.1f}"
            )
        for o in CONFIGURATIONS:
            x, base = _paired(values, o, task, metric, scale)
            d = x - base
            half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
            fmt = "{:+.3f}" if scale == 1 else "{:+.1f}"
            cells.append(f"{fmt.format(d.mean())} ({fmt.format(d.mean() - half)} to {fmt.format(d.mean() + half)})")
        unit = " (%)" if scale == 100 else ""
        lines.append(f"| {task} · {metric}{unit} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(folder: str, compositional: str | None = None) -> None:
    values = _values(Path(folder))
    missing = [o for o in (BASELINE, *CONFIGURATIONS) if o not in values]
    if missing:
        raise SystemExit(f"{folder}: no results for {', '.join(missing)}")
    counts = {o: len(v) for o, v in values.items()}
    print(f"results: {counts} (seeds {min(values[BASELINE])}–{max(values[BASELINE])})\n")
    print("## Confirmatory (as pre-registered)\n")
    print(confirmatory_table(confirmatory(values)))
    print("\n## Exploratory (not pre-registered; no correction)\n")
    print(exploratory_table(values))
    if compositional is not None:
        print("\n## Exploratory: compositional consistency (world-compositional)\n")
        print(exploratory_table(_values(Path(compositional), "world-compositional"), COMPOSITIONAL))


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
