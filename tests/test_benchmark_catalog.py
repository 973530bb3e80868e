"""The catalog entries of DataComp's 38 tasks and CLIP_benchmark's vtab+ collection
(cyclip_bench/data/benchmarks.py): every entry resolves by its name and by each CLIP_benchmark/DataComp spelling,
has shipped class metadata or says its copy's classnames.txt gives the names, and its webdataset copy is found
under every documented folder name, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclip_bench.data.benchmarks import BENCHMARKS
from cyclip_bench.data.catalog import (
    DATASETS,
    build_dataset,
    catalog_names,
    check_dataset_name,
    has_split,
    wds_folder,
)
from cyclip_bench.data.metadata import BUILTIN_NAMES, dataset_main_metric
from cyclip_bench.data.wds import CLASSNAMES_FILE, synthetic_wds_samples, write_wds_fixture
from cyclip_bench.errors import DataError, UserError

# DataComp's 38 tasks (tasklist.yml keys with a main metric) and CLIP_benchmark's vtab+ collection, as they
# spell them.
DATACOMP_38 = (
    "vtab/caltech101 cifar10 vtab/cifar100 vtab/clevr_count_all vtab/clevr_closest_object_distance country211 "
    "vtab/dtd vtab/eurosat fgvc_aircraft food101 gtsrb imagenet1k imagenet_sketch imagenetv2 imagenet-a imagenet-o "
    "imagenet-r vtab/kitti_closest_vehicle_distance mnist objectnet vtab/flowers vtab/pets voc2007 vtab/pcam "
    "renderedsst2 vtab/resisc45 cars stl10 sun397 vtab/svhn retrieval/flickr30k "
    "retrieval/mscoco_2014_5k_test_image_text_retrieval misc/winogavil wilds/iwildcam wilds/camelyon17 wilds/fmow "
    "fairness/dollar_street fairness/geode"
).split()
NOT_READ = {"misc/winogavil"}  # an image-association task (Jaccard), read from its Hugging Face copy
VTAB_PLUS = (
    "imagenet1k imagenetv2 imagenet_sketch imagenet-a imagenet-r objectnet fer2013 voc2007 voc2007_multilabel "
    "sun397 cars fgvc_aircraft mnist stl10 gtsrb country211 renderedsst2 vtab/caltech101 vtab/cifar10 "
    "vtab/cifar100 vtab/clevr_count_all vtab/clevr_closest_object_distance vtab/diabetic_retinopathy vtab/dmlab "
    "vtab/dsprites_label_orientation vtab/dsprites_label_x_position vtab/dsprites_label_y_position vtab/dtd "
    "vtab/eurosat vtab/kitti_closest_vehicle_distance vtab/flowers vtab/pets vtab/pcam vtab/resisc45 "
    "vtab/smallnorb_label_azimuth vtab/smallnorb_label_elevation vtab/svhn"
).split()


def _catalog_name_of(spelling: str) -> str | None:
    for name, entry in DATASETS.items():
        if spelling == name or spelling in entry.wds_names:
            return name
    return None


@pytest.mark.parametrize("spelling", sorted((set(DATACOMP_38) | set(VTAB_PLUS)) - NOT_READ))
def test_every_anchor_spelling_is_a_catalog_dataset(spelling: str) -> None:
    name = _catalog_name_of(spelling)
    assert name is not None, f"{spelling} has no catalog entry"
    check_dataset_name(spelling if spelling in DATASETS else "wds/" + spelling)
    assert "wds/" + spelling in catalog_names() or spelling in DATASETS


def test_the_38_tasks_are_38_distinct_datasets() -> None:
    assert len(DATACOMP_38) == 38
    assert len({_catalog_name_of(s) for s in DATACOMP_38 if s not in NOT_READ}) == 38 - len(NOT_READ)
    assert all(_catalog_name_of(s) is None for s in NOT_READ)


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=lambda b: b.name)
def test_entry_has_metadata_or_says_its_copy_names_the_classes(benchmark, tmp_path: Path) -> None:
    entry = DATASETS.get(benchmark.name)
    assert entry.wds_names == benchmark.wds_names and entry.published.startswith("http")
    if benchmark.name in BUILTIN_NAMES:
        meta = entry.metadata()
        assert meta.classes and meta.source and meta.main_metric == dataset_main_metric(benchmark.name)
    else:
        assert entry.metadata is None and "classnames.txt" in entry.description
        # Its copy without classnames.txt cannot be read: the error names the file.
        folder = tmp_path / f"wds_{benchmark.wds_names[0].replace('/', '-')}_test"
        write_wds_fixture(
            folder, "classification", ["a", "b"], ["{c}"], 2, {"test": synthetic_wds_samples("classification", 2, 2)}
        )
        (folder / CLASSNAMES_FILE).unlink()
        with pytest.raises(DataError, match=CLASSNAMES_FILE):
            build_dataset(benchmark.name, tmp_path, "test")


def _copy(folder: Path, n_classes: int, n: int = 5, splits: tuple[str, ...] = ("test",)) -> Path:
    classes = [f"c{i}" for i in range(n_classes)]
    samples = {s: synthetic_wds_samples("classification", n, n_classes, seed=i) for i, s in enumerate(splits)}
    write_wds_fixture(folder, "classification", classes, ["a photo of a {c}."], 2, samples)
    return folder


@pytest.mark.parametrize("benchmark", [b for b in BENCHMARKS if b.kind == "labelled"], ids=lambda b: b.name)
def test_every_wds_spelling_of_an_entry_is_found(benchmark, tmp_path: Path) -> None:
    pytest.importorskip("webdataset")
    for i, wds_name in enumerate(benchmark.wds_names):
        flat = wds_name.replace("/", "-")
        for folder_name in (f"wds_{flat}", f"wds_{flat}_test"):
            root = tmp_path / f"{i}-{folder_name}"
            folder = _copy(root / folder_name, 3)
            assert wds_folder(root, benchmark.name) == folder
            ds = build_dataset(benchmark.name, root, "test")
            assert len(ds) == 5 and ds.metadata.classes == ["c0", "c1", "c2"]
            assert build_dataset("wds/" + wds_name, root, "test").labels == ds.labels


def test_lookup_order_follows_wds_names_then_the_folder_forms(tmp_path: Path) -> None:
    pytest.importorskip("webdataset")
    # pets: CLIP_benchmark's vtab/pets copy wins over its plain spelling; within one spelling wds_<N> wins over
    # DataComp's wds_<N>_test.
    plain = _copy(tmp_path / "wds_pets", 3)
    assert wds_folder(tmp_path, "pets") == plain
    datacomp = _copy(tmp_path / "wds_vtab-pets_test", 3)
    assert wds_folder(tmp_path, "pets") == datacomp
    clip_benchmark = _copy(tmp_path / "wds_vtab-pets", 3)
    assert wds_folder(tmp_path, "pets") == clip_benchmark


def test_test_only_copies_have_no_train_split(tmp_path: Path) -> None:
    pytest.importorskip("webdataset")
    _copy(tmp_path / "wds_wilds-fmow_test", 62, splits=("test", "train"))
    assert has_split("fmow", tmp_path, "test") and not has_split("fmow", tmp_path, "train")
    with pytest.raises(UserError, match="no 'train' split"):
        build_dataset("fmow", tmp_path, "train")
    _copy(tmp_path / "wds_vtab-dtd", 47, splits=("test", "train"))
    assert has_split("dtd", tmp_path, "train")


@pytest.mark.parametrize("name", ["resisc45", "iwildcam"])
def test_a_wds_only_dataset_missing_says_where_its_copies_are_published(name: str, tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        build_dataset(name, tmp_path, "test")
    message = str(err.value)
    flat = DATASETS.get(name).wds_names[0].replace("/", "-")
    assert "no webdataset folder" in message and f"wds_{flat}" in message and "released layout" not in message
    assert f"https://huggingface.co/datasets/djghosh/wds_{flat}_test" in message and "\n" not in message


def test_existing_entries_know_the_anchors_other_spellings() -> None:
    assert "vtab/cifar10" in DATASETS.get("cifar10").wds_names
    assert "vtab/cifar100" in DATASETS.get("cifar100").wds_names
    assert "retrieval/flickr_1k_test_image_text_retrieval" in DATASETS.get("flickr30k").wds_names
    assert "retrieval/mscoco_2014_5k_test_image_text_retrieval" in DATASETS.get("mscoco").wds_names


def test_the_fixture_knows_every_benchmark_dataset() -> None:
    from cyclip_bench.data.fixture_config import BENCHMARK_DATASETS

    assert BENCHMARK_DATASETS == tuple(b.name for b in BENCHMARKS)
