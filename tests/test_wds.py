"""CLIP_benchmark's webdataset (wds) layout (cyclip_bench/data/wds.py), on shards written by webdataset's own
ShardWriter: classification (webp, png, jpg), multilabel and retrieval splits round-trip; every broken file is one
DataError line naming it; DataLoader workers read the same batches; the fingerprint follows the shards' bytes."""

from __future__ import annotations

import io
import os
import pickle
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cyclip_bench.data.labelled import LabelledDataset
from cyclip_bench.data.wds import (
    WdsClassificationDataset,
    WdsMultilabelDataset,
    WdsRetrievalDataset,
    WdsSample,
    load_wds,
    synthetic_wds_samples,
    wds_folder_candidates,
    wds_folder_for,
    wds_info,
    write_wds_fixture,
)
from cyclip_bench.errors import ConfigError, DataError, UserError

wds = pytest.importorskip("webdataset")

CLASSES = ["cat", "dog", "sea turtle"]
TEMPLATES = ["a photo of a {c}.", "a drawing of the {c}."]


def _write(
    root: Path,
    kind: str,
    samples: list[WdsSample],
    per_shard: int = 2,
    classes: list[str] | None = None,
    templates: list[str] | None = None,
    split: str = "test",
) -> Path:
    classes = CLASSES if classes is None else classes
    templates = TEMPLATES if templates is None else templates
    write_wds_fixture(root, kind, classes, templates, per_shard, {split: samples})
    return root


def _pixels(n: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(n)]


def _refused(call, *paths: Path) -> str:  # noqa: ANN001
    """The one-line DataError of ``call()``, checked to name every path."""
    with pytest.raises(DataError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for path in paths:
        assert str(path) in message, message
    return message


# --- round trips ---------------------------------------------------------------------------------------------
def test_classification_round_trips_labels_and_pixels_over_four_webp_shards(tmp_path: Path) -> None:
    pixels = _pixels(7)
    labels = [2, 0, 1, 1, 2, 0, 2]
    root = _write(
        tmp_path / "wds_cls", "classification", [WdsSample(p, label=y) for p, y in zip(pixels, labels, strict=True)]
    )
    assert (root / "test" / "nshards.txt").read_text() == "4\n"
    assert not (root / "dataset_type.txt").exists()  # as CLIP_benchmark's exporter: absent = classification
    ds = load_wds(root, "test")
    assert isinstance(ds, WdsClassificationDataset) and isinstance(ds, LabelledDataset)
    assert ds.name == "wds_cls/test" and len(ds) == 7
    assert ds.labels == labels
    assert ds.metadata.classes == CLASSES
    assert set(ds.images.index.exts) == {"webp"}
    assert ds.images.index.keys == [f"s{i:07d}" for i in range(7)]
    for i in (6, 0, 3):  # random access, out of order
        image, label = ds[i]
        assert image.mode == "RGB" and label == labels[i]
        np.testing.assert_array_equal(np.asarray(image), pixels[i])  # lossless webp: the very pixels written


def test_png_and_jpg_samples_mixed_and_the_first_image_extension_wins(tmp_path: Path) -> None:
    pixels = _pixels(5, seed=2)
    exts = ["png", "jpg", "jpeg", "png", "webp"]
    ramp = np.linspace(0, 255, 16, dtype=np.uint8)
    for i in (1, 2):  # smooth pictures for jpeg (noise does not survive its chroma subsampling)
        pixels[i] = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], ramp[None, :: -1 if i == 1 else 1]), -1)
    samples = [WdsSample(p, label=i % 3, image_ext=e) for i, (p, e) in enumerate(zip(pixels, exts, strict=True))]
    # A sample holding webp and png: webp is the image (CLIP_benchmark's order webp, png, jpg, jpeg).
    decoy = Image.fromarray(np.zeros((16, 16, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    decoy.save(buffer, format="png")
    samples[4] = WdsSample(pixels[4], label=1, image_ext="webp", extra={"png": buffer.getvalue()})
    ds = load_wds(_write(tmp_path / "mixed", "classification", samples, per_shard=3), "test")
    assert ds.images.index.exts == ["png", "jpg", "jpeg", "png", "webp"]
    for i in (0, 3, 4):
        np.testing.assert_array_equal(np.asarray(ds[i][0]), pixels[i])
    for i in (1, 2):  # jpeg is lossy: compare with Pillow's own decode of the bytes the writer stored
        with tarfile.open(tmp_path / "mixed" / "test" / "0.tar") as tar:
            stored = tar.extractfile(f"s{i:07d}.{exts[i]}").read()
        expected = np.asarray(Image.open(io.BytesIO(stored)).convert("RGB"))
        np.testing.assert_array_equal(np.asarray(ds[i][0]), expected)
        assert np.abs(expected.astype(int) - pixels[i]).mean() < 12


def test_retrieval_keeps_every_caption_of_each_image_in_order(tmp_path: Path) -> None:
    pixels = _pixels(3, seed=3)
    captions = [["a red square", "a square, red"], ["two lines:\nkept as written"], ["x", "y", "z"]]
    root = _write(
        tmp_path / "ret",
        "retrieval",
        [WdsSample(p, captions=c) for p, c in zip(pixels, captions, strict=True)],
        classes=[],
        templates=[],
    )
    assert (root / "dataset_type.txt").read_text() == "retrieval\n"
    assert wds_info(root).classes == [] and wds_info(root).templates == []
    ds = load_wds(root, "test", name="flickr-wds/test")
    assert isinstance(ds, WdsRetrievalDataset) and ds.name == "flickr-wds/test"
    assert ds.captions == ["a red square", "a square, red", "two lines:\\nkept as written", "x", "y", "z"]
    assert ds.caption_image == [0, 0, 1, 2, 2, 2]
    assert len(ds.images) == 3
    np.testing.assert_array_equal(np.asarray(ds.images[2]), pixels[2])


def test_multilabel_exposes_the_multi_hot_targets(tmp_path: Path) -> None:
    samples = synthetic_wds_samples("multilabel", 5, num_classes=3, seed=4)
    root = _write(tmp_path / "voc", "multilabel", samples)
    assert (root / "dataset_type.txt").read_text() == "multilabel\n"
    ds = load_wds(root, "test")
    assert isinstance(ds, WdsMultilabelDataset)
    expected = np.stack([s.targets for s in samples])
    assert ds.targets.shape == (5, 3) and ds.targets.dtype == np.uint8
    np.testing.assert_array_equal(ds.targets, expected)
    image, row = ds[3]
    np.testing.assert_array_equal(row, expected[3])
    np.testing.assert_array_equal(np.asarray(image), samples[3].image)
    assert len(ds.fingerprint()) == 64


def test_templates_use_the_projects_placeholder(tmp_path: Path) -> None:
    root = _write(tmp_path / "t", "classification", synthetic_wds_samples("classification", 2))
    info = wds_info(root)
    assert info.templates == ["a photo of a {}.", "a drawing of the {}."]
    assert info.metadata.prompts(2) == ["a photo of a sea turtle.", "a drawing of the sea turtle."]


def test_the_index_groups_samples_as_webdatasets_own_pipeline_does(tmp_path: Path) -> None:
    samples = synthetic_wds_samples("classification", 5)
    samples[2] = WdsSample(samples[2].image, label=0, image_ext="png", extra={"json": {"a": 1}})
    root = _write(tmp_path / "g", "classification", samples)
    shards = [str(root / "test" / f"{i}.tar") for i in range(3)]
    pipeline = wds.WebDataset(shards, shardshuffle=False, handler=wds.handlers.reraise_exception)
    theirs = [(s["__key__"], sorted(k for k in s if not k.startswith("__"))) for s in pipeline]
    ds = load_wds(root, "test")
    assert [key for key, _ in theirs] == ds.images.index.keys
    assert theirs[2][1] == ["cls", "json", "png"] and ds.images.index.exts[2] == "png"


# --- refusals ------------------------------------------------------------------------------------------------
def test_missing_nshards_txt(tmp_path: Path) -> None:
    root = _write(tmp_path / "d", "classification", synthetic_wds_samples("classification", 3))
    (root / "test" / "nshards.txt").unlink()
    _refused(lambda: load_wds(root, "test"), root / "test" / "nshards.txt")


def test_nshards_says_three_but_two_shards_exist(tmp_path: Path) -> None:
    root = _write(tmp_path / "d", "classification", synthetic_wds_samples("classification", 6))
    assert (root / "test" / "nshards.txt").read_text() == "3\n"
    (root / "test" / "2.tar").unlink()
    message = _refused(lambda: load_wds(root, "test"), root / "test" / "2.tar")
    assert "says 3 shards" in message


def test_a_shard_beyond_nshards_is_not_ignored(tmp_path: Path) -> None:
    root = _write(tmp_path / "d", "classification", synthetic_wds_samples("classification", 6))
    (root / "test" / "nshards.txt").write_text("2\n")
    _refused(lambda: load_wds(root, "test"), root / "test" / "2.tar")


@pytest.mark.parametrize("bad", ["", "two", "0", "-1", "1.5"])
def test_nshards_must_be_a_positive_integer(tmp_path: Path, bad: str) -> None:
    root = _write(tmp_path / "d", "classification", synthetic_wds_samples("classification", 2))
    (root / "test" / "nshards.txt").write_text(bad)
    _refused(lambda: load_wds(root, "test"), root / "test" / "nshards.txt")


@pytest.mark.parametrize("where", ["inside_image", "between_members", "inside_header", "inside_end_blocks"])
def test_a_truncated_last_shard_is_refused(tmp_path: Path, where: str) -> None:
    root = _write(tmp_path / "d", "classification", synthetic_wds_samples("classification", 5))
    last = root / "test" / "2.tar"
    with tarfile.open(last) as tar:
        members = tar.getmembers()
    image = members[-1]
    assert image.name.endswith(".webp")
    end = image.offset_data + -(-image.size // 512) * 512
    cut = {
        "inside_image": image.offset_data + image.size // 2,
        "between_members": end,  # every member whole: only the end-of-archive blocks are missing
        "inside_header": members[-1].offset + 100,
        "inside_end_blocks": end + 700,
    }[where]
    data = last.read_bytes()
    last.write_bytes(data[:cut])
    _refused(lambda: load_wds(root, "test"), last)


def test_a_gzip_shard_is_refused(tmp_path: Path) -> None:
    import gzip

    root = _write(tmp_path / "d", "classification", synthetic_wds_samples("classification", 2))
    shard = root / "test" / "0.tar"
    shard.write_bytes(gzip.compress(shard.read_bytes()))
    assert "gzip" in _refused(lambda: load_wds(root, "test"), shard)


def test_a_label_out_of_range(tmp_path: Path) -> None:
    samples = synthetic_wds_samples("classification", 4)
    samples[3] = WdsSample(samples[3].image, label=3)
    root = _write(tmp_path / "d", "classification", samples)
    message = _refused(lambda: load_wds(root, "test"), root / "test" / "1.tar")
    assert "s0000003" in message and "label 3 out of range 0..2" in message


def test_a_non_integer_cls(tmp_path: Path) -> None:
    samples = synthetic_wds_samples("classification", 3)
    samples[0] = WdsSample(samples[0].image, label="tabby")
    root = _write(tmp_path / "d", "classification", samples)
    assert "'tabby' is not an integer" in _refused(lambda: load_wds(root, "test"), root / "test" / "0.tar")


def test_a_sample_without_an_image(tmp_path: Path) -> None:
    samples = synthetic_wds_samples("classification", 3)
    samples[2] = WdsSample(None, label=1)
    root = _write(tmp_path / "d", "classification", samples)
    message = _refused(lambda: load_wds(root, "test"), root / "test" / "1.tar")
    assert "s0000002" in message and "no image" in message


def test_a_sample_without_its_target(tmp_path: Path) -> None:
    samples = synthetic_wds_samples("classification", 2)
    samples[1] = WdsSample(samples[1].image)
    root = _write(tmp_path / "d", "classification", samples)
    assert "no .cls" in _refused(lambda: load_wds(root, "test"), root / "test" / "0.tar")


class _Boom:
    """Pickles as a call of os.mkdir: loading it with pickles allowed would create ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (os.mkdir, (self.path,))


def test_a_pickle_bearing_npy_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    samples = synthetic_wds_samples("multilabel", 3)
    evil = np.empty(3, dtype=object)
    evil[:] = [_Boom(str(marker)), 0, 1]
    samples[1] = WdsSample(samples[1].image, targets=evil)
    root = _write(tmp_path / "d", "multilabel", samples)
    with tarfile.open(root / "test" / "0.tar") as tar:
        assert b"mkdir" in tar.extractfile("s0000001.npy").read()  # the payload is really there
    message = _refused(lambda: load_wds(root, "test"), root / "test" / "0.tar")
    assert "pickled objects, refused" in message
    assert not marker.exists()


def test_a_multi_hot_of_the_wrong_width_or_values(tmp_path: Path) -> None:
    samples = synthetic_wds_samples("multilabel", 2)
    samples[1] = WdsSample(samples[1].image, targets=np.array([1, 0, 0, 1], dtype=np.uint8))
    root = _write(tmp_path / "w", "multilabel", samples)
    assert "expected (3,)" in _refused(lambda: load_wds(root, "test"), root / "test" / "0.tar")
    samples[1] = WdsSample(samples[1].image, targets=np.array([1, 2, 0], dtype=np.int64))
    root = _write(tmp_path / "v", "multilabel", samples)
    assert "only 0 and 1" in _refused(lambda: load_wds(root, "test"), root / "test" / "0.tar")


def test_a_corrupt_image_names_shard_and_sample_when_read(tmp_path: Path) -> None:
    samples = synthetic_wds_samples("classification", 2)
    samples[1] = WdsSample(b"not an image at all", label=0, image_ext="png")
    ds = load_wds(_write(tmp_path / "d", "classification", samples), "test")
    message = _refused(lambda: ds[1], tmp_path / "d" / "test" / "0.tar")
    assert "s0000001" in message and ".png image unreadable" in message


def test_class_files_are_checked(tmp_path: Path) -> None:
    samples = synthetic_wds_samples("classification", 2)
    root = _write(tmp_path / "a", "classification", samples, templates=["a photo of a {c}.", "a photo."])
    message = _refused(lambda: wds_info(root), root / "zeroshot_classification_templates.txt")
    assert "line 2" in message and "{c}" in message
    root = _write(tmp_path / "b", "classification", samples, templates=[])
    _refused(lambda: load_wds(root, "test"), root / "zeroshot_classification_templates.txt")
    root = _write(tmp_path / "c", "classification", samples, classes=[])
    _refused(lambda: load_wds(root, "test"), root / "classnames.txt")
    (root / "classnames.txt").write_text("cat\n\ndog\n")
    assert "line 2 is blank" in _refused(lambda: wds_info(root), root / "classnames.txt")
    (root / "dataset_type.txt").write_text("segmentation\n")
    assert "'segmentation'" in _refused(lambda: wds_info(root), root / "dataset_type.txt")
    (root / "dataset_type.txt").write_text("classification\n")  # DataComp's script writes it explicitly
    (root / "classnames.txt").write_text("cat\ndog\nsea turtle\n\n")
    assert wds_info(root).classes == CLASSES


def test_a_missing_split_lists_the_splits_there(tmp_path: Path) -> None:
    root = _write(tmp_path / "d", "classification", synthetic_wds_samples("classification", 2), split="train")
    message = _refused(lambda: load_wds(root, "test"), root / "test")
    assert "splits in" in message and "train" in message


def test_without_the_webdataset_package_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _write(tmp_path / "d", "classification", synthetic_wds_samples("classification", 2))
    monkeypatch.setitem(sys.modules, "webdataset", None)  # `import webdataset` now raises ImportError
    message = _refused(lambda: load_wds(root, "test"))
    assert "pip install 'cyclip-bench[webdataset]'" in message


def test_the_writer_refuses_a_non_empty_folder_and_bad_arguments(tmp_path: Path) -> None:
    out = tmp_path / "full"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    samples = synthetic_wds_samples("classification", 2)
    with pytest.raises(UserError, match="not empty"):
        write_wds_fixture(out, "classification", CLASSES, TEMPLATES, 2, {"test": samples})
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    with pytest.raises(ConfigError, match="dataset_type 'captions'"):
        write_wds_fixture(tmp_path / "x", "captions", CLASSES, TEMPLATES, 2, {"test": samples})
    with pytest.raises(ConfigError, match="samples_per_shard 0"):
        write_wds_fixture(tmp_path / "x", "classification", CLASSES, TEMPLATES, 0, {"test": samples})
    assert not (tmp_path / "x").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["full"]  # no temp folder left behind


# --- finding a dataset under --data-root -----------------------------------------------------------------------
def test_wds_folder_for_follows_clip_benchmark_and_datacomp_names(tmp_path: Path) -> None:
    assert wds_folder_candidates(tmp_path, "wds/vtab/cifar10") == [
        tmp_path / "wds_vtab-cifar10",
        tmp_path / "wds_vtab-cifar10_test",
        tmp_path / "vtab" / "cifar10",
        tmp_path / "wds" / "vtab" / "cifar10",
    ]
    message = _refused(lambda: wds_folder_for(tmp_path, "wds/vtab/cifar10"))
    for path in wds_folder_candidates(tmp_path, "wds/vtab/cifar10"):
        assert str(path) in message
    (tmp_path / "vtab" / "cifar10").mkdir(parents=True)
    assert wds_folder_for(tmp_path, "wds/vtab/cifar10") == tmp_path / "vtab" / "cifar10"
    (tmp_path / "wds_vtab-cifar10_test").mkdir()  # DataComp's download
    assert wds_folder_for(tmp_path, "vtab/cifar10") == tmp_path / "wds_vtab-cifar10_test"
    (tmp_path / "wds_vtab-cifar10").mkdir()  # CLIP_benchmark's
    assert wds_folder_for(tmp_path, "wds/vtab/cifar10") == tmp_path / "wds_vtab-cifar10"
    (tmp_path / "cars").mkdir()
    assert wds_folder_for(tmp_path, "cars") == tmp_path / "cars"
    for bad in ("", "../x", "/etc", "a//b", "wds/./c", "a\\b"):
        with pytest.raises(ConfigError):
            wds_folder_candidates(tmp_path, bad)


# --- workers and fingerprints --------------------------------------------------------------------------------
def _batches(ds: WdsClassificationDataset, workers: int) -> list:
    loader = torch.utils.data.DataLoader(
        ds, batch_size=3, num_workers=workers, multiprocessing_context="fork" if workers else None
    )
    return [(images.clone(), labels.clone()) for images, labels in loader]


def _tensor_dataset(tmp_path: Path) -> WdsClassificationDataset:
    from torchvision.transforms import PILToTensor

    root = _write(tmp_path / "d", "classification", synthetic_wds_samples("classification", 9), per_shard=2)
    return load_wds(root, "test", transform=PILToTensor())


def test_dataloader_workers_read_the_same_batches(tmp_path: Path) -> None:
    ds = _tensor_dataset(tmp_path)
    ds[8]  # the parent has a shard open before the workers start
    serial = _batches(ds, 0)
    parallel = _batches(ds, 2)
    assert len(serial) == len(parallel) == 3
    for (a, la), (b, lb) in zip(serial, parallel, strict=True):
        assert torch.equal(a, b) and torch.equal(la, lb)


def test_a_forked_process_opens_its_own_handle(tmp_path: Path) -> None:
    ds = _tensor_dataset(tmp_path)
    first = ds[0][0]
    parents = ds.images.reader._files[0]
    pid = os.fork()
    if pid == 0:  # the child: reading must not go through the parent's file object (a shared file offset)
        ok = torch.equal(ds[1][0], ds[1][0]) and ds.images.reader._files[0] is not parents
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert ds.images.reader._files[0] is parents and torch.equal(ds[0][0], first)


def test_a_dataset_with_open_handles_pickles_for_spawned_workers(tmp_path: Path) -> None:
    ds = _tensor_dataset(tmp_path)
    ds[4]  # opens a shard: the pickle (what a spawned DataLoader worker receives) must leave it behind
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.images.reader._files == {}
    for i in (4, 0, 8):
        assert torch.equal(clone[i][0], ds[i][0]) and clone[i][1] == ds[i][1]


def test_the_fingerprint_follows_the_bytes_of_the_shards(tmp_path: Path) -> None:
    root = _write(tmp_path / "d", "classification", synthetic_wds_samples("classification", 5))
    first = load_wds(root, "test").fingerprint()
    assert load_wds(root, "test").fingerprint() == first
    shard = root / "test" / "1.tar"
    with tarfile.open(shard) as tar:
        image = next(m for m in tar.getmembers() if m.name.endswith(".webp"))
    data = bytearray(shard.read_bytes())
    data[image.offset_data + image.size - 1] ^= 0xFF  # one byte of one image; sizes and headers unchanged
    shard.write_bytes(bytes(data))
    assert load_wds(root, "test").fingerprint() != first
    retrieval = _write(tmp_path / "r", "retrieval", synthetic_wds_samples("retrieval", 2), classes=[], templates=[])
    assert load_wds(retrieval, "test").fingerprint() != load_wds(root, "test").fingerprint()
