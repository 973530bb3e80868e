"""Every loader on tiny files written in the real on-disk formats."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cyclip_bench.data.captions import CaptionDataset, read_caption_table
from cyclip_bench.data.catalog import DATASETS, LABELLED, build_dataset, build_retrieval_dataset
from cyclip_bench.data.metadata import builtin_metadata, imagenet_subset_wnids, load_class_metadata
from cyclip_bench.errors import DataError, UserError


def png(path: Path, colour: tuple[int, int, int] = (200, 10, 10), size: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), colour).save(path)
    return path


def test_builtin_metadata_facts() -> None:
    c10, c100, inet = builtin_metadata("cifar10"), builtin_metadata("cifar100"), builtin_metadata("imagenet")
    assert c10.classes[0] == "airplane" and c10.classes[9] == "truck" and len(c10.classes) == 10
    assert len(c100.classes) == 100 and len(c100.superclasses) == 20
    assert sorted(i for m in c100.superclasses.values() for i in m) == list(range(100))
    assert [c100.classes[i] for i in c100.superclasses["people"]] == ["baby", "boy", "girl", "man", "woman"]
    assert len(inet.classes) == 1000 and len(inet.templates) == 80 and all("{}" in t for t in inet.templates)
    assert inet.wnids[0] == "n01440764" and inet.classes[0] == "tench" and inet.wnids == sorted(inet.wnids)
    assert inet.classes[inet.wnids.index("n01443537")] == "goldfish"
    with pytest.raises(UserError, match="Did you mean 'cifar10'"):
        builtin_metadata("cifar1O")


def test_caption_csv_default_and_dataset(tmp_path: Path) -> None:
    png(tmp_path / "img" / "a.png")
    png(tmp_path / "img" / "b.png", (0, 0, 255))
    (tmp_path / "train.csv").write_text('image,caption\nimg/a.png,a red square\nimg/b.png,"blue, square"\n')
    table = read_caption_table(tmp_path / "train.csv")
    assert list(table.columns) == ["image", "caption"]
    assert table["image"][0] == str((tmp_path / "img" / "a.png").resolve())
    ds = CaptionDataset(tmp_path / "train.csv", tokenizer=lambda xs: torch.tensor([[len(x)] for x in xs]))
    image, text = ds[1]
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (0, 0, 255)
    assert int(text[0]) == len("blue, square") and ds.captions[1] == "blue, square" and ds.skipped == 0


def test_open_clip_tsv_filepath_title(tmp_path: Path) -> None:
    png(tmp_path / "x.jpg.png")
    (tmp_path / "data.tsv").write_text("filepath\ttitle\nx.jpg.png\ta photo, with a comma\n")
    ds = CaptionDataset(tmp_path / "data.tsv", image_key="filepath", caption_key="title")
    assert ds.captions == ["a photo, with a comma"] and len(ds) == 1
    ds2 = CaptionDataset(tmp_path / "data.tsv", image_key="filepath", caption_key="title", delimiter="\t")
    assert ds2.images == ds.images


def test_bad_rows_skip_counts_and_threshold(tmp_path: Path) -> None:
    for i in range(40):
        png(tmp_path / f"{i}.png")
    (tmp_path / "corrupt.png").write_bytes(b"not a png at all")
    rows = [f"{i}.png,cap {i}" for i in range(40)] + ["gone.png,missing", "corrupt.png,corrupt"]
    (tmp_path / "c.csv").write_text("image,caption\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"c\.csv: row 41: image file .*gone\.png not found"):
        CaptionDataset(tmp_path / "c.csv")
    ds = CaptionDataset(tmp_path / "c.csv", bad_rows="skip")
    assert len(ds) == 40 and ds.skipped == 2 and [r for r, _ in ds.skipped_rows] == [41, 42]
    assert "2 bad rows skipped" in ds.report()
    with pytest.raises(DataError, match="2 of 42 rows are bad"):
        CaptionDataset(tmp_path / "c.csv", bad_rows="skip", max_skipped_fraction=0.01)
    with pytest.raises(UserError, match="bad_rows"):
        CaptionDataset(tmp_path / "c.csv", bad_rows="ignore")


def write_cifar(root: Path, variant: str, n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    if variant == "cifar10":
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        names = [n.encode() for n in builtin_metadata("cifar10").classes]
        with open(folder / "batches.meta", "wb") as f:
            pickle.dump({"label_names": [x.decode() for x in names], "num_cases_per_batch": n}, f)
        for i in range(1, 6):
            with open(folder / f"data_batch_{i}", "wb") as f:
                batch = {b"batch_label": b"x", b"labels": [i % 10] * n, b"data": data, b"filenames": []}
                pickle.dump(batch, f)
        with open(folder / "test_batch", "wb") as f:
            pickle.dump({b"labels": list(range(n)), b"data": data}, f)
    else:
        folder = root / "cifar-100-python"
        folder.mkdir(parents=True)
        with open(folder / "meta", "wb") as f:
            pickle.dump(
                {
                    "fine_label_names": [f"c{i}" for i in range(100)],
                    "coarse_label_names": [f"s{i}" for i in range(20)],
                },
                f,
            )
        for split in ("train", "test"):
            with open(folder / split, "wb") as f:
                pickle.dump({"data": data, "fine_labels": [99 - i for i in range(n)], "coarse_labels": [0] * n}, f)
    return data


def test_cifar10_pickles(tmp_path: Path) -> None:
    data = write_cifar(tmp_path, "cifar10")
    train = build_dataset("cifar10", tmp_path, "train")
    test = build_dataset("cifar10", tmp_path, "test")
    assert len(train) == 30 and train.labels[:6] == [1] * 6 and test.labels == list(range(6))
    image, label = test[2]
    assert image.size == (32, 32) and label == 2
    # channel-major rows: pixel (0, 0) is (R[0], G[0], B[0]) = bytes 0, 1024, 2048
    assert image.getpixel((0, 0)) == (data[2, 0], data[2, 1024], data[2, 2048])
    assert test.name == "cifar10/test" and test.metadata.classes[0] == "airplane"


def test_cifar100_pickles_and_fingerprint(tmp_path: Path) -> None:
    write_cifar(tmp_path, "cifar100")
    ds = build_dataset("cifar100", tmp_path, "test", transform=lambda im: np.asarray(im).shape)
    assert ds.labels == [99, 98, 97, 96, 95, 94] and ds[0] == ((32, 32, 3), 99)
    assert len(ds.metadata.superclasses) == 20
    fp = ds.fingerprint()
    assert fp == build_dataset("cifar100", tmp_path, "test").fingerprint()
    with open(tmp_path / "cifar-100-python" / "test", "wb") as f:
        pickle.dump({"data": np.zeros((6, 3072), np.uint8), "fine_labels": [99 - i for i in range(6)]}, f)
    assert build_dataset("cifar100", tmp_path, "test").fingerprint() != fp


def test_cifar_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="folder not found .*released layout at .*cifar-10-batches-py; published at"):
        build_dataset("cifar10", tmp_path, "test")
    write_cifar(tmp_path, "cifar100")
    with open(tmp_path / "cifar-100-python" / "test", "wb") as f:
        pickle.dump({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1]}, f)
    with pytest.raises(DataError, match="missing key 'fine_labels'; keys found: data, labels"):
        build_dataset("cifar100", tmp_path, "test")
    (tmp_path / "cifar-100-python" / "test").write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a readable CIFAR pickle"):
        build_dataset("cifar100", tmp_path, "test")


def test_imagenet_val_wnid_folders_and_labels_csv(tmp_path: Path) -> None:
    meta = builtin_metadata("imagenet")
    val = tmp_path / "imagenet" / "val"
    for wnid in meta.wnids:  # 1000 folders; only a few hold images
        (val / wnid).mkdir(parents=True)
    png(val / "n01440764" / "ILSVRC2012_val_00000293.JPEG")
    png(val / "n01443537" / "ILSVRC2012_val_00000236.JPEG")
    ds = build_dataset("imagenet1k", tmp_path, "test")
    assert ds.labels == [0, 1] and ds.class_subset is None and ds.metadata.classes[1] == "goldfish"
    # The train split (for consistency@k's kNN) lives in imagenet/train; missing, it is named with its layout.
    with pytest.raises(UserError, match=r"imagenet/train: folder not found \(expected ImageNet train"):
        build_dataset("imagenet1k", tmp_path, "train")
    for wnid in meta.wnids:
        (tmp_path / "imagenet" / "train" / wnid).mkdir(parents=True)
    png(tmp_path / "imagenet" / "train" / "n01443537" / "n01443537_1.JPEG")
    assert build_dataset("imagenet1k", tmp_path, "train").labels == [1]
    # labels.csv variant
    other = tmp_path / "v2root" / "imagenet" / "val"
    png(other / "a.JPEG")
    (other / "labels.csv").write_text("image,label\na.JPEG,999\n")
    assert build_dataset("imagenet1k", tmp_path / "v2root", "test").labels == [999]


def test_imagenetv2_index_folders(tmp_path: Path) -> None:
    root = tmp_path / "imagenetv2-matched-frequency-format-val"
    for i in range(1000):
        (root / str(i)).mkdir(parents=True)
    png(root / "0" / "a.jpeg")
    png(root / "10" / "b.jpeg")
    png(root / "999" / "c.jpeg")
    ds = build_dataset("imagenetv2", tmp_path, "test")
    assert ds.labels == [0, 10, 999]  # folders sort as strings; labels come from the folder's number


def test_imagenet_sketch_a_r_wnid_subsets(tmp_path: Path) -> None:
    meta = builtin_metadata("imagenet")
    sketch = tmp_path / "imagenet-sketch" / "sketch"
    for w in meta.wnids:
        (sketch / w).mkdir(parents=True)
    png(sketch / meta.wnids[5] / "s.JPEG")
    assert build_dataset("imagenet-sketch", tmp_path, "test").labels == [5]
    for name in ("imagenet-a", "imagenet-r"):
        idx = [meta.wnids.index(w) for w in imagenet_subset_wnids(name)[::90]]  # 3 of the release's 200
        for i in idx:
            png(tmp_path / name / meta.wnids[i] / "0.jpg")
        ds = build_dataset(name, tmp_path, "test")
        assert ds.labels == idx and ds.class_subset == idx
        assert len(ds.metadata.classes) == 1000
    # An ImageNet class outside the release's 200 (another dataset under this name) would change the mask: refused.
    png(tmp_path / "imagenet-a" / meta.wnids[0] / "0.jpg")  # tench: not an ImageNet-A class
    with pytest.raises(DataError, match=r"folder 'n01440764' \(1 in all\) is not one of the 200 imagenet-a"):
        build_dataset("imagenet-a", tmp_path, "test")
    (tmp_path / "imagenet-r" / "n99999999").mkdir()
    with pytest.raises(DataError, match="sub-folder 'n99999999' matches no class"):
        build_dataset("imagenet-r", tmp_path, "test")


def test_labels_csv_and_imagefolder_by_path(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    png(folder / "i0.png")
    png(folder / "sub" / "i1.png")
    (folder / "labels.csv").write_text("image,label\ni0.png,1\nsub/i1.png,0\n")
    meta = tmp_path / "meta.json"
    meta_obj = {"classes": ["cat", "dog"], "templates": ["a {}."], "superclasses": {"pet": [0, 1]}}
    meta.write_text(json.dumps(meta_obj))
    ds = build_dataset({"path": str(folder), "format": "labels-csv", "metadata": str(meta)}, tmp_path)
    assert ds.labels == [1, 0] and ds.metadata.superclasses == {"pet": [0, 1]} and ds[0][1] == 1
    rel = build_dataset({"path": "set", "format": "labels-csv", "metadata": "meta.json"}, tmp_path)
    assert rel.fingerprint() == ds.fingerprint()
    tree = tmp_path / "tree"
    png(tree / "dog" / "1.png")
    png(tree / "cat" / "2.png")
    png(tree / "cat" / "3.png")
    (tree / "cat" / "notes.txt").write_text("not an image")
    plain = build_dataset({"path": str(tree), "format": "imagefolder"}, None)
    assert plain.metadata.classes == ["cat", "dog"] and plain.labels == [0, 0, 1]
    meta2 = tmp_path / "meta2.json"
    meta2.write_text(json.dumps({"classes": ["dog", "cat"], "templates": ["a {}."]}))
    mapped = build_dataset({"path": str(tree), "format": "imagefolder", "metadata": str(meta2)}, None)
    assert mapped.labels == [1, 1, 0]
    assert build_dataset("imagefolder", tree, "test").labels == [0, 0, 1]


def test_retrieval_flickr_coco_and_world(tmp_path: Path, world_dir: Path) -> None:
    for name in ("flickr30k", "mscoco"):
        png(tmp_path / name / "images" / "1.jpg")
        png(tmp_path / name / "images" / "2.jpg")
        (tmp_path / name / "test.csv").write_text(
            "image,caption\nimages/1.jpg,a dog\nimages/1.jpg,a brown dog\nimages/2.jpg,a cat\n"
        )
        ds = build_retrieval_dataset(name, tmp_path)
        assert ds.captions == ["a dog", "a brown dog", "a cat"] and ds.caption_image == [0, 0, 1]
        assert len(ds.images) == 2 and ds.images[1].size == (8, 8)
    world = build_retrieval_dataset("world-retrieval", world_dir)
    assert len(world.captions) == 5 * len(world.images)
    with pytest.raises(UserError, match="retrieval"):
        build_dataset("world-retrieval", world_dir, "test")


def test_every_world_dataset_loads(world_dir: Path) -> None:
    shapes = load_class_metadata(world_dir / "shapes" / "classes.json")
    for name in DATASETS.names():
        entry = DATASETS.get(name)
        if not name.startswith("world-") or entry.kind is not LABELLED:
            continue
        for split in entry.splits:
            ds = build_dataset(name, world_dir, split)
            assert len(ds) >= 20 and ds.name == f"{name}/{split}"
            image, label = ds[0]
            assert image.size == (32, 32) and 0 <= label < len(ds.metadata.classes)
            if name != "world-fine":
                assert ds.metadata.classes == shapes.classes
    fine = build_dataset("world-fine", world_dir, "test")
    assert len(fine.metadata.classes) == 80 and len(fine.metadata.superclasses) == 10
    sup = fine.metadata.superclass_of()
    assert all(fine.metadata.classes[c].endswith(shapes.classes[sup[c]]) for c in range(80))


def test_file_fingerprint_items_are_the_paths_relative_to_the_root_whatever_their_spelling(tmp_path: Path) -> None:
    """The fast suffix path must give exactly what os.path.relpath gives (the fingerprint keys cached features)."""
    from cyclip_bench.data.labelled import FileLabelledDataset
    from cyclip_bench.data.metadata import ClassMetadata

    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    (tmp_path / "outside.png").write_bytes(b"xyz")
    for name in ("x.png", "a/y.png"):
        (root / name).write_bytes(b"12345")
    link = tmp_path / "link"
    link.symlink_to(root)
    files = [
        str(root.resolve() / "x.png"),
        str(root.resolve() / "a" / "y.png"),
        f"{root.resolve()}/a/../x.png",  # not normalised: relpath's answer
        f"{root.resolve()}/./a/y.png",
        str(link / "x.png"),  # under the root by another name
        str(tmp_path / "outside.png"),
    ]
    meta = ClassMetadata(classes=["c"], templates=["{}"])
    items = FileLabelledDataset("d", root, files, [0] * len(files), meta)._fingerprint_items()
    assert items == [f"{os.path.relpath(f, str(root.resolve()))}\t{os.path.getsize(f)}" for f in files]
    assert items[:4] == ["x.png\t5", "a/y.png\t5", "x.png\t5", "a/y.png\t5"]


def test_resolved_paths_are_what_pathlib_joins(tmp_path):
    """The string fast path of resolve_paths gives pathlib's join for every shape of relative path."""
    import os

    from cyclip_bench.data.captions import resolve_paths

    values = ["a.png", "x/y.png", "./a.png", "x//y.png", "x/./y.png", "../a.png", "x/../y.png", "/abs/a.png"]
    values += ["x/", "a b.png", "...png", ".hidden/a.png", "x/.", "é/ü.png", "a\\b.png"]
    base = tmp_path / "tables"
    expected = [v if os.path.isabs(v) else str(base.resolve() / v) for v in values]
    assert resolve_paths(values, base) == expected
