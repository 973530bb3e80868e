"""Fixture writers for the datasets of DataComp's 38 tasks and CLIP_benchmark's vtab+ (``cyclip_bench.data.
benchmarks``): generated pixels in each release's real file formats (MATLAB .mat via scipy, MNIST's idx, STL-10's
binaries, PatchCamelyon's HDF5, the csv/json/txt index files) where the catalog reads the released layout
(``cyclip_bench.data.released``), and CLIP_benchmark's webdataset copy of every one at its real class count.

Released layouts (``write_released``) are written at ``per_class`` test images per class and ``train_per_class``
train images per class, except where the split rule of the layout fixes counts: Caltech-101 (the first 30 images of
a class are train: 30 + ``per_class`` a class), EuroSAT (5 × ``per_class`` a class: 60% train, 20% test) and KITTI
(test = the last 10% of images: 40 × ``per_class`` images). A webdataset copy (``write_wds_copy``) of a dataset
with a released layout is its released fixture read back through the catalog's reader and exported as
CLIP_benchmark's exporter does (webp lossless, keys ``s%07d``), so both layouts hold the same images and labels;
the others (webdataset-only sets) hold generated images, labels cycling over the classes. The copies of DataComp's
WILDS and fairness sets also carry each sample's ``.npy`` metadata row in DataComp's columns
(``sample_metadata_row``), so their group metrics (worst-region, worst-income-group) are computed, not stood in for.
WinoGAViL (``winogavil``, no webdataset copy exists) is written in its released layout (``write_winogavil``).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cyclip_bench.data.fixture_config import BENCHMARK_DATASETS, WINOGAVIL, FixtureConfig
from cyclip_bench.data.metadata import BUILTIN_NAMES, builtin_metadata
from cyclip_bench.data.released import (
    CALTECH101_FOLDERS,
    CALTECH_TRAIN_PER_CLASS,
    CLEVR_DISTANCE_THRESHOLDS,
    CLEVR_MIN_OBJECTS,
    EUROSAT_FOLDERS,
    FER2013_FOLDERS,
    KITTI_TEST_FRACTION,
    RELEASED_LAYOUTS,
)
from cyclip_bench.metrics.fairness import SAMPLE_METADATA

# Class counts of the webdataset-only sets without shipped names (DataComp's tasklist); their fixture names are
# generated, as their copies' classnames.txt would give the real ones.
WDS_ONLY_CLASS_COUNTS = {"iwildcam": 182, "dollar_street": 58, "geode": 40}


@dataclass(frozen=True)
class Sizes:
    """How much to write: test and train images per class, the longer image side, the seed, samples a shard."""

    per_class: int = 2
    train_per_class: int = 2
    image_size: int = 64
    seed: int = 0
    shard_size: int = 1000


def _picture(sizes: Sizes, stream: str, index: int, label: int, width: int = 0, height: int = 0) -> Image.Image:
    """A pure function of (seed, stream, index, label): a noisy background with an ellipse whose colour and
    place follow the class (its own generator, so the CLI's fixture module never imports this one's callers)."""
    width, height = width or sizes.image_size, height or sizes.image_size
    rng = np.random.default_rng([sizes.seed, zlib.crc32(stream.encode()), index])
    background = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(background, "RGB")
    colour = tuple(int(v) for v in (np.array([(label * 97) % 256, (label * 57) % 256, (label * 31) % 256]) | 64))
    cx, cy = (0.3 + 0.4 * ((label % 5) / 4)) * width, (0.3 + 0.4 * ((label // 5 % 5) / 4)) * height
    rx, ry = width * float(rng.uniform(0.12, 0.2)), height * float(rng.uniform(0.12, 0.2))
    ImageDraw.Draw(image).ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=colour)
    return image


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".png":
        image.save(path, format="PNG")
    elif suffix == ".ppm":
        image.save(path, format="PPM")
    else:
        image.save(path, format="JPEG", quality=90)


def _per_split(sizes: Sizes) -> dict[str, int]:
    out = {"test": sizes.per_class}
    if sizes.train_per_class:
        out["train"] = sizes.train_per_class
    return out


def _array(sizes: Sizes, stream: str, labels: list[int], side: int, grey: bool = False) -> np.ndarray:
    rows = []
    for i, label in enumerate(labels):
        image = _picture(sizes, stream, i, label, side, side)
        rows.append(np.asarray(image.convert("L") if grey else image, dtype=np.uint8))
    shape = (0, side, side) if grey else (0, side, side, 3)
    return np.stack(rows) if rows else np.zeros(shape, np.uint8)


def _labels(n_classes: int, per_class: int) -> list[int]:
    return [c for c in range(n_classes) for _ in range(per_class)]


def _savemat(path: Path, data: dict) -> None:
    from scipy.io import savemat

    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, data)


def _underscored(name: str) -> str:
    return name.replace(" ", "_")


# --- one writer per released layout: (out, sizes) -> images written per split -----------------------------
def _food101(out: Path, sizes: Sizes) -> dict[str, int]:
    base = out / "food-101"
    folders = [_underscored(c) for c in builtin_metadata("food101").classes]
    (base / "meta").mkdir(parents=True)
    counts = {}
    for split, n in _per_split(sizes).items():
        index: dict[str, list[str]] = {}
        for label, folder in enumerate(folders):
            for k in range(n):
                image_id = f"{split[:2]}{label:03d}{k:04d}"
                _save(
                    _picture(sizes, f"food101/{split}", label * n + k, label),
                    base / "images" / folder / f"{image_id}.jpg",
                )
                index.setdefault(folder, []).append(f"{folder}/{image_id}")
        (base / "meta" / f"{split}.json").write_text(json.dumps(index), encoding="utf-8")
        counts[split] = n * len(folders)
    (base / "meta" / "classes.txt").write_text("\n".join(folders) + "\n", encoding="utf-8")
    return counts


def _sun397(out: Path, sizes: Sizes) -> dict[str, int]:
    base = out / "SUN397"
    classes = [_underscored(c) for c in builtin_metadata("sun397").classes]
    lines = [f"/{c[0]}/{c}" for c in classes]
    base.mkdir(parents=True)
    (base / "ClassName.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for label, line in enumerate(lines):
        for k in range(sizes.per_class):
            name = f"sun_{label:04d}{k:03d}.jpg"
            _save(_picture(sizes, "sun397", label * sizes.per_class + k, label), base / line[1:] / name)
    return {"test": sizes.per_class * len(lines)}


def _cars(out: Path, sizes: Sizes) -> dict[str, int]:
    base = out / "stanford_cars"
    names = builtin_metadata("cars").classes
    _savemat(base / "devkit" / "cars_meta.mat", {"class_names": np.array(names, dtype=object).reshape(1, -1)})
    fields = [("bbox_x1", "O"), ("bbox_y1", "O"), ("bbox_x2", "O"), ("bbox_y2", "O"), ("class", "O"), ("fname", "O")]
    counts = {}
    for split, n in _per_split(sizes).items():
        labels = _labels(len(names), n)
        records = np.zeros((1, len(labels)), dtype=fields)
        images = base / ("cars_train" if split == "train" else "cars_test")
        for i, label in enumerate(labels):
            fname = f"{i + 1:05d}.jpg"
            _save(_picture(sizes, f"cars/{split}", i, label), images / fname)
            records[0, i] = (1, 1, sizes.image_size - 1, sizes.image_size - 1, label + 1, fname)
        annos = (
            base / "devkit" / "cars_train_annos.mat" if split == "train" else base / "cars_test_annos_withlabels.mat"
        )
        _savemat(annos, {"annotations": records})
        counts[split] = len(labels)
    return counts


def _fgvc_aircraft(out: Path, sizes: Sizes) -> dict[str, int]:
    data = out / "fgvc-aircraft-2013b" / "data"
    variants = builtin_metadata("fgvc_aircraft").classes
    data.mkdir(parents=True)
    (data / "variants.txt").write_text("\n".join(variants) + "\n", encoding="utf-8")
    counts, next_id = {}, 1000000
    for split, n in _per_split(sizes).items():
        lines = []
        for i, label in enumerate(_labels(len(variants), n)):
            image_id = str(next_id)
            next_id += 1
            _save(_picture(sizes, f"fgvc/{split}", i, label), data / "images" / f"{image_id}.jpg")
            lines.append(f"{image_id} {variants[label]}")
        part = "trainval" if split == "train" else "test"
        (data / f"images_variant_{part}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        counts[split] = len(lines)
    return counts


def _dtd(out: Path, sizes: Sizes) -> dict[str, int]:
    base = out / "dtd" / "dtd"
    textures = builtin_metadata("dtd").classes
    (base / "labels").mkdir(parents=True)
    counts = {}
    # train = train1 + val1: half of the train images in each (the release's are equal).
    parts = {"test1": sizes.per_class, "train1": (sizes.train_per_class + 1) // 2, "val1": sizes.train_per_class // 2}
    offset = 0
    for part, n in parts.items():
        lines = []
        for label, texture in enumerate(textures):
            for k in range(n):
                rel = f"{texture}/{texture}_{offset + k:04d}.jpg"
                _save(_picture(sizes, "dtd", offset + label * 1000 + k, label), base / "images" / rel)
                lines.append(rel)
        offset += n
        (base / "labels" / f"{part}.txt").write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
        split = "test" if part == "test1" else "train"
        counts[split] = counts.get(split, 0) + len(lines)
    return {k: v for k, v in counts.items() if v}


def _pets(out: Path, sizes: Sizes) -> dict[str, int]:
    base = out / "oxford-iiit-pet"
    breeds = builtin_metadata("pets").classes
    (base / "annotations").mkdir(parents=True)
    counts, number = {}, {}
    for split, n in _per_split(sizes).items():
        lines = []  # (list.txt has '#' header lines; trainval.txt and test.txt have none)
        for i, label in enumerate(_labels(len(breeds), n)):
            number[label] = number.get(label, 0) + 1
            image_id = f"{_underscored(breeds[label])}_{number[label]}"
            _save(_picture(sizes, f"pets/{split}", i, label), base / "images" / f"{image_id}.jpg")
            lines.append(f"{image_id} {label + 1} 1 {number[label]}")
        part = "trainval" if split == "train" else "test"
        (base / "annotations" / f"{part}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        counts[split] = len(lines)
    return counts


def _caltech101(out: Path, sizes: Sizes) -> dict[str, int]:
    base = out / "caltech101" / "101_ObjectCategories"
    n = CALTECH_TRAIN_PER_CLASS + sizes.per_class
    for label, folder in enumerate(CALTECH101_FOLDERS):
        for k in range(n):
            _save(_picture(sizes, "caltech101", label * n + k, label, 32, 32), base / folder / f"image_{k + 1:04d}.jpg")
    return {"train": CALTECH_TRAIN_PER_CLASS * 102, "test": sizes.per_class * 102}


def _flowers(out: Path, sizes: Sizes) -> dict[str, int]:
    base = out / "flowers-102"
    n_classes = len(builtin_metadata("flowers").classes)
    ids: dict[str, list[int]] = {"trnid": [], "valid": [], "tstid": []}
    labels: list[int] = []
    per_part = {"tstid": sizes.per_class, "trnid": sizes.train_per_class, "valid": 1}
    for part, n in per_part.items():
        for label in range(n_classes):
            for _ in range(n):
                labels.append(label + 1)
                image_id = len(labels)
                ids[part].append(image_id)
                _save(_picture(sizes, "flowers", image_id, label), base / "jpg" / f"image_{image_id:05d}.jpg")
    _savemat(base / "imagelabels.mat", {"labels": np.array(labels, dtype=np.uint8).reshape(1, -1)})
    _savemat(base / "setid.mat", {k: np.array(v or [0], dtype=np.uint16).reshape(1, -1) for k, v in ids.items()})
    return {"test": len(ids["tstid"]), **({"train": len(ids["trnid"])} if ids["trnid"] else {})}


def write_idx(path: Path, array: np.ndarray) -> None:
    """MNIST's idx format: 0x0000 08 <ndim>, the sizes as big-endian int32, then the uint8 data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def _mnist(out: Path, sizes: Sizes) -> dict[str, int]:
    raw = out / "MNIST" / "raw"
    counts = {}
    for split, n in _per_split(sizes).items():
        labels = _labels(10, n)
        prefix = "train" if split == "train" else "t10k"
        write_idx(raw / f"{prefix}-images-idx3-ubyte", _array(sizes, f"mnist/{split}", labels, 28, grey=True))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.array(labels, dtype=np.uint8))
        counts[split] = len(labels)
    return counts


def _stl10(out: Path, sizes: Sizes) -> dict[str, int]:
    base = out / "stl10_binary"
    base.mkdir(parents=True)
    names = builtin_metadata("stl10").classes
    (base / "class_names.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    counts = {}
    for split, n in _per_split(sizes).items():
        labels = _labels(len(names), n)
        images = _array(sizes, f"stl10/{split}", labels, 96)  # N x H x W x C -> column-major channel planes
        images.transpose(0, 3, 2, 1).tofile(base / f"{split}_X.bin")
        (np.array(labels, dtype=np.uint8) + 1).tofile(base / f"{split}_y.bin")
        counts[split] = len(labels)
    return counts


def _folders(out: Path, sizes: Sizes, stream: str, folders: list[str], splits: dict[str, int], ext: str) -> dict:
    counts = {}
    for split, n in splits.items():
        for label, folder in enumerate(folders):
            for k in range(n):
                image = _picture(sizes, f"{stream}/{split}", label * n + k, label)
                _save(image, out / split / folder / f"{stream}_{label:03d}_{k:04d}.{ext}")
        counts[split] = n * len(folders)
    return counts


def _fer2013(out: Path, sizes: Sizes) -> dict[str, int]:
    return _folders(out / "fer2013", sizes, "fer", list(FER2013_FOLDERS), _per_split(sizes), "jpg")


def _country211(out: Path, sizes: Sizes) -> dict[str, int]:
    # Country211's folders are ISO 3166 codes, sorted; generated two-letter codes stand in for them here.
    codes = [f"{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(len(builtin_metadata("country211").classes))]
    counts = _folders(out / "country211", sizes, "country211", codes, _per_split(sizes), "jpg")
    _folders(out / "country211", sizes, "country211", codes, {"valid": 1}, "jpg")
    return counts


def _renderedsst2(out: Path, sizes: Sizes) -> dict[str, int]:
    counts = _folders(out / "rendered-sst2", sizes, "sst2", ["negative", "positive"], _per_split(sizes), "png")
    _folders(out / "rendered-sst2", sizes, "sst2", ["negative", "positive"], {"valid": 1}, "png")
    return counts


def _eurosat(out: Path, sizes: Sizes) -> dict[str, int]:
    folder = out / "eurosat" / "2750"
    n = 5 * sizes.per_class  # the first 60% train, the last 20% test
    for label, cls in enumerate(sorted(EUROSAT_FOLDERS)):
        for k in range(n):
            _save(_picture(sizes, "eurosat", label * n + k, label, 64, 64), folder / cls / f"{cls}_{k + 1}.jpg")
    return {"train": 3 * sizes.per_class * 10, "test": sizes.per_class * 10}


def _gtsrb(out: Path, sizes: Sizes) -> dict[str, int]:
    base = out / "gtsrb"
    counts = {}
    if sizes.train_per_class:
        for label in range(43):
            for k in range(sizes.train_per_class):
                image = _picture(sizes, "gtsrb/train", label * 100 + k, label, 40, 40)
                _save(image, base / "GTSRB" / "Training" / f"{label:05d}" / f"00000_{k:05d}.ppm")
        counts["train"] = 43 * sizes.train_per_class
    rows = []
    for i, label in enumerate(_labels(43, sizes.per_class)):
        name = f"{i:05d}.ppm"
        _save(_picture(sizes, "gtsrb/test", i, label, 40, 40), base / "GTSRB" / "Final_Test" / "Images" / name)
        rows.append([name, 40, 40, 5, 5, 35, 35, label])
    with open(base / "GT-final_test.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId"])
        writer.writerows(rows)
    counts["test"] = len(rows)
    return counts


def _pcam(out: Path, sizes: Sizes) -> dict[str, int]:
    import h5py

    base = out / "pcam"
    base.mkdir(parents=True)
    counts = {}
    for split, n in _per_split(sizes).items():
        labels = _labels(2, n)
        with h5py.File(base / f"camelyonpatch_level_2_split_{split}_x.h5", "w") as f:
            f.create_dataset("x", data=_array(sizes, f"pcam/{split}", labels, 96))
        with h5py.File(base / f"camelyonpatch_level_2_split_{split}_y.h5", "w") as f:
            f.create_dataset("y", data=np.array(labels, dtype=np.uint8).reshape(-1, 1, 1, 1))
        counts[split] = len(labels)
    return counts


def _svhn(out: Path, sizes: Sizes) -> dict[str, int]:
    counts = {}
    for split, n in _per_split(sizes).items():
        labels = _labels(10, n)
        x = _array(sizes, f"svhn/{split}", labels, 32).transpose(1, 2, 3, 0)  # 32 x 32 x 3 x N
        y = np.array([label or 10 for label in labels], dtype=np.uint8).reshape(-1, 1)  # the digit 0 is 10
        _savemat(out / "svhn" / f"{split}_32x32.mat", {"X": x, "y": y})
        counts[split] = len(labels)
    return counts


# KITTI object label lines for each closest-vehicle class: (type, depth z) objects, plus a DontCare region.
_KITTI_OBJECTS = {
    0: [("Car", 5.0), ("Pedestrian", 3.0)],
    1: [("Van", 15.0), ("Car", 30.0)],
    2: [("Truck", 45.0), ("Cyclist", 4.0)],
    3: [("Pedestrian", 6.0)],
}


def _kitti_line(kind: str, z: float) -> str:
    return f"{kind} 0.00 0 -1.57 100.00 150.00 200.00 250.00 1.50 1.60 3.90 1.00 1.70 {z:.2f} 0.00"


def _kitti(out: Path, sizes: Sizes) -> dict[str, int]:
    base = out / "Kitti" / "raw" / "training"
    n = round(4 * sizes.per_class / KITTI_TEST_FRACTION)
    (base / "label_2").mkdir(parents=True)
    for i in range(n):
        label = i % 4
        _save(_picture(sizes, "kitti", i, label, 96, 32), base / "image_2" / f"{i:06d}.png")
        lines = [_kitti_line(kind, z) for kind, z in _KITTI_OBJECTS[label]]
        lines.append("DontCare -1 -1 -10 500.00 170.00 590.00 200.00 -1 -1 -1 -1000 -1000 -1000 -10")
        (base / "label_2" / f"{i:06d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    n_test = round(n * KITTI_TEST_FRACTION)
    return {"train": n - n_test, "test": n_test}


def _clevr(out: Path, sizes: Sizes) -> dict[str, int]:
    base = out / "clevr" / "CLEVR_v1.0"
    if (base / "scenes").is_dir():  # both CLEVR tasks read the same release: written once
        return {
            "test" if part == "val" else part: len(json.loads(path.read_text(encoding="utf-8"))["scenes"])
            for part in ("train", "val")
            if (path := base / "scenes" / f"CLEVR_{part}_scenes.json").is_file()
        }
    lows = CLEVR_DISTANCE_THRESHOLDS
    depths = [(lows[b] + lows[b + 1]) / 2 for b in range(len(lows) - 1)]  # one depth inside each distance bin
    counts = {}
    for split, n in _per_split(sizes).items():
        part = "val" if split == "test" else "train"
        scenes = []
        for i in range(8 * n):  # every count class n times; the distance classes cycle
            name = f"CLEVR_{part}_{i:06d}.png"
            count, nearest = CLEVR_MIN_OBJECTS + i % 8, depths[i % len(depths)]
            objects = [{"shape": "cube", "pixel_coords": [10 + 5 * k, 20, nearest + 2.0 * k]} for k in range(count)]
            scenes.append({"image_index": i, "image_filename": name, "split": part, "objects": objects})
            _save(_picture(sizes, f"clevr/{part}", i, i % 8, 48, 32), base / "images" / part / name)
        (base / "scenes").mkdir(parents=True, exist_ok=True)
        scene_file = base / "scenes" / f"CLEVR_{part}_scenes.json"
        scene_file.write_text(json.dumps({"info": {"split": part}, "scenes": scenes}), encoding="utf-8")
        counts[split] = len(scenes)
    return counts


def _imagenet_o(out: Path, sizes: Sizes) -> dict[str, int]:
    wnids = builtin_metadata("imagenet-o").wnids or []
    for label, wnid in enumerate(wnids):
        for k in range(sizes.per_class):
            _save(_picture(sizes, "imagenet-o", label * 100 + k, label, 48, 48), out / "imagenet-o" / wnid / f"{k}.jpg")
    return {"test": sizes.per_class * len(wnids)}


OBJECTNET_UNMAPPED = ("air_freshener", "zz_bills_money")  # ObjectNet folders with no ImageNet class: never read


def _objectnet(out: Path, sizes: Sizes) -> dict[str, int]:
    base = out / "objectnet-1.0"
    classes = builtin_metadata("objectnet").classes
    to_label, to_imagenet = {}, {}
    folders = []
    for i, name in enumerate(classes):
        # The release's folder names sort in the metadata's order; generated ones keep it with a numeric prefix.
        folder = f"{i:03d}_" + "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")
        label = name[:1].upper() + name[1:]  # the mapping file capitalises; the catalog lower-cases
        to_label[folder], to_imagenet[label] = label, f"{name}, an ImageNet class"
        folders.append(folder)
    for folder in OBJECTNET_UNMAPPED:
        to_label[folder] = folder.replace("_", " ").capitalize()
    order = sorted(folders)
    for folder in [*order, *OBJECTNET_UNMAPPED]:
        label = order.index(folder) if folder in order else 0
        for k in range(sizes.per_class):
            _save(
                _picture(sizes, "objectnet", label * 100 + k, label, 48, 48), base / "images" / folder / f"{k:04x}.png"
            )
    (base / "mappings").mkdir(parents=True)
    (base / "mappings" / "folder_to_objectnet_label.json").write_text(json.dumps(to_label), encoding="utf-8")
    (base / "mappings" / "objectnet_to_imagenet_1k.json").write_text(json.dumps(to_imagenet), encoding="utf-8")
    return {"test": sizes.per_class * len(classes)}


RELEASED_WRITERS: dict[str, Callable[[Path, Sizes], dict[str, int]]] = {
    "food101": _food101,
    "sun397": _sun397,
    "cars": _cars,
    "fgvc_aircraft": _fgvc_aircraft,
    "dtd": _dtd,
    "pets": _pets,
    "caltech101": _caltech101,
    "flowers": _flowers,
    "mnist": _mnist,
    "stl10": _stl10,
    "fer2013": _fer2013,
    "eurosat": _eurosat,
    "gtsrb": _gtsrb,
    "country211": _country211,
    "renderedsst2": _renderedsst2,
    "pcam": _pcam,
    "svhn": _svhn,
    "kitti_closest_vehicle_distance": _kitti,
    "clevr_count_all": _clevr,
    "clevr_closest_object_distance": _clevr,
    "imagenet-o": _imagenet_o,
    "objectnet": _objectnet,
}


def write_released(name: str, out: Path, sizes: Sizes) -> dict[str, int]:
    """Write dataset ``name``'s released layout under ``out`` (the data root); returns images per split."""
    return RELEASED_WRITERS[name](Path(out), sizes)


# --- webdataset copies -------------------------------------------------------------------------------------
def wds_folder_name(name: str) -> str:
    """The folder the catalog finds first for ``name``'s copy: ``wds_<first CLIP_benchmark name, / -> ->>``."""
    from cyclip_bench.data.catalog import DATASETS

    return "wds_" + DATASETS.get(name).wds_names[0].replace("/", "-")


def _webp(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="webp", lossless=True)
    return buffer.getvalue()


def _names_and_templates(name: str) -> tuple[list[str], list[str]]:
    if name in BUILTIN_NAMES:
        meta = builtin_metadata(name)
        return list(meta.classes), [t.replace("{}", "{c}") for t in meta.templates]
    n = WDS_ONLY_CLASS_COUNTS[name]
    return [f"{name.replace('_', ' ')} class {i}" for i in range(n)], ["a photo of a {c}."]


# How many values the generated metadata of each field takes: a group field's count covers every group (FMoW's
# six regions include "Other", which its worst-region accuracy leaves out); other fields cycle over a few ids.
_GROUP_VALUES = {"fmow": 6, "dollar_street": 4, "geode": 6}
_OTHER_VALUES = 3


def sample_metadata_row(name: str, index: int, label: int) -> np.ndarray | None:
    """The generated ``.npy`` metadata of sample ``index`` (class ``label``) of ``name``'s copy, in DataComp's
    columns (``SAMPLE_METADATA``): the group field cycles over ``_GROUP_VALUES`` groups, ``y`` is the label, other
    fields cycle over a few ids; None for a dataset whose copy has no per-sample metadata."""
    layout = SAMPLE_METADATA.get(name)
    if layout is None:
        return None
    row = []
    for field in layout.fields:
        if field == "y":
            row.append(label)
        elif field == layout.group_by:
            row.append(index % _GROUP_VALUES[name])
        else:
            row.append(index % _OTHER_VALUES)
    return np.array(row, dtype=np.int64)


def _with_metadata(name: str, index: int, label: int) -> dict[str, np.ndarray]:
    row = sample_metadata_row(name, index, label)
    return {} if row is None else {"npy": row}


def write_wds_copy(name: str, out: Path, sizes: Sizes) -> dict[str, int]:
    """Write ``name``'s webdataset copy as ``out/wds_<name>``: its released fixture read back through the catalog
    and exported (webp lossless) where it has a released layout, else generated images at its real class count.
    Returns samples per split and ``"shards"``: shards per split."""
    from cyclip_bench.data.catalog import DATASETS
    from cyclip_bench.data.wds import WdsSample, write_wds_fixture

    classes, templates = _names_and_templates(name)
    entry = DATASETS.get(name)
    splits: dict[str, list[WdsSample]] = {}
    if name in RELEASED_LAYOUTS:
        with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=out) as tmp:
            written = write_released(name, Path(tmp), sizes)
            for split in written:
                if split in entry.splits:
                    data = entry(Path(tmp), split, None)
                    splits[split] = [WdsSample(_webp(data[i][0]), label=data.labels[i]) for i in range(len(data))]
    elif name == "voc2007_multilabel":
        rng = np.random.default_rng(sizes.seed)
        for split, n in _per_split(sizes).items():
            samples = []
            for i, label in enumerate(_labels(len(classes), n)):
                targets = (rng.random(len(classes)) < 0.15).astype(np.uint8)
                targets[label] = 1
                samples.append(WdsSample(_webp(_picture(sizes, f"{name}/{split}", i, label)), targets=targets))
            splits[split] = samples
    else:
        for split, n in _per_split(sizes).items():
            if split in entry.splits:
                labels = _labels(len(classes), n)
                images = [_picture(sizes, f"{name}/{split}", i, label, 32, 32) for i, label in enumerate(labels)]
                splits[split] = [
                    WdsSample(_webp(im), label=label, extra=_with_metadata(name, i, label))
                    for i, (im, label) in enumerate(zip(images, labels, strict=True))
                ]
    kind = "multilabel" if name == "voc2007_multilabel" else "classification"
    folder = out / wds_folder_name(name)
    if folder.exists():
        shutil.rmtree(folder)
    shards = write_wds_fixture(folder, kind, classes, templates, sizes.shard_size, splits)
    return {split: len(samples) for split, samples in splits.items()} | {"shards": shards}


def write_benchmarks(cfg: FixtureConfig, out: Path) -> tuple[dict[str, dict], int]:
    """Write every benchmark dataset ``cfg.datasets`` names under ``out`` (``cyclip-bench data fixture``): its
    released layout with ``--layout released`` where the catalog reads one, else its webdataset copy. Returns
    (fixture.json's entry per dataset, images written)."""
    sizes = Sizes(cfg.test_per_class, cfg.train_count, cfg.image_size, cfg.seed, cfg.wds_shard_size)
    entries: dict[str, dict] = {}
    images = 0
    for name in (n for n in BENCHMARK_DATASETS if n in cfg.datasets):  # a fixed order, as the core datasets
        classes = len(_names_and_templates(name)[0])
        if cfg.layout == "released" and name in RELEASED_WRITERS:
            counts = write_released(name, out, sizes)
            where = RELEASED_LAYOUTS[name].location.split()[0].removeprefix("DATA_ROOT/")
            entries[name] = {"path": where, "layout": "released", "classes": classes, **counts}
        else:
            counts = write_wds_copy(name, out, sizes)
            shards = counts.pop("shards")
            entries[name] = {
                "path": wds_folder_name(name),
                "layout": "wds",
                "classes": classes,
                **counts,
                "shards": shards,
            }
        images += sum(counts.values())
    if WINOGAVIL in cfg.datasets:
        entries[WINOGAVIL], written = write_winogavil(out, sizes)
        images += written
    return entries, images


def write_winogavil(out: Path, sizes: Sizes) -> tuple[dict, int]:
    """WinoGAViL in its released layout under ``out/winogavil``: ``4 × per_class`` generated instances (5, 6, 10
    and 12 candidates in turn). Returns (fixture.json's entry, images written)."""
    from cyclip_bench.data.winogavil import NAME, fixture_instances, write_winogavil_fixture

    instances = fixture_instances(4 * sizes.per_class, sizes.seed)
    folder = write_winogavil_fixture(out / NAME, instances, image_size=min(sizes.image_size, 64))
    images = len({c for _, candidates, _ in instances for c in candidates})
    return {"test": len(instances), "images": images, "path": folder.name, "layout": "released"}, images
