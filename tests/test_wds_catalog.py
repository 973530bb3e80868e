"""The data catalog reads CLIP_benchmark's webdataset ("wds") copies (cyclip_bench/data/catalog.py over
cyclip_bench/data/wds.py), on shards written by webdataset's own ShardWriter: a catalog name's wds copy is read
before its released layout, in the documented folder order; ``wds/<name>`` names as CLIP_benchmark spells them;
the copy's own class names win over the shipped ones; a missing dataset names both layouts and where each is
published; a missing nshards.txt and a short shard are refused with one line through the CLI (multilabel copies:
test_multilabel_eval.py);
``data fixture --layout wds`` writes multi-shard webp copies the catalog reads at their real class counts."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from cli_runner import cli

from cyclip_bench.data.catalog import (
    LABELLED,
    RETRIEVAL,
    build_dataset,
    build_retrieval_dataset,
    dataset_kind,
    has_split,
    wds_folder,
)
from cyclip_bench.data.metadata import builtin_metadata
from cyclip_bench.data.wds import (
    CLASSNAMES_FILE,
    NSHARDS_FILE,
    TEMPLATES_FILE,
    WdsClassificationDataset,
    WdsRetrievalDataset,
    synthetic_wds_samples,
    write_wds_fixture,
)
from cyclip_bench.errors import DataError, UserError

pytest.importorskip("webdataset")

CLASSES = [f"thing {i}" for i in range(10)]  # cifar10 has 10 classes; these names are not CIFAR's


def _classification(folder: Path, classes: list[str] = CLASSES, splits: dict[str, int] | None = None, **kw) -> Path:
    counts = splits or {"test": 7, "train": 9}
    samples = {
        s: synthetic_wds_samples("classification", n, len(classes), seed=i) for i, (s, n) in enumerate(counts.items())
    }
    write_wds_fixture(folder, "classification", classes, ["a photo of a {c}."], 3, samples, **kw)
    return folder


def _drop(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).unlink()


def test_catalog_name_reads_its_wds_copy_first_and_the_copys_class_names_win(tmp_path: Path) -> None:
    _classification(tmp_path / "wds_cifar10")
    test = build_dataset("cifar10", tmp_path, "test")
    train = build_dataset("cifar10", tmp_path, "train")
    assert isinstance(test, WdsClassificationDataset) and (len(test), len(train)) == (7, 9)
    assert test.metadata.classes == CLASSES and test.metadata.templates == ["a photo of a {}."]
    assert test.name == "cifar10/test" and test.labels == [i % 10 for i in range(7)]
    assert dataset_kind("cifar10", tmp_path) is LABELLED
    assert has_split("cifar10", tmp_path, "train") and has_split("cifar10", tmp_path, "test")


def test_shipped_metadata_fills_in_what_the_copy_lacks(tmp_path: Path) -> None:
    folder = _classification(tmp_path / "wds_cifar10")
    _drop(folder, CLASSNAMES_FILE, TEMPLATES_FILE)
    shipped = builtin_metadata("cifar10")
    ds = build_dataset("cifar10", tmp_path, "test")
    assert ds.metadata.classes == shipped.classes and ds.metadata.templates == shipped.templates
    (folder / TEMPLATES_FILE).write_text("itap of a {c}.\n")  # its own templates win, the names are shipped
    ds = build_dataset("cifar10", tmp_path, "test")
    assert ds.metadata.classes == shipped.classes and ds.metadata.templates == ["itap of a {}."]


def test_wds_folder_lookup_order(tmp_path: Path) -> None:
    # DATA_ROOT/<name> is a wds copy only when it holds the layout's files: a released folder of that name is not.
    (tmp_path / "imagenet-a" / "n01498041").mkdir(parents=True)
    assert wds_folder(tmp_path, "imagenet-a") is None
    plain = _classification(tmp_path / "cifar10")
    assert wds_folder(tmp_path, "cifar10") == plain
    datacomp = _classification(tmp_path / "wds_cifar10_test")
    assert wds_folder(tmp_path, "cifar10") == datacomp
    benchmark = _classification(tmp_path / "wds_cifar10")
    assert wds_folder(tmp_path, "cifar10") == benchmark
    # A catalog entry's CLIP_benchmark names: imagenet-sketch's copy is wds_imagenet_sketch, mscoco's
    # wds_mscoco_captions; wds/<name> is looked up as it is spelt, "/" as "-".
    (tmp_path / "wds_imagenet_sketch").mkdir()
    assert wds_folder(tmp_path, "imagenet-sketch") == tmp_path / "wds_imagenet_sketch"
    vtab = _classification(tmp_path / "wds_vtab-cifar10_test", classes=["a", "b", "c"])
    assert wds_folder(tmp_path, "wds/vtab/cifar10") == vtab
    ds = build_dataset("wds/vtab/cifar10", tmp_path, "train")
    assert ds.name == "wds/vtab/cifar10/train" and ds.metadata.classes == ["a", "b", "c"]


def test_retrieval_copy_and_kind_checks(tmp_path: Path) -> None:
    samples = {"test": synthetic_wds_samples("retrieval", 5, captions_per_image=3)}
    write_wds_fixture(tmp_path / "wds_mscoco_captions", "retrieval", [], [], 2, samples)
    ds = build_retrieval_dataset("mscoco", tmp_path)
    assert isinstance(ds, WdsRetrievalDataset) and len(ds.captions) == 15 and ds.caption_image[:4] == [0, 0, 0, 1]
    assert build_retrieval_dataset("wds/mscoco_captions", tmp_path).captions == ds.captions
    assert dataset_kind("wds/mscoco_captions", tmp_path) is RETRIEVAL
    assert not has_split("wds/mscoco_captions", tmp_path, "train")
    with pytest.raises(UserError, match="labelled dataset, not a retrieval"):
        build_retrieval_dataset("cifar10", tmp_path)
    with pytest.raises(DataError, match="a retrieval webdataset .* read here as a labelled dataset"):
        build_dataset("wds/mscoco_captions", tmp_path)
    # A catalog name whose copy holds the other kind is refused, naming the copy.
    write_wds_fixture(tmp_path / "wds_cifar10", "retrieval", [], [], 2, samples)
    with pytest.raises(DataError, match=r"wds_cifar10: a retrieval webdataset .* read here as a labelled"):
        build_dataset("cifar10", tmp_path)


def test_missing_dataset_names_both_layouts_and_where_published(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        build_dataset("cifar10", tmp_path)
    message = str(err.value)
    for part in (
        f"{tmp_path}/wds_cifar10/test/nshards.txt",
        "classnames.txt",
        f"{tmp_path}/wds_cifar10_test",
        f"{tmp_path}/cifar-10-batches-py",
        "https://www.cs.toronto.edu/~kriz/cifar.html",
        "https://huggingface.co/datasets/clip-benchmark/wds_cifar10",
        "downloads nothing",
    ):
        assert part in message, (part, message)
    with pytest.raises(DataError, match=r"wds_vtab-cifar10/test/nshards.txt .*clip-benchmark/wds_vtab-cifar10"):
        build_dataset("wds/vtab/cifar10", tmp_path)
    assert not list(tmp_path.iterdir())  # nothing fetched, nothing written
    # The released layout still reads when no copy is there: its own error, not the "missing" one.
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"x")
    with pytest.raises(DataError, match="batches.meta"):
        build_dataset("cifar10", tmp_path)


EVAL = ["eval", "--workers", "0", "-q", "--no-cache"]


def test_cli_refuses_missing_nshards_and_a_short_shard(tmp_path: Path, same_label_checkpoints: dict) -> None:
    ckpt = str(same_label_checkpoints["exp1"])
    folder = _classification(tmp_path / "root" / "wds_vtab-cifar10", classes=["a", "b", "c"], splits={"test": 7})
    args = [*EVAL, "-c", ckpt, "--dataset", "wds/vtab/cifar10", "--data-root", str(tmp_path / "root")]
    (folder / "test" / NSHARDS_FILE).rename(folder / "nshards.bak")
    result = cli(*args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"{folder / 'test' / NSHARDS_FILE}: not found" in result.stderr
    (folder / "nshards.bak").rename(folder / "test" / NSHARDS_FILE)
    (folder / "test" / "2.tar").unlink()  # nshards.txt says 3
    result = cli(*args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and f"{folder / 'test' / '2.tar'}: not found" in result.stderr, result.stderr
    shard = folder / "test" / "1.tar"
    shard.write_bytes(shard.read_bytes()[:1000])  # a partial copy
    _classification(tmp_path / "other", classes=["a", "b", "c"], splits={"test": 1})
    (folder / "test" / "2.tar").write_bytes((tmp_path / "other" / "test" / "0.tar").read_bytes())
    result = cli(*args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"{shard}: " in result.stderr and "truncated" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_data_fixture_writes_wds_copies_the_catalog_reads(tmp_path: Path) -> None:
    out = tmp_path / "fx"
    result = cli(
        *("data", "fixture", str(out), "--layout", "wds", "-d", "cifar100", "-d", "imagenet-r", "-d", "flickr30k"),
        *("--per-class", "1", "--train-per-class", "1", "--retrieval-images", "5", "--wds-shard-size", "40"),
    )
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "fixture.json").read_text())
    assert info["layout"] == "wds" and info["datasets"]["cifar100"]["shards"] == {"train": 3, "test": 3}
    assert info["datasets"]["imagenet-r"]["path"] == "wds_imagenet-r"
    assert (out / "wds_cifar100" / "test" / NSHARDS_FILE).read_text().strip() == "3"
    with tarfile.open(out / "wds_cifar100" / "test" / "0.tar") as tar:
        names = tar.getnames()
    assert sorted(names[:2]) == ["s0000000.cls", "s0000000.webp"] and len(names) == 80  # 40 samples, image + label each
    cifar = build_dataset("cifar100", out, "test")
    assert (
        len(cifar.metadata.classes) == 100 and len(cifar) == 100 and len(build_dataset("cifar100", out, "train")) == 100
    )
    assert cifar.metadata.classes == builtin_metadata("cifar100").classes
    r = build_dataset("imagenet-r", out)  # the copy lists its 200 classes only, as CLIP_benchmark's does
    assert len(r.metadata.classes) == 200 and sorted(set(r.labels)) == list(range(200)) and r.class_subset is None
    assert r.metadata.templates[0].count("{}") == 1
    flickr = build_retrieval_dataset("flickr30k", out)
    assert len(flickr.captions) == 25 and (out / "wds_flickr30k" / "dataset_type.txt").read_text() == "retrieval\n"
    assert not (out / "cifar-100-python").exists() and not (out / "flickr30k").exists()


def test_a_train_split_linked_to_the_test_split_is_refused(tmp_path: Path, same_label_checkpoints: dict) -> None:
    folder = _classification(tmp_path / "root" / "wds_vtab-cifar10", classes=["a", "b", "c"], splits={"test": 4})
    (folder / "train").symlink_to(folder / "test", target_is_directory=True)
    result = cli(
        *EVAL, "-c", str(same_label_checkpoints["exp1"]), "--dataset", "wds/vtab/cifar10", "--data-root",
        str(tmp_path / "root"), "--out", str(tmp_path / "out"), "--dry-run",
    )  # fmt: skip
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert (
        "'train' and 'test' splits read the same shard" in result.stderr
        and str(folder / "test" / "0.tar") in result.stderr
    )
