"""The class names and templates shipped as package data (cyclip_bench/data/metadata/*.json) for DataComp's 38
tasks and CLIP_benchmark's vtab+ collection, their lookup by the anchors' dataset names, each dataset's main
metric, a suite's own class metadata for a zero-shot task, and the zero-shot task's anchor metrics."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from cyclip_bench.data.catalog import MULTILABEL
from cyclip_bench.data.metadata import (
    BUILTIN_NAMES,
    MAIN_METRICS,
    WDS_ONLY_MAIN_METRIC,
    builtin_metadata,
    dataset_main_metric,
    dataset_metadata,
    metadata_from_dict,
    metadata_key,
)
from cyclip_bench.errors import ConfigError, DataError, UserError
from cyclip_bench.eval.suite import TaskSpec
from cyclip_bench.eval.tasks.zeroshot import ZeroShot

# Class counts as the anchors' sources give them (DataComp tasklist.yml num_classes, CLIP_benchmark's lists, the
# datasets' releases); the VTAB structured sets count the task-adaptation label bins.
CLASS_COUNTS = {
    "imagenet": 1000,
    "imagenet-a": 200,
    "imagenet-r": 200,
    "imagenet-o": 200,
    "objectnet": 113,
    "cifar10": 10,
    "cifar100": 100,
    "food101": 101,
    "sun397": 397,
    "cars": 196,
    "fgvc_aircraft": 100,
    "dtd": 47,
    "pets": 37,
    "caltech101": 102,
    "flowers": 102,
    "mnist": 10,
    "fer2013": 7,
    "stl10": 10,
    "eurosat": 10,
    "resisc45": 45,
    "gtsrb": 43,
    "kitti_closest_vehicle_distance": 4,
    "country211": 211,
    "pcam": 2,
    "renderedsst2": 2,
    "voc2007": 20,
    "voc2007_multilabel": 20,
    "clevr_count_all": 8,
    "clevr_closest_object_distance": 6,
    "svhn": 10,
    "diabetic_retinopathy": 5,
    "dmlab": 6,
    "dsprites_label_orientation": 16,
    "dsprites_label_x_position": 16,
    "dsprites_label_y_position": 16,
    "smallnorb_label_azimuth": 18,
    "smallnorb_label_elevation": 9,
    "fmow": 62,
    "camelyon17": 2,
}

# DataComp's 38 tasks (tasklist.yml keys with a main metric) and CLIP_benchmark's vtab+ collection, as spelt there.
DATACOMP_38 = [
    "vtab/caltech101", "cifar10", "vtab/cifar100", "vtab/clevr_count_all", "vtab/clevr_closest_object_distance",
    "country211", "vtab/dtd", "vtab/eurosat", "fgvc_aircraft", "food101", "gtsrb", "imagenet1k", "imagenet_sketch",
    "imagenetv2", "imagenet-a", "imagenet-o", "imagenet-r", "vtab/kitti_closest_vehicle_distance", "mnist",
    "objectnet", "vtab/flowers", "vtab/pets", "voc2007", "vtab/pcam", "renderedsst2", "vtab/resisc45", "cars",
    "stl10", "sun397", "vtab/svhn", "retrieval/flickr_1k_test_image_text_retrieval",
    "retrieval/mscoco_2014_5k_test_image_text_retrieval", "misc/winogavil", "wilds/iwildcam", "wilds/camelyon17",
    "wilds/fmow", "fairness/dollar_street", "fairness/geode",
]  # fmt: skip
VTAB_PLUS = [
    "imagenet1k", "imagenetv2", "imagenet_sketch", "imagenet-a", "imagenet-r", "objectnet", "fer2013", "voc2007",
    "voc2007_multilabel", "sun397", "cars", "fgvc_aircraft", "mnist", "stl10", "gtsrb", "country211", "renderedsst2",
    "vtab/caltech101", "vtab/cifar10", "vtab/cifar100", "vtab/clevr_count_all", "vtab/clevr_closest_object_distance",
    "vtab/diabetic_retinopathy", "vtab/dmlab", "vtab/dsprites_label_orientation", "vtab/dsprites_label_x_position",
    "vtab/dtd", "vtab/eurosat", "vtab/kitti_closest_vehicle_distance", "vtab/flowers", "vtab/pets", "vtab/pcam",
    "vtab/resisc45", "vtab/smallnorb_label_azimuth", "vtab/smallnorb_label_elevation", "vtab/svhn",
]  # fmt: skip
RETRIEVAL = {"retrieval/flickr_1k_test_image_text_retrieval", "retrieval/mscoco_2014_5k_test_image_text_retrieval"}
RETRIEVAL |= {"misc/winogavil"}  # image/text association, scored by the Jaccard index: no classes

# DataComp's main metrics in this project's names (acc1 → top1, acc_wg → worst_group_top1, ...).
MAIN = {
    "vtab/caltech101": "mean_per_class_recall",
    "fgvc_aircraft": "mean_per_class_recall",
    "vtab/flowers": "mean_per_class_recall",
    "vtab/pets": "mean_per_class_recall",
    "wilds/iwildcam": "macro_f1",
    "wilds/fmow": "worst_group_top1",
    "fairness/dollar_street": "worst_group_top5",
    "fairness/geode": "worst_group_top1",
    "voc2007_multilabel": "map_11point",
}


def test_lists_are_the_anchors_sizes():
    assert len(DATACOMP_38) == 38 and len(set(DATACOMP_38)) == 38
    assert len(VTAB_PLUS) == 36 and len(set(VTAB_PLUS)) == 36


def test_every_shipped_file_has_its_class_count_a_source_and_valid_templates():
    assert set(BUILTIN_NAMES) == set(CLASS_COUNTS)
    for name in BUILTIN_NAMES:
        meta = builtin_metadata(name)
        assert len(meta.classes) == CLASS_COUNTS[name], name
        assert meta.source and len(meta.source) > 20, name
        assert all("{}" in t for t in meta.templates) and all(c.strip() == c and c for c in meta.classes), name
        assert meta.main_metric is None or meta.main_metric in MAIN_METRICS, name


def test_every_anchor_classification_dataset_resolves_with_its_main_metric():
    for name in dict.fromkeys(DATACOMP_38 + VTAB_PLUS):
        if name in RETRIEVAL:
            continue
        main = dataset_main_metric(name)
        assert main == MAIN.get(name, "top1"), name
        for spelling in (name, f"wds/{name}"):
            key = metadata_key(spelling)
            if key in WDS_ONLY_MAIN_METRIC:
                with pytest.raises(DataError, match="only from its wds copy's classnames.txt"):
                    dataset_metadata(spelling)
            else:
                assert len(dataset_metadata(spelling).classes) == CLASS_COUNTS[key], spelling


def test_imagenet_family_shares_the_imagenet_names():
    imagenet = dataset_metadata("imagenet1k")
    for name in ("imagenetv2", "imagenet_sketch", "wds/imagenet-sketch"):
        assert dataset_metadata(name) == imagenet
    index = {w: i for i, w in enumerate(imagenet.wnids)}
    for name in ("imagenet-a", "imagenet-r", "imagenet-o"):
        meta = dataset_metadata(name)
        assert meta.wnids == sorted(meta.wnids) and len(set(meta.wnids)) == 200
        assert meta.classes == [imagenet.classes[index[w]] for w in meta.wnids]
        assert meta.templates == imagenet.templates


def test_label_orders_the_loaders_rely_on():
    # spot checks of orders that differ between the anchors' lists (docs of each file's "source")
    assert dataset_metadata("vtab/caltech101").classes[:5] == ["accordion", "airplane", "anchor", "ant", "background"]
    assert dataset_metadata("vtab/pets").classes[:3] == ["Abyssinian", "American Bulldog", "American Pit Bull Terrier"]
    assert dataset_metadata("vtab/eurosat").classes[:2] == ["annual crop land", "forest"]
    assert dataset_metadata("voc2007").classes[10] == "diningtable"
    assert dataset_metadata("vtab/clevr_count_all").classes[0] == "three"
    assert dataset_metadata("objectnet").classes[0] == "alarm clock"  # air_freshener maps to no ImageNet class


def test_unknown_dataset_names_get_a_did_you_mean():
    with pytest.raises(UserError, match="Did you mean 'food101'"):
        dataset_metadata("food-101")
    with pytest.raises(UserError, match="Did you mean 'pets'"):
        dataset_metadata("wds/vtab/pet")


def test_metadata_files_are_checked():
    good = {"classes": ["a", "b"], "templates": ["a {}"]}
    assert metadata_from_dict(good, "x.json").main_metric is None
    assert metadata_from_dict({**good, "main_metric": "macro_f1"}, "x.json").main_metric == "macro_f1"
    with pytest.raises(DataError, match=r"x.json: 'main_metric' 'mean_per_class_recal' .*Did you mean"):
        metadata_from_dict({**good, "main_metric": "mean_per_class_recal"}, "x.json")
    with pytest.raises(DataError, match="'source' must be a non-empty string"):
        metadata_from_dict({**good, "source": ""}, "x.json")
    with pytest.raises(DataError, match="unknown key"):
        metadata_from_dict({**good, "main": "top1"}, "x.json")


# --- a suite's own class metadata (the zeroshot option class_metadata) -------------------------------------------


def _ctx(dataset, head):
    """The slice of EvalContext the zero-shot task reads, over fixed image features."""
    images = torch.eye(len(dataset.metadata.classes))[dataset.index]
    seen = {}

    def zeroshot_head(meta, label):
        seen["classes"] = list(meta.classes)
        return head

    return seen, SimpleNamespace(
        encoder=SimpleNamespace(model=None),  # no model: calibration at unit scale
        labelled=lambda ref, split: dataset,
        zeroshot_head=zeroshot_head,
        image_features=lambda ref, split: images,
        labels=lambda ref, split: torch.tensor(dataset.labels),
    )


def _single_label(labels, index, classes, **extra):
    meta = SimpleNamespace(classes=classes, templates=["{}"], main_metric=None)
    return SimpleNamespace(labels=labels, index=index, metadata=meta, **extra)


def _task(dataset="some-set", **options):
    return ZeroShot(TaskSpec(name="t", kind="zeroshot", dataset=dataset, options=options))


def test_a_suite_points_a_zeroshot_task_at_its_own_json(tmp_path: Path):
    own = tmp_path / "mine.json"
    own.write_text(
        json.dumps({"classes": ["red", "green", "blue"], "templates": ["a {} thing"], "main_metric": "macro_f1"})
    )
    task = _task(class_metadata=str(own))
    dataset = _single_label([0, 1, 2, 2], [0, 1, 2, 1], ["x", "y", "z"])
    seen, ctx = _ctx(dataset, torch.eye(3))
    result = task.run(ctx)
    assert seen["classes"] == ["red", "green", "blue"] and result.class_names == ["red", "green", "blue"]
    assert result.extra["class_metadata"] == str(own) and result.extra["main_metric"] == "macro_f1"
    # predictions 0, 1, 2, 1 for labels 0, 1, 2, 2: F1 = 1, 2/3, 2/3
    assert result.metrics["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert result.metric_info["macro_f1"].higher_is_better is True
    # a shipped dataset's names by name, main metric from it
    named = _task(class_metadata="renderedsst2").run(_ctx(_single_label([0, 1], [0, 1], ["n", "p"]), torch.eye(2))[1])
    assert named.class_names == ["negative", "positive"] and named.extra["main_metric"] == "top1"


def test_a_suite_file_with_class_metadata_loads_and_bad_files_fail_at_plan_time(tmp_path: Path, monkeypatch):
    from cyclip_bench.eval.suite import load_suite
    from cyclip_bench.eval.tasks.base import make_task

    monkeypatch.chdir(tmp_path)
    (tmp_path / "names.json").write_text(json.dumps({"classes": ["a", "b"], "templates": ["{}"]}))
    suite = tmp_path / "mine.toml"
    suite.write_text(
        'name = "mine"\nversion = 1\n[[tasks]]\nname = "z"\nkind = "zeroshot"\ndataset = "world-shapes"\n'
        'options = { class_metadata = "names.json" }\n'
    )
    task = make_task(load_suite(suite).tasks[0])
    assert task.class_metadata.classes == ["a", "b"]
    (tmp_path / "names.json").write_text("{not json")
    with pytest.raises(DataError, match=r"class_metadata: .*names.json: not valid JSON"):
        make_task(load_suite(suite).tasks[0])
    with pytest.raises(ConfigError, match="neither a .json file nor a shipped dataset.*Did you mean 'food101'"):
        _task(class_metadata="food1O1")
    with pytest.raises(DataError, match="class metadata file .*absent.json not found"):
        _task(class_metadata="absent.json")


def test_class_metadata_of_another_class_count_is_refused(tmp_path: Path):
    task = _task(class_metadata="pcam")
    with pytest.raises(DataError, match="class_metadata lists 2 classes but the dataset has 3"):
        task.run(_ctx(_single_label([0, 1, 2], [0, 1, 2], ["x", "y", "z"]), torch.eye(3))[1])


# --- main metrics in the zero-shot result -----------------------------------------------------------------------


def test_zeroshot_records_the_catalog_datasets_main_metric_and_always_mean_per_class_recall():
    dataset = _single_label([0, 0, 0, 1], [0, 1, 1, 1], ["a", "b"])
    result = _task(dataset="wds/vtab/pets").run(_ctx(dataset, torch.eye(2))[1])
    assert result.extra["main_metric"] == "mean_per_class_recall"
    assert result.metrics["mean_per_class_recall"] == pytest.approx((1 / 3 + 1) / 2)
    assert result.metrics["top1"] == pytest.approx(2 / 4)
    assert "macro_f1" not in result.metrics
    unknown = _task(dataset="my-own-set").run(_ctx(dataset, torch.eye(2))[1])
    assert unknown.extra["main_metric"] == "top1"


def test_zeroshot_worst_group_accuracy_from_the_datasets_groups():
    # 4 classes; predictions = index; groups: 0 → 2/2 right, 1 → 1/2 right, -1 (left out) → 0/1
    dataset = _single_label([0, 1, 2, 3, 0], [0, 1, 2, 0, 1], list("abcd"), groups=[0, 0, 1, 1, -1])
    result = _task(dataset="wilds/fmow").run(_ctx(dataset, torch.eye(4))[1])
    assert result.extra["main_metric"] == "worst_group_top1"
    assert result.metrics["worst_group_top1"] == 0.5
    assert result.metrics["worst_group_top5"] == 1.0  # k capped at 4 classes: every label is in the top 4
    assert result.per_example["group"] == [0, 0, 1, 1, -1]


def test_zeroshot_multilabel_dataset_gets_11_point_map():
    targets = torch.tensor([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=torch.uint8)
    meta = SimpleNamespace(classes=["cat", "dog"], templates=["{}"], main_metric="map_11point")
    dataset = SimpleNamespace(targets=targets.numpy(), metadata=meta)
    features = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.7], [0.5, 0.3]])
    ctx = SimpleNamespace(  # read as the MULTILABEL kind: its need, not the labelled accessors
        dataset=lambda need: dataset if need.kind is MULTILABEL else pytest.fail(f"read as {need.kind}"),
        zeroshot_head=lambda m, label: torch.eye(2),
        need_image_features=lambda need: features,
        labels=lambda ref, split: pytest.fail("a multilabel dataset has no single labels"),
    )
    result = _task(dataset="voc2007_multilabel").run(ctx)
    logits = torch.nn.functional.normalize(features, dim=-1)
    from cyclip_bench.metrics import ap_11point

    assert result.extra["main_metric"] == "map_11point"
    assert result.metrics["map_11point"] == pytest.approx(float(ap_11point(logits, targets).mean()))
    assert result.extra["ap_11point_per_class"] == pytest.approx(ap_11point(logits, targets).tolist())
    assert result.extra["positives_per_class"] == [2, 2]
    assert set(result.metrics) == {"map_11point", "mean_average_precision"}


def test_eval_runs_a_suite_whose_zeroshot_task_has_its_own_json(world_dir: Path, tmp_path: Path, monkeypatch):
    """End to end through ``evaluate``: the override's names and templates build the head; a file of another
    class count stops the run before anything is encoded."""
    from cyclip_bench.eval import EvalConfig, evaluate
    from cyclip_bench.models import create_model, model_payload, save_checkpoint

    torch.manual_seed(0)
    model, info = create_model("tiny")
    ckpt = tmp_path / "random.pt"
    save_checkpoint(ckpt, model_payload(model, info))
    shapes = json.loads((world_dir / "shapes" / "classes.json").read_text())
    own = tmp_path / "own.json"
    own.write_text(
        json.dumps({"classes": [f"{c} shape" for c in shapes["classes"]], "templates": ["{}"], "main_metric": "top5"})
    )
    suite = tmp_path / "own.toml"
    suite.write_text(
        'name = "own"\nversion = 1\n'
        '[[tasks]]\nname = "plain"\nkind = "zeroshot"\ndataset = "world-shapes"\noptions = { topk = [1] }\n'
        f'[[tasks]]\nname = "mine"\nkind = "zeroshot"\ndataset = "world-shapes"\n'
        f"options = {{ topk = [1], class_metadata = {json.dumps(str(own))} }}\n"
    )
    cfg = EvalConfig(
        checkpoints=(str(ckpt),),
        suite=str(suite),
        out=tmp_path / "out",
        data_root=world_dir,
        workers=0,
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    doc = json.loads(evaluate(cfg)[0].read_text())
    tasks = {t["name"]: t for t in doc["tasks"]}
    assert tasks["plain"]["class_names"] == shapes["classes"] and tasks["plain"]["extra"]["main_metric"] == "top1"
    mine = tasks["mine"]
    assert mine["class_names"] == [f"{c} shape" for c in shapes["classes"]]
    assert mine["extra"]["class_metadata"] == str(own) and mine["extra"]["main_metric"] == "top5"
    assert set(mine["metrics"]) >= {"top1", "top5", "mean_per_class_recall"}  # the main metric is computed
    assert doc["run"]["templates_sha256"]  # both heads were encoded
    own.write_text(json.dumps({"classes": ["only one"], "templates": ["{}"]}))
    monkeypatch.setattr("cyclip_bench.eval.features.Encoder._run", lambda *a, **k: pytest.fail("encoded"))
    with pytest.raises(DataError, match="class_metadata lists 1 classes but the dataset has 10"):
        evaluate(replace(cfg, out=tmp_path / "out2"))
