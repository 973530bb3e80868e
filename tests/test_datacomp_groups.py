"""The group metrics of DataComp's WILDS and fairness tasks from their webdataset copies' per-sample metadata
(``.npy`` beside each ``.cls``): the reader (cyclip_bench/data/wds.py), the column layouts and groupings
(cyclip_bench/metrics/fairness.py), the zero-shot task's worst-group main metrics against hand-computed values,
iWildCam's macro-F1 as the main metric of ``eval --dataset iwildcam``, the fixture writers, WinoGAViL by
``--dataset`` and ``data fixture --suite datacomp``."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from cli_runner import cli

from cyclip_bench.data.wds import WdsSample, load_wds, synthetic_wds_samples, write_wds_fixture
from cyclip_bench.errors import DataError, UserError
from cyclip_bench.eval.dataset_suite import dataset_suite
from cyclip_bench.eval.suite import TaskSpec
from cyclip_bench.eval.tasks.zeroshot import ZeroShot
from cyclip_bench.metrics.fairness import FMOW_OTHER_REGION, SAMPLE_METADATA

CLASSES = ["cat", "dog", "owl"]


# --- column layouts -------------------------------------------------------------------------------------------
def test_the_column_layouts_are_datacomps() -> None:
    assert SAMPLE_METADATA["fmow"].fields == ("region", "year", "y")
    assert SAMPLE_METADATA["dollar_street"].fields == ("income_ds", "income_meta", "region")
    assert SAMPLE_METADATA["geode"].fields == ("region", "country")
    assert SAMPLE_METADATA["iwildcam"].fields[0] == "location" and len(SAMPLE_METADATA["iwildcam"].fields) == 9
    assert SAMPLE_METADATA["dollar_street"].group_by == "income_ds" and SAMPLE_METADATA["iwildcam"].group_by is None


def test_group_ids_take_the_group_column_and_leave_fmows_other_region_out() -> None:
    rows = np.array([[0, 9, 1], [FMOW_OTHER_REGION, 9, 2], [3, 10, 0]])
    assert SAMPLE_METADATA["fmow"].group_ids(rows).tolist() == [0, -1, 3]
    assert SAMPLE_METADATA["geode"].group_ids(np.array([[4, 7], [5, 1]])).tolist() == [4, 5]  # no region left out
    assert SAMPLE_METADATA["dollar_street"].group_ids(np.array([[2, 0, 5]])).tolist() == [2]
    with pytest.raises(ValueError, match=r"3 values \(region, year, y\), got shape \(1, 2\)"):
        SAMPLE_METADATA["fmow"].group_ids(np.array([[0, 1]]))
    with pytest.raises(ValueError, match="value -1 is negative"):
        SAMPLE_METADATA["geode"].group_ids(np.array([[-1, 0]]))
    with pytest.raises(ValueError, match="no group field"):
        SAMPLE_METADATA["iwildcam"].group_ids(np.zeros((1, 9)))


# --- the reader ---------------------------------------------------------------------------------------------------
def _samples(rows: list[np.ndarray | None], labels: list[int]) -> list[WdsSample]:
    images = synthetic_wds_samples("classification", len(labels))
    return [
        WdsSample(s.image, label=label, extra={} if row is None else {"npy": row})
        for s, row, label in zip(images, rows, labels, strict=True)
    ]


def _copy(root: Path, rows: list[np.ndarray | None], labels: list[int], per_shard: int = 2) -> Path:
    write_wds_fixture(root, "classification", CLASSES, ["a {c}."], per_shard, {"test": _samples(rows, labels)})
    return root


def test_the_reader_keeps_each_samples_metadata_row_across_shards(tmp_path: Path) -> None:
    rows = [np.array([i % 3, 2010 + i, i % 2], dtype=np.int64) for i in range(5)]
    data = load_wds(_copy(tmp_path / "fmow", rows, [0, 1, 2, 0, 1]), "test")
    assert data.sample_metadata.dtype == np.int64 and data.sample_metadata.tolist() == [r.tolist() for r in rows]
    assert data.labels == [0, 1, 2, 0, 1] and len(data.images.index.shards) == 3
    plain = load_wds(_copy(tmp_path / "plain", [None] * 3, [0, 1, 2]), "test")
    assert plain.sample_metadata is None
    # Whole-number floats are ids; the metadata changes the fingerprint.
    floats = load_wds(_copy(tmp_path / "floats", [r.astype(np.float32) for r in rows], [0, 1, 2, 0, 1]), "test")
    assert floats.sample_metadata.tolist() == data.sample_metadata.tolist()
    other = load_wds(_copy(tmp_path / "other", [r + 1 for r in rows], [0, 1, 2, 0, 1]), "test")
    assert other.fingerprint() != data.fingerprint()


def test_bad_metadata_is_one_line_naming_the_shard_and_sample(tmp_path: Path) -> None:
    def refused(name: str, rows: list, needle: str) -> None:
        root = _copy(tmp_path / name, rows, [0] * len(rows))
        with pytest.raises(DataError) as err:
            load_wds(root, "test")
        message = str(err.value)
        assert "\n" not in message and str(root / "test") in message and needle in message, message

    ok = np.array([1, 2, 3])
    refused("mixed", [ok, None, ok], "'s0000001': no .npy metadata member, but other samples")
    refused("width", [ok, np.array([1, 2])], "has 2 values, but the first sample's has 3")
    refused("fraction", [ok, np.array([1.5, 2.0, 3.0])], "expected whole numbers")
    refused("matrix", [np.ones((2, 2), dtype=np.int64)], "1-d numeric vector")
    evil = np.empty(2, dtype=object)
    evil[:] = ["a", 1]
    refused("pickle", [ok, evil], "pickled objects, refused")


# --- the zero-shot task's group metrics -----------------------------------------------------------------------------
def _run(dataset_name: str, logits: torch.Tensor, labels: list[int], rows: np.ndarray | None, **options):
    meta = SimpleNamespace(classes=[f"c{i}" for i in range(logits.shape[1])], templates=["{}"], main_metric=None)
    dataset = SimpleNamespace(labels=labels, metadata=meta, sample_metadata=rows)
    ctx = SimpleNamespace(
        labelled=lambda ref, split: dataset,
        zeroshot_head=lambda m, label: torch.eye(logits.shape[1]),
        image_features=lambda ref, split: logits,
        labels=lambda ref, split: torch.tensor(labels),
    )
    spec = TaskSpec(name="t", kind="zeroshot", dataset=dataset_name, options=options)
    return ZeroShot(spec).run(ctx)


def _one_hot(predictions: list[int], n: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(predictions), n).float()


def test_fmow_worst_region_accuracy_leaves_other_out() -> None:
    # region 0: 2/3 right; region 1: 1/2; region 5 ("Other"): 0/2 — left out, so the worst region is 1 at 1/2.
    labels = [0, 1, 2, 0, 1, 2, 0]
    preds = [0, 1, 0, 0, 0, 1, 1]
    regions = [0, 0, 0, 1, 1, 5, 5]
    rows = np.array([[r, 14, y] for r, y in zip(regions, labels, strict=True)])
    result = _run("fmow", _one_hot(preds, 3), labels, rows, main_metric="worst_group_top1")
    assert result.metrics["worst_group_top1"] == 0.5
    assert result.extra["main_metric"] == "worst_group_top1" and "main_metric_missing" not in result.extra
    groups = result.extra["groups"]
    assert groups["by"] == "region" and groups["excluded"] == [FMOW_OTHER_REGION]
    assert groups["counts"] == {"0": 3, "1": 2} and groups["top1"] == {"0": 2 / 3, "1": 0.5}
    assert result.per_example["group"] == [0, 0, 0, 1, 1, -1, -1]


def test_dollar_street_worst_income_group_top5() -> None:
    # 8 classes; logits rank the classes 0 > 1 > ... > 7 for every image, so top-5 holds labels 0..4.
    labels = [0, 4, 5, 7, 1, 6]
    incomes = [0, 0, 0, 1, 1, 2]  # income 0: 2/3 in the top 5; income 1: 1/2; income 2: 0/1
    logits = torch.arange(8, 0, -1, dtype=torch.float).repeat(len(labels), 1)
    rows = np.array([[g, 100 * g, 3] for g in incomes])
    result = _run("fairness/dollar_street", logits, labels, rows)  # the dataset's own main metric
    assert result.extra["main_metric"] == "worst_group_top5" and result.metrics["worst_group_top5"] == 0.0
    assert result.extra["groups"]["top5"] == {"0": 2 / 3, "1": 0.5, "2": 0.0}
    assert result.metrics["top5"] == pytest.approx(3 / 6)


def test_geode_worst_region_top1_and_without_metadata_the_stand_in() -> None:
    labels = [0, 1, 2, 0, 1, 2]
    preds = [0, 1, 2, 1, 1, 0]  # region 0 (first three): 1; region 1: 1/3
    rows = np.array([[0, 4], [0, 4], [0, 9], [1, 2], [1, 2], [1, 3]])
    result = _run("geode", _one_hot(preds, 3), labels, rows)
    assert result.extra["main_metric"] == "worst_group_top1" and result.metrics["worst_group_top1"] == 1 / 3
    stand_in = _run("geode", _one_hot(preds, 3), labels, None)
    assert stand_in.extra["main_metric"] == "top1" and "worst_group_top1" not in stand_in.metrics
    assert "needs the group of each example" in stand_in.extra["main_metric_missing"]
    with pytest.raises(DataError, match=r"per-sample metadata \(.npy, columns region, country\).*2 values"):
        _run("geode", _one_hot(preds, 3), labels, rows[:, :1].repeat(3, axis=1))


def test_iwildcam_reports_macro_f1_as_its_main_metric() -> None:
    # classes 0, 1, 2 are labels: F1 = 2/3 (tp 1, fp 0, fn 1), 4/5 (tp 2, fp 1, fn 0), 0 (tp 0, fp 0, fn 2); class 3
    # only predicted, never a label: left out (WILDS passes labels=unique(y_true)).
    labels = [0, 0, 1, 1, 2, 2]
    preds = [0, 1, 1, 1, 3, 3]
    rows = np.zeros((6, 9), dtype=np.int64)
    result = _run("iwildcam", _one_hot(preds, 4), labels, rows)
    assert result.extra["main_metric"] == "macro_f1" and "groups" not in result.extra
    assert result.metrics["macro_f1"] == pytest.approx((2 / 3 + 4 / 5 + 0) / 3)


def test_eval_dataset_iwildcam_and_winogavil_suite() -> None:
    suite = dataset_suite(["iwildcam", "winogavil"])
    assert [(t.name, t.kind, t.dataset) for t in suite.tasks] == [
        ("iwildcam-zeroshot", "zeroshot", "iwildcam"),
        ("winogavil-association", "association", "winogavil"),
    ]
    assert [t.kind for t in dataset_suite(["winogavil"], ["zeroshot"]).tasks] == ["association"]
    with pytest.raises(UserError, match="Did you mean 'winogavil'"):
        dataset_suite(["winogavl"])


# --- fixtures and the CLI -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_eval_dataset_iwildcam_fmow_winogavil_on_data_fixture(tmp_path: Path, same_label_checkpoints: dict) -> None:
    """``data fixture`` writes the copies with their metadata and WinoGAViL; ``eval --dataset`` reports
    iWildCam's macro-F1 and FMoW's worst region as main metrics, and runs the association task."""
    root = tmp_path / "root"
    names = ("iwildcam", "fmow", "winogavil")
    written = cli("data", "fixture", str(root), "--layout", "wds", "--per-class", "1", *(f"-d{n}" for n in names))
    assert written.returncode == 0, written.stderr
    fmow = load_wds(root / "wds_wilds-fmow", "test")
    assert fmow.sample_metadata.shape == (62, 3) and set(fmow.sample_metadata[:, 0]) == set(range(6))
    assert fmow.sample_metadata[:, 2].tolist() == fmow.labels  # y is the label
    assert (root / "winogavil" / "winogavil_dataset.csv").is_file()
    out = tmp_path / "out"
    ckpt = f"m={same_label_checkpoints['exp1']}"
    args = ["eval", "--workers", "0", "-q", "--no-cache", "-c", ckpt, *(f"--dataset={n}" for n in names)]
    result = cli(*args, "--data-root", str(root), "--out", str(out))
    assert result.returncode == 0, result.stderr
    (path,) = out.glob("m__*.json")
    tasks = {t["name"]: t for t in json.loads(path.read_text())["tasks"]}
    iwildcam = tasks["iwildcam-zeroshot"]
    assert iwildcam["extra"]["main_metric"] == "macro_f1" and iwildcam["metrics"]["macro_f1"] is not None
    fmow_task = tasks["fmow-zeroshot"]
    assert fmow_task["extra"]["main_metric"] == "worst_group_top1" and "main_metric_missing" not in fmow_task["extra"]
    assert set(fmow_task["extra"]["groups"]["counts"]) == {"0", "1", "2", "3", "4"}  # "Other" (5) left out
    assert tasks["winogavil-association"]["metrics"]["jaccard_10-12"] is not None


def test_data_fixture_suite_datacomp_names_winogavil(tmp_path: Path) -> None:
    from cyclip_bench.data.fixture_config import FixtureConfig, suite_fixture_flags
    from cyclip_bench.eval import suite_datasets

    flags = suite_fixture_flags("datacomp", suite_datasets("datacomp"), None, None)
    assert "winogavil" in flags["datasets"] and {"fmow", "geode", "imagenet1k", "mscoco"} <= set(flags["datasets"])
    FixtureConfig(out=str(tmp_path / "x"), **flags)  # every name is one the fixture writes


def test_winogavil_fixture_has_both_candidate_groups(tmp_path: Path) -> None:
    from cyclip_bench.data.fixture_benchmarks import Sizes, write_winogavil
    from cyclip_bench.data.winogavil import build_winogavil

    entry, images = write_winogavil(tmp_path, Sizes(per_class=2, image_size=24))
    data = build_winogavil("winogavil", tmp_path)
    sizes = [len(i.candidates) for i in data.instances]
    assert entry["test"] == len(data.instances) == 8 and sorted(set(sizes)) == [5, 6, 10, 12]
    assert images == len(data.image_files) and all(2 <= sum(i.truth) <= 3 for i in data.instances)


# --- the report ----------------------------------------------------------------------------------------------------
def test_report_notes_say_what_a_task_skipped_and_for_whom() -> None:
    from cyclip_bench.report.sections.suite import skipped_notes
    from cyclip_bench.results import Result, TaskResult

    def result(label: str, extra: dict) -> Result:
        task = TaskResult("food-consistency", "consistency", "food101", "test", {}, {}, extra=extra)
        return Result(1, {"name": "s"}, {}, {}, [task], label=label)

    no_train = "consistency@k: no 'train' split of food101 under the data root (a test-only copy)"
    gap = "gap metrics: no 'pairs' dataset given"
    results = [
        result("a", {"skipped_consistency": no_train, "skipped": gap}),
        result("b", {"skipped": gap}),
    ]
    labels = ["a", "b"]
    assert skipped_notes(results, "s", "food-consistency", labels) == [f"Skipped (a): {no_train}.", f"Skipped: {gap}."]
    assert skipped_notes(results, "s", "food-consistency", labels, ("skipped_consistency",)) == [
        f"Skipped (a): {no_train}."
    ]
    assert skipped_notes(results, "s", "other-task", labels) == []
