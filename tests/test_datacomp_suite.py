"""The built-in suites datacomp, vtab and clip-table (suites/*.toml), DataComp's aggregate as a suite-level result
(cyclip_bench/eval/tasks/aggregate.py), WinoGAViL's association task (cyclip_bench/eval/tasks/association.py over
cyclip_bench/data/winogavil.py), the worst-group stand-in, and ``eval --suite datacomp`` end to end through the CLI
on tiny webdataset copies of all 38 tasks (DataComp's test-only ``wds_<key>_test`` folders)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from cli_runner import cli

from cyclip_bench.data.metadata import dataset_main_metric
from cyclip_bench.data.winogavil import build_winogavil, write_winogavil_fixture
from cyclip_bench.errors import ConfigError, DataError, UserError
from cyclip_bench.eval import load_suite, load_tasks
from cyclip_bench.eval.suite import TaskSpec
from cyclip_bench.eval.tasks.aggregate import aggregate
from cyclip_bench.eval.tasks.association import Association, cue_prompt
from cyclip_bench.eval.tasks.zeroshot import ZeroShot
from cyclip_bench.results import TaskResult

# DataComp's 38 keys (tasklist.yml less FairFace and UTKFace) and aggregate_scores.py's groups.
SHIFTS = ["imagenet_sketch", "imagenetv2", "imagenet-a", "imagenet-o", "imagenet-r", "objectnet"]
VTAB = [
    *(f"vtab/{n}" for n in ("caltech101", "cifar100", "clevr_count_all", "clevr_closest_object_distance", "dtd")),
    *(f"vtab/{n}" for n in ("eurosat", "kitti_closest_vehicle_distance", "flowers", "pets", "pcam", "resisc45")),
    "vtab/svhn",
    "sun397",
]
RETRIEVAL = [
    "retrieval/flickr_1k_test_image_text_retrieval",
    "retrieval/mscoco_2014_5k_test_image_text_retrieval",
    "misc/winogavil",
]
OTHERS = [
    "imagenet1k", "cifar10", "country211", "fgvc_aircraft", "food101", "gtsrb", "mnist", "voc2007", "renderedsst2",
    "cars", "stl10", "wilds/iwildcam", "wilds/camelyon17", "wilds/fmow", "fairness/dollar_street", "fairness/geode",
]  # fmt: skip
DATACOMP_KEYS = sorted([*SHIFTS, *VTAB, *RETRIEVAL, *OTHERS])


def test_the_38_keys() -> None:
    assert len(DATACOMP_KEYS) == len(set(DATACOMP_KEYS)) == 38


# --- the aggregate on hand-made numbers -------------------------------------------------------------------------
def _zs(name: str, value: float | None, main: str = "top1", **extra) -> TaskResult:
    return TaskResult(name, "zeroshot", name, "test", {main: value}, {}, extra={"main_metric": main, **extra})


JAC = "jaccard_10-12"


def test_aggregate_of_known_numbers() -> None:
    tasks = {
        "in": _zs("in", 0.5),
        "s1": _zs("s1", 0.2),
        "s2": _zs("s2", 0.4, "mean_per_class_recall"),
        "r": TaskResult("r", "retrieval", "r", "test", {"image_to_text_R@1": 0.3, "text_to_image_R@1": 0.1}, {}),
        "w": TaskResult("w", "association", "w", "test", {"jaccard_10-12": 0.6}, {}, extra={"main_metric": JAC}),
        "g": _zs("g", 0.9, "top5", main_metric_missing="worst_group_top5 needs the group of each example"),
    }  # fmt: skip
    groups = {"average": ("in", "s1", "s2", "r", "w", "g"), "imagenet": ("in",), "shifts": ("s1", "s2"),
              "retrieval": ("r", "w")}  # fmt: skip
    metrics, extra = aggregate(tasks, groups)
    assert metrics["imagenet"] == 0.5
    assert metrics["shifts"] == pytest.approx(0.3)
    assert metrics["retrieval"] == pytest.approx((0.2 + 0.6) / 2)  # mean_recall@1 = (0.3 + 0.1) / 2
    assert metrics["average"] == pytest.approx((0.5 + 0.2 + 0.4 + 0.2 + 0.6 + 0.9) / 6)
    assert extra["main_metrics"]["r"] == {"metric": "mean_R@1", "value": pytest.approx(0.2)}
    assert extra["missing"] == {} and list(extra["stand_ins"]) == ["g"]

    # A task that did not run, or a main metric without a value: its groups are missing, never means of fewer.
    del tasks["s1"]
    tasks["w"].metrics["jaccard_10-12"] = float("nan")
    metrics, extra = aggregate(tasks, groups)
    assert metrics["imagenet"] == 0.5
    assert metrics["shifts"] is None and metrics["retrieval"] is None and metrics["average"] is None
    assert extra["missing"]["shifts"] == {"s1": "did not run"}
    assert extra["missing"]["average"] == {"s1": "did not run", "w": "its main metric jaccard_10-12 has no value"}


def _suite_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\nversion = 1\n' + body)
    return str(path)


def test_aggregate_references_are_checked(tmp_path: Path) -> None:
    task = '[[tasks]]\nname = "z"\nkind = "zeroshot"\ndataset = "cifar10"\n'
    agg = '[[tasks]]\nname = "a"\nkind = "datacomp_aggregate"\n[tasks.options]\nimagenet = "{i}"\n' + "".join(
        f'{g} = ["z"]\n' for g in ("imagenet_dist_shifts", "vtab", "retrieval")
    )
    with pytest.raises(UserError, match="has no task 'y'"):
        load_tasks(_suite_file(tmp_path, task + agg.format(i="y") + 'average = ["z"]\n'))
    with pytest.raises(ConfigError, match="'average' names no task"):
        load_tasks(_suite_file(tmp_path, task + agg.format(i="z")))
    with pytest.raises(ConfigError, match="must come before it"):
        load_tasks(_suite_file(tmp_path, agg.format(i="z") + 'average = ["z"]\n' + task))


# --- the suites as data -----------------------------------------------------------------------------------------
def test_datacomp_suite_has_the_38_tasks_with_datacomps_main_metrics() -> None:
    suite = load_suite("datacomp")
    by_kind: dict[str, list] = {}
    for task in suite.tasks:
        by_kind.setdefault(task.kind, []).append(task)
    benchmark = [t for t in suite.tasks if t.kind in ("zeroshot", "retrieval", "association")]
    assert sorted(t.name for t in benchmark) == DATACOMP_KEYS
    for task in by_kind["zeroshot"]:  # the suite states each main metric; it is the dataset's own
        assert task.options["main_metric"] == dataset_main_metric(task.dataset), task.name
    mains = {t.name: t.options["main_metric"] for t in by_kind["zeroshot"]}
    assert {k for k, m in mains.items() if m == "mean_per_class_recall"} == {
        "vtab/caltech101", "fgvc_aircraft", "vtab/flowers", "vtab/pets",
    }  # fmt: skip
    assert mains["wilds/iwildcam"] == "macro_f1" and mains["wilds/fmow"] == "worst_group_top1"
    assert mains["fairness/dollar_street"] == "worst_group_top5" and mains["fairness/geode"] == "worst_group_top1"
    assert {t.dataset for t in by_kind["geometry"]} == {"flickr30k", "mscoco"}
    assert all(t.options["skip_without_train"] for t in by_kind["consistency"]) and len(by_kind["consistency"]) > 20
    (agg,) = by_kind["datacomp_aggregate"]
    opts = agg.options
    assert opts["imagenet"] == "imagenet1k" and sorted(opts["average"]) == DATACOMP_KEYS
    assert sorted(opts["imagenet_dist_shifts"]) == sorted(SHIFTS) and sorted(opts["vtab"]) == sorted(VTAB)
    assert sorted(opts["retrieval"]) == sorted(RETRIEVAL)


def test_vtab_and_clip_table_suites() -> None:
    vtab = load_suite("vtab")
    zeroshot = [t for t in vtab.tasks if t.kind == "zeroshot"]
    assert len(zeroshot) == 36 and {"vtab/dsprites_label_x_position", "voc2007_multilabel"} <= {
        t.name for t in zeroshot
    }
    clip = load_suite("clip-table")
    zeroshot = {t.name: t for t in clip.tasks if t.kind == "zeroshot"}
    assert len(zeroshot) == 23 and zeroshot["voc2007_multilabel"].options["main_metric"] == "map_11point"
    for suite in (vtab, clip):
        for task in suite.tasks:
            if task.kind == "zeroshot":
                assert task.options["main_metric"] == dataset_main_metric(task.dataset), task.name
        assert {t.kind for t in suite.tasks} == {"zeroshot", "consistency"}
        load_tasks(suite)


def test_cli_suites_lists_datacomp_with_its_38_tasks() -> None:
    result = cli("suites")
    assert result.returncode == 0, result.stderr
    tasks: dict[str, list[str]] = {}  # suite → its task names, wrapped cells joined
    suite = ""
    for line in result.stdout.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) < 6:
            continue
        suite = cells[1] or suite
        if cells[4]:
            tasks.setdefault(suite, []).append(cells[3])
        elif cells[3]:  # the rest of a wrapped task name
            tasks[suite][-1] += cells[3]
    assert sorted(t for t in tasks["datacomp"] if t in DATACOMP_KEYS) == DATACOMP_KEYS
    assert len(tasks["datacomp"]) == len(load_suite("datacomp").tasks)
    assert "vtab" in result.stdout and "clip-table" in result.stdout


def test_zeroshot_main_metric_option_is_checked() -> None:
    spec = TaskSpec(name="z", kind="zeroshot", dataset="cifar10", options={"main_metric": "top_1"})
    with pytest.raises(ConfigError, match="main_metric 'top_1' is not a known metric. Did you mean 'top1'"):
        ZeroShot(spec)


def test_worst_group_metric_without_groups_stands_in_with_top_k() -> None:
    """DataComp's Dollar Street main metric is worst-group top-5 by income; a copy without the income of each
    example gets top-5, and the result says so."""
    meta = SimpleNamespace(classes=list("abcdef"), templates=["{}"], main_metric=None, superclasses=None)
    dataset = SimpleNamespace(labels=[0, 1, 2, 3, 4, 5], metadata=meta)
    logits = torch.eye(6)
    ctx = SimpleNamespace(
        labelled=lambda ref, split: dataset,
        zeroshot_head=lambda m, label: torch.eye(6),
        image_features=lambda ref, split: logits,
        labels=lambda ref, split: torch.arange(6),
    )
    result = ZeroShot(TaskSpec(name="d", kind="zeroshot", dataset="dollar_street")).run(ctx)
    assert result.extra["main_metric"] == "top5" and result.extra["main_metric_wanted"] == "worst_group_top5"
    assert "needs the group of each example" in result.extra["main_metric_missing"]
    assert result.metrics["top5"] == 1.0 and "worst_group_top5" not in result.metrics


# --- WinoGAViL ----------------------------------------------------------------------------------------------------
def test_association_jaccard_of_known_picks(tmp_path: Path) -> None:
    ten = [f"c{i}" for i in range(10)]
    folder = write_winogavil_fixture(
        tmp_path / "winogavil",
        [("apple", ten, ["c0", "c1", "c2"]), ("moon", ["c0", "c1", "c2", "c3", "c4"], ["c3", "c4"])],
    )
    data = build_winogavil("winogavil", tmp_path)
    assert len(data.instances) == 2 and len(data.image_files) == 10 and data.instances[1].truth[3]
    assert cue_prompt("Apple") == "An apple" and cue_prompt("moon") == "A moon"
    # 1-d features: image i scores i against every cue; the cue picks the k highest-numbered candidates.
    images = torch.arange(10, dtype=torch.float).unsqueeze(1) + 1
    ctx = SimpleNamespace(
        dataset=lambda need: data,
        need_image_features=lambda need: torch.cat([images, torch.ones(10, 1)], dim=1),
        text_features=lambda texts, what: torch.tensor([[1.0, 0.0]] * len(texts)),
    )
    result = Association(TaskSpec(name="w", kind="association", dataset="winogavil")).run(ctx)
    # apple: picks c7, c8, c9 against c0, c1, c2 → 0; moon: picks c3, c4 (the two highest) → 1
    assert result.per_example["jaccard"] == [0.0, 1.0]
    assert result.metrics["jaccard_10-12"] == 0.0 and result.metrics["jaccard_5-6"] == 1.0
    assert result.metrics["jaccard_mean"] == 0.5 and result.extra["main_metric"] == "jaccard_10-12"
    assert result.metric_info["jaccard_10-12"].higher_is_better is True

    (folder / "winogavil_images" / "c4.jpg").unlink()
    with pytest.raises(DataError, match=r"winogavil_dataset.csv: row 2: image .*c4.jpg not found"):
        build_winogavil("winogavil", tmp_path)


# --- eval --suite datacomp end to end ------------------------------------------------------------------------------
CLASSES = ["red circle", "blue square", "green star"]


@pytest.fixture(scope="module")
def datacomp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every DataComp task as its test-only copy ``wds_<key, / → ->_test`` (3 classes, 4 images, 2 shards; the
    WILDS and fairness sets with their per-sample metadata .npy), CIFAR-10 also with a train split (so one
    consistency@k runs), and WinoGAViL in its released layout."""
    from dataclasses import replace

    from cyclip_bench.data.fixture_benchmarks import sample_metadata_row
    from cyclip_bench.data.metadata import metadata_key
    from cyclip_bench.data.wds import synthetic_wds_samples, write_wds_fixture

    pytest.importorskip("webdataset")
    root = tmp_path_factory.mktemp("datacomp") / "root"
    for i, key in enumerate(DATACOMP_KEYS):
        folder = root / f"wds_{key.replace('/', '-')}_test"
        if key == "misc/winogavil":
            continue
        if key.startswith("retrieval/"):
            write_wds_fixture(folder, "retrieval", [], [], 2, {"test": synthetic_wds_samples("retrieval", 4, seed=i)})
            continue
        test = synthetic_wds_samples("classification", 4, 3, seed=i)
        rows = [sample_metadata_row(metadata_key(key), j, s.label) for j, s in enumerate(test)]
        if rows[0] is not None:
            test = [replace(s, extra={"npy": row}) for s, row in zip(test, rows, strict=True)]
        splits = {"test": test}
        if key == "cifar10":
            splits["train"] = synthetic_wds_samples("classification", 6, 3, seed=100)
        write_wds_fixture(folder, "classification", CLASSES, ["a photo of a {c}."], 2, splits)
    write_winogavil_fixture(root / "winogavil", [("fire", [f"c{i}" for i in range(10)], ["c1", "c2"])])
    return root


@pytest.mark.slow
def test_eval_suite_datacomp_end_to_end(datacomp_root: Path, same_label_checkpoints: dict, tmp_path: Path) -> None:
    ckpt = f"m={same_label_checkpoints['exp1']}"
    out = tmp_path / "out"
    args = ["eval", "--workers", "0", "-q", "--no-cache", "-c", ckpt, "--suite", "datacomp"]
    result = cli(*args, "--data-root", str(datacomp_root), "--out", str(out))
    assert result.returncode == 0, result.stderr
    doc = json.loads((out / "m__datacomp.json").read_text())
    tasks = {t["name"]: t for t in doc["tasks"]}
    assert set(DATACOMP_KEYS) <= set(tasks) and len(tasks) == len(load_suite("datacomp").tasks)
    for key in DATACOMP_KEYS:  # every one of the 38 ran and has its main metric
        task = tasks[key]
        if task["kind"] == "retrieval":
            assert task["metrics"]["image_to_text_R@1"] is not None
        else:
            assert task["metrics"][task["extra"]["main_metric"]] is not None, key
    assert tasks["vtab/pets"]["extra"]["main_metric"] == "mean_per_class_recall"
    for key, main in (("wilds/fmow", "worst_group_top1"), ("fairness/dollar_street", "worst_group_top5"),
                      ("fairness/geode", "worst_group_top1"), ("wilds/iwildcam", "macro_f1")):  # fmt: skip
        assert tasks[key]["extra"]["main_metric"] == main and "main_metric_missing" not in tasks[key]["extra"], key
    assert tasks["wilds/fmow"]["extra"]["groups"]["by"] == "region"
    assert "consistency@1" in tasks["cifar10-consistency"]["metrics"]
    assert "skipped_consistency" in tasks["food101-consistency"]["extra"]
    assert "modality_gap" in tasks["mscoco-geometry"]["metrics"]
    agg = tasks["datacomp-aggregate"]
    assert set(agg["metrics"]) == {"average", "imagenet", "imagenet_dist_shifts", "vtab", "retrieval"}
    assert all(v is not None and 0 <= v <= 1 for v in agg["metrics"].values()) and agg["extra"]["missing"] == {}
    mains = agg["extra"]["main_metrics"]
    assert len(mains) == 38 and agg["metrics"]["average"] == pytest.approx(sum(m["value"] for m in mains.values()) / 38)
    assert agg["metrics"]["imagenet"] == tasks["imagenet1k"]["metrics"]["top1"]
    assert agg["extra"]["stand_ins"] == {}  # the group metrics come from the copies' metadata
    assert not math.isnan(agg["metrics"]["vtab"])

    report = cli("report", str(out), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report" / "report.md").read_text()
    aggregate_section = text.split("### datacomp-aggregate", 1)[1]
    assert "| imagenet\\_dist\\_shifts (%) ↑ |" in aggregate_section and "| average (%) ↑ |" in aggregate_section
    # A consistency task without a train split says why it has no metrics, instead of an empty table.
    food = text.split("### food101-consistency", 1)[1].split("###", 1)[0]
    assert "Skipped: consistency@k: no 'train' split of food101" in food and "| metric |" not in food
