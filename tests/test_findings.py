"""The findings generator (cyclip_bench/report/findings.py) on synthetic results with known answers: a clear
win, a clear loss, a null, a cone-only gap change; and its levels of evidence (method level only with ≥ 2 seeds
per configuration; one seed = these checkpoints, with the seed spread when known)."""

from __future__ import annotations

import json

import pytest

from cyclip_bench.report import build_report
from cyclip_bench.report.findings import (
    Evidence,
    Outcome,
    SeedReference,
    compare,
    comparison_bullets,
    finding_text,
    geometry_story,
    packaged_seed_reference,
)
from cyclip_bench.report.geometry import Role
from cyclip_bench.results import MetricInfo, Result, TaskResult

N = 200
PAIRS = {"dataset": "world-retrieval", "num_pairs": 500}
LABELS = [i % 10 for i in range(N)]

# Geometry of a CLIP-like and a CyCLIP-like space whose absolute gaps shrink only through a narrower cone.
CLIP_GEOMETRY = {
    "inmodal_gap": 0.23,
    "crossmodal_gap": 0.20,
    "inmodal_rank_correlation": 0.56,
    "inmodal_gap_normalised": 0.75,
    "cone_image": 0.13,
    "cone_text": 0.19,
    "mutual_knn": 0.30,  # a measure this module has never heard of (e.g. a newer task kind's declaration)
}
CONE_ONLY = {
    "inmodal_gap": 0.06,
    "crossmodal_gap": 0.056,
    "inmodal_rank_correlation": 0.47,  # worse
    "inmodal_gap_normalised": 0.70,  # a little better
    "cone_image": 0.72,
    "cone_text": 0.72,
    "mutual_knn": 0.31,
}
GEOMETRY_INFO = {
    "inmodal_gap": MetricInfo(False, "cosine"),
    "crossmodal_gap": MetricInfo(False, "cosine"),
    "inmodal_rank_correlation": MetricInfo(True, "rank correlation"),
    "inmodal_gap_normalised": MetricInfo(False, "similarity std"),
    "cone_image": MetricInfo(False, "cosine"),
    "cone_text": MetricInfo(False, "cosine"),
    "mutual_knn": MetricInfo(True, "fraction"),
}


def _hits(value: float) -> list[int]:
    hits = round(value * N)
    assert hits / N == pytest.approx(value)
    return [1] * hits + [0] * (N - hits)


def _accuracy(name: str, value: float) -> TaskResult:
    return TaskResult(
        name=name,
        kind="zeroshot",
        dataset=f"world-{name.split('-')[0]}",
        split="test",
        metrics={"top1": value},
        metric_info={"top1": MetricInfo(True, "fraction", "top1")},
        per_example={"top1": _hits(value), "label": list(LABELS)},
    )


def _consistency(name: str, geometry: dict[str, float], pairs: dict | None = PAIRS) -> TaskResult:
    return TaskResult(
        name=name,
        kind="consistency",
        dataset="world-shapes",
        split="test",
        metrics={"consistency@1": 0.5, **geometry},
        metric_info={"consistency@1": MetricInfo(True, "fraction", "consistency@1"), **GEOMETRY_INFO},
        per_example={"consistency@1": _hits(0.5), "label": list(LABELS)},
        extra={"pairs": dict(pairs)} if pairs else {},
    )


def _result(loss: str, seed: int, accuracies: dict[str, float], geometry: dict[str, float], **config) -> Result:
    tasks = [_accuracy(name, value) for name, value in accuracies.items()]
    tasks.append(_consistency("shapes-consistency", geometry))
    tasks.append(_consistency("fine-consistency", geometry))  # the same caption pairs: the same geometry
    label = f"{loss}-s{seed}"
    train_config = {"loss": loss, "seed": seed, "epochs": 8, "batch_size": 64, "name": label, **config}
    return Result(
        schema_version=1,
        suite={"name": "world", "version": 1},
        checkpoint={"label": label, "train_config": train_config},
        run={},
        tasks=tasks,
        label=label,
        raw_label=label,
    )


def _jitter(geometry: dict[str, float], seed: int) -> dict[str, float]:
    return {k: v * (1 + 0.01 * (seed - 1)) for k, v in geometry.items()}


def _three_seeds() -> list[Result]:
    """clip and cyclip × 3 seeds: cyclip clearly better on shapes, clearly worse on sketch, equal on hard, and a
    cone-only gap change."""
    clip = {
        "shapes-zeroshot": [0.50, 0.52, 0.54],
        "sketch-zeroshot": [0.80, 0.82, 0.84],
        "hard-zeroshot": [0.50, 0.60, 0.55],
    }
    cyclip = {
        "shapes-zeroshot": [0.70, 0.72, 0.74],
        "sketch-zeroshot": [0.60, 0.62, 0.64],
        "hard-zeroshot": [0.52, 0.58, 0.56],
    }
    results = []
    for loss, values, geometry in (("clip", clip, CLIP_GEOMETRY), ("cyclip", cyclip, CONE_ONLY)):
        for seed in range(3):
            accuracies = {name: v[seed] for name, v in values.items()}
            results.append(
                _result(loss, seed, accuracies, _jitter(geometry, seed), lambda_inmodal=0.25 * (loss == "cyclip"))
            )
    return results


@pytest.fixture(scope="module")
def method_comparison():
    (comparison,) = compare(_three_seeds(), "clip-s0", n_boot=500, seed=0)
    return comparison


def _finding(comparison, task: str, metric: str = "top1"):
    return next(f for f in comparison.findings if f.task == task and f.metric == metric)


def test_a_clear_win_a_clear_loss_and_a_null_at_method_level(method_comparison):
    c = method_comparison
    assert (c.configuration, c.baseline, c.method_level) == ("cyclip", "clip", True)
    win, loss, null = (_finding(c, t) for t in ("shapes-zeroshot", "sketch-zeroshot", "hard-zeroshot"))
    assert win.outcome is Outcome.WIN and win.verdict == "detected" and win.evidence is Evidence.METHOD
    assert win.difference == pytest.approx(0.20) and win.ci[0] > 0
    assert loss.outcome is Outcome.LOSS and loss.verdict == "detected" and loss.ci[1] < 0
    assert null.outcome is Outcome.SAME and null.ci[0] < 0 < null.ci[1]
    assert null.verdict in ("not detectable at this power", "not detected")
    bullets = comparison_bullets(c)
    assert bullets[0].startswith("Method level: 3 seeds of cyclip against 3 of clip")
    assert any(b.startswith("Better: world · shapes-zeroshot · top1: 52.00% → 72.00% (+20.00 pp") for b in bullets)
    assert any(b.startswith("Worse: world · sketch-zeroshot · top1") for b in bullets)
    assert any("Indistinguishable across seeds" in b and "hard-zeroshot" in b for b in bullets)
    assert "95% CI [+" in finding_text(win) and "detected, p = " in finding_text(win)


def test_the_cone_only_gap_change_is_told_as_such(method_comparison):
    (story,) = method_comparison.stories  # one story: fine-consistency shares shapes-consistency's pairs
    assert story.task == "shapes-consistency" and story.cone_explains
    assert "world-retrieval (500 pairs)" in story.caption_set
    assert "The absolute gaps shrink" in story.text and "the cone narrows" in story.text
    assert "the scale-free measures move little" in story.text and "1 of 2 the wrong way" in story.text
    assert "come largely from a narrower cone" in story.text
    # a measure it does not know is still reported (generic over the task's geometry metrics)
    assert "Other geometry measures: mutual_knn" in story.text
    roles = {f.metric: f.role for f in method_comparison.findings if f.task == "shapes-consistency"}
    assert roles["inmodal_gap"] is Role.ABSOLUTE_GAP and roles["cone_image"] is Role.CONE
    assert roles["inmodal_rank_correlation"] is Role.SCALE_FREE and roles["mutual_knn"] is Role.OTHER
    # the shared geometry is not repeated under fine-consistency
    assert not [f for f in method_comparison.findings if f.task == "fine-consistency" and f.role is not None]


def _geometry_findings(base: dict[str, float], other: dict[str, float]):
    results = [_result("clip", 0, {}, base), _result("cyclip", 0, {}, other, lambda_inmodal=0.25)]
    (comparison,) = compare(results, "clip-s0", n_boot=200)
    return [f for f in comparison.findings if f.role is not None]


def test_the_story_credits_the_spaces_when_the_scale_free_measures_move_too():
    better = dict(CONE_ONLY, inmodal_rank_correlation=0.80, inmodal_gap_normalised=0.30)
    text, cone_explains = geometry_story(_geometry_findings(CLIP_GEOMETRY, better))
    assert not cone_explains and "move the same way" in text and "beyond what the cone explains" in text


def test_no_story_without_a_gap_change():
    same = dict(CLIP_GEOMETRY, inmodal_gap=0.22, crossmodal_gap=0.21)
    assert geometry_story(_geometry_findings(CLIP_GEOMETRY, same)) == (None, False)


def test_one_seed_is_a_comparison_of_these_checkpoints_with_the_reference_spread():
    results = [
        _result("clip", 0, {"shapes-zeroshot": 0.55}, CLIP_GEOMETRY),
        _result("cyclip", 0, {"shapes-zeroshot": 0.75}, CONE_ONLY, lambda_inmodal=0.25),
    ]
    (c,) = compare(results, "clip-s0", n_boot=500, reference=packaged_seed_reference())
    assert not c.method_level and (c.checkpoint, c.baseline_checkpoint) == ("cyclip-s0", "clip-s0")
    zs = _finding(c, "shapes-zeroshot")
    assert zs.evidence is Evidence.CHECKPOINTS and zs.test == "McNemar exact"
    assert zs.verdict.startswith("these checkpoints differ (p ")
    # the project's reference run on the same suite: CLIP's seed sd on shapes zero-shot, 5 seeds
    assert zs.spread.sd == pytest.approx(0.0561) and zs.spread.n == 5 and "reference run" in zs.spread.source
    gaps = [f for f in c.findings if f.role is not None]
    assert gaps and all(f.evidence is Evidence.NONE and f.outcome is Outcome.UNTESTED for f in gaps)
    text = "\n".join(comparison_bullets(c))
    assert "Not a method comparison" in text and "says nothing about the methods" in text
    assert "seed sd 5.61 pp" in text and "Better for these checkpoints:" in text
    assert "detected" not in text  # the seed statistics' verdict words are for method-level claims only
    assert "no uncertainty" in text  # one value per checkpoint: the geometry story says so


def test_one_seed_spread_comes_from_the_report_own_seeds_first():
    results = [_result("clip", s, {"shapes-zeroshot": v}, CLIP_GEOMETRY) for s, v in ((0, 0.50), (1, 0.60))]
    results.append(_result("cyclip", 0, {"shapes-zeroshot": 0.56}, CONE_ONLY, lambda_inmodal=0.25))
    (c,) = compare(results, "clip-s0", n_boot=200, reference=packaged_seed_reference())
    zs = _finding(c, "shapes-zeroshot")
    assert not c.method_level and zs.evidence is Evidence.CHECKPOINTS
    assert zs.spread.n == 2 and zs.spread.sd == pytest.approx(0.0707, abs=1e-4) and "this report" in zs.spread.source
    assert "within what two seeds of one configuration differ by" in finding_text(zs)


def test_the_reference_spread_names_a_different_budget_and_another_suite_gets_none():
    reference = SeedReference("ref", "world", 5, {"epochs": 8}, {"shapes-zeroshot/top1": {"clip": 5.0}})
    assert (
        "epochs 8 there, 3 here" in reference.spread("world", "shapes-zeroshot", "top1", "clip", {"epochs": 3}).source
    )
    assert reference.spread("imagenet", "shapes-zeroshot", "top1", "clip", None) is None
    assert reference.spread("world", "shapes-zeroshot", "top1", "siglip", None) is None


def _write(folder, results: list[Result]) -> None:
    folder.mkdir()
    for res in results:
        doc = res.to_json()
        for task in doc["tasks"]:  # what eval writes beside each fraction
            task["counts"] = {
                m: {"hits": sum(task["per_example"][i["per_example"]]), "n": N}
                for m, i in task["metric_info"].items()
                if i["per_example"]
            }
        (folder / f"{res.label}__world.json").write_text(json.dumps(doc))


def test_the_report_opens_with_findings_and_no_method_claim_from_one_seed(tmp_path):
    results = [
        _result("clip", 0, {"shapes-zeroshot": 0.55}, CLIP_GEOMETRY),
        _result("cyclip", 0, {"shapes-zeroshot": 0.75}, CONE_ONLY, lambda_inmodal=0.25),
    ]
    _write(tmp_path / "results", results)
    paths = build_report([tmp_path / "results"], tmp_path / "out", n_boot=200)
    md = paths["markdown"].read_text()
    sections = [line for line in md.splitlines() if line.startswith("## ")]
    assert sections[0] == "## Findings"
    findings = md.split("## Findings")[1].split("\n## ")[0]
    assert "### cyclip vs clip" in findings and "Not a method comparison" in findings
    assert "seed sd 5.61 pp" in findings and "smaller absolute gaps come largely from a narrower cone" in findings
    assert " significant (" not in findings.replace("not significant (", "")
    html = paths["html"].read_text()
    assert html.index('id="findings"') < html.index('id="overview"')
    assert '<ul class="findings">' in html and "Not a method comparison" in html
    # the closing lines ``demo`` prints come with the report: no method claim from one seed
    assert not paths["method_level"]
    (line,) = paths["summary"]
    assert line.startswith("cyclip vs clip (one seed: these checkpoints, not the methods): ")


def test_the_report_gives_method_level_verdicts_with_seeds(tmp_path):
    _write(tmp_path / "results", _three_seeds())
    paths = build_report([tmp_path / "results"], tmp_path / "out", n_boot=200)
    assert paths["method_level"] and paths["summary"][0].startswith("cyclip vs clip (method level, 3 vs 3 seeds): ")
    md = paths["markdown"].read_text()
    findings = md.split("## Findings")[1].split("\n## ")[0]
    assert "Method level: 3 seeds of cyclip against 3 of clip" in findings
    row = next(line for line in findings.splitlines() if line.startswith("| world · shapes-zeroshot · top1 "))
    assert "| better |" in row and "| detected |" in row and "Welch" in row


def test_summary_lines_state_the_level_of_evidence(method_comparison):
    from cyclip_bench.report.findings import summary_lines

    (line,) = summary_lines([method_comparison])
    assert line.startswith("cyclip vs clip (method level, 3 vs 3 seeds): world · shapes-zeroshot · top1: 52.00%")
    one_seed = compare(
        [
            _result("clip", 0, {"shapes-zeroshot": 0.55}, CLIP_GEOMETRY),
            _result("cyclip", 0, {"shapes-zeroshot": 0.75}, CONE_ONLY, lambda_inmodal=0.25),
        ],
        "clip-s0",
        n_boot=200,
    )
    (line,) = summary_lines(one_seed)
    assert "(one seed: these checkpoints, not the methods)" in line and "these checkpoints differ" in line
