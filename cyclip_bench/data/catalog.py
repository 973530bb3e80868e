"""The dataset catalog: names → builders that know where each dataset lives under DATA_ROOT.

Where things live (also in docs/formats.md):
  cifar10 / cifar100     DATA_ROOT/cifar-10-batches-py, DATA_ROOT/cifar-100-python (torchvision's folders)
  imagenet1k             DATA_ROOT/imagenet/val (test) and imagenet/train (train): labels.csv or wnid folders
  imagenetv2             DATA_ROOT/imagenetv2 (or imagenetv2-matched-frequency-format-val): folders 0..999
  imagenet-sketch        DATA_ROOT/imagenet-sketch (or imagenet-sketch/sketch): wnid folders
  imagenet-a / -r        DATA_ROOT/imagenet-a, DATA_ROOT/imagenet-r: 200 wnid folders each
  flickr30k / mscoco     DATA_ROOT/flickr30k/test.csv, DATA_ROOT/mscoco/test.csv (image,caption; rows per
  caption)
  world-*                DATA_ROOT = the folder written by `cyclip-bench data synth`
  labels-csv/imagefolder DATA_ROOT/<split>/ (or DATA_ROOT itself = the test split only), as path datasets
  wds/<name>             CLIP_benchmark's webdataset copy (``cyclip_bench.data.wds``): DATA_ROOT/wds_<name, / -> ->>,
                         DATA_ROOT/wds_<name, / -> ->>_test (DataComp), then DATA_ROOT/<name>
Every catalog name is read from its webdataset copy first when DATA_ROOT holds one (``wds_folder``: the same
lookup over the entry's ``wds_names``), else from its released layout. A dataset in neither place is an error
naming both and where it is published; nothing is downloaded.
Path datasets and the two generic formats never fall back from one split to another (``split_folder``).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from cyclip_bench.data.labelled import (
    LabelledDataset,
    RetrievalDataset,
    load_cifar,
    load_image_folder,
    load_labels_csv,
)
from cyclip_bench.data.metadata import (
    ClassMetadata,
    builtin_metadata,
    dataset_main_metric,
    imagenet_subset_wnids,
    load_class_metadata,
)
from cyclip_bench.data.wds import (
    CLASSNAMES_FILE,
    NSHARDS_FILE,
    TEMPLATES_FILE,
    TYPE_FILE,
    WdsMultilabelDataset,
    WdsRetrievalDataset,
    WdsType,
    load_wds,
    wds_folder_candidates,
    wds_info,
    wds_splits,
)
from cyclip_bench.errors import DataError, UserError
from cyclip_bench.registry import Registry, did_you_mean

SPLITS = ("train", "test")
REF_FORMATS = ("labels-csv", "imagefolder", "captions")


class DataKind:
    """What a dataset holds, and so how it is built, given a transform, sized and listed: ``LABELLED`` (images
    with class labels, train and test splits) or ``RETRIEVAL`` (images with several captions each, a test split).
    Callers ask the kind (``kind.build(...)``, ``kind.size(data)``) rather than compare its name."""

    name: ClassVar[str]
    unit: ClassVar[str]  # what ``size`` counts, for listings: "examples", "captions"
    splits: ClassVar[tuple[str, ...]]  # the splits a dataset of this kind can have

    def build(
        self, ref: str | Mapping[str, Any], data_root: str | os.PathLike | None, split: str, transform: Any = None
    ) -> Any:
        """The dataset ``ref`` (a catalog name or a path mapping) of this kind; any other kind is refused."""
        raise NotImplementedError

    def with_transform(self, data: Any, transform: Any) -> Any:
        """A shallow copy of the built ``data`` that reads its images through ``transform`` (no file re-read)."""
        raise NotImplementedError

    def size(self, data: Any) -> int:
        raise NotImplementedError

    def images(self, data: Any) -> Any:
        """The built ``data``'s images as a Dataset (each item an image, or an (image, label) pair)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<data kind {self.name}>"

    def __str__(self) -> str:
        return self.name


class _Labelled(DataKind):
    name, unit, splits = "labelled", "examples", SPLITS

    def build(
        self, ref: str | Mapping[str, Any], data_root: str | os.PathLike | None, split: str, transform: Any = None
    ) -> LabelledDataset:
        return build_dataset(ref, data_root, split, transform)

    def with_transform(self, data: Any, transform: Any) -> Any:
        data = copy.copy(data)
        data.transform = transform
        return data

    def size(self, data: Any) -> int:
        return len(data)

    def images(self, data: Any) -> Any:
        return data


def images_with_transform(data: Any, transform: Any) -> Any:
    """A shallow copy of a dataset that holds its images in ``data.images``, those images read with
    ``transform`` (the original keeps its own)."""
    data = copy.copy(data)
    data.images = copy.copy(data.images)
    data.images.transform = transform
    return data


class _Retrieval(DataKind):
    name, unit, splits = "retrieval", "captions", ("test",)

    def build(
        self, ref: str | Mapping[str, Any], data_root: str | os.PathLike | None, split: str, transform: Any = None
    ) -> RetrievalDataset:
        if split not in self.splits:
            raise UserError(f"dataset {ref!r}: a retrieval dataset has the split 'test' only, not {split!r}")
        return build_retrieval_dataset(ref, data_root, transform)

    def with_transform(self, data: Any, transform: Any) -> Any:
        return images_with_transform(data, transform)

    def size(self, data: Any) -> int:
        return len(data.captions)

    def images(self, data: Any) -> Any:
        return data.images


class _Multilabel(DataKind):
    """Images with multi-hot targets (``.targets`` [N, C], e.g. VOC2007 whole images): zero-shot scores them by
    11-point mAP; a task that fits on one label per image (linear probe, consistency@k) refuses them."""

    name, unit, splits = "multilabel", "examples", SPLITS

    def build(
        self, ref: str | Mapping[str, Any], data_root: str | os.PathLike | None, split: str, transform: Any = None
    ) -> WdsMultilabelDataset:
        return build_multilabel_dataset(ref, data_root, split, transform)

    def with_transform(self, data: Any, transform: Any) -> Any:
        data = images_with_transform(data, transform)  # ``images(data)[i]``: the image, transformed
        data.transform = transform  # ``data[i]``: (the image, transformed; targets[i])
        return data

    def size(self, data: Any) -> int:
        return len(data)

    def images(self, data: Any) -> Any:
        return data.images


LABELLED: DataKind = _Labelled()
RETRIEVAL: DataKind = _Retrieval()
MULTILABEL: DataKind = _Multilabel()
DATA_KINDS: dict[str, DataKind] = {kind.name: kind for kind in (LABELLED, RETRIEVAL, MULTILABEL)}
# The kinds a zero-shot classifier reads (one label per image, or multi-hot targets).
CLASS_KINDS = (LABELLED, MULTILABEL)
# Main metrics that only a multilabel set has: a dataset whose shipped metadata names one is read as MULTILABEL.
MULTILABEL_METRICS = ("map_11point", "mean_average_precision")


def data_kind(kind: DataKind | str) -> DataKind:
    """``kind`` itself, or the kind of that name (``DATA_KINDS``: a plug-in's entry may name its kind)."""
    if isinstance(kind, DataKind):
        return kind
    if kind not in DATA_KINDS:
        raise UserError(f"unknown data kind {kind!r}; expected one of {', '.join(DATA_KINDS)}")
    return DATA_KINDS[kind]


@dataclass(frozen=True)
class DatasetEntry:
    """A catalog entry: its ``kind`` (``LABELLED`` or ``RETRIEVAL``; a kind's name is accepted), the splits it
    has, where it lives, and its builder ``build(data_root: Path, split: str, transform) -> LabelledDataset |
    RetrievalDataset`` of the released layout.

    ``wds_names``: CLIP_benchmark's names of the same data, whose webdataset copy under DATA_ROOT is read before
    the released layout (``wds_folder``; empty: the catalog name). ``released``: per split, the paths under
    DATA_ROOT that hold it in the released layout (any one present is enough; None: not checked, as for the
    generated world). ``published``: where the released data is officially published. ``metadata``: the class
    names and templates shipped for it, used where its webdataset copy lacks classnames.txt or the templates."""

    kind: DataKind
    splits: tuple[str, ...]
    location: str
    build: Callable[[Path, str, Any], Any]
    description: str = ""
    wds_names: tuple[str, ...] = ()
    released: Mapping[str, tuple[str, ...]] | None = None
    published: str = ""
    metadata: Callable[[], ClassMetadata] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", data_kind(self.kind))

    def __call__(self, data_root: Path, split: str, transform: Any = None) -> Any:
        return self.build(data_root, split, transform)

    def released_split(self, data_root: Path, split: str) -> bool:
        """Whether ``split`` is on disk in the released layout (True where ``released`` does not say)."""
        if split not in self.splits:
            return False
        if self.released is None:
            return True
        return any((data_root / rel).exists() for rel in self.released.get(split, ()))


DATASETS: Registry[DatasetEntry] = Registry("dataset", entry_point_group="cyclip_bench.datasets")


def _first_dir(candidates: list[Path], layout: str) -> Path:
    for path in candidates:
        if path.is_dir():
            return path
    raise DataError(f"{candidates[0]}: folder not found (expected {layout})")


def _register(name: str, kind: DataKind, splits: tuple[str, ...], location: str, description: str = "", **more: Any):
    def decorate(fn: Callable[[Path, str, Any], Any]) -> Callable[[Path, str, Any], Any]:
        DATASETS.add(name, DatasetEntry(kind, splits, location, fn, description, **more))
        return fn

    return decorate


def _imagenet_meta() -> ClassMetadata:
    return builtin_metadata("imagenet")


IMAGENET_PUBLISHED = "https://image-net.org/download.php (ILSVRC2012, after registering)"


# --- real datasets --------------------------------------------------------------------------------------
for _variant in ("cifar10", "cifar100"):
    _folder = "cifar-10-batches-py" if _variant == "cifar10" else "cifar-100-python"

    def _build_cifar(root: Path, split: str, transform: Any, _variant: str = _variant) -> LabelledDataset:
        return load_cifar(root, _variant, split, builtin_metadata(_variant), transform)

    DATASETS.add(
        _variant,
        DatasetEntry(
            LABELLED,
            SPLITS,
            f"DATA_ROOT/{_folder}",
            _build_cifar,
            f"{_variant.upper()} from torchvision's pickle batches",
            wds_names=(_variant, f"vtab/{_variant}"),
            released={
                "train": (f"{_folder}/{'data_batch_1' if _variant == 'cifar10' else 'train'}",),
                "test": (f"{_folder}/{'test_batch' if _variant == 'cifar10' else 'test'}",),
            },
            published="https://www.cs.toronto.edu/~kriz/cifar.html (the python version)",
            metadata=lambda _variant=_variant: builtin_metadata(_variant),
        ),
    )


@_register(
    "imagenet1k",
    LABELLED,
    ("train", "test"),
    "DATA_ROOT/imagenet/val and DATA_ROOT/imagenet/train (labels.csv or wnid folders)",
    "ImageNet-1k: validation set (50,000 images) as test; the train split feeds consistency@k's kNN",
    wds_names=("imagenet1k",),
    released={"test": ("imagenet/val",), "train": ("imagenet/train",)},
    published=IMAGENET_PUBLISHED,
    metadata=_imagenet_meta,
)
def _imagenet1k(root: Path, split: str, transform: Any) -> LabelledDataset:
    folder_name = "val" if split == "test" else "train"
    folder = _first_dir(
        [root / "imagenet" / folder_name], f"ImageNet {folder_name}: labels.csv (image,label) or wnid folders"
    )
    meta = builtin_metadata("imagenet")
    name = f"imagenet1k/{split}"
    if (folder / "labels.csv").is_file():
        return load_labels_csv(folder, meta, name, transform, "built-in imagenet metadata")
    return load_image_folder(folder, meta, name, transform, folder_names="wnids")


@_register(
    "imagenetv2",
    LABELLED,
    ("test",),
    "DATA_ROOT/imagenetv2 (class-index folders 0..999)",
    "ImageNetV2 matched-frequency",
    wds_names=("imagenetv2",),
    released={"test": ("imagenetv2", "imagenetv2-matched-frequency-format-val")},
    published="https://github.com/modestyachts/ImageNetV2 (matched-frequency)",
    metadata=_imagenet_meta,
)
def _imagenetv2(root: Path, split: str, transform: Any) -> LabelledDataset:
    folder = _first_dir(
        [root / "imagenetv2", root / "imagenetv2-matched-frequency-format-val"],
        "ImageNetV2: class-index folders 0..999",
    )
    return load_image_folder(folder, builtin_metadata("imagenet"), "imagenetv2/test", transform, folder_names="indices")


@_register(
    "imagenet-sketch",
    LABELLED,
    ("test",),
    "DATA_ROOT/imagenet-sketch (wnid folders)",
    "ImageNet-Sketch",
    wds_names=("imagenet_sketch",),
    released={"test": ("imagenet-sketch",)},
    published="https://github.com/HaohanWang/ImageNet-Sketch",
    metadata=_imagenet_meta,
)
def _imagenet_sketch(root: Path, split: str, transform: Any) -> LabelledDataset:
    folder = _first_dir(
        [root / "imagenet-sketch" / "sketch", root / "imagenet-sketch"], "ImageNet-Sketch: 1000 wnid folders"
    )
    return load_image_folder(
        folder, builtin_metadata("imagenet"), "imagenet-sketch/test", transform, folder_names="wnids"
    )


for _name in ("imagenet-a", "imagenet-r"):

    def _build_200(root: Path, split: str, transform: Any, _name: str = _name) -> LabelledDataset:
        folder = _first_dir([root / _name], f"{_name}: 200 wnid folders")
        meta = builtin_metadata("imagenet")
        ds = load_image_folder(folder, meta, f"{_name}/test", transform, folder_names="wnids", subset=True)
        # The class mask is the set of folders present: a folder outside the release's 200 classes (another
        # dataset under this name, e.g. ImageNet-O) would silently change it, and every number with it.
        official = set(imagenet_subset_wnids(_name))
        foreign = sorted(meta.wnids[c] for c in ds.class_subset or [] if meta.wnids[c] not in official)
        if foreign:
            raise DataError(
                f"{folder}: folder {foreign[0]!r} ({len(foreign)} in all) is not one of the 200 {_name} classes "
                f"(the released wnids: cyclip_bench/data/metadata/imagenet_subsets.json)"
            )
        return ds

    DATASETS.add(
        _name,
        DatasetEntry(
            LABELLED,
            ("test",),
            f"DATA_ROOT/{_name} (200 wnid folders)",
            _build_200,
            f"{_name.upper()}: 200 ImageNet classes (class_subset)",
            wds_names=(_name,),
            released={"test": (_name,)},
            published=f"https://github.com/hendrycks/{'natural-adv-examples' if _name == 'imagenet-a' else _name}",
        ),
    )

for _name in ("flickr30k", "mscoco"):

    def _build_captions(root: Path, split: str, transform: Any, _name: str = _name) -> RetrievalDataset:
        return RetrievalDataset(f"{_name}/test", root / _name / "test.csv", transform)

    DATASETS.add(
        _name,
        DatasetEntry(
            RETRIEVAL,
            ("test",),
            f"DATA_ROOT/{_name}/test.csv (image,caption)",
            _build_captions,
            f"{_name} test captions for retrieval",
            wds_names=(
                ("flickr30k", "retrieval/flickr30k", "retrieval/flickr_1k_test_image_text_retrieval")
                if _name == "flickr30k"
                else ("mscoco_captions", "retrieval/mscoco_2014_5k_test_image_text_retrieval")
            ),
            released={"test": (f"{_name}/test.csv",)},
            published=(
                "https://shannon.cs.illinois.edu/DenotationGraph/ (images; Karpathy test split)"
                if _name == "flickr30k"
                else "https://cocodataset.org/#download (val2014 images; Karpathy 5k test split)"
            ),
        ),
    )


# --- the generated world (DATA_ROOT = the world folder) -------------------------------------------------
def _world_meta(root: Path, part: str) -> tuple[ClassMetadata, str]:
    path = root / part / "classes.json"
    if not path.is_file():
        raise DataError(f"{path}: not found — is {root} a world folder written by `cyclip-bench data synth`?")
    return load_class_metadata(path), str(path)


for _part in ("shapes", "fine"):

    def _build_world(root: Path, split: str, transform: Any, _part: str = _part) -> LabelledDataset:
        meta, source = _world_meta(root, _part)
        return load_labels_csv(root / _part / split, meta, f"world-{_part}/{split}", transform, source)

    DATASETS.add(
        f"world-{_part}",
        DatasetEntry(
            LABELLED,
            SPLITS,
            f"DATA_ROOT/{_part}/<split>/labels.csv",
            _build_world,
            f"generated world: {_part} classes",
        ),
    )

WORLD_SHIFTS = ("resampled", "sketch", "rendition", "hard", "noise", "blur")
for _shift in WORLD_SHIFTS:

    def _build_shift(root: Path, split: str, transform: Any, _shift: str = _shift) -> LabelledDataset:
        meta, source = _world_meta(root, "shapes")
        return load_labels_csv(root / "shifts" / _shift, meta, f"world-{_shift}/test", transform, source)

    DATASETS.add(
        f"world-{_shift}",
        DatasetEntry(
            LABELLED,
            ("test",),
            f"DATA_ROOT/shifts/{_shift}/labels.csv",
            _build_shift,
            f"generated world: shapes, {_shift} shift",
        ),
    )


@_register(
    "world-retrieval",
    RETRIEVAL,
    ("test",),
    "DATA_ROOT/retrieval/captions.csv",
    "generated world: several captions per image",
)
def _world_retrieval(root: Path, split: str, transform: Any) -> RetrievalDataset:
    return RetrievalDataset("world-retrieval/test", root / "retrieval" / "captions.csv", transform)


# --- user datasets given by path ------------------------------------------------------------------------
REF_KEYS = ("path", "format", "metadata", "name", "image_key", "caption_key", "delimiter", "train_path")


def _resolve(path: str | os.PathLike, data_root: Path | None) -> Path:
    path = Path(path)
    if path.is_absolute():
        return path
    if data_root is not None and (data_root / path).exists():
        return data_root / path
    return Path.cwd() / path if (Path.cwd() / path).exists() else (data_root or Path.cwd()) / path


def _is_split_folder(folder: Path, fmt: str) -> bool:
    return (folder / "labels.csv").is_file() if fmt == "labels-csv" else folder.is_dir()


def _split_marker(fmt: str) -> str:
    return "/labels.csv" if fmt == "labels-csv" else "/<class>/"


def split_folder(path: Path, fmt: str, split: str, train_path: Path | None = None) -> Path:
    """The folder holding ``split`` of a labelled dataset at ``path`` (docs/formats.md, "Splits"). ``path`` with
    split sub-folders (``train/`` and/or ``test/``, each a labels.csv folder or an ImageFolder) has exactly those
    splits; a folder without them is one split, the test split. ``train_path`` (a suite's dataset table) names the
    train split's folder. A split that is not there is an error naming the expected path — never another split."""
    if split == "train" and train_path is not None:
        return train_path
    subs = {s: path / s for s in SPLITS if _is_split_folder(path / s, fmt)}
    if subs:
        if split in subs:
            return subs[split]
        raise DataError(
            f"{path}: no {split!r} split: expected {path / split}{_split_marker(fmt)} beside "
            f"{', '.join(str(p) + _split_marker(fmt) for p in subs.values())}"
        )
    if split == "test":
        return path
    if not path.exists():
        raise DataError(f"{path}: not found (expected a dataset folder with {split}/ and test/ split folders)")
    parent = path.parent
    hint = (
        f"; did you mean the dataset folder {parent}, which has {split}/ and {path.name}/?"
        if path.name in SPLITS and _is_split_folder(parent / split, fmt)
        else " (or set train_path in the suite's dataset table)"
    )
    raise DataError(
        f"{path}: no {split!r} split — this folder is one split, the test split; a dataset with a {split} split "
        f"holds {path / split}{_split_marker(fmt)} and {path / 'test'}{_split_marker(fmt)}{hint}"
    )


def _metadata_for(folder: Path, top: Path, ref: Mapping[str, Any], data_root: Path | None) -> tuple[Any, str]:
    if ref.get("metadata") is not None:
        meta_path = _resolve(ref["metadata"], data_root)
        return load_class_metadata(meta_path), str(meta_path)
    candidates = [folder / "classes.json", folder.parent / "classes.json", top / "classes.json"]
    for candidate in dict.fromkeys(candidates):
        if candidate.is_file():
            return load_class_metadata(candidate), str(candidate)
    raise DataError(f"{folder}: labels-csv needs class metadata: set 'metadata' or put classes.json beside it")


def _build_from_mapping(ref: Mapping[str, Any], data_root: Path | None, split: str, transform: Any) -> Any:
    unknown = sorted(set(ref) - set(REF_KEYS))
    if unknown:
        raise UserError(f"dataset reference: unknown key(s) {', '.join(unknown)} (expected {', '.join(REF_KEYS)})")
    if "path" not in ref:
        raise UserError("dataset reference: 'path' is required")
    fmt = ref.get("format", "labels-csv")
    if fmt not in REF_FORMATS:
        raise UserError(f"dataset reference: unknown format {fmt!r}; expected one of {', '.join(REF_FORMATS)}")
    path = _resolve(ref["path"], data_root)
    if fmt == "captions":
        return RetrievalDataset(
            ref.get("name") or f"{path.name}/{split}",
            path,
            transform,
            ref.get("image_key", "image"),
            ref.get("caption_key", "caption"),
            ref.get("delimiter"),
        )
    train_path = _resolve(ref["train_path"], data_root) if ref.get("train_path") is not None else None
    folder = split_folder(path, fmt, split, train_path)
    name = ref.get("name") or f"{path.name}/{split}"
    if fmt == "labels-csv":
        meta, source = _metadata_for(folder, path, ref, data_root)
        return load_labels_csv(folder, meta, name, transform, source)
    meta = _metadata_for(folder, path, ref, data_root)[0] if ref.get("metadata") is not None else None
    return load_image_folder(folder, meta, name, transform)


WDS_PREFIX = "wds/"
WDS_PUBLISHED = "https://huggingface.co/datasets/clip-benchmark/wds_{flat}"
DATACOMP_PUBLISHED = "https://huggingface.co/datasets/djghosh/wds_{flat}_test"
_WDS_KINDS: dict[WdsType, DataKind] = {
    WdsType.CLASSIFICATION: LABELLED,
    WdsType.RETRIEVAL: RETRIEVAL,
    WdsType.MULTILABEL: MULTILABEL,
}


def is_wds_name(ref: Any) -> bool:
    """A ``wds/<name>`` reference (CLIP_benchmark's spelling) that no catalog entry registers."""
    return isinstance(ref, str) and ref.startswith(WDS_PREFIX) and ref not in DATASETS


def _looks_like_wds(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    if any((folder / f).is_file() for f in (CLASSNAMES_FILE, TEMPLATES_FILE, TYPE_FILE)):
        return True
    return any((folder / split / NSHARDS_FILE).is_file() for split in SPLITS)


def _wds_names(name: str, entry: DatasetEntry | None) -> tuple[str, ...]:
    return (name,) if entry is None else (entry.wds_names or (name,))


def wds_folder(data_root: str | os.PathLike, name: str) -> Path | None:
    """The webdataset copy of catalog dataset (or ``wds/<name>``) ``name`` under ``data_root``, or None.

    For each of its CLIP_benchmark names N (``DatasetEntry.wds_names``; a ``wds/`` name is itself), in order:
    ``DATA_ROOT/wds_<N, / -> ->>``, ``DATA_ROOT/wds_<N, / -> ->>_test`` (DataComp's copies), then
    ``DATA_ROOT/<N>`` — the last only when it holds the layout's files (classnames.txt, the templates,
    dataset_type.txt or <split>/nshards.txt), since a catalog dataset's released folder may bear that name."""
    entry = None if is_wds_name(name) else DATASETS.get(name)
    for wds_name in _wds_names(name, entry):
        for i, folder in enumerate(wds_folder_candidates(data_root, wds_name)):
            named_wds = i < 2 or (entry is None and folder.is_dir())
            if (named_wds and folder.is_dir()) or _looks_like_wds(folder):
                return folder
    return None


def _flat(name: str) -> str:
    return name.removeprefix(WDS_PREFIX).replace("/", "-")


def _missing(name: str, entry: DatasetEntry | None, root: Path) -> DataError:
    """One line: where the dataset was looked for in both layouts, and where it is published."""
    names = _wds_names(name, entry)
    wds = f"{root}/wds_{_flat(names[0])}/test/{NSHARDS_FILE} + 0.tar.. with {CLASSNAMES_FILE} and {TEMPLATES_FILE}"
    # Every folder wds_folder checks, less the first (named in ``wds``): all of each later spelling's.
    tried = [p for n in names for p in wds_folder_candidates(root, n)]
    other = ", ".join(str(p) for p in tried[1:])
    published = ", ".join(url.format(flat=_flat(n)) for n in names for url in (WDS_PUBLISHED, DATACOMP_PUBLISHED))
    if entry is None or entry.released == {}:  # a wds/ name, or a catalog dataset read from its copy only
        return DataError(
            f"dataset {name!r}: no webdataset folder under {root}: expected {wds} (or {other}); the CLIP_benchmark "
            f"copies are published at {published} (cyclip-bench downloads nothing)"
        )
    released = entry.location.replace("DATA_ROOT", str(root))
    return DataError(
        f"dataset {name!r}: folder not found under {root}: expected its webdataset copy {wds} (or {other}), or its "
        f"released layout at {released}; published at {entry.published or 'its authors site'}, the webdataset "
        f"copies at {published} (cyclip-bench downloads nothing)"
    )


def _refuse_multilabel(folder: Path, name: str) -> DataError:
    """A multilabel set asked for as a labelled one: what reads one label per image cannot use it."""
    return DataError(
        f"{folder / TYPE_FILE}: dataset {name!r} is a multilabel set (multi-hot .npy targets); linear probes and "
        f"consistency@k need one label per image — evaluate it with zeroshot (11-point mAP)"
    )


def _build_wds(
    folder: Path, name: str, kind: DataKind | None, split: str, transform: Any, metadata: ClassMetadata | None
) -> Any:
    info = wds_info(folder, metadata)
    found = _WDS_KINDS[info.dataset_type]
    if kind is LABELLED and found is MULTILABEL:
        raise _refuse_multilabel(folder, name)
    if kind is not None and found is not kind:
        raise DataError(
            f"{folder}: a {info.dataset_type.value} webdataset ({TYPE_FILE}), but dataset {name!r} is read here as "
            f"a {kind} dataset"
        )
    if kind is RETRIEVAL and split != "test":
        raise UserError(f"dataset {name!r}: a retrieval dataset has the split 'test' only, not {split!r}")
    data = load_wds(folder, split, transform, name=f"{name}/{split}", metadata=metadata)
    return MULTILABEL.with_transform(data, transform) if found is MULTILABEL else data


def _entry(ref: str) -> tuple[str, DatasetEntry]:
    name = DATASETS.canonical(ref)
    return name, DATASETS.get(name)


def _build_named(ref: str, root: Path | None, split: str, transform: Any, kind: DataKind | None) -> Any:
    if is_wds_name(ref):
        if root is None:
            raise UserError(f"dataset {ref!r} needs --data-root (the folder holding wds_{_flat(ref)}/)")
        folder = wds_folder(root, ref)
        if folder is None:
            raise _missing(ref, None, root)
        return _build_wds(folder, ref, kind, split, transform, None)
    name, entry = _entry(ref)
    if kind is LABELLED and entry.kind is MULTILABEL:
        raise UserError(
            f"dataset {name!r} is a multilabel set (multi-hot targets); linear probes and consistency@k need one "
            f"label per image — evaluate it with zeroshot (11-point mAP)"
        )
    if kind is not None and entry.kind is not kind:
        raise UserError(f"dataset {ref!r} is a {entry.kind} dataset, not a {kind} one")
    if split not in entry.splits:
        raise UserError(f"dataset {name!r} has no {split!r} split (it has: {', '.join(entry.splits)})")
    if root is None:
        raise UserError(f"dataset {name!r} needs --data-root (it lives at {entry.location})")
    folder = wds_folder(root, name)
    if folder is not None:
        metadata = entry.metadata() if entry.metadata is not None else None
        return _build_wds(folder, name, entry.kind, split, transform, metadata)
    if entry.released is not None and not any(entry.released_split(root, s) for s in entry.splits):
        raise _missing(name, entry, root)
    return entry(root, split, transform)


def _build(
    ref: str | Mapping[str, Any], data_root: str | os.PathLike | None, split: str, transform: Any, kind: DataKind | None
) -> Any:
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    root = Path(data_root) if data_root is not None else None
    if isinstance(ref, Mapping):
        return _build_from_mapping(ref, root, split, transform)
    return _build_named(ref, root, split, transform, kind)


def build_any(
    ref: str | Mapping[str, Any],
    data_root: str | os.PathLike | None,
    split: str = "test",
    transform: Any = None,
) -> Any:
    """Build a labelled or retrieval dataset from a catalog name (its webdataset copy under ``data_root`` first,
    then its released layout), a ``wds/<name>`` or a path mapping."""
    return _build(ref, data_root, split, transform, None)


def dataset_kind(ref: str | Mapping[str, Any], data_root: str | os.PathLike | None) -> DataKind:
    """What ``ref`` holds: a catalog entry's kind; a ``wds/`` name's from its folder's ``dataset_type.txt``
    (``MULTILABEL`` for a multilabel set); a path mapping's from its format."""
    if isinstance(ref, Mapping):
        return RETRIEVAL if ref.get("format") == "captions" else LABELLED
    if not is_wds_name(ref):
        return DATASETS.get(ref).kind
    if data_root is None:
        raise UserError(f"dataset {ref!r} needs --data-root (the folder holding wds_{_flat(ref)}/)")
    folder = wds_folder(data_root, ref)
    if folder is None:
        raise _missing(ref, None, Path(data_root))
    return _WDS_KINDS[wds_info(folder).dataset_type]


def classes_kind(ref: str | Mapping[str, Any]) -> DataKind:
    """The kind a zero-shot classifier reads ``ref`` as, known without reading it: ``MULTILABEL`` for a catalog
    entry of that kind, or a ``wds/`` name whose shipped class metadata names a multilabel main metric
    (``MULTILABEL_METRICS``: ``wds/voc2007_multilabel``); ``LABELLED`` otherwise."""
    if isinstance(ref, Mapping):
        return LABELLED
    if ref in DATASETS and not is_wds_name(ref):
        entry = DATASETS.get(ref)
        return entry.kind if entry.kind in CLASS_KINDS else LABELLED
    try:
        main = dataset_main_metric(ref)
    except UserError:  # no metadata ships for it: its copy's files say what it is, read as labelled
        return LABELLED
    return MULTILABEL if main in MULTILABEL_METRICS else LABELLED


def has_split(ref: str | Mapping[str, Any], data_root: str | os.PathLike | None, split: str) -> bool:
    """Whether ``split`` of ``ref`` is on disk (nothing read but folder listings): the split folders of its
    webdataset copy, else its released layout's paths; a path mapping's ``<split>/`` folder (or train_path)."""
    root = Path(data_root) if data_root is not None else None
    if isinstance(ref, Mapping):
        path = _resolve(ref["path"], root)
        if split == "train" and ref.get("train_path") is not None:
            return _resolve(ref["train_path"], root).exists()
        fmt = ref.get("format", "labels-csv")
        return fmt != "captions" and _is_split_folder(path / split, fmt)
    if root is None:
        return False
    folder = wds_folder(root, ref)
    if folder is not None:
        entry = None if is_wds_name(ref) else DATASETS.get(ref)
        return split in wds_splits(folder) and (entry is None or split in entry.splits)
    return not is_wds_name(ref) and DATASETS.get(ref).released_split(root, split)


def catalog_names() -> list[str]:
    """Every name ``--dataset`` accepts by name: the catalog's, and ``wds/<N>`` for each entry's CLIP_benchmark
    names (did-you-mean candidates)."""
    names = DATASETS.names()
    for name in list(names):
        names += [WDS_PREFIX + n for n in DATASETS.get(name).wds_names]
    return names


def check_dataset_name(ref: str) -> None:
    """A catalog name or a ``wds/<name>``; anything else is a UserError with did-you-mean."""
    if ref in DATASETS or (ref.startswith(WDS_PREFIX) and len(ref) > len(WDS_PREFIX)):
        if ref.startswith(WDS_PREFIX):
            wds_folder_candidates(".", ref)  # a malformed name (.., empty parts) is refused here
        return
    known = catalog_names()
    raise UserError(
        f"unknown dataset {ref!r}.{did_you_mean(ref, known)} Known: {', '.join(DATASETS.names())}, wds/<name> "
        f"(a CLIP_benchmark webdataset copy), FORMAT:PATH ({', '.join(REF_FORMATS)})"
    )


def build_dataset(
    ref: str | Mapping[str, Any],
    data_root: str | os.PathLike | None,
    split: str = "test",
    transform: Any = None,
) -> LabelledDataset:
    """A labelled dataset by catalog name, ``wds/<name>`` or ``{"path", "format": "labels-csv"|"imagefolder",
    "metadata"}``."""
    if not isinstance(ref, Mapping) and not is_wds_name(ref) and DATASETS.get(ref).kind is RETRIEVAL:
        raise UserError(f"dataset {ref!r} is a retrieval (captions) dataset, not a labelled one")
    ds = _build(ref, data_root, split, transform, LABELLED)
    if not isinstance(ds, LabelledDataset):
        raise UserError(f"dataset {ref!r} is a retrieval (captions) dataset, not a labelled one")
    return ds


def build_multilabel_dataset(
    ref: str | Mapping[str, Any], data_root: str | os.PathLike | None, split: str = "test", transform: Any = None
) -> WdsMultilabelDataset:
    """A multilabel dataset (multi-hot ``.targets``) by catalog name or ``wds/<name>`` (its webdataset copy)."""
    if isinstance(ref, Mapping):
        raise UserError(f"dataset {ref.get('path')!r}: a multilabel set is read from its webdataset copy by name")
    ds = _build(ref, data_root, split, transform, MULTILABEL)
    if not isinstance(ds, WdsMultilabelDataset):
        raise UserError(f"dataset {ref!r} is not a multilabel dataset")
    return ds


def build_retrieval_dataset(
    ref: str | Mapping[str, Any], data_root: str | os.PathLike | None, transform: Any = None
) -> RetrievalDataset | WdsRetrievalDataset:
    """A retrieval dataset by catalog name, ``wds/<name>`` or ``{"path": captions.csv, "format": "captions"}``."""
    if isinstance(ref, Mapping):
        ref = {"format": "captions", **ref}
    elif not is_wds_name(ref) and DATASETS.get(ref).kind is not RETRIEVAL:
        raise UserError(f"dataset {ref!r} is a labelled dataset, not a retrieval (captions) one")
    ds = _build(ref, data_root, "test", transform, RETRIEVAL)
    if not isinstance(ds, RetrievalDataset | WdsRetrievalDataset):
        raise UserError(f"dataset {ref!r} is not a retrieval (captions) dataset")
    return ds


# --- generic formats by catalog name: DATA_ROOT is the dataset folder itself ----------------------------
@_register(
    "labels-csv",
    LABELLED,
    SPLITS,
    "DATA_ROOT/<split>/labels.csv, or DATA_ROOT/labels.csv (test only); classes.json beside or above it",
    "any folder with labels.csv (image,label) and a class-metadata JSON",
)
def _labels_csv(root: Path, split: str, transform: Any) -> LabelledDataset:
    return _build_from_mapping({"path": str(root), "format": "labels-csv"}, None, split, transform)


@_register(
    "imagefolder",
    LABELLED,
    SPLITS,
    "DATA_ROOT/<split>/<class>/*.png, or DATA_ROOT/<class>/*.png (test only); classes = sorted folder names",
    "ImageFolder layout; class names are the folder names",
)
def _imagefolder(root: Path, split: str, transform: Any) -> LabelledDataset:
    return _build_from_mapping({"path": str(root), "format": "imagefolder"}, None, split, transform)


# The datasets of DataComp's 38 tasks and CLIP_benchmark's vtab+ collection (cyclip_bench/data/benchmarks.py).
from cyclip_bench.data.benchmarks import catalog_entries  # noqa: E402

for _name, _fields in catalog_entries(lambda name, root: _missing(name, DATASETS.get(name), root)):
    DATASETS.add(_name, DatasetEntry(**_fields))
