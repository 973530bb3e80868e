"""Labelled image datasets (classification): labels.csv folders, ImageFolder layouts, CIFAR pickles, and the
retrieval dataset (several captions per image)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from cyclip_bench.data.captions import read_caption_table, read_table, resolve_paths
from cyclip_bench.data.images import is_image_file, load_image
from cyclip_bench.data.metadata import ClassMetadata
from cyclip_bench.errors import DataError
from cyclip_bench.safe_pickle import load_data_pickle


class LabelledDataset(torch.utils.data.Dataset):
    """``ds[i] -> (transform(PIL RGB), label)``; ``labels`` index ``metadata.classes``.

    ``class_subset`` (ImageNet-A/R) lists the class indices present; zero-shot restricts predictions to them.
    """

    def __init__(
        self,
        name: str,
        metadata: ClassMetadata,
        labels: Sequence[int],
        transform: Any = None,
        class_subset: list[int] | None = None,
    ) -> None:
        self.name = name
        self.metadata = metadata
        self.labels: list[int] = [int(x) for x in labels]
        self.transform = transform
        self.class_subset = class_subset

    def __len__(self) -> int:
        return len(self.labels)

    def _image(self, index: int) -> Image.Image:
        raise NotImplementedError

    def _fingerprint_items(self) -> list[str]:
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = self._image(index)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]

    def fingerprint(self) -> str:
        """sha256 over (relative path or item id, label, size) of every example: changes when the data
        changes."""
        digest = hashlib.sha256()
        for item, label in zip(self._fingerprint_items(), self.labels, strict=True):
            digest.update(f"{item}\t{label}\n".encode())
        return digest.hexdigest()

    def __repr__(self) -> str:
        n = len(self.metadata.classes)
        return f"{type(self).__name__}({self.name!r}, {len(self)} examples, {n} classes)"


class FileLabelledDataset(LabelledDataset):
    """Images as files under ``root`` (labels.csv folders and ImageFolder layouts)."""

    def __init__(
        self,
        name: str,
        root: Path,
        files: list[str],
        labels: Sequence[int],
        metadata: ClassMetadata,
        transform: Any = None,
        class_subset: list[int] | None = None,
    ) -> None:
        super().__init__(name, metadata, labels, transform, class_subset)
        self.root = Path(root)
        self.files = files  # absolute paths

    def _image(self, index: int) -> Image.Image:
        return load_image(self.files[index])

    def _fingerprint_items(self) -> list[str]:
        root = str(self.root.resolve())
        prefix = root.rstrip(os.sep) + os.sep
        items = []
        for f in self.files:
            # relpath is ~20 µs a call (36,000 world files: 0.8 s a run); a plain file under root is its suffix
            plain = f.startswith(prefix) and os.path.normpath(f) == f
            rel = f[len(prefix) :] if plain else os.path.relpath(f, root)
            items.append(f"{rel}\t{os.path.getsize(f)}")
        return items


class ArrayLabelledDataset(LabelledDataset):
    """Images held in memory as an N×H×W×3 uint8 array (CIFAR)."""

    def __init__(
        self,
        name: str,
        images: np.ndarray,
        labels: Sequence[int],
        metadata: ClassMetadata,
        transform: Any = None,
    ) -> None:
        super().__init__(name, metadata, labels, transform)
        self.array = images

    def _image(self, index: int) -> Image.Image:
        return Image.fromarray(self.array[index], mode="RGB")

    def _fingerprint_items(self) -> list[str]:
        return [hashlib.sha256(self.array[i].tobytes()).hexdigest()[:16] for i in range(len(self.labels))]


def _check_labels(labels: list[int], n_classes: int, where: str, metadata_source: str) -> None:
    for i, label in enumerate(labels):
        if not 0 <= label < n_classes:
            raise DataError(
                f"{where}: row {i + 1}: label {label} out of range 0..{n_classes - 1} "
                f"({n_classes} classes in {metadata_source})"
            )


def load_labels_csv(
    folder: str | os.PathLike,
    metadata: ClassMetadata,
    name: str | None = None,
    transform: Any = None,
    metadata_source: str = "the class metadata",
    check_files: bool = True,
) -> FileLabelledDataset:
    """A folder holding ``labels.csv`` (columns ``image,label``; paths relative to the folder)."""
    folder = Path(folder)
    csv_path = folder / "labels.csv"
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: not found (expected a folder with labels.csv: columns image,label)")
    table = read_table(csv_path, ["image", "label"])
    labels: list[int] = []
    for i, value in enumerate(table["label"].tolist()):
        try:
            labels.append(int(value))
        except ValueError:
            raise DataError(f"{csv_path}: row {i + 1}: label {value!r} is not an integer") from None
    _check_labels(labels, len(metadata.classes), str(csv_path), metadata_source)
    files = resolve_paths(table["image"].tolist(), folder)
    if check_files:
        for i, f in enumerate(files):
            if not os.path.isfile(f):
                raise DataError(f"{csv_path}: row {i + 1}: image file {f} not found")
    return FileLabelledDataset(name or str(folder), folder, files, labels, metadata, transform)


def _folder_index(metadata: ClassMetadata, folder_names: str) -> dict[str, int]:
    index: dict[str, int] = {}
    if folder_names == "names":
        index = {c: i for i, c in reversed(list(enumerate(metadata.classes)))}
        index.update({c.replace(" ", "_"): i for c, i in list(index.items())})
    elif folder_names == "wnids":
        if metadata.wnids is None:
            raise DataError("wnid folders need class metadata with a 'wnids' list")
        index = {w: i for i, w in enumerate(metadata.wnids)}
    elif folder_names == "indices":
        index = {str(i): i for i in range(len(metadata.classes))}
    return index


def load_image_folder(
    root: str | os.PathLike,
    metadata: ClassMetadata | None,
    name: str | None = None,
    transform: Any = None,
    folder_names: str = "auto",
    subset: bool = False,
) -> FileLabelledDataset:
    """One sub-folder per class. ``folder_names``: "names" (class names), "wnids", "indices" (``0..K-1``, as
    ImageNetV2) or "auto" (whichever matches every folder). Without metadata the classes are the sorted folder
    names. ``subset=True`` (ImageNet-A/R) allows fewer folders than classes and sets ``class_subset``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found (expected one sub-folder of images per class)")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DataError(f"{root}: no class sub-folders found (expected one sub-folder of images per class)")
    if metadata is None:
        metadata = ClassMetadata(classes=folders, templates=["a photo of a {}."])
        mapping = {f: i for i, f in enumerate(folders)}
    else:
        kinds = ["names", "wnids", "indices"] if folder_names == "auto" else [folder_names]
        mapping = {}
        for kind in kinds:
            if kind == "wnids" and metadata.wnids is None:
                continue
            index = _folder_index(metadata, kind)
            if all(f in index for f in folders):
                mapping = {f: index[f] for f in folders}
                break
        if not mapping:  # name the first folder that the best-matching naming scheme does not know
            usable = [k for k in kinds if k != "wnids" or metadata.wnids is not None] or ["names"]
            best = max((_folder_index(metadata, k) for k in usable), key=lambda ix: sum(f in ix for f in folders))
            bad = next((f for f in folders if f not in best), folders[0])
            raise DataError(
                f"{root}: sub-folder {bad!r} matches no class (folders must be class names, wnids or indices "
                f"0..{len(metadata.classes) - 1} of the {len(metadata.classes)} classes)"
            )
        if not subset and len(folders) != len(metadata.classes):
            raise DataError(
                f"{root}: {len(folders)} class folders but the class metadata lists {len(metadata.classes)} classes"
            )
    files: list[str] = []
    labels: list[int] = []
    for folder in folders:
        for path in sorted((root / folder).iterdir()):
            if is_image_file(path):
                files.append(str(path.resolve()))
                labels.append(mapping[folder])
    if not files:
        raise DataError(f"{root}: the class folders hold no image files")
    class_subset = sorted(set(mapping.values())) if subset else None
    return FileLabelledDataset(name or str(root), root, files, labels, metadata, transform, class_subset)


def _describe(value: Any) -> str:
    """A short account of an unexpected value for an error line (type, and the first element of a sequence)."""
    if isinstance(value, np.ndarray):
        return f"an array of {value.dtype} with shape {value.shape}"
    if isinstance(value, list | tuple) and value:
        return f"a {type(value).__name__} whose first item is {type(value[0]).__name__} {value[0]!r:.40}"
    return f"{type(value).__name__} {value!r:.40}"


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise DataError(
            f"{path}: not found (expected torchvision's CIFAR layout, e.g. "
            f"cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta)"
        )
    # Restricted unpickler: numpy arrays, numbers, strings and containers only; a global that would run code
    # (os.system in a __reduce__) is refused with one line naming the file and the global.
    obj = load_data_pickle(path, "CIFAR pickle batch")
    if not isinstance(obj, dict):
        raise DataError(f"{path}: not a CIFAR batch (expected a pickled dict)")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def load_cifar(
    root: str | os.PathLike, variant: str, split: str, metadata: ClassMetadata, transform: Any = None
) -> ArrayLabelledDataset:
    """torchvision's CIFAR folders: ``cifar-10-batches-py`` or ``cifar-100-python`` under ``root``.

    The pickles are read directly (same format torchvision reads) so that files are not rejected for an md5
    that
    only the official archive has; the class count of the meta file is checked against the metadata."""
    root = Path(root)
    if variant == "cifar10":
        folder = root / "cifar-10-batches-py"
        files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        label_key, meta_file, meta_key = "labels", "batches.meta", "label_names"
    else:
        folder = root / "cifar-100-python"
        files = ["train"] if split == "train" else ["test"]
        label_key, meta_file, meta_key = "fine_labels", "meta", "fine_label_names"
    if not folder.is_dir():
        raise DataError(
            f"{folder}: not found (expected torchvision's {variant} folder under the data root; "
            f"download it with torchvision.datasets.{variant.upper()}(root, download=True))"
        )
    meta = _unpickle(folder / meta_file)
    names = meta.get(meta_key)
    if names is None:
        raise DataError(f"{folder / meta_file}: missing key {meta_key!r}; keys found: {', '.join(map(str, meta))}")
    if not isinstance(names, list | tuple) or not all(isinstance(n, str | bytes) for n in names):
        raise DataError(
            f"{folder / meta_file}: {meta_key!r} must be a list of class names (strings), found {_describe(names)}"
        )
    if len(names) != len(metadata.classes):
        raise DataError(
            f"{folder / meta_file}: lists {len(names)} classes but the {variant} class metadata has "
            f"{len(metadata.classes)}"
        )
    arrays, labels = [], []
    for file in files:
        batch = _unpickle(folder / file)
        for key in ("data", label_key):
            if key not in batch:
                raise DataError(f"{folder / file}: missing key {key!r}; keys found: {', '.join(map(str, batch))}")
        data, batch_labels = batch["data"], batch[label_key]
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
            raise DataError(f"{folder / file}: 'data' must be a uint8 array of N×3072 rows, found {_describe(data)}")
        if not isinstance(batch_labels, list | tuple | np.ndarray) or not all(
            isinstance(x, int | np.integer) and not isinstance(x, bool) for x in batch_labels
        ):
            raise DataError(
                f"{folder / file}: {label_key!r} must be a list of integers, found {_describe(batch_labels)}"
            )
        if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(batch_labels):
            raise DataError(
                f"{folder / file}: 'data' must be N×3072 uint8 rows with one label each, "
                f"got shape {data.shape} and {len(batch_labels)} labels"
            )
        arrays.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.extend(int(x) for x in batch_labels)
    _check_labels(labels, len(metadata.classes), str(folder), f"{variant} metadata")
    images = np.ascontiguousarray(np.concatenate(arrays))
    return ArrayLabelledDataset(f"{variant}/{split}", images, labels, metadata, transform)


class _ImageList(torch.utils.data.Dataset):
    def __init__(self, files: list[str], transform: Any = None) -> None:
        self.files, self.transform = files, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Any:
        image = load_image(self.files[index])
        return self.transform(image) if self.transform is not None else image


class RetrievalDataset:
    """Unique images (``.images``, a Dataset of transformed images) and their captions (several per image):
    ``.caption_image[j]`` is the index into ``.images`` of caption ``j``."""

    def __init__(
        self,
        name: str,
        csv_path: str | os.PathLike,
        transform: Any = None,
        image_key: str = "image",
        caption_key: str = "caption",
        delimiter: str | None = None,
    ) -> None:
        self.name = name
        self.path = Path(csv_path)
        table = read_caption_table(self.path, image_key, caption_key, delimiter)
        order: dict[str, int] = {}
        self.caption_image: list[int] = []
        for i, image in enumerate(table["image"].tolist()):
            if image not in order:
                if not os.path.isfile(image):
                    raise DataError(f"{self.path}: row {i + 1}: image file {image} not found")
                order[image] = len(order)
            self.caption_image.append(order[image])
        self.image_files = list(order)
        self.captions: list[str] = table["caption"].tolist()
        self.images = _ImageList(self.image_files, transform)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        root = str(self.path.parent.resolve())
        for f in self.image_files:
            digest.update(f"{os.path.relpath(f, root)}\t{os.path.getsize(f)}\n".encode())
        for c, i in zip(self.captions, self.caption_image, strict=True):
            digest.update(f"{i}\t{c}\n".encode())
        return digest.hexdigest()

    def __repr__(self) -> str:
        return f"RetrievalDataset({self.name!r}, {len(self.image_files)} images, {len(self.captions)} captions)"
