"""The findings section (first in every report) and the paper's numbers beside ours, both from the finding
records of `cyclip_bench.report.findings`."""

from __future__ import annotations

import pandas as pd

from cyclip_bench.report import paper, tables
from cyclip_bench.report.document import ReportContext, Section, slug
from cyclip_bench.report.findings import (
    MIN_SEEDS,
    Comparison,
    Outcome,
    compare,
    comparison_bullets,
    difference_text,
    interval_text,
    packaged_seed_reference,
    value_text,
)
from cyclip_bench.report.robustness import MIN_FIT_CHECKPOINTS
from cyclip_bench.results import reference_task

OUTCOME_ORDER = (Outcome.WIN, Outcome.LOSS, Outcome.DIFFERS, Outcome.SAME, Outcome.UNTESTED)


def findings_section(context: ReportContext, comparisons: list[Comparison]) -> Section:
    section = Section("Findings", "findings")
    if not comparisons:
        section.bullets.append("One configuration only: nothing to compare.")
        return section
    method = [c for c in comparisons if c.method_level]
    section.bullets.append(
        f"Each configuration against the baseline's ({comparisons[0].baseline}, holding {context.baseline}). "
        + (
            f"{len(method)} of {len(comparisons)} comparisons have ≥ {MIN_SEEDS} seeds on both sides and get "
            "method-level verdicts; "
            if method
            else f"No configuration has ≥ {MIN_SEEDS} seeds on both sides, so nothing below is a claim about a method: "
        )
        + "the rest compare single checkpoints on the test examples, which a second seed may not repeat."
    )
    section.bullets.append(
        "Effective robustness is refitted per shift set by the report: a logit-linear accuracy-on-the-line fit "
        f"needs ≥ {MIN_FIT_CHECKPOINTS} checkpoints per shift set; with fewer, the rows are the plain shift − "
        "in-distribution gap (metric shift_gap), since a fit through a few points says which shift set is hard, not "
        "which model is robust."
    )
    for comparison in comparisons:
        child = Section(
            f"{comparison.configuration} vs {comparison.baseline}",
            slug(f"findings-{comparison.configuration}-vs-{comparison.baseline}"),
        )
        child.bullets.extend(comparison_bullets(comparison))
        child.tables.append(("every finding", findings_table(comparison)))
        section.children.append(child)
    return section


def findings_table(comparison: Comparison) -> tables.Table:
    """One row per finding, better / worse first: values, difference, CI, test, verdict, evidence."""
    rows, index = [], []
    ordered = sorted(comparison.findings, key=lambda f: OUTCOME_ORDER.index(f.outcome))
    for f in ordered:
        rows.append(
            [
                f.outcome.value,
                value_text(f.baseline_value, f.unit),
                value_text(f.value, f.unit),
                difference_text(f.difference, f.unit),
                interval_text(f.ci, f.unit),
                f.test or "—",
                f.verdict,
                f.evidence.value,
            ]
        )
        index.append(f.label)
    base, other = comparison.baseline, comparison.configuration
    if not comparison.method_level:
        base, other = comparison.baseline_checkpoint, comparison.checkpoint
    columns = ["outcome", base, other, "difference", "95% CI", "test", "verdict", "evidence"]
    frame = pd.DataFrame(rows, index=index, columns=columns)
    notes = []
    if comparison.method_level:
        notes.append("Values: means over seeds. CI: Welch's 95% CI of the difference of the means.")
    else:
        notes.append(
            "Values: the two checkpoints. CI: paired bootstrap over the test examples — the uncertainty of these "
            "checkpoints' accuracy on this test set, not of the methods."
        )
    return tables.Table(frame, None, notes, index_name="suite · task · metric")


def paper_section(context: ReportContext, comparisons: list[Comparison]) -> Section | None:
    """The CyCLIP paper's published numbers in their own table, beside our change for every configuration,
    with whether the direction of the change agrees; None when no task has a paper number."""
    rows, index = [], []
    models = paper.paper_columns()
    for comparison in comparisons:
        for f in comparison.findings:
            ref = reference_task(context.results, f.suite, f.task)
            number = paper.lookup(ref.kind, ref.dataset, f.metric)
            if number is None or any(m not in number.values for m in models[:2]):
                continue
            first, second = (number.values[m] for m in models[:2])
            paper_change = second - first
            ours = f.difference * (100.0 if f.unit == "fraction" else 1.0)
            if paper_change == 0 or ours == 0:
                agrees = "—"
            else:
                agrees = "yes" if (paper_change > 0) == (ours > 0) else "no"
            rows.append(
                [
                    number.display_dataset + (" (analogue)" if number.analogue else ""),
                    f"{first:.2f}",
                    f"{second:.2f}",
                    f"{paper_change:+.2f}",
                    f"{comparison.configuration} − {comparison.baseline}",
                    difference_text(f.difference, f.unit),
                    interval_text(f.ci, f.unit),
                    agrees,
                    f.verdict,
                ]
            )
            index.append(f.label)
    if not rows:
        return None
    columns = [
        "paper dataset",
        f"{paper.PAPER_LABEL} {models[0]}",
        f"{paper.PAPER_LABEL} {models[1]}",
        "paper change",
        "ours",
        "our change",
        "our 95% CI",
        "direction agrees?",
        "our verdict",
    ]
    notes = [
        f"'{paper.PAPER_LABEL}': the published CyCLIP-paper numbers for a ResNet-50 trained on CC3M (percent). "
        "'(analogue)': a generated-world set that stands in for that dataset — compare the direction of the "
        f"change ({models[0]} → {models[1]}), never absolute values. 'direction agrees?' compares signs only; "
        "whether our change is established is the verdict's business.",
    ]
    section = Section("The paper beside us", "paper")
    section.tables.append(
        (
            "published numbers and our changes",
            tables.Table(pd.DataFrame(rows, index=index, columns=columns), None, notes, "suite · task · metric"),
        )
    )
    return section


def build_findings(context: ReportContext) -> list[Comparison]:
    return compare(context.results, context.baseline, context.n_boot, context.seed, packaged_seed_reference())
