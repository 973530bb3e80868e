"""Multilabel sets through the catalog (cyclip_bench/data/catalog.py, ``MULTILABEL``): a webdataset copy with
``dataset_type.txt`` = multilabel is read as multi-hot targets, ``eval --dataset wds/voc2007_multilabel`` and a
suite task on it run zero-shot with 11-point mAP as the main metric (the number equal to ``ap_11point`` over the
same features), and a linear probe or consistency@k on it is refused with one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_runner import cli

from cyclip_bench.data.catalog import (
    LABELLED,
    MULTILABEL,
    build_dataset,
    build_multilabel_dataset,
    classes_kind,
    dataset_kind,
)
from cyclip_bench.data.wds import WdsMultilabelDataset, synthetic_wds_samples, write_wds_fixture
from cyclip_bench.errors import DataError, UserError

pytest.importorskip("webdataset")

CLASSES = ["aeroplane", "bicycle", "bird", "boat"]


@pytest.fixture(scope="module")
def voc_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """wds_voc2007_multilabel: 4 classes, test 7 / train 5 images, 3 a shard (webp, ShardWriter)."""
    root = tmp_path_factory.mktemp("ml") / "root"
    splits = {
        "test": synthetic_wds_samples("multilabel", 7, len(CLASSES), seed=5),
        "train": synthetic_wds_samples("multilabel", 5, len(CLASSES), seed=6),
    }
    write_wds_fixture(root / "wds_voc2007_multilabel", "multilabel", CLASSES, ["a photo of a {c}."], 3, splits)
    return root


def test_multilabel_copy_is_its_own_kind(voc_root: Path) -> None:
    name = "wds/voc2007_multilabel"
    assert dataset_kind(name, voc_root) is MULTILABEL
    assert classes_kind(name) is MULTILABEL  # known before reading: its shipped metadata's main metric is mAP
    assert classes_kind("wds/vtab/cifar10") is LABELLED and classes_kind("wds/unknown_set") is LABELLED
    data = build_multilabel_dataset(name, voc_root, "test")
    assert isinstance(data, WdsMultilabelDataset) and data.targets.shape == (7, len(CLASSES))
    assert data.metadata.classes == CLASSES  # the copy's own classnames.txt wins over the shipped 20 names
    assert MULTILABEL.size(data) == 7 and len(MULTILABEL.images(data)) == 7
    image, row = MULTILABEL.with_transform(data, lambda im: im.size)[0]
    assert image == (16, 16) and np.array_equal(row, data.targets[0])
    with pytest.raises(DataError, match=r"dataset_type.txt: dataset 'wds/voc2007_multilabel' is a multilabel set .* "
                       r"need one label per image — evaluate it with zeroshot \(11-point mAP\)"):  # fmt: skip
        build_dataset(name, voc_root, "train")
    # The catalog name reads the same copy (its entry is of the multilabel kind).
    assert (
        classes_kind("voc2007_multilabel") is MULTILABEL and dataset_kind("voc2007_multilabel", voc_root) is MULTILABEL
    )
    assert build_multilabel_dataset("voc2007_multilabel", voc_root, "train").targets.shape == (5, len(CLASSES))
    with pytest.raises(UserError, match="'voc2007_multilabel' is a multilabel set .* evaluate it with zeroshot"):
        build_dataset("voc2007_multilabel", voc_root, "train")


def _eval(*args: str) -> object:
    return cli("eval", "--workers", "0", "-q", "--no-cache", *args)


def test_dataset_flag_runs_zeroshot_with_11_point_map(
    voc_root: Path, same_label_checkpoints: dict, tmp_path: Path
) -> None:
    ckpt = f"m={same_label_checkpoints['exp1']}"
    common = ["-c", ckpt, "--data-root", str(voc_root)]
    result = _eval(*common, "--dataset", "wds/voc2007_multilabel", "--out", str(tmp_path / "a"))
    assert result.returncode == 0, result.stderr
    doc = json.loads((tmp_path / "a" / "m__datasets-wds-voc2007_multilabel.json").read_text())
    assert [(t["name"], t["kind"]) for t in doc["tasks"]] == [("wds-voc2007_multilabel-zeroshot", "zeroshot")]
    task = doc["tasks"][0]
    assert task["extra"]["main_metric"] == "map_11point"
    assert set(task["metrics"]) == {"map_11point", "mean_average_precision"}
    per_class = task["extra"]["ap_11point_per_class"]
    assert len(per_class) == len(CLASSES) and task["metrics"]["map_11point"] == pytest.approx(np.mean(per_class))
    assert task["metric_info"]["map_11point"]["higher_is_better"] is True

    # A suite task names it too; a linear probe on it is one line, before anything is encoded.
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "ml"\nversion = 1\n[[tasks]]\nname = "voc"\nkind = "zeroshot"\ndataset = "wds/voc2007_multilabel"\n'
    )
    result = _eval(*common, "--suite", str(suite), "--out", str(tmp_path / "b"))
    assert result.returncode == 0, result.stderr
    other = json.loads((tmp_path / "b" / "m__ml.json").read_text())["tasks"][0]
    assert other["metrics"] == task["metrics"]
    for kind, options in (("linear_probe", ""), ("consistency", 'options = { train_split = "train" }\n')):
        suite.write_text(
            f'name = "ml"\nversion = 1\n[[tasks]]\nname = "p"\nkind = "{kind}"\n'
            f'dataset = "wds/voc2007_multilabel"\n{options}'
        )
        result = _eval(*common, "--suite", str(suite), "--out", str(tmp_path / "c"))
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert "is a multilabel set" in result.stderr and "evaluate it with zeroshot" in result.stderr
    result = _eval(*common, "--dataset", "wds/voc2007_multilabel", "--task", "linear_probe", "--out", str(tmp_path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "holds images with multi-hot labels: --task linear_probe has nothing to run on it" in result.stderr
