"""The one results model (cyclip_bench.results): metric declarations made by the task kinds, what a file without
metric_info reads as, save/load round trips in the compact layout, results.csv rows and the lookups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_inputs import minimal_result, minimal_task

import cyclip_bench.eval.tasks  # noqa: F401  registers the built-in kinds and their metric declarations
from cyclip_bench.errors import UserError
from cyclip_bench.eval.tasks import TASKS
from cyclip_bench.eval.tasks.consistency import CONSISTENCY_METRICS
from cyclip_bench.report.build import build_report
from cyclip_bench.results import (
    FALLBACK_INFO,
    MetricInfo,
    MetricSpec,
    MetricTable,
    compact_json,
    declared_metrics,
    find_task,
    load,
    load_all,
    save,
    suite_tasks,
)

# Every metric name the built-in kinds write (docs/contracts.md) → (higher_is_better, unit).
BUILTIN_METRICS = {
    "zeroshot": {"top1": (True, "fraction"), "top5": (True, "fraction"), "mean_per_class_recall": (True, "fraction")},
    "linear_probe": {"top1": (True, "fraction"), "mean_per_class_recall": (True, "fraction")},
    "retrieval": {"image_to_text_R@1": (True, "fraction"), "text_to_image_R@10": (True, "fraction")},
    "effective_robustness": {"world-sketch/effective_robustness": (True, "fraction")},
    "consistency": {
        "consistency@10": (True, "fraction"),
        "fine_top1": (True, "fraction"),
        "inmodal_gap": (False, "cosine"),
        "crossmodal_loss_per_pair": (False, "squared cosine"),
        "inmodal_rank_correlation": (True, "rank correlation"),
        "crossmodal_asymmetry_normalised": (False, "similarity std"),
        "modality_gap": (False, "distance"),
        "cone_text": (False, "cosine"),
        "align_image_text": (False, "squared distance"),
        "uniform_joint": (False, "log"),
    },
}


@pytest.mark.parametrize("kind", sorted(BUILTIN_METRICS))
def test_each_builtin_kind_declares_its_metrics(kind):
    table = TASKS.get(kind).metrics
    assert declared_metrics(kind) is table
    for metric, (higher, unit) in BUILTIN_METRICS[kind].items():
        assert table.info(metric, "x") == MetricInfo(higher, unit, "x"), metric


def test_an_undeclared_metric_is_refused_where_it_is_produced():
    with pytest.raises(KeyError, match="'top1' is not declared"):
        MetricTable(MetricSpec("count", True, "count")).info("top1")
    with pytest.raises(KeyError, match="not declared"):
        CONSISTENCY_METRICS.info("consistency_gap")


def test_an_alias_finds_the_kinds_declarations():
    assert declared_metrics("zero-shot") is TASKS.get("zeroshot").metrics
    assert declared_metrics("no-such-kind") is None


def _write(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def test_a_file_without_metric_info_reads_its_kinds_declarations(tmp_path):
    doc = minimal_result()
    task = minimal_task()
    task.update(kind="consistency", metrics={"inmodal_gap": 0.2, "inmodal_rank_correlation": 0.5}, per_example={})
    del task["metric_info"]
    doc["tasks"] = [task]
    loaded = load(_write(tmp_path / "a__s.json", doc)).tasks[0]
    assert loaded.metric_info["inmodal_gap"] == MetricInfo(False, "cosine", None)
    assert loaded.higher_is_better("inmodal_rank_correlation") is True
    assert loaded.unit("inmodal_rank_correlation") == "rank correlation"


def test_what_a_file_stores_wins_over_the_declaration(tmp_path):
    doc = minimal_result()
    doc["tasks"][0]["metric_info"]["top1"]["unit"] = "percent-ish"
    assert load(_write(tmp_path / "a__s.json", doc)).tasks[0].unit("top1") == "percent-ish"


def test_a_kind_nobody_declared_has_no_direction_and_no_best_cell(tmp_path):
    """No guessing from the name: 'accuracy_gap' of an unknown kind has no direction, so the report marks no
    best checkpoint and shows no arrow (a guess would have called it lower-is-better and a fraction)."""
    paths = []
    for label, value in (("a", 0.25), ("b", 0.75)):
        doc = minimal_result()
        doc["checkpoint"] = {"label": label, "sha256": label * 64}
        task = minimal_task()
        task.update(name="plugin", kind="plugin_kind", metrics={"accuracy_gap": value}, per_example={})
        del task["metric_info"]
        doc["tasks"] = [task]
        paths.append(_write(tmp_path / "results" / f"{label}__s.json", doc))
    loaded = load_all(paths)
    assert loaded[0].tasks[0].metric_info["accuracy_gap"] == FALLBACK_INFO
    md = build_report(paths, tmp_path / "report", n_boot=100)["markdown"].read_text()
    rows = [line for line in md.splitlines() if "accuracy\\_gap |" in line]  # findings, overview and task table
    assert len(rows) == 3, rows
    for row in rows:
        assert "↑" not in row and "↓" not in row and "**" not in row, row
        assert "| 0.25 | 0.75 |" in row  # plain values, not percentages


def test_save_then_load_round_trips_in_the_compact_layout(tmp_path):
    doc = minimal_result()
    doc["tasks"][0]["counts"] = {"top1": {"hits": 1, "n": 2}}
    first = load(_write(tmp_path / "in" / "a__s.json", doc))
    out = tmp_path / "out" / "a__s.json"
    out.parent.mkdir()
    save(out, first)
    assert out.read_text() == compact_json(doc)
    assert '"top1": [1,0]' in out.read_text()
    assert load(out).tasks == first.tasks
    assert [p.name for p in out.parent.iterdir()] == ["a__s.json"]  # no temp file left behind


def test_rows_and_lookups(tmp_path):
    docs = []
    for label in ("a", "b"):
        doc = minimal_result()
        doc["checkpoint"] = {"label": label, "sha256": label * 64}
        second = minimal_task()
        second["name"] = "y"
        doc["tasks"] = [second, minimal_task()] if label == "b" else [minimal_task()]
        docs.append(_write(tmp_path / f"{label}__s.json", doc))
    results = load_all(docs)
    assert results[1].to_rows() == [("b", "s", "y", "d", "top1", 0.5), ("b", "s", "z", "d", "top1", 0.5)]
    assert suite_tasks(results, "s") == ["z", "y"]
    assert find_task(results, "a", "s", "y") is None
    assert find_task(results, "b", "s", "y").name == "y"


def test_a_folders_files_are_read_with_their_numbers_in_value_order(tmp_path):
    """Seeds 2 and 10 read as 2, 10 (string order would put 10 first), so tables list seeds as a person counts them
    and the default baseline is the lowest seed; names that differ only in how a number is written keep an order."""
    names = ["clip-s10", "clip-s2", "clip-s1", "cyclip-s0", "clip-s01", "b", "a9b", "a10"]
    for i, label in enumerate(names):
        doc = minimal_result()
        doc["checkpoint"] = {"label": label, "sha256": f"{i:064x}"}
        _write(tmp_path / "results" / f"{label}__s.json", doc)
    loaded = load_all([tmp_path / "results"])
    assert [r.label for r in loaded] == ["a9b", "a10", "b", "clip-s01", "clip-s1", "clip-s2", "clip-s10", "cyclip-s0"]


def test_a_broken_link_in_a_results_folder_is_named_not_skipped(tmp_path):
    """A checkpoint's results must not drop out of a report unseen: a link to a file that is gone is one line."""
    folder = tmp_path / "results"
    _write(folder / "a__s.json", minimal_result())
    (folder / "b__s.json").symlink_to(tmp_path / "elsewhere" / "b__s.json")
    with pytest.raises(UserError, match=r"b__s\.json: a link to .*elsewhere/b__s\.json, which does not exist$"):
        load_all([folder])
