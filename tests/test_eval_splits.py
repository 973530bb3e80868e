"""Splits of datasets given by path (issue 20, point 4): a task that fits on a train split (linear probe,
consistency@k's kNN) never reads the test images as its train split. A folder that is one split is the test split
only; `train/` + `test/` sub-folders (or `train_path`) give a train split; a train split that is the test split's
files is refused before anything is encoded; the catalog's generic formats never fall back from train to test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import cli

from cyclip_bench.data.catalog import build_dataset
from cyclip_bench.errors import ConfigError, DataError
from cyclip_bench.eval import EvalConfig, evaluate
from cyclip_bench.eval.features import Encoder

PROBE = 'kind = "linear_probe"\n'
CONSISTENCY = 'kind = "consistency"\noptions = { k = [1, 3] }\n'
KIND = {PROBE: "linear_probe", CONSISTENCY: "consistency"}


def _rows(folder: Path) -> int:
    return len(pd.read_csv(folder / "labels.csv"))


def _as_imagefolder(labels_dir: Path, classes: list[str], out: Path) -> Path:
    """The world's labels.csv folder rewritten as an ImageFolder: <class name>/<file> for every row."""
    table = pd.read_csv(labels_dir / "labels.csv")
    for image, label in zip(table["image"], table["label"], strict=True):
        (out / classes[label]).mkdir(parents=True, exist_ok=True)
        shutil.copy(labels_dir / image, out / classes[label] / Path(image).name)
    return out


@pytest.fixture(scope="module")
def shapes_imagefolder(world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The world's shapes train and test splits as ImageFolders under <root>/train and <root>/test."""
    classes = json.loads((world_dir / "shapes" / "classes.json").read_text())["classes"]
    root = tmp_path_factory.mktemp("imagefolder") / "shapes"
    for split in ("train", "test"):
        _as_imagefolder(world_dir / "shapes" / split, classes, root / split)
    shutil.copy(world_dir / "shapes" / "classes.json", root / "classes.json")
    return root


def _dataset(path: Path, fmt: str, world_dir: Path, **more: Path) -> str:
    keys = {"path": path, "format": fmt, "metadata": world_dir / "shapes" / "classes.json", **more}
    return "{ " + ", ".join(f'{k} = "{v}"' for k, v in keys.items()) + " }"


def _suite(tmp_path: Path, dataset: str, kind: str = PROBE) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(f'name = "mine"\nversion = 1\n[[tasks]]\nname = "fit"\n{kind}dataset = {dataset}\n')
    return path


def _cfg(checkpoint: Path, suite: Path, tmp_path: Path, **kw) -> EvalConfig:
    base = dict(checkpoints=(str(checkpoint),), suite=str(suite), out=tmp_path / "out", workers=0, progress=False)
    return EvalConfig(**{**base, "cache_dir": tmp_path / "cache", **kw})


@pytest.fixture
def no_encoding(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("encoded before the data was checked")

    monkeypatch.setattr(Encoder, "_run", fail)


# --- the catalog: no fallback from train to test ------------------------------------------------------------


def test_catalog_generic_formats_never_fall_back_to_the_test_folder(world_dir, shapes_imagefolder):
    single = world_dir / "shapes" / "test"  # a labels.csv folder with no split folders: the test split only
    assert len(build_dataset("labels-csv", single, "test")) == _rows(single)
    with pytest.raises(DataError, match=r"no 'train' split .*shapes/test/train/labels\.csv"):
        build_dataset("labels-csv", single, "train")
    with pytest.raises(DataError, match=r"no 'train' split .*shapes/test/train/<class>/"):
        build_dataset("imagefolder", shapes_imagefolder / "test", "train")
    # DATA_ROOT with train/ and test/: each split is its own folder
    for split in ("train", "test"):
        ds = build_dataset("labels-csv", world_dir / "shapes", split)
        assert len(ds) == _rows(world_dir / "shapes" / split) and ds.root == world_dir / "shapes" / split
        folders = build_dataset("imagefolder", shapes_imagefolder, split)
        assert len(folders) == _rows(world_dir / "shapes" / split)


def test_a_missing_split_beside_another_names_the_expected_path(world_dir, tmp_path):
    only_train = tmp_path / "only-train"
    shutil.copytree(world_dir / "shapes" / "train", only_train / "train")
    shutil.copy(world_dir / "shapes" / "classes.json", only_train / "classes.json")
    assert len(build_dataset({"path": str(only_train)}, None, "train")) == _rows(only_train / "train")
    with pytest.raises(DataError, match=r"no 'test' split: expected .*only-train/test/labels\.csv beside"):
        build_dataset({"path": str(only_train)}, None, "test")
    with pytest.raises(DataError, match=r"nowhere: not found \(expected a dataset folder with train/ and test/"):
        build_dataset({"path": str(tmp_path / "nowhere")}, None, "train")


# --- the leak: refused before anything is encoded ----------------------------------------------------------


@pytest.mark.parametrize("kind", [PROBE, CONSISTENCY], ids=["linear_probe", "consistency"])
@pytest.mark.parametrize("fmt", ["labels-csv", "imagefolder"])
def test_a_test_folder_given_as_the_dataset_has_no_train_split(
    fmt, kind, world_dir, shapes_imagefolder, same_label_checkpoints, tmp_path, no_encoding
):
    root = world_dir / "shapes" if fmt == "labels-csv" else shapes_imagefolder
    suite = _suite(tmp_path, _dataset(root / "test", fmt, world_dir), kind)
    with pytest.raises(DataError) as err:
        evaluate(_cfg(same_label_checkpoints["exp1"], suite, tmp_path))
    message = str(err.value)
    assert message.startswith(f"task 'fit' ({KIND[kind]}) fits on the 'train' split of {root / 'test'}:")
    assert "this folder is one split, the test split" in message and str(root / "test" / "train") in message
    assert message.endswith(f"did you mean the dataset folder {root}, which has train/ and test/?")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("kind", [PROBE, CONSISTENCY], ids=["linear_probe", "consistency"])
@pytest.mark.parametrize("fmt", ["labels-csv", "imagefolder"])
def test_a_train_split_with_the_test_files_is_refused(
    fmt, kind, world_dir, shapes_imagefolder, same_label_checkpoints, tmp_path, no_encoding
):
    test = (world_dir / "shapes" if fmt == "labels-csv" else shapes_imagefolder) / "test"
    # train_path naming the test folder itself, and a train/ folder that is a link to test/
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "test").symlink_to(test, target_is_directory=True)
    (linked / "train").symlink_to(test, target_is_directory=True)
    for dataset, shown in (
        (_dataset(test, fmt, world_dir, train_path=test), str(test)),
        (_dataset(linked, fmt, world_dir), str(linked)),
    ):
        with pytest.raises(DataError) as err:
            evaluate(_cfg(same_label_checkpoints["exp1"], _suite(tmp_path, dataset, kind), tmp_path))
        message = str(err.value)
        n = _rows(world_dir / "shapes" / "test")
        assert message.startswith(f"task 'fit' ({KIND[kind]}) on dataset {shown}: its 'train' split")
        assert f"holds {n} of the {n} images of its 'test' split" in message
        assert "fit on the images it is tested on" in message


def test_train_split_option_equal_to_the_test_split_is_refused(world_dir, same_label_checkpoints, tmp_path):
    suite = _suite(tmp_path, '"world-shapes"', 'kind = "linear_probe"\noptions = { train_split = "test" }\n')
    with pytest.raises(ConfigError, match=r"task 'fit' \(linear_probe\) on dataset world-shapes: fits on split 'test'"):
        evaluate(_cfg(same_label_checkpoints["exp1"], suite, tmp_path, data_root=world_dir))


def test_the_leak_from_the_cli_is_one_line_exit_2(world_dir, same_label_checkpoints, tmp_path):
    suite = _suite(tmp_path, _dataset(world_dir / "shapes" / "test", "labels-csv", world_dir), CONSISTENCY)
    checkpoint, out = str(same_label_checkpoints["exp1"]), str(tmp_path / "o")
    ran = cli("eval", "-c", checkpoint, "--suite", str(suite), "--out", out, "--no-cache")
    assert ran.returncode == 2 and ran.stderr.startswith("error: task 'fit' (consistency)"), ran.stderr
    assert ran.stderr.count("\n") == 1 and str(world_dir / "shapes" / "test") in ran.stderr
    dry = cli("eval", "-c", checkpoint, "--suite", str(suite), "--out", out, "--no-cache", "--dry-run")
    assert dry.returncode == 2 and dry.stderr == ran.stderr  # --dry-run refuses it the same way


# --- the split layouts that work ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["labels-csv", "imagefolder"])
def test_train_and_test_folders_are_the_splits(
    fmt, world_dir, shapes_imagefolder, same_label_checkpoints, tmp_path, monkeypatch
):
    from cyclip_bench.eval.tasks import consistency

    neighbours = []  # the kNN's reference set, as consistency@k received it

    def recording(predictions, test_feats, train_feats, train_labels, k):
        neighbours.append(train_feats.shape[0])
        return knn_at_k(predictions, test_feats, train_feats, train_labels, k)

    knn_at_k = consistency.consistency_at_k
    monkeypatch.setattr(consistency, "consistency_at_k", recording)
    root = world_dir / "shapes" if fmt == "labels-csv" else shapes_imagefolder
    path = tmp_path / "mine.toml"
    dataset = _dataset(root, fmt, world_dir)
    path.write_text(
        f'name = "mine"\nversion = 1\n[[tasks]]\nname = "probe"\n{PROBE}dataset = {dataset}\n'
        f'[[tasks]]\nname = "knn"\n{CONSISTENCY}dataset = {dataset}\n'
    )
    obj = json.loads(evaluate(_cfg(same_label_checkpoints["exp1"], path, tmp_path))[0].read_text())
    probe, knn = obj["tasks"]
    n_train, n_test = _rows(world_dir / "shapes" / "train"), _rows(world_dir / "shapes" / "test")
    assert probe["extra"]["num_train"] == n_train and len(probe["per_example"]["top1"]) == n_test
    assert len(knn["per_example"]["consistency@1"]) == n_test and neighbours == [n_train, n_train]


def test_train_path_names_the_train_split(world_dir, same_label_checkpoints, tmp_path):
    shapes = world_dir / "shapes"
    dataset = _dataset(shapes / "test", "labels-csv", world_dir, train_path=shapes / "train")
    suite = _suite(tmp_path, dataset)
    obj = json.loads(evaluate(_cfg(same_label_checkpoints["exp1"], suite, tmp_path))[0].read_text())
    assert obj["tasks"][0]["extra"]["num_train"] == _rows(world_dir / "shapes" / "train")


# --- --dry-run says which files each task reads --------------------------------------------------------------


def test_dry_run_lists_each_tasks_files_per_split(world_dir, same_label_checkpoints, tmp_path, no_encoding):
    suite = _suite(tmp_path, _dataset(world_dir / "shapes", "labels-csv", world_dir), CONSISTENCY)
    ran = cli("eval", "-c", str(same_label_checkpoints["exp1"]), "--suite", str(suite), "--out", str(tmp_path / "o"),
              "--dry-run", "--no-cache")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    n_train, n_test = _rows(world_dir / "shapes" / "train"), _rows(world_dir / "shapes" / "test")
    shapes = world_dir / "shapes"
    assert "  fit (consistency)" in lines
    assert f"    test  {shapes}: {shapes / 'test' / 'labels.csv'} ({n_test} examples)" in lines
    assert f"    train {shapes}: {shapes / 'train' / 'labels.csv'} ({n_train} examples)" in lines
    assert f"would write {tmp_path / 'o' / 'clip__mine.json'}" in lines
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_splits_with_other_classes_are_refused(world_dir, shapes_imagefolder, same_label_checkpoints, tmp_path):
    uneven = tmp_path / "uneven"
    shutil.copytree(shapes_imagefolder, uneven)
    shutil.rmtree(uneven / "train" / "star")  # without metadata the classes are the folder names: 9 vs 10
    dataset = f'{{ path = "{uneven}", format = "imagefolder" }}'
    with pytest.raises(DataError, match=r"'train' split .* has 9 classes and its 'test' split .* 10, first differing"):
        evaluate(_cfg(same_label_checkpoints["exp1"], _suite(tmp_path, dataset), tmp_path))
