"""Readers of the released layouts of DataComp's and CLIP_benchmark's datasets — the files torchvision reads
with ``download=False`` (and the Kaggle, CLEVR, KITTI and ObjectNet releases) — into ``LabelledDataset``: labels
index the shipped class metadata (cyclip_bench/data/metadata/<name>.json) in the release's own label order,
images are PIL RGB, and the fingerprint covers every file id (or image hash) and label.

The files are parsed here rather than through torchvision's classes, which refuse files without the official
archive's md5 (STL-10, SVHN, Flowers-102) and would index classes by the folders present (DTD): every reader
checks its class count against the metadata, and where the release names its classes the names too (a
remapped order would otherwise pass silently); tests compare the labels with torchvision's where it reads the
same files. Nothing is downloaded; a missing file is a ``DataError`` naming it and what belongs there.

``RELEASED_LAYOUTS`` maps a catalog name to its ``ReleasedLayout``: where it lives under DATA_ROOT, the paths
whose presence marks each split, and its reader. docs/formats.md describes each layout and the split used
where the release has none (SUN397, EuroSAT, Caltech-101, KITTI).
"""

from __future__ import annotations

import csv
import json
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cyclip_bench.data.images import is_image_file
from cyclip_bench.data.labelled import (
    ArrayLabelledDataset,
    FileLabelledDataset,
    LabelledDataset,
    load_image_folder,
)
from cyclip_bench.data.metadata import ClassMetadata, builtin_metadata
from cyclip_bench.errors import DataError

Reader = Callable[[Path, str, ClassMetadata, str], LabelledDataset]


@dataclass(frozen=True)
class ReleasedLayout:
    """A released layout: ``location`` (for messages and listings), ``released`` (per split, the paths under
    DATA_ROOT whose presence says the split is there) and ``read(root, split, metadata, name)``."""

    location: str
    released: Mapping[str, tuple[str, ...]]
    read: Reader

    def builder(self, name: str) -> Callable[[Path, str, Any], LabelledDataset]:
        """The catalog builder of dataset ``name``: its shipped metadata, the images read through ``transform``."""

        def build(root: Path, split: str, transform: Any = None) -> LabelledDataset:
            data = self.read(Path(root), split, builtin_metadata(name), f"{name}/{split}")
            data.transform = transform
            return data

        return build


RELEASED_LAYOUTS: dict[str, ReleasedLayout] = {}


def _layout(name: str, location: str, released: Mapping[str, tuple[str, ...]]) -> Callable[[Reader], Reader]:
    def decorate(read: Reader) -> Reader:
        RELEASED_LAYOUTS[name] = ReleasedLayout(location, released, read)
        return read

    return decorate


# --- shared checks -----------------------------------------------------------------------------------------
def _need(path: Path, what: str) -> Path:
    """``path`` itself when it exists, else a DataError saying what belongs there."""
    if not path.exists():
        raise DataError(f"{path}: not found (expected {what})")
    return path


def _no_split(root: Path, dataset: str, split: str, have: str) -> DataError:
    return DataError(f"{root}: the released {dataset} layout has no {split!r} split ({have})")


def _norm(name: str) -> str:
    return " ".join(re.sub(r"[_/]", " ", name).lower().split())


def _check_classes(found: Sequence[str], metadata: ClassMetadata, where: str, names: bool = False) -> None:
    """The release lists as many classes as the metadata; with ``names``, the same ones in the same order
    (compared lower-cased, '_' and '/' as spaces), so a release in another order is refused, not misread."""
    if len(found) != len(metadata.classes):
        raise DataError(f"{where}: {len(found)} classes, but the shipped class metadata lists {len(metadata.classes)}")
    if names:
        for i, (release, ours) in enumerate(zip(found, metadata.classes, strict=True)):
            if _norm(release) != _norm(ours):
                raise DataError(
                    f"{where}: class {i} is {release!r}, the shipped class metadata's is {ours!r} (the release's "
                    f"label order must be the metadata's)"
                )


def _files(name: str, root: Path, files: list[Path], labels: list[int], metadata: ClassMetadata) -> FileLabelledDataset:
    if not files:
        raise DataError(f"{root}: no images found for {name}")
    return FileLabelledDataset(name, root, [str(f) for f in files], labels, metadata)


def _require(files: list[Path], where: str) -> list[Path]:
    for f in files:
        if not f.is_file():
            raise DataError(f"{where}: lists {f.name}, but image file {f} is not there")
    return files


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if is_image_file(p))


def _class_folders(folder: Path, key: Callable[[str], Any] = str) -> list[str]:
    _need(folder, "one sub-folder of images per class")
    return sorted((p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=key)


def _split_file(path: Path, what: str) -> list[str]:
    return [line.strip() for line in _need(path, what).read_text(encoding="utf-8").splitlines() if line.strip()]


def _folder_dataset(
    name: str, folder: Path, metadata: ClassMetadata, order: Callable[[str], Any] = str, names: bool = False
) -> FileLabelledDataset:
    """Class sub-folders, label = the folder's place in ``order`` (ImageFolder's sorted order by default)."""
    classes = _class_folders(folder, order)
    _check_classes(classes, metadata, str(folder), names)
    files, labels = [], []
    for label, cls in enumerate(classes):
        for path in _images_under(folder / cls):
            files.append(path)
            labels.append(label)
    return _files(name, folder, files, labels, metadata)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(_need(path, what).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err}); expected {what}") from None


def _loadmat(path: Path, what: str) -> dict[str, Any]:
    """A MATLAB v5 .mat file (scipy reads data only: no code runs); a v7.3/HDF5 or broken file is a DataError."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    _need(path, what)
    try:
        return loadmat(path, squeeze_me=True)
    except (MatReadError, ValueError, TypeError, NotImplementedError, OSError, KeyError) as err:
        raise DataError(
            f"{path}: not a readable MATLAB v5 .mat file ({type(err).__name__}: {err}); expected {what}"
        ) from None


def _mat_key(mat: Mapping[str, Any], key: str, path: Path) -> Any:
    if key not in mat:
        found = ", ".join(k for k in mat if not k.startswith("__"))
        raise DataError(f"{path}: no {key!r} variable (found: {found or 'none'})")
    return mat[key]


def _int_labels(values: Any, n_classes: int, where: str, offset: int = 0) -> list[int]:
    """Integer labels minus ``offset``, each in 0..n_classes-1."""
    try:
        labels = [int(v) - offset for v in np.atleast_1d(np.asarray(values)).ravel()]
    except (TypeError, ValueError):
        raise DataError(f"{where}: labels must be integers") from None
    bad = next((i for i, x in enumerate(labels) if not 0 <= x < n_classes), None)
    if bad is not None:
        raise DataError(
            f"{where}: label {labels[bad] + offset} (entry {bad + 1}) is outside {offset}..{n_classes - 1 + offset}"
        )
    return labels


class _ArrayImages(ArrayLabelledDataset):
    """Images in memory, N×H×W (grey) or N×H×W×3 uint8 (MNIST, STL-10, SVHN), returned as PIL RGB."""

    def __init__(self, name: str, images: np.ndarray, labels: Sequence[int], metadata: ClassMetadata, root: Path):
        if len(images) != len(labels):
            raise DataError(f"{root}: {len(images)} images but {len(labels)} labels")
        super().__init__(name, images, labels, metadata)
        self.root = root

    def _image(self, index: int) -> Image.Image:
        return Image.fromarray(self.array[index]).convert("RGB")


# --- natural images ----------------------------------------------------------------------------------------
@_layout(
    "food101",
    "DATA_ROOT/food-101 (images/<class>/<id>.jpg, meta/train.json, meta/test.json)",
    {"train": ("food-101/meta/train.json",), "test": ("food-101/meta/test.json",)},
)
def _food101(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    base = root / "food-101"
    path = base / "meta" / f"{split}.json"
    obj = _read_json(path, 'Food-101 meta: {"<class>": ["<class>/<image id>", ...]}')
    if not isinstance(obj, dict) or not all(isinstance(v, list) for v in obj.values()):
        raise DataError(f'{path}: expected a JSON object {{"<class>": ["<class>/<image id>", ...]}}')
    classes = sorted(obj)  # torchvision's order: the class folders sorted
    _check_classes(classes, metadata, str(path), names=True)
    files, labels = [], []
    for label, cls in enumerate(classes):
        for rel in obj[cls]:
            files.append(base / "images" / f"{rel}.jpg")
            labels.append(label)
    return _files(name, base / "images", _require(files, str(path)), labels, metadata)


@_layout(
    "sun397",
    "DATA_ROOT/SUN397 (ClassName.txt, <letter>/<class>[/<sub>]/sun_*.jpg); test = the whole set, as DataComp",
    {"test": ("SUN397/ClassName.txt",)},
)
def _sun397(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    base = root / "SUN397"
    if split != "test":
        raise _no_split(base, "SUN397", split, "it has no official split: DataComp scores the whole set as test")
    lines = _split_file(base / "ClassName.txt", "SUN397's class list, one '/a/abbey' line per class")
    classes = [line[3:] for line in lines]  # '/a/abbey' -> 'abbey', '/b/bakery/shop' -> 'bakery/shop'
    _check_classes(classes, metadata, str(base / "ClassName.txt"))
    index = {c: i for i, c in enumerate(classes)}
    files, labels = [], []
    for path in sorted(base.rglob("sun_*.jpg")):
        cls = "/".join(path.relative_to(base).parts[1:-1])
        if cls not in index:
            raise DataError(f"{path}: its folder {cls!r} is not a class of {base / 'ClassName.txt'}")
        files.append(path)
        labels.append(index[cls])
    return _files(name, base, files, labels, metadata)


@_layout(
    "cars",
    "DATA_ROOT/stanford_cars (devkit/cars_meta.mat, devkit/cars_train_annos.mat, cars_train/, "
    "cars_test_annos_withlabels.mat, cars_test/)",
    {
        "train": ("stanford_cars/devkit/cars_train_annos.mat",),
        "test": ("stanford_cars/cars_test_annos_withlabels.mat",),
    },
)
def _cars(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    base = root / "stanford_cars"
    meta_path = base / "devkit" / "cars_meta.mat"
    class_names = _mat_key(_loadmat(meta_path, "the devkit's class_names"), "class_names", meta_path)
    _check_classes([str(c) for c in np.atleast_1d(class_names)], metadata, str(meta_path), names=True)
    if split == "train":
        annos, images = base / "devkit" / "cars_train_annos.mat", base / "cars_train"
    else:
        annos, images = base / "cars_test_annos_withlabels.mat", base / "cars_test"
    records = np.atleast_1d(_mat_key(_loadmat(annos, "annotations with fname and class"), "annotations", annos))
    try:
        fnames = [str(r["fname"]) for r in records]
        classes = [r["class"] for r in records]
    except (ValueError, IndexError, KeyError):
        raise DataError(f"{annos}: 'annotations' must be a struct array with fields fname and class") from None
    labels = _int_labels(classes, len(metadata.classes), str(annos), offset=1)  # classes count from 1
    return _files(name, images, _require([images / f for f in fnames], str(annos)), labels, metadata)


@_layout(
    "fgvc_aircraft",
    "DATA_ROOT/fgvc-aircraft-2013b/data (variants.txt, images_variant_{trainval,test}.txt, images/<id>.jpg)",
    {
        "train": ("fgvc-aircraft-2013b/data/images_variant_trainval.txt",),
        "test": ("fgvc-aircraft-2013b/data/images_variant_test.txt",),
    },
)
def _fgvc_aircraft(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    data = root / "fgvc-aircraft-2013b" / "data"
    classes = _split_file(data / "variants.txt", "the 100 variant names, one a line")
    _check_classes(classes, metadata, str(data / "variants.txt"), names=True)
    index = {c: i for i, c in enumerate(classes)}
    listing = data / f"images_variant_{'trainval' if split == 'train' else 'test'}.txt"
    files, labels = [], []
    for n, line in enumerate(_split_file(listing, "'<image id> <variant>' lines"), 1):
        image_id, _, variant = line.partition(" ")
        if variant not in index:
            raise DataError(f"{listing}: line {n}: variant {variant!r} is not in {data / 'variants.txt'}")
        files.append(data / "images" / f"{image_id}.jpg")
        labels.append(index[variant])
    return _files(name, data / "images", _require(files, str(listing)), labels, metadata)


def _dtd_folder(root: Path) -> Path:
    # torchvision reads DATA_ROOT/dtd/dtd (its archive's folder inside its own); the plain extract is DATA_ROOT/dtd.
    return root / "dtd" / "dtd" if (root / "dtd" / "dtd").is_dir() else root / "dtd"


@_layout(
    "dtd",
    "DATA_ROOT/dtd/dtd or DATA_ROOT/dtd (images/<texture>/*.jpg, labels/{train,val,test}1.txt)",
    {
        "train": ("dtd/dtd/labels/train1.txt", "dtd/labels/train1.txt"),
        "test": ("dtd/dtd/labels/test1.txt", "dtd/labels/test1.txt"),
    },
)
def _dtd(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    base = _dtd_folder(root)
    classes = _class_folders(base / "images")  # sorted, all 47 (torchvision counts those a split file names)
    _check_classes(classes, metadata, str(base / "images"), names=True)
    index = {c: i for i, c in enumerate(classes)}
    files, labels = [], []
    for part in ("train", "val") if split == "train" else ("test",):  # partition 1; train = train + val
        listing = base / "labels" / f"{part}1.txt"
        for n, line in enumerate(_split_file(listing, "'<texture>/<image>.jpg' lines"), 1):
            cls = line.split("/")[0]
            if cls not in index:
                raise DataError(f"{listing}: line {n}: texture {cls!r} has no folder in {base / 'images'}")
            files.append(base / "images" / line)
            labels.append(index[cls])
    return _files(name, base / "images", _require(files, str(base / "labels")), labels, metadata)


@_layout(
    "pets",
    "DATA_ROOT/oxford-iiit-pet (images/<Breed>_<n>.jpg, annotations/{trainval,test}.txt)",
    {"train": ("oxford-iiit-pet/annotations/trainval.txt",), "test": ("oxford-iiit-pet/annotations/test.txt",)},
)
def _pets(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    base = root / "oxford-iiit-pet"
    listing = base / "annotations" / f"{'trainval' if split == 'train' else 'test'}.txt"
    files, labels = [], []
    for n, line in enumerate(_split_file(listing, "'<image id> <class id 1..37> <species> <breed id>' lines"), 1):
        if line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            raise DataError(f"{listing}: line {n}: expected '<image id> <class id> ...', got {line!r}")
        label = _int_labels([parts[1]], len(metadata.classes), f"{listing}: line {n}", offset=1)[0]
        breed = parts[0].rsplit("_", 1)[0]  # the image id names the breed: check the id's order is ours
        if _norm(breed) != _norm(metadata.classes[label]):
            raise DataError(
                f"{listing}: line {n}: class id {label + 1} is {breed!r} here but {metadata.classes[label]!r} in the "
                f"shipped class metadata"
            )
        files.append(base / "images" / f"{parts[0]}.jpg")
        labels.append(label)
    return _files(name, base / "images", _require(files, str(listing)), labels, metadata)


CALTECH_TRAIN_PER_CLASS = 30
# The release's 102 folders, in VTAB's (case-insensitive) order = the shipped metadata's.
CALTECH101_FOLDERS = tuple(
    """accordion airplanes anchor ant BACKGROUND_Google barrel bass beaver binocular bonsai brain brontosaurus buddha
    butterfly camera cannon car_side ceiling_fan cellphone chair chandelier cougar_body cougar_face crab crayfish
    crocodile crocodile_head cup dalmatian dollar_bill dolphin dragonfly electric_guitar elephant emu euphonium ewer
    Faces Faces_easy ferry flamingo flamingo_head garfield gerenuk gramophone grand_piano hawksbill headphone hedgehog
    helicopter ibis inline_skate joshua_tree kangaroo ketch lamp laptop Leopards llama lobster lotus mandolin mayfly
    menorah metronome minaret Motorbikes nautilus octopus okapi pagoda panda pigeon pizza platypus pyramid revolver
    rhino rooster saxophone schooner scissors scorpion sea_horse snoopy soccer_ball stapler starfish stegosaurus
    stop_sign strawberry sunflower tick trilobite umbrella watch water_lilly wheelchair wild_cat windsor_chair wrench
    yin_yang""".split()
)


@_layout(
    "caltech101",
    "DATA_ROOT/caltech101/101_ObjectCategories (102 class folders, BACKGROUND_Google included); split: the first "
    f"{CALTECH_TRAIN_PER_CLASS} images of each class train, the rest test",
    {"train": ("caltech101/101_ObjectCategories",), "test": ("caltech101/101_ObjectCategories",)},
)
def _caltech101(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    # VTAB's order: the 102 folders sorted case-insensitively, background included (torchvision drops the
    # background and sorts upper case first: Faces, Leopards, Motorbikes before accordion).
    base = root / "caltech101" / "101_ObjectCategories"
    _check_folders(base, CALTECH101_FOLDERS)
    classes = _class_folders(base, str.lower)
    _check_classes(classes, metadata, str(base))
    files, labels = [], []
    for label, cls in enumerate(classes):
        images = _images_under(base / cls)
        chosen = images[:CALTECH_TRAIN_PER_CLASS] if split == "train" else images[CALTECH_TRAIN_PER_CLASS:]
        files += chosen
        labels += [label] * len(chosen)
    return _files(name, base, files, labels, metadata)


@_layout(
    "flowers",
    "DATA_ROOT/flowers-102 (jpg/image_NNNNN.jpg, imagelabels.mat, setid.mat)",
    {"train": ("flowers-102/setid.mat",), "test": ("flowers-102/setid.mat",)},
)
def _flowers(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    base = root / "flowers-102"
    setid = base / "setid.mat"
    ids = np.atleast_1d(
        _mat_key(_loadmat(setid, "trnid, valid, tstid"), "trnid" if split == "train" else "tstid", setid)
    )
    label_path = base / "imagelabels.mat"
    all_labels = np.atleast_1d(_mat_key(_loadmat(label_path, "labels (1..102)"), "labels", label_path))
    labels_by_id = _int_labels(all_labels, len(metadata.classes), str(label_path), offset=1)
    files, labels = [], []
    for image_id in (int(i) for i in ids):
        if not 1 <= image_id <= len(labels_by_id):
            raise DataError(f"{setid}: image id {image_id} has no label in {label_path} ({len(labels_by_id)} labels)")
        files.append(base / "jpg" / f"image_{image_id:05d}.jpg")
        labels.append(labels_by_id[image_id - 1])
    return _files(name, base / "jpg", _require(files, str(setid)), labels, metadata)


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """An idx file (MNIST's format): magic 0x0000 08 <ndim>, then ndim big-endian sizes, then uint8 data."""
    raw = _need(path, f"an uncompressed idx file with {ndim} dimension(s) (gunzip the released .gz)").read_bytes()
    if len(raw) < 4 + 4 * ndim or raw[:3] != b"\x00\x00\x08" or raw[3] != ndim:
        raise DataError(f"{path}: not an idx file of uint8 with {ndim} dimension(s) (magic {raw[:4].hex()})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path}: header says {shape} but the file holds {data.size} bytes of data")
    return data.reshape(shape)


@_layout(
    "mnist",
    "DATA_ROOT/MNIST/raw ({train,t10k}-images-idx3-ubyte, {train,t10k}-labels-idx1-ubyte)",
    {"train": ("MNIST/raw/train-images-idx3-ubyte",), "test": ("MNIST/raw/t10k-images-idx3-ubyte",)},
)
def _mnist(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    raw = root / "MNIST" / "raw"
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(raw / f"{prefix}-images-idx3-ubyte", 3)
    labels_path = raw / f"{prefix}-labels-idx1-ubyte"
    labels = _int_labels(_read_idx(labels_path, 1), len(metadata.classes), str(labels_path))
    return _ArrayImages(name, images, labels, metadata, raw)


@_layout(
    "stl10",
    "DATA_ROOT/stl10_binary ({train,test}_X.bin, {train,test}_y.bin, class_names.txt)",
    {"train": ("stl10_binary/train_X.bin",), "test": ("stl10_binary/test_X.bin",)},
)
def _stl10(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    base = root / "stl10_binary"
    _check_classes(_split_file(base / "class_names.txt", "the 10 class names"), metadata, str(base), names=True)
    x_path = _need(base / f"{split}_X.bin", "96x96 RGB images, uint8, column-major per channel")
    raw = np.fromfile(x_path, dtype=np.uint8)
    if raw.size % (3 * 96 * 96):
        raise DataError(f"{x_path}: {raw.size} bytes is not a whole number of 3x96x96 images")
    images = np.ascontiguousarray(raw.reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1))  # column-major -> H x W x C
    y_path = _need(base / f"{split}_y.bin", "one uint8 label 1..10 per image")
    labels = _int_labels(np.fromfile(y_path, dtype=np.uint8), len(metadata.classes), str(y_path), offset=1)
    return _ArrayImages(name, images, labels, metadata, base)


@_layout(
    "fer2013",
    "DATA_ROOT/fer2013/{train,test}/<emotion>/*.jpg (Kaggle msambare/fer2013)",
    {"train": ("fer2013/train",), "test": ("fer2013/test",)},
)
def _fer2013(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    folder = root / "fer2013" / split
    _check_folders(folder, FER2013_FOLDERS)
    return _folder_dataset(name, folder, metadata)


FER2013_FOLDERS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
EUROSAT_FOLDERS = (
    "AnnualCrop",
    "Forest",
    "HerbaceousVegetation",
    "Highway",
    "Industrial",
    "Pasture",
    "PermanentCrop",
    "Residential",
    "River",
    "SeaLake",
)


def _check_folders(folder: Path, expected: Sequence[str]) -> None:
    found = _class_folders(folder)
    if found != sorted(expected):
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        raise DataError(
            f"{folder}: expected the class folders {', '.join(sorted(expected))}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra)}" if extra else "")
        )


# --- specialized and structured ----------------------------------------------------------------------------
EUROSAT_TEST_FRACTION, EUROSAT_TRAIN_FRACTION = 0.2, 0.6


@_layout(
    "eurosat",
    "DATA_ROOT/eurosat/2750/<class>/*.jpg (EuroSAT RGB); split: per class by file name, the first 60% train, "
    "the last 20% test",
    {"train": ("eurosat/2750",), "test": ("eurosat/2750",)},
)
def _eurosat(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    folder = root / "eurosat" / "2750"
    _check_folders(folder, EUROSAT_FOLDERS)
    files, labels = [], []
    for label, cls in enumerate(sorted(EUROSAT_FOLDERS)):
        images = sorted(_images_under(folder / cls), key=lambda p: _natural(p.name))
        n = len(images)
        chosen = (
            images[: round(n * EUROSAT_TRAIN_FRACTION)]
            if split == "train"
            else images[n - round(n * EUROSAT_TEST_FRACTION) :]
        )
        files += chosen
        labels += [label] * len(chosen)
    return _files(name, folder, files, labels, metadata)


def _natural(name: str) -> tuple:
    """'River_10.jpg' after 'River_9.jpg': digit runs compared as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


@_layout(
    "gtsrb",
    "DATA_ROOT/gtsrb (GTSRB/Training/<00000..00042>/*.ppm; GTSRB/Final_Test/Images/*.ppm with GT-final_test.csv)",
    {"train": ("gtsrb/GTSRB/Training",), "test": ("gtsrb/GT-final_test.csv",)},
)
def _gtsrb(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    base = root / "gtsrb"
    if split == "train":
        folder = base / "GTSRB" / "Training"
        classes = _class_folders(folder)
        _check_classes(classes, metadata, str(folder))
        bad = next((c for i, c in enumerate(classes) if not (c.isdigit() and int(c) == i)), None)
        if bad is not None:
            raise DataError(f"{folder}: class folder {bad!r}: expected 00000..{len(classes) - 1:05d} (the class ids)")
        return _folder_dataset(name, folder, metadata)
    table = _need(base / "GT-final_test.csv", "the test labels: Filename;...;ClassId rows")
    images = base / "GTSRB" / "Final_Test" / "Images"
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=";", skipinitialspace=True))
    if not rows or not {"Filename", "ClassId"} <= set(rows[0]):
        raise DataError(f"{table}: expected ';'-separated columns Filename and ClassId")
    labels = _int_labels([r["ClassId"] for r in rows], len(metadata.classes), str(table))
    return _files(name, images, _require([images / r["Filename"] for r in rows], str(table)), labels, metadata)


@_layout(
    "country211",
    "DATA_ROOT/country211/{train,valid,test}/<ISO code>/*.jpg",
    {"train": ("country211/train",), "test": ("country211/test",)},
)
def _country211(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    return _folder_dataset(name, root / "country211" / split, metadata)


@_layout(
    "renderedsst2",
    "DATA_ROOT/rendered-sst2/{train,valid,test}/{negative,positive}/*.png",
    {"train": ("rendered-sst2/train",), "test": ("rendered-sst2/test",)},
)
def _renderedsst2(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    return _folder_dataset(name, root / "rendered-sst2" / split, metadata, names=True)


@_layout(
    "svhn",
    "DATA_ROOT/svhn ({train,test}_32x32.mat: X 32x32x3xN, y N with 10 for the digit 0)",
    {"train": ("svhn/train_32x32.mat",), "test": ("svhn/test_32x32.mat",)},
)
def _svhn(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    path = root / "svhn" / f"{split}_32x32.mat"
    mat = _loadmat(path, "SVHN format 2: X (32x32x3xN uint8) and y (N labels 1..10)")
    x = np.asarray(_mat_key(mat, "X", path))
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.dtype != np.uint8:
        raise DataError(f"{path}: X must be 32x32x3xN uint8, found {x.dtype} {x.shape}")
    y = np.atleast_1d(np.asarray(_mat_key(mat, "y", path))).ravel() % 10  # the release's 10 is the digit 0
    labels = _int_labels(y, len(metadata.classes), str(path))
    return _ArrayImages(name, np.ascontiguousarray(x.transpose(3, 0, 1, 2)), labels, metadata, path.parent)


class _H5Images(LabelledDataset):
    """PatchCamelyon: images read one at a time from the HDF5 file 'x' (N×96×96×3 uint8), opened lazily in each
    process (DataLoader workers do not share their parent's handle)."""

    def __init__(self, name: str, path: Path, labels: Sequence[int], metadata: ClassMetadata) -> None:
        super().__init__(name, metadata, labels)
        self.path, self.root = path, path.parent
        self._handle: Any = None
        self._pid = -1
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_handle=None, _pid=-1, _lock=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _image(self, index: int) -> Image.Image:
        import h5py

        with self._lock:
            if self._handle is None or self._pid != os.getpid():
                self._handle, self._pid = h5py.File(self.path, "r"), os.getpid()
            return Image.fromarray(np.asarray(self._handle["x"][index])).convert("RGB")

    def _fingerprint_items(self) -> list[str]:
        stat = self.path.stat()
        return [f"{self.path.name}:{i}\t{stat.st_size}" for i in range(len(self.labels))]


@_layout(
    "pcam",
    "DATA_ROOT/pcam (camelyonpatch_level_2_split_{train,test}_{x,y}.h5)",
    {
        "train": ("pcam/camelyonpatch_level_2_split_train_x.h5",),
        "test": ("pcam/camelyonpatch_level_2_split_test_x.h5",),
    },
)
def _pcam(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    import h5py

    base = root / "pcam"
    x_path = _need(base / f"camelyonpatch_level_2_split_{split}_x.h5", "HDF5 dataset 'x': N x 96 x 96 x 3 uint8")
    y_path = _need(base / f"camelyonpatch_level_2_split_{split}_y.h5", "HDF5 dataset 'y': N x 1 x 1 x 1 labels")
    try:
        with h5py.File(x_path, "r") as fx, h5py.File(y_path, "r") as fy:
            for f, key, path in ((fx, "x", x_path), (fy, "y", y_path)):
                if key not in f:
                    raise DataError(f"{path}: no HDF5 dataset {key!r} (found: {', '.join(f) or 'none'})")
            shape, y = fx["x"].shape, np.asarray(fy["y"])
    except OSError as err:
        raise DataError(f"{x_path.parent}: not readable HDF5 files ({err})") from None
    if len(shape) != 4 or shape[3] != 3:
        raise DataError(f"{x_path}: 'x' must be N x H x W x 3, found {shape}")
    labels = _int_labels(y.reshape(len(y), -1)[:, 0] if y.size else y, len(metadata.classes), str(y_path))
    if len(labels) != shape[0]:
        raise DataError(f"{y_path}: {len(labels)} labels for the {shape[0]} images of {x_path}")
    return _H5Images(name, x_path, labels, metadata)


def _bin(value: float, thresholds: Sequence[float]) -> int:
    """VTAB's binning: the last threshold index below ``value``."""
    return max(i for i, t in enumerate(thresholds) if t < value)


# VTAB's KITTI task: the closest Car/Van/Truck's depth z (metres), binned; no such vehicle is the last bin.
KITTI_VEHICLES = ("Car", "Van", "Truck")
KITTI_THRESHOLDS = (-100.0, 8.0, 20.0, 999.0)
KITTI_NO_VEHICLE = 1000.0
KITTI_TEST_FRACTION = 0.1


def kitti_closest_vehicle_label(label_file: Path) -> int:
    """The VTAB closest-vehicle-distance class of one KITTI object label file (``label_2/<id>.txt``)."""
    depths = [KITTI_NO_VEHICLE]
    for n, line in enumerate(label_file.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 15:
            raise DataError(f"{label_file}: line {n}: expected 15 fields (type ... location x y z rotation_y)")
        if fields[0] in KITTI_VEHICLES:
            try:
                depths.append(float(fields[13]))
            except ValueError:
                raise DataError(f"{label_file}: line {n}: location z {fields[13]!r} is not a number") from None
    return _bin(min(depths), KITTI_THRESHOLDS)


@_layout(
    "kitti_closest_vehicle_distance",
    "DATA_ROOT/Kitti/raw/training (image_2/<id>.png, label_2/<id>.txt); split: by image id, the last 10% test",
    {"train": ("Kitti/raw/training/label_2",), "test": ("Kitti/raw/training/label_2",)},
)
def _kitti(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    base = root / "Kitti" / "raw" / "training"
    images = _images_under(_need(base / "image_2", "the left colour images <id>.png"))
    _need(base / "label_2", "the object labels <id>.txt")
    n_test = round(len(images) * KITTI_TEST_FRACTION)
    chosen = images[: len(images) - n_test] if split == "train" else images[len(images) - n_test :]
    labels = []
    for image in chosen:
        label_file = _need(base / "label_2" / f"{image.stem}.txt", f"the object labels of {image.name}")
        labels.append(kitti_closest_vehicle_label(label_file))
    return _files(name, base / "image_2", chosen, labels, metadata)


CLEVR_MIN_OBJECTS = 3  # VTAB's count classes are 3..10 objects
CLEVR_DISTANCE_THRESHOLDS = (0.0, 8.0, 8.5, 9.0, 9.5, 10.0, 100.0)


def clevr_count_label(scene: Mapping[str, Any]) -> int:
    return len(scene["objects"]) - CLEVR_MIN_OBJECTS


def clevr_distance_label(scene: Mapping[str, Any]) -> int:
    """VTAB's closest-object distance: the smallest depth (pixel_coords[2]) of the scene's objects, binned."""
    return _bin(min(float(o["pixel_coords"][2]) for o in scene["objects"]), CLEVR_DISTANCE_THRESHOLDS)


def _clevr(label_of: Callable[[Mapping[str, Any]], int]) -> Reader:
    def read(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
        base = root / "clevr" / "CLEVR_v1.0"
        part = "train" if split == "train" else "val"  # CLEVR's test scenes are unreleased: VTAB tests on val
        scenes_path = base / "scenes" / f"CLEVR_{part}_scenes.json"
        obj = _read_json(scenes_path, '{"scenes": [{"image_filename", "objects": [...]}, ...]}')
        scenes = obj.get("scenes") if isinstance(obj, dict) else None
        if not isinstance(scenes, list):
            raise DataError(f"{scenes_path}: expected an object with a 'scenes' list")
        by_file: dict[str, int] = {}
        for i, scene in enumerate(scenes):
            try:
                label = label_of(scene)
            except (KeyError, TypeError, IndexError, ValueError):
                raise DataError(
                    f"{scenes_path}: scene {i}: expected image_filename and objects with pixel_coords"
                ) from None
            if not 0 <= label < len(metadata.classes):
                raise DataError(
                    f"{scenes_path}: scene {i}: its class {label} is outside 0..{len(metadata.classes) - 1}"
                )
            by_file[scene["image_filename"]] = label
        images = _images_under(_need(base / "images" / part, f"CLEVR's {part} images"))
        missing = next((p for p in images if p.name not in by_file), None)
        if missing is not None:
            raise DataError(f"{missing}: no scene in {scenes_path} for this image")
        return _files(name, base / "images" / part, images, [by_file[p.name] for p in images], metadata)

    return read


_CLEVR_LOCATION = (
    "DATA_ROOT/clevr/CLEVR_v1.0 (images/{train,val}/*.png, scenes/CLEVR_{train,val}_scenes.json); test = val"
)
_CLEVR_RELEASED = {
    "train": ("clevr/CLEVR_v1.0/scenes/CLEVR_train_scenes.json",),
    "test": ("clevr/CLEVR_v1.0/scenes/CLEVR_val_scenes.json",),
}
_layout("clevr_count_all", _CLEVR_LOCATION, _CLEVR_RELEASED)(_clevr(clevr_count_label))
_layout("clevr_closest_object_distance", _CLEVR_LOCATION, _CLEVR_RELEASED)(_clevr(clevr_distance_label))


# --- ImageNet distribution shifts -------------------------------------------------------------------------
@_layout("imagenet-o", "DATA_ROOT/imagenet-o (200 wnid folders)", {"test": ("imagenet-o",)})
def _imagenet_o(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    if split != "test":
        raise _no_split(root / "imagenet-o", "ImageNet-O", split, "it is a test set")
    return load_image_folder(root / "imagenet-o", metadata, name, folder_names="wnids")


OBJECTNET_MAPPINGS = ("folder_to_objectnet_label.json", "objectnet_to_imagenet_1k.json")


@_layout(
    "objectnet",
    "DATA_ROOT/objectnet-1.0 (images/<folder>/*.png, mappings/folder_to_objectnet_label.json, "
    "mappings/objectnet_to_imagenet_1k.json)",
    {"test": ("objectnet-1.0/mappings/objectnet_to_imagenet_1k.json",)},
)
def _objectnet(root: Path, split: str, metadata: ClassMetadata, name: str) -> LabelledDataset:
    base = root / "objectnet-1.0"
    if split != "test":
        raise _no_split(base, "ObjectNet", split, "it is a test set")
    to_label, to_imagenet = (
        _read_json(base / "mappings" / f, "an object mapping names to names") for f in OBJECTNET_MAPPINGS
    )
    if not isinstance(to_label, dict) or not isinstance(to_imagenet, dict):
        raise DataError(f"{base / 'mappings'}: {' and '.join(OBJECTNET_MAPPINGS)} must be JSON objects")
    images_dir = base / "images"
    folders = [f for f in _class_folders(images_dir) if to_label.get(f) in to_imagenet]  # the 113 with ImageNet classes
    _check_classes([to_label[f] for f in folders], metadata, str(images_dir), names=True)
    files, labels = [], []
    for label, folder in enumerate(folders):
        for path in _images_under(images_dir / folder):
            files.append(path)
            labels.append(label)
    return _files(name, images_dir, files, labels, metadata)
