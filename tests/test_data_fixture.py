"""`cyclip-bench data fixture`: generated pixels in the real datasets' on-disk layouts, at their real class counts
and orders — checked by reading every dataset back through the catalog's own loaders (and CIFAR through
torchvision and the archive's `encoding="bytes"` recipe).

Rerun alone: `OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q tests/test_data_fixture.py` (~30 s on 2 cores).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from cli_runner import cli

from cyclip_bench.data.catalog import build_dataset, build_retrieval_dataset
from cyclip_bench.data.fixture import DATASETS, FixtureConfig, class_look, write_fixture
from cyclip_bench.data.metadata import builtin_metadata, imagenet_subset_wnids
from cyclip_bench.errors import ConfigError, UserError


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every dataset, 1 image per class, CIFAR test batches of 30, retrieval sets of 4 images."""
    out = tmp_path_factory.mktemp("fixture") / "data"
    write_fixture(FixtureConfig(out, per_class=1, cifar_test_size=30, retrieval_images=4, image_size=16, workers=1))
    return out


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_every_dataset_loads_through_the_catalog_with_the_real_class_counts(fixture_root: Path) -> None:
    imagenet = builtin_metadata("imagenet")
    expected = {  # (catalog name, split): (examples, classes in the metadata, distinct labels)
        ("cifar10", "train"): (10, 10, 10),
        ("cifar10", "test"): (30, 10, 10),
        ("cifar100", "train"): (100, 100, 100),
        ("cifar100", "test"): (30, 100, 30),
        ("imagenet1k", "test"): (1000, 1000, 1000),
        ("imagenet1k", "train"): (1000, 1000, 1000),
        ("imagenetv2", "test"): (1000, 1000, 1000),
        ("imagenet-sketch", "test"): (1000, 1000, 1000),
        ("imagenet-a", "test"): (200, 1000, 200),
        ("imagenet-r", "test"): (200, 1000, 200),
    }
    for (name, split), (size, classes, distinct) in expected.items():
        ds = build_dataset(name, fixture_root, split)
        assert (len(ds), len(ds.metadata.classes), len(set(ds.labels))) == (size, classes, distinct), name
        image, label = ds[len(ds) - 1]
        assert image.mode == "RGB" and 0 <= label < classes
    # The ImageNet sets cover every class once, in the wnid order of the built-in metadata.
    for name in ("imagenet1k", "imagenetv2", "imagenet-sketch"):
        assert sorted(build_dataset(name, fixture_root, "test").labels) == list(range(1000))
    # ImageNet-A/R: exactly the real 200 wnids, mapped onto the 1,000-class list and masked to them.
    for name in ("imagenet-a", "imagenet-r"):
        ds = build_dataset(name, fixture_root, "test")
        real = sorted(imagenet.wnids.index(w) for w in imagenet_subset_wnids(name))
        assert ds.class_subset == real and sorted(ds.labels) == real
        assert sorted(p.name for p in (fixture_root / name).iterdir()) == imagenet_subset_wnids(name)
    # A wnid folder holds images of its own class: the file's folder is the wnid of its label.
    val = build_dataset("imagenet1k", fixture_root, "test")
    assert all(Path(f).parent.name == imagenet.wnids[y] for f, y in zip(val.files, val.labels, strict=True))
    v2 = build_dataset("imagenetv2", fixture_root, "test")
    assert all(Path(f).parent.name == str(y) for f, y in zip(v2.files, v2.labels, strict=True))


def test_cifar_meta_files_list_the_metadata_classes_in_order(fixture_root: Path) -> None:
    def load(path: Path) -> dict:
        with open(path, "rb") as handle:
            return pickle.load(handle, encoding="latin1")

    c10 = load(fixture_root / "cifar-10-batches-py" / "batches.meta")
    assert c10["label_names"] == builtin_metadata("cifar10").classes
    c100 = load(fixture_root / "cifar-100-python" / "meta")
    meta100 = builtin_metadata("cifar100")
    assert [n.replace("_", " ") for n in c100["fine_label_names"]] == meta100.classes
    assert [n.replace("_", " ") for n in c100["coarse_label_names"]] == list(meta100.superclasses)
    assert "aquarium_fish" in c100["fine_label_names"] and "vehicles_1" in c100["coarse_label_names"]
    test = load(fixture_root / "cifar-100-python" / "test")
    owner = meta100.superclass_of()
    assert test["coarse_labels"] == [owner[y] for y in test["fine_labels"]]


def test_retrieval_sets_have_five_captions_per_image_and_a_karpathy_json(fixture_root: Path) -> None:
    for name, karpathy in (("flickr30k", "dataset_flickr30k.json"), ("mscoco", "dataset_coco.json")):
        ds = build_retrieval_dataset(name, fixture_root)
        assert len(ds.image_files) == 4 and len(ds.captions) == 20
        assert Counter(ds.caption_image) == {i: 5 for i in range(4)}
        split = json.loads((fixture_root / name / karpathy).read_text())
        assert split["dataset"] == name and len(split["images"]) == 4
        first = split["images"][0]
        assert first["split"] == "test" and [s["raw"] for s in first["sentences"]] == ds.captions[:5]
        assert Path(ds.image_files[0]).name == first["filename"]
        # Captions describe what is drawn: each names the image's shape.
        assert all(
            any(shape in c for shape in ("circle", "square", "triangle", "diamond", "hexagon", "star"))
            for c in ds.captions
        )


def test_full_cifar_test_batch_in_the_archive_form(tmp_path: Path) -> None:
    """The full 10,000-image test batch; keys and strings are Python-2 ``str`` as in the real archive, so both the
    archive's own `encoding="bytes"` recipe and torchvision (latin1) read it."""
    write_fixture(
        FixtureConfig(tmp_path / "d", datasets=("cifar10",), cifar_test_size=10_000, train_per_class=1, workers=1)
    )
    folder = tmp_path / "d" / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == [
        "batches.meta",
        *[f"data_batch_{i}" for i in range(1, 6)],
        "test_batch",
    ]
    with open(folder / "test_batch", "rb") as handle:
        raw = pickle.load(handle, encoding="bytes")
    assert set(raw) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert raw[b"batch_label"] == b"testing batch 1 of 1" and raw[b"data"].shape == (10_000, 3072)
    assert raw[b"data"].dtype == np.uint8 and Counter(raw[b"labels"]) == {c: 1000 for c in range(10)}
    ds = build_dataset("cifar10", tmp_path / "d", "test")
    assert len(ds) == 10_000 and np.array_equal(ds.array[0].transpose(2, 0, 1).reshape(-1), raw[b"data"][0])
    tv = pytest.importorskip("torchvision.datasets.cifar")
    # torchvision checks the md5 of the official archive's files; everything else it reads as it is.
    monkey = pytest.MonkeyPatch()
    monkey.setattr(tv, "check_integrity", lambda *a, **k: True)
    try:
        theirs = tv.CIFAR10(str(tmp_path / "d"), train=False)
    finally:
        monkey.undo()
    assert theirs.targets == ds.labels and theirs.classes == ds.metadata.classes
    assert np.array_equal(theirs.data, ds.array)


def test_same_seed_same_bytes_whatever_the_workers_and_the_labels_csv_layout(tmp_path: Path) -> None:
    base = {"datasets": ("imagenet1k", "imagenet-a"), "per_class": 1, "train_per_class": 0, "image_size": 16}
    write_fixture(FixtureConfig(tmp_path / "one", workers=1, **base))
    write_fixture(FixtureConfig(tmp_path / "two", workers=2, **base))
    one = _tree_digest(tmp_path / "one")
    assert one == _tree_digest(tmp_path / "two")
    write_fixture(FixtureConfig(tmp_path / "seed1", workers=1, seed=1, **base))
    assert one != _tree_digest(tmp_path / "seed1")
    # labels.csv layout: the same files (same names, same bytes), flat, listed in labels.csv.
    write_fixture(FixtureConfig(tmp_path / "csv", workers=1, imagenet_layout="labels-csv", **base))
    flat = _tree_digest(tmp_path / "csv" / "imagenet" / "val")
    nested = {Path(k).name: v for k, v in one.items() if k.startswith("imagenet/val/")}
    assert {k: v for k, v in flat.items() if k != "labels.csv"} == nested
    by_csv = build_dataset("imagenet1k", tmp_path / "csv", "test")
    by_folders = build_dataset("imagenet1k", tmp_path / "one", "test")

    def named(ds) -> list[tuple[str, int]]:  # noqa: ANN001
        return sorted(zip((Path(f).name for f in ds.files), ds.labels, strict=True))

    assert named(by_csv) == named(by_folders)
    assert not (tmp_path / "one" / "imagenet" / "train").exists()  # train_per_class = 0


def test_imagenet_a_r_lists_are_the_real_ones() -> None:
    wnids = builtin_metadata("imagenet").wnids
    for name, first in (("imagenet-a", "n01498041"), ("imagenet-r", "n01443537")):
        listed = imagenet_subset_wnids(name)
        assert len(listed) == len(set(listed)) == 200 and listed == sorted(listed) and listed[0] == first
        assert set(listed) <= set(wnids)
    # The vendored lists are timm's (which open_clip installs): the same 200 folders as the released datasets.
    timm_info = resources.files("timm").joinpath("data", "_info") if _has("timm") else None
    if timm_info is not None and timm_info.joinpath("imagenet_a_synsets.txt").is_file():
        for name, file in (("imagenet-a", "imagenet_a_synsets.txt"), ("imagenet-r", "imagenet_r_synsets.txt")):
            assert imagenet_subset_wnids(name) == timm_info.joinpath(file).read_text().split()
    with pytest.raises(UserError, match="unknown ImageNet subset"):
        imagenet_subset_wnids("imagenet-b")


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_class_looks_are_distinct_for_the_1000_classes() -> None:
    assert len({class_look(c) for c in range(1000)}) == 1000


def test_config_refusals_name_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--dataset 'imagenet1kk': .*Did you mean 'imagenet1k'"):
        FixtureConfig(tmp_path, datasets=("imagenet1kk",))
    with pytest.raises(ConfigError, match=r"--cifar-test-size 10001: expected at most 10000"):
        FixtureConfig(tmp_path, cifar_test_size=10_001)
    with pytest.raises(ConfigError, match="--dataset: name at least one"):
        FixtureConfig(tmp_path, datasets=())
    assert FixtureConfig(tmp_path).datasets == DATASETS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "imagenet1kk"], "Did you mean 'imagenet1k'"),
        (["--per-class", "0"], "--per-class 0: expected at least 1"),
        (["--imagenet-layout", "folders"], "--imagenet-layout 'folders': expected 'wnids' or 'labels-csv'"),
        (["--image-size", "8"], "--image-size 8: expected at least 16"),
        (["--suite", "world"], "--suite world: reads datasets the fixture does not write (world-shapes"),
        (["--suite", "nosuch"], "unknown suite 'nosuch'"),
        (["--seed", "-1"], "--seed -1"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "out"
    result = cli("data", "fixture", str(out), *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_suite_writes_what_the_suite_reads(tmp_path: Path) -> None:
    out = tmp_path / "shifts"
    result = cli("data", "fixture", str(out), "--suite", "shifts", "--per-class", "1", "--image-size", "16")
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "fixture.json").read_text())
    assert list(info["datasets"]) == ["imagenet1k", "imagenetv2", "imagenet-sketch", "imagenet-a", "imagenet-r"]
    assert info["datasets"]["imagenet1k"]["train"] == 0 and not (out / "imagenet" / "train").exists()
    assert info["images"] == 3400 and "3400 images" in result.stdout
    again = cli("data", "fixture", str(out), "--suite", "shifts")
    assert again.returncode == 2 and "not empty (pass --overwrite" in again.stderr


def test_labels_are_learnable_from_the_pixels(tmp_path: Path) -> None:
    """Each class has its own look: a linear probe on 8×8 pooled CIFAR-10 pixels is well above chance (10%)."""
    import torch

    from cyclip_bench.eval.tasks.linear_probe import fit_logistic_regression, predict

    write_fixture(
        FixtureConfig(tmp_path / "d", datasets=("cifar10",), train_per_class=30, cifar_test_size=300, workers=1)
    )

    def pooled(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        ds = build_dataset("cifar10", tmp_path / "d", split)
        x = torch.tensor(ds.array, dtype=torch.float32).permute(0, 3, 1, 2) / 255
        return torch.nn.functional.avg_pool2d(x, 4).flatten(1), torch.tensor(ds.labels)

    (x_train, y_train), (x_test, y_test) = pooled("train"), pooled("test")
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    w, b = fit_logistic_regression((x_train - mean) / std, y_train, 10, C=1.0)
    accuracy = (predict((x_test - mean) / std, w, b) == y_test).float().mean().item()
    assert accuracy > 0.2, accuracy


def test_real_sizes_plan_the_released_test_set_sizes(tmp_path: Path) -> None:
    """--real-sizes, planned only (writing 175,000 images is a benchmark, not a test)."""
    from cyclip_bench.data.fixture import REAL_SIZES, make_plan

    plan = make_plan(FixtureConfig(tmp_path / "d", real_sizes=True, train_per_class=1))
    counts = Counter(item.stream for item in plan.files)
    assert counts["imagenet/val"] == 50_000 and counts["imagenet/train"] == 1000
    for name in ("imagenetv2", "imagenet-sketch", "imagenet-a", "imagenet-r", "flickr30k", "mscoco"):
        assert counts[name] == REAL_SIZES[name], name
    per_class = Counter(item.label for item in plan.files if item.stream == "imagenet-a")
    assert len(per_class) == 200 and set(per_class.values()) == {37, 38}  # 7,500 spread evenly
    assert {stream: len(items) for stream, (items, _) in plan.cifar.items()} == {
        "cifar10/train": 50_000,  # the real train batches; --train-per-class sets ImageNet train only
        "cifar10/test": 10_000,
        "cifar100/train": 50_000,
        "cifar100/test": 10_000,
    }
    with pytest.raises(ConfigError, match="--real-sizes sets every test set's size: drop --per-class, --retrieval"):
        FixtureConfig(tmp_path / "d", real_sizes=True, per_class=3, retrieval_images=5)


@pytest.mark.parametrize("layout", ["released", "wds"])
def test_fixture_json_gives_every_dataset_one_shape(tmp_path: Path, layout: str) -> None:
    """Core and benchmark datasets, classification and retrieval, are recorded alike: path, layout, the class count
    of a classification set, images per split, and with --layout wds the shards of each split (as nshards.txt)."""
    out = tmp_path / layout
    args = ["--per-class", "1", "--train-per-class", "1", "--retrieval-images", "4", "--image-size", "16"]
    result = cli("data", "fixture", str(out), "-d", "cifar10,mnist,mscoco", "--layout", layout, *args)
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "fixture.json").read_text())
    assert info["fixture_version"] == 2 and list(info["datasets"]) == ["cifar10", "mscoco", "mnist"]
    for name, entry in info["datasets"].items():
        assert entry["layout"] == layout and (out / entry["path"]).is_dir(), (name, entry)
        splits = {"images": 4, "captions": 20} if name == "mscoco" else {"classes": 10, "train": 10, "test": 10}
        assert {k: v for k, v in entry.items() if k in splits} == splits, (name, entry)
        if layout == "wds":
            expected = ["test"] if name == "mscoco" else ["test", "train"]
            assert sorted(entry["shards"]) == expected, (name, entry)
            for split, n in entry["shards"].items():
                assert (out / entry["path"] / split / "nshards.txt").read_text().strip() == str(n)
        else:
            assert "shards" not in entry
    assert ("wds_cifar10: classes 10, train 10, test 10; shards train 1, test 1" in result.stdout) == (layout == "wds")
