"""The released layouts of DataComp's and CLIP_benchmark's datasets (cyclip_bench/data/released.py), on files
in their real formats: written by the fixture writers (cyclip_bench/data/fixture_benchmarks.py) and, for several,
by hand the way the release lays them out, so a writer bug cannot hide a reader bug. The labels agree with
torchvision's classes reading the same files (remapped where VTAB's order differs: Caltech-101, CLEVR counts);
a release in another class order, a missing file and a missing dataset are one-line errors; `eval --dataset` gives
the same labels on a released fixture and on its webdataset copy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_runner import cli
from PIL import Image

from cyclip_bench.data.benchmarks import BENCHMARKS
from cyclip_bench.data.catalog import DATASETS, build_dataset, has_split
from cyclip_bench.data.fixture_benchmarks import RELEASED_WRITERS, Sizes, write_released, write_wds_copy
from cyclip_bench.data.metadata import builtin_metadata
from cyclip_bench.data.released import (
    CALTECH101_FOLDERS,
    RELEASED_LAYOUTS,
    clevr_distance_label,
    kitti_closest_vehicle_label,
)
from cyclip_bench.errors import DataError

SIZES = Sizes(per_class=1, train_per_class=1, image_size=32)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, int]]]:
    """Every released layout the catalog reads, written once: (data root, images per split of each)."""
    root = tmp_path_factory.mktemp("released")
    return root, {name: write_released(name, root, SIZES) for name in RELEASED_WRITERS}


def test_every_released_reader_has_a_writer() -> None:
    assert set(RELEASED_LAYOUTS) == set(RELEASED_WRITERS)


@pytest.mark.parametrize("name", sorted(RELEASED_WRITERS))
def test_each_released_layout_reads_back(name: str, released) -> None:
    root, written = released
    n_classes = len(builtin_metadata(name).classes)
    for split, count in written[name].items():
        assert has_split(name, root, split)
        ds = build_dataset(name, root, split)
        assert len(ds) == count and ds.name == f"{name}/{split}"
        assert ds.metadata == builtin_metadata(name)
        assert all(0 <= label < n_classes for label in ds.labels)
        if split == "test":  # every class is in the test split (the fixture writes each)
            assert set(ds.labels) == set(range(n_classes))
        image, label = ds[len(ds) - 1]
        assert isinstance(image, Image.Image) and image.mode == "RGB" and label == ds.labels[-1]
        assert ds.fingerprint() == build_dataset(name, root, split).fingerprint()
    missing = {"train", "test"} - set(written[name])
    for split in missing & set(DATASETS.get(name).splits):
        assert not has_split(name, root, split)


# --- the same labels as torchvision's classes on the same files ------------------------------------------------
def _no_md5(monkeypatch: pytest.MonkeyPatch, cls: type) -> None:
    # torchvision checks these files against the official archive's md5; the fixture's are other bytes.
    monkeypatch.setattr(cls, "_check_integrity", lambda self: True)


def _tv_files(name: str, root: Path, split: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """file → label as torchvision reads the fixture, in our label space."""
    from torchvision import datasets as tv

    def pairs(files, labels) -> dict[str, int]:  # noqa: ANN001
        return {str(Path(f).resolve()): int(y) for f, y in zip(files, labels, strict=True)}

    if name == "food101":
        d = tv.Food101(root, split=split)
        return pairs(d._image_files, d._labels)
    if name == "sun397":
        d = tv.SUN397(root)
        return pairs(d._image_files, d._labels)
    if name == "cars":
        d = tv.StanfordCars(root, split=split)
        return {str(Path(f).resolve()): y for f, y in d._samples}
    if name == "fgvc_aircraft":
        d = tv.FGVCAircraft(root, split="trainval" if split == "train" else "test")
        return pairs(d._image_files, d._labels)
    if name == "dtd":
        out = {}
        for part in ("train", "val") if split == "train" else ("test",):
            d = tv.DTD(root, split=part)
            out |= pairs(d._image_files, d._labels)
        return out
    if name == "pets":
        d = tv.OxfordIIITPet(root, split="trainval" if split == "train" else "test")
        return pairs(d._images, d._labels)
    if name == "caltech101":
        # torchvision drops the background class and sorts upper case first: remapped to VTAB's order.
        d = tv.Caltech101(root)
        ours = {c: i for i, c in enumerate(CALTECH101_FOLDERS)}
        base = Path(d.root) / "101_ObjectCategories"
        files = [base / d.categories[y] / f"image_{i:04d}.jpg" for y, i in zip(d.y, d.index, strict=True)]
        return pairs(files, [ours[d.categories[y]] for y in d.y])
    if name == "flowers":
        _no_md5(monkeypatch, tv.Flowers102)
        d = tv.Flowers102(root, split=split)
        return pairs(d._image_files, d._labels)
    if name == "eurosat":
        d = tv.EuroSAT(root)
        return {str(Path(f).resolve()): y for f, y in d.samples}
    if name == "gtsrb":
        d = tv.GTSRB(root, split=split)
        return {str(Path(f).resolve()): y for f, y in d._samples}
    if name == "country211":
        d = tv.Country211(root, split=split)
        return {str(Path(f).resolve()): y for f, y in d.samples}
    if name == "renderedsst2":
        d = tv.RenderedSST2(root, split=split)
        return {str(Path(f).resolve()): y for f, y in d._samples}
    if name == "clevr_count_all":
        d = tv.CLEVRClassification(root, split="train" if split == "train" else "val")
        return pairs(d._image_files, [y - 3 for y in d._labels])  # torchvision: the count; VTAB: count - 3
    if name == "kitti_closest_vehicle_distance":
        d = tv.Kitti(root, train=True)
        labels = []
        for i in range(len(d.images)):  # VTAB's rule, on torchvision's parse of the same label files
            z = [t["location"][2] for t in d._parse_target(i) if t["type"] in ("Car", "Van", "Truck")] + [1000.0]
            labels.append(max(k for k, t in enumerate((-100.0, 8.0, 20.0, 999.0)) if t < min(z)))
        return pairs(d.images, labels)
    raise AssertionError(name)


TV_FILES = (
    "food101 sun397 cars fgvc_aircraft dtd pets caltech101 flowers eurosat gtsrb country211 renderedsst2 "
    "clevr_count_all kitti_closest_vehicle_distance"
).split()


@pytest.mark.parametrize("name", TV_FILES)
def test_labels_equal_torchvisions_on_the_same_files(name: str, released, monkeypatch: pytest.MonkeyPatch) -> None:
    root, written = released
    for split in written[name]:
        ds = build_dataset(name, root, split)
        theirs = _tv_files(name, root, split, monkeypatch)
        ours = {str(Path(f).resolve()): y for f, y in zip(ds.files, ds.labels, strict=True)}
        extra = set(ours) - set(theirs)  # torchvision drops Caltech-101's background class; VTAB keeps it
        assert ours and (all("BACKGROUND_Google" in f for f in extra) if name == "caltech101" else not extra)
        assert {f: theirs[f] for f in ours if f in theirs} == {f: y for f, y in ours.items() if f in theirs}


def _tv_arrays(name: str, root: Path, split: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list, list[int]]:
    from torchvision import datasets as tv

    if name == "mnist":
        d = tv.MNIST(root, train=split == "train")
    elif name == "stl10":
        _no_md5(monkeypatch, tv.STL10)
        d = tv.STL10(root, split=split)
    elif name == "svhn":
        _no_md5(monkeypatch, tv.SVHN)
        d = tv.SVHN(root / "svhn", split=split)
    else:
        d = tv.PCAM(root, split=split)
    items = [d[i] for i in range(len(d))]
    return [np.asarray(img.convert("RGB")) for img, _ in items], [int(y) for _, y in items]


@pytest.mark.parametrize("name", ["mnist", "stl10", "svhn", "pcam"])
def test_array_layouts_equal_torchvisions_pixels_and_labels(name: str, released, monkeypatch) -> None:  # noqa: ANN001
    pytest.importorskip("h5py")
    root, written = released
    for split in written[name]:
        ds = build_dataset(name, root, split)
        images, labels = _tv_arrays(name, root, split, monkeypatch)
        assert ds.labels == labels
        for i in (0, len(ds) - 1):
            assert np.array_equal(np.asarray(ds[i][0]), images[i])


def test_clevr_distance_follows_vtabs_bins_on_the_scene_depths(released) -> None:
    root, _ = released
    scenes = json.loads((root / "clevr" / "CLEVR_v1.0" / "scenes" / "CLEVR_val_scenes.json").read_text())["scenes"]
    ds = build_dataset("clevr_closest_object_distance", root, "test")
    depth = {s["image_filename"]: min(o["pixel_coords"][2] for o in s["objects"]) for s in scenes}
    bins = (0.0, 8.0, 8.5, 9.0, 9.5, 10.0, 100.0)
    expected = [max(k for k, t in enumerate(bins) if t < depth[Path(f).name]) for f in ds.files]
    assert ds.labels == expected and set(expected) == set(range(6))
    assert clevr_distance_label({"objects": [{"pixel_coords": [0, 0, 8.0]}, {"pixel_coords": [0, 0, 30]}]}) == 0
    assert clevr_distance_label({"objects": [{"pixel_coords": [0, 0, 9.2]}]}) == 3


# --- written by hand, the way the releases lay them out -------------------------------------------------------
def _jpg(path: Path, colour: tuple[int, int, int] = (200, 30, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 10), colour).save(path)


def test_kitti_label_files_by_hand(tmp_path: Path) -> None:
    line = "{} 0.00 0 -1.57 614.24 181.78 727.31 284.77 1.57 1.73 4.15 1.00 1.75 {} 1.55"
    cases = {  # label file -> VTAB class
        ("Car 5.00", "Pedestrian 2.00"): 0,
        ("Car 8.00",): 0,  # a vehicle at exactly 8 m is in the nearest bin (thresholds are strict)
        ("Van 8.01", "Truck 40.0"): 1,
        ("Car 20.0", "Cyclist 1.0"): 1,
        ("Truck 20.5",): 2,
        ("Pedestrian 3.0", "Misc 4.0"): 3,  # no car, van or truck
        (): 3,
    }
    for i, (objects, expected) in enumerate(cases.items()):
        path = tmp_path / f"{i:06d}.txt"
        rows = [line.format(*o.split()) for o in objects] + [
            "DontCare -1 -1 -10 503 169 590 190 -1 -1 -1 -1000 -1000 -1000 -10"
        ]
        path.write_text("\n".join(rows) + "\n")
        assert kitti_closest_vehicle_label(path) == expected, objects
    bad = tmp_path / "bad.txt"
    bad.write_text("Car 0.00 0\n")
    with pytest.raises(DataError, match=r"bad.txt: line 1: expected 15 fields"):
        kitti_closest_vehicle_label(bad)


def test_sun397_by_hand_with_a_nested_class_folder(tmp_path: Path) -> None:
    base = tmp_path / "SUN397"
    base.mkdir()
    classes = [f"/{chr(97 + i % 26)}/class_{i:03d}" for i in range(397)]
    classes[3] = "/b/bakery/shop"  # SUN397 has classes two folders deep
    (base / "ClassName.txt").write_text("\n".join(classes) + "\n")
    _jpg(base / "b" / "bakery" / "shop" / "sun_aaa.jpg")
    _jpg(base / "a" / "class_000" / "sun_bbb.jpg")
    _jpg(base / "a" / "class_000" / "not_a_sun_image.jpg")  # only sun_*.jpg are the dataset's
    ds = build_dataset("sun397", tmp_path, "test")
    assert [Path(f).name for f in ds.files] == ["sun_bbb.jpg", "sun_aaa.jpg"] and ds.labels == [0, 3]
    with pytest.raises(DataError, match=r"no 'train' split .*whole set as test"):
        build_dataset("sun397", tmp_path, "train")
    _jpg(base / "z" / "zebra_crossing" / "sun_ccc.jpg")
    with pytest.raises(DataError, match=r"zebra_crossing' is not a class of .*ClassName.txt"):
        build_dataset("sun397", tmp_path, "test")


def test_mnist_idx_and_stl10_binaries_by_hand(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    pixels = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    (raw / "t10k-images-idx3-ubyte").write_bytes(
        b"\x00\x00\x08\x03" + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + pixels.tobytes()
    )
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + bytes([7, 3]))
    ds = build_dataset("mnist", tmp_path, "test")
    assert ds.labels == [7, 3] and np.array_equal(np.asarray(ds[1][0])[..., 0], pixels[1])
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + bytes([7, 3]))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: header says \(3,\) but the file holds 2"):
        build_dataset("mnist", tmp_path, "test")

    # STL-10: each image is 3 planes of 96x96 bytes in column-major order; pixel (row r, column c) of channel k
    # is byte k*9216 + c*96 + r.
    base = tmp_path / "stl10_binary"
    base.mkdir()
    (base / "class_names.txt").write_text("\n".join(builtin_metadata("stl10").classes) + "\n")
    planes = np.zeros((3, 96, 96), np.uint8)
    planes[0, 5, 2] = 255  # column 5, row 2 of the red channel
    planes.tofile(base / "test_X.bin")
    np.array([10], np.uint8).tofile(base / "test_y.bin")  # labels count from 1
    ds = build_dataset("stl10", tmp_path, "test")
    image = np.asarray(ds[0][0])
    assert ds.labels == [9] and image[2, 5, 0] == 255 and image.sum() == 255


def test_pets_annotations_and_gtsrb_csv_by_hand(tmp_path: Path) -> None:
    base = tmp_path / "oxford-iiit-pet"
    (base / "annotations").mkdir(parents=True)
    (base / "annotations" / "test.txt").write_text(
        "#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\nAbyssinian_201 1 1 1\nbeagle_13 5 2 3\n"
    )
    _jpg(base / "images" / "Abyssinian_201.jpg")
    _jpg(base / "images" / "beagle_13.jpg")
    assert build_dataset("pets", tmp_path, "test").labels == [0, 4]
    (base / "annotations" / "test.txt").write_text("Abyssinian_201 2 1 1\n")  # class id 2 is the American Bulldog
    with pytest.raises(DataError, match=r"class id 2 is 'Abyssinian' here but 'American Bulldog'"):
        build_dataset("pets", tmp_path, "test")

    gtsrb = tmp_path / "gtsrb"
    _jpg(gtsrb / "GTSRB" / "Final_Test" / "Images" / "00000.ppm")
    (gtsrb / "GT-final_test.csv").write_text(
        "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n00000.ppm;53;54;6;5;48;49;16\n"
    )
    assert build_dataset("gtsrb", tmp_path, "test").labels == [16]
    (gtsrb / "GT-final_test.csv").write_text("Filename;ClassId\n00000.ppm;43\n")
    with pytest.raises(DataError, match=r"GT-final_test.csv: label 43 \(entry 1\) is outside 0..42"):
        build_dataset("gtsrb", tmp_path, "test")


def test_flowers_mat_files_by_hand(tmp_path: Path) -> None:
    from scipy.io import savemat

    base = tmp_path / "flowers-102"
    for i in (1, 2, 3):
        _jpg(base / "jpg" / f"image_{i:05d}.jpg")
    savemat(base / "imagelabels.mat", {"labels": np.array([[77, 1, 102]], dtype=np.uint8)})
    savemat(base / "setid.mat", {"trnid": np.array([[2]]), "valid": np.array([[1]]), "tstid": np.array([[3, 1]])})
    assert build_dataset("flowers", tmp_path, "test").labels == [101, 76]
    assert build_dataset("flowers", tmp_path, "train").labels == [0]
    (base / "setid.mat").write_text("not a mat file")
    with pytest.raises(DataError, match=r"setid.mat: not a readable MATLAB v5 .mat file"):
        build_dataset("flowers", tmp_path, "test")


# --- class order --------------------------------------------------------------------------------------------
def test_a_release_in_another_class_order_is_refused(tmp_path: Path) -> None:
    write_released("dtd", tmp_path, SIZES)
    images = tmp_path / "dtd" / "dtd" / "images"
    (images / "banded").rename(images / "zigzagged_bands")
    with pytest.raises(DataError, match=r"images: class 0 is 'blotchy', the shipped class metadata's is 'banded'"):
        build_dataset("dtd", tmp_path, "test")


def test_caltech101_reads_vtabs_order_with_the_background(released) -> None:
    root, _ = released
    ds = build_dataset("caltech101", root, "test")
    names = ds.metadata.classes
    by_folder = {Path(f).parent.name: names[y] for f, y in zip(ds.files, ds.labels, strict=True)}
    assert by_folder["BACKGROUND_Google"] == "background" and by_folder["Faces"] == "off-center face"
    assert by_folder["Faces_easy"] == "centered face" and by_folder["Leopards"] == "leopard"
    assert by_folder["Motorbikes"] == "motorbike" and by_folder["accordion"] == "accordion"
    train = build_dataset("caltech101", root, "train")
    assert len(train) == 30 * 102 and not set(train.files) & set(ds.files)  # the first 30 a class are train


def test_eurosat_and_kitti_splits_are_disjoint_and_deterministic(released) -> None:
    root, written = released
    for name in ("eurosat", "kitti_closest_vehicle_distance"):
        train, test = (build_dataset(name, root, s) for s in ("train", "test"))
        assert not set(train.files) & set(test.files)
        assert (len(train), len(test)) == (written[name]["train"], written[name]["test"])
        assert test.files == build_dataset(name, root, "test").files
    test = build_dataset("eurosat", root, "test")
    assert sorted(Path(f).name for f in test.files)[:2] == ["AnnualCrop_5.jpg", "Forest_5.jpg"]  # the last 20%


# --- missing files -------------------------------------------------------------------------------------------
def test_a_missing_file_names_it_and_what_belongs_there(tmp_path: Path) -> None:
    write_released("cars", tmp_path, SIZES)
    (tmp_path / "stanford_cars" / "devkit" / "cars_meta.mat").unlink()
    with pytest.raises(DataError, match=r"cars_meta.mat: not found \(expected the devkit's class_names\)"):
        build_dataset("cars", tmp_path, "test")
    write_released("food101", tmp_path, SIZES)
    next((tmp_path / "food-101" / "images" / "apple_pie").glob("te*.jpg")).unlink()  # a test image
    with pytest.raises(DataError, match=r"test.json: lists .*jpg, but image file .* is not there"):
        build_dataset("food101", tmp_path, "test")


def test_a_missing_dataset_names_both_layouts_and_where_published(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        build_dataset("fgvc_aircraft", tmp_path, "test")
    message = str(err.value)
    assert f"{tmp_path}/fgvc-aircraft-2013b/data (variants.txt" in message
    assert f"{tmp_path}/wds_fgvc_aircraft/test/nshards.txt" in message
    assert "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/" in message
    assert "djghosh/wds_fgvc_aircraft_test" in message and "downloads nothing" in message


@pytest.mark.parametrize("name", ["pets", "dtd", "food101"])
def test_a_missing_dataset_lists_every_folder_the_lookup_checks(tmp_path: Path, name: str) -> None:
    """A dataset with several CLIP_benchmark spellings (vtab/pets and pets): the error names each folder the
    lookup tries for every spelling — wds_<N>, wds_<N>_test and <N> — and a copy in any of them is found."""
    from cyclip_bench.data.wds import wds_folder_candidates

    spellings = DATASETS.get(name).wds_names
    assert len(spellings) > 1
    with pytest.raises(DataError) as err:
        build_dataset(name, tmp_path, "test")
    message = str(err.value)
    tried = [p for spelling in spellings for p in wds_folder_candidates(tmp_path, spelling)]
    for path in tried:
        assert f"{path}/" in message or f"{path}," in message or f"{path})" in message, (path, message)
    assert f"{tmp_path}/wds_{spellings[1].replace('/', '-')}," in message  # the second spelling's wds_<N>
    write_wds_copy(name, tmp_path, Sizes(per_class=1, train_per_class=0, image_size=16))
    target = tried[3]  # the second spelling's wds_<N> folder: found by the lookup the error describes
    (tmp_path / f"wds_{spellings[0].replace('/', '-')}").rename(target)
    assert len(build_dataset(name, tmp_path, "test")) == len(builtin_metadata(name).classes)


def test_cli_missing_released_dataset_is_one_line_exit_2(tmp_path: Path, same_label_checkpoints: dict) -> None:
    (tmp_path / "empty").mkdir()
    result = cli(
        "eval", "-q", "-c", f"m={same_label_checkpoints['exp1']}", "--dataset", "pcam", "--data-root",
        str(tmp_path / "empty"), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr
    assert "pcam (camelyonpatch_level_2_split_" in lines[0] and "https://github.com/basveeling/pcam" in lines[0]


# --- the released layout and its webdataset copy -------------------------------------------------------------
@pytest.mark.parametrize("name", ["mnist", "dtd", "kitti_closest_vehicle_distance"])
def test_wds_copy_of_a_released_fixture_reads_the_same(name: str, tmp_path: Path) -> None:
    pytest.importorskip("webdataset")
    write_released(name, tmp_path / "released", SIZES)
    (tmp_path / "wds").mkdir()
    counts = write_wds_copy(name, tmp_path / "wds", SIZES)
    for split in ("train", "test"):
        ours, copy = build_dataset(name, tmp_path / "released", split), build_dataset(name, tmp_path / "wds", split)
        assert type(copy).__name__ == "WdsClassificationDataset" and counts[split] == len(copy)
        assert copy.labels == ours.labels and copy.metadata.classes == ours.metadata.classes
        assert np.array_equal(np.asarray(copy[0][0]), np.asarray(ours[0][0]))


def test_eval_dataset_gives_the_same_labels_on_both_layouts(tmp_path: Path, same_label_checkpoints: dict) -> None:
    pytest.importorskip("webdataset")
    write_released("gtsrb", tmp_path / "released", SIZES)
    (tmp_path / "wds").mkdir()
    write_wds_copy("gtsrb", tmp_path / "wds", SIZES)
    docs = []
    for layout in ("released", "wds"):
        out = tmp_path / f"out-{layout}"
        result = cli(
            "eval", "-q", "--workers", "0", "-c", f"m={same_label_checkpoints['exp1']}", "--dataset", "gtsrb",
            "--task", "zeroshot", "--data-root", str(tmp_path / layout), "--out", str(out),
            "--cache-dir", str(tmp_path / f"cache-{layout}"),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        docs.append(json.loads(next(out.glob("*.json")).read_text())["tasks"][0])
    released, wds = docs
    assert released["extra"]["num_examples"] == wds["extra"]["num_examples"] == 43
    assert released["per_example"] == wds["per_example"] and released["metrics"] == wds["metrics"]


# --- `cyclip-bench data fixture` --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(b.name for b in BENCHMARKS))
def test_every_wds_copy_is_written_at_its_real_class_count(name: str, tmp_path: Path) -> None:
    pytest.importorskip("webdataset")
    from cyclip_bench.data.catalog import build_any
    from cyclip_bench.data.fixture_benchmarks import WDS_ONLY_CLASS_COUNTS

    counts = write_wds_copy(name, tmp_path, Sizes(per_class=1, train_per_class=0, image_size=16))
    data = build_any(name, tmp_path, "test")
    n_classes = (
        len(builtin_metadata(name).classes) if name not in WDS_ONLY_CLASS_COUNTS else WDS_ONLY_CLASS_COUNTS[name]
    )
    assert len(data.metadata.classes) == n_classes and counts["test"] == len(data) >= n_classes
    if name == "voc2007_multilabel":
        assert data.targets.shape == (len(data), 20) and data.targets.sum(axis=1).min() >= 1
    else:
        assert set(data.labels) == set(range(n_classes))


def test_cli_fixture_writes_benchmark_layouts(tmp_path: Path) -> None:
    pytest.importorskip("webdataset")
    out = tmp_path / "fx"
    args = ["--per-class", "1", "--train-per-class", "1", "--image-size", "32"]
    result = cli("data", "fixture", str(out), "-d", "mnist,iwildcam", "-d", "cifar10", *args)
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "fixture.json").read_text())["datasets"]
    assert info["mnist"] == {"path": "MNIST/raw", "layout": "released", "classes": 10, "test": 10, "train": 10}
    assert info["iwildcam"]["path"] == "wds_wilds-iwildcam" and info["iwildcam"]["layout"] == "wds"
    assert "mnist" in result.stdout and "cifar10" in info
    assert build_dataset("mnist", out, "train").labels == list(range(10))
    assert len(build_dataset("iwildcam", out, "test").metadata.classes) == 182

    wds = tmp_path / "wds"
    result = cli("data", "fixture", str(wds), "--layout", "wds", "-d", "mnist", *args)
    assert result.returncode == 0, result.stderr
    assert json.loads((wds / "fixture.json").read_text())["datasets"]["mnist"]["path"] == "wds_mnist"
    assert build_dataset("mnist", wds, "test").labels == build_dataset("mnist", out, "test").labels

    result = cli("data", "fixture", str(tmp_path / "bad"), "-d", "food101", "--real-sizes")
    assert result.returncode == 2 and "--real-sizes: not for the benchmark datasets (food101)" in result.stderr
