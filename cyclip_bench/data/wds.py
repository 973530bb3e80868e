"""CLIP_benchmark's prepared webdataset ("wds") layout: classification, multilabel and retrieval test sets as
tar shards, read into map-style (random-access) datasets for evaluation.

The layout (docs/formats.md, "webdataset (wds) layout")::

    <root>/
      test/  nshards.txt  0.tar 1.tar ...      (one folder per split; nshards.txt holds N, shards 0..N-1)
      classnames.txt                           (line i = the name of class i)
      zeroshot_classification_templates.txt    (one template a line, "{c}" for the class name)
      dataset_type.txt                         (absent = classification, or "retrieval" / "multilabel")

A sample is the tar members sharing one key (``s0000042.webp``, ``s0000042.cls``): the image is the first of
``webp``, ``png``, ``jpg``, ``jpeg`` present; the target is ``.cls`` (an integer label as text), ``.npy`` (a
multi-hot vector, read with pickles refused) or ``.txt`` (every caption of the image, one a line). A
classification sample may also carry a ``.npy`` of per-sample metadata (DataComp's WILDS and fairness copies: a
vector of integers such as region, year, income bucket), read into ``WdsClassificationDataset.sample_metadata``.

Public API:

- ``wds_info(root) -> WdsInfo(dataset_type, classes, templates)``: the dataset-level files, checked; the
  templates are converted to this project's ``{}`` placeholder (``WdsInfo.metadata`` is a ``ClassMetadata``).
- ``load_wds(root, split="test", transform=None, name=None)``: the split as ``WdsClassificationDataset`` (a
  ``LabelledDataset``: ``ds[i] -> (transform(image), label)``), ``WdsMultilabelDataset`` (``.targets`` [N, C]
  uint8 multi-hot; ``ds[i] -> (transform(image), targets[i])``) or ``WdsRetrievalDataset`` (``.images``,
  ``.captions``, ``.caption_image``, as ``RetrievalDataset``).
- ``wds_folder_for(data_root, name)``: the folder of a dataset under ``--data-root`` by CLIP_benchmark's and
  DataComp's names (``wds_<name, "/" -> "-">``, ``wds_<name, "/" -> "-">_test``, then ``<name>``).
- ``write_wds_fixture(out, dataset_type, classes, templates, samples_per_shard, splits)`` writes the layout with
  webdataset's own ``ShardWriter`` (as CLIP_benchmark's exporter does); ``synthetic_wds_samples`` makes samples.

Reading: one pass over each shard's tar headers (images are not read) builds an index (shard, data offset,
size, extension); samples are grouped by webdataset's ``group_by_keys`` with its key/extension rules, and the
members it sees are selected as webdataset's ``tar_file_iterator`` selects them (regular files, ``__*__`` meta
entries skipped). An image is then read by its offset from a file handle opened lazily in each process
(DataLoader workers never share their parent's handle). Every problem — a missing ``nshards.txt`` or shard, a
truncated tar, a label out of range, a sample without an image, a pickle in a ``.npy`` — is a ``DataError`` of
one line naming the file. The ``webdataset`` package (extra ``cyclip-bench[webdataset]``) is imported only when
a split is read or a fixture written.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from cyclip_bench.data.labelled import LabelledDataset
from cyclip_bench.data.metadata import ClassMetadata
from cyclip_bench.errors import ConfigError, DataError

CLASSNAMES_FILE = "classnames.txt"
TEMPLATES_FILE = "zeroshot_classification_templates.txt"
TYPE_FILE = "dataset_type.txt"
NSHARDS_FILE = "nshards.txt"
# In CLIP_benchmark's order of preference: the first present is the sample's image.
IMAGE_EXTENSIONS = ("webp", "png", "jpg", "jpeg")
TEMPLATE_PLACEHOLDER = "{c}"
_BLOCK = 512  # tar block size; an archive ends with two zero blocks


class WdsType(str, Enum):
    """The kinds of dataset the layout holds (``dataset_type.txt``)."""

    CLASSIFICATION = "classification"
    RETRIEVAL = "retrieval"
    MULTILABEL = "multilabel"


# The member holding each kind's target.
TARGET_EXTENSION = {WdsType.CLASSIFICATION: "cls", WdsType.MULTILABEL: "npy", WdsType.RETRIEVAL: "txt"}
# A classification sample's optional per-sample metadata (DataComp's WILDS and fairness copies: region, income, ...).
METADATA_EXTENSION = "npy"


def _webdataset() -> Any:
    try:
        import webdataset
    except ImportError:
        raise DataError(
            "reading or writing the webdataset (wds) layout needs the 'webdataset' package: "
            "pip install 'cyclip-bench[webdataset]'"
        ) from None
    return webdataset


# --- dataset-level files -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class WdsInfo:
    """What the files beside the splits say; ``templates`` already use ``{}`` (converted from ``{c}``)."""

    dataset_type: WdsType
    classes: list[str]
    templates: list[str]

    @property
    def metadata(self) -> ClassMetadata:
        return ClassMetadata(list(self.classes), list(self.templates))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def _read_lines(path: Path, what: str) -> list[str]:
    """Non-empty lines (trailing blank lines dropped); a blank line between entries is an error."""
    lines = [line.strip() for line in _read_text(path).splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise DataError(f"{path}: empty (expected one {what} per line)")
    for i, line in enumerate(lines):
        if not line:
            raise DataError(f"{path}: line {i + 1} is blank (expected one {what} per line)")
    return lines


def _convert_templates(path: Path, templates: list[str]) -> list[str]:
    out = []
    for i, template in enumerate(templates):
        if TEMPLATE_PLACEHOLDER not in template:
            raise DataError(
                f"{path}: line {i + 1}: template {template!r} has no {TEMPLATE_PLACEHOLDER} placeholder for the "
                f"class name"
            )
        if "{}" in template:
            raise DataError(f"{path}: line {i + 1}: template {template!r} holds '{{}}' besides the {{c}} placeholder")
        out.append(template.replace(TEMPLATE_PLACEHOLDER, "{}"))
    return out


def wds_info(root: str | os.PathLike, fallback: ClassMetadata | None = None) -> WdsInfo:
    """Read and check ``dataset_type.txt``, ``classnames.txt`` and the zero-shot templates of a wds folder.

    Classification and multilabel sets need both class names and templates: the folder's own files win; a file
    that is absent is taken from ``fallback`` (the metadata shipped for a catalog dataset) when given. A
    retrieval set needs neither."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found (expected a webdataset (wds) folder: <split>/nshards.txt, ...)")
    type_path = root / TYPE_FILE
    dataset_type = WdsType.CLASSIFICATION
    if type_path.is_file():
        text = _read_text(type_path).strip()
        try:
            dataset_type = WdsType(text)
        except ValueError:
            known = ", ".join(t.value for t in WdsType)
            raise DataError(f"{type_path}: unknown dataset type {text!r} (expected one of {known})") from None
    classes: list[str] = []
    templates: list[str] = []
    names_path, templates_path = root / CLASSNAMES_FILE, root / TEMPLATES_FILE
    needs_classes = dataset_type is not WdsType.RETRIEVAL
    for path, what in ((names_path, "class name"), (templates_path, "template")):
        if not path.is_file():
            if needs_classes and fallback is not None:
                if path == names_path:
                    classes = list(fallback.classes)
                else:
                    templates = list(fallback.templates)
                continue
            if needs_classes:
                raise DataError(
                    f"{path}: not found (a {dataset_type.value} wds folder needs {CLASSNAMES_FILE} and "
                    f"{TEMPLATES_FILE}, one {what} per line)"
                )
            continue
        lines = _read_lines(path, what)
        if path == names_path:
            classes = lines
        else:
            templates = _convert_templates(path, lines)
    return WdsInfo(dataset_type, classes, templates)


# --- shards and the index ----------------------------------------------------------------------------------
def _shard_paths(split_dir: Path) -> list[Path]:
    """``0.tar .. N-1.tar`` where ``nshards.txt`` says N; each must exist and no ``N.tar`` may follow."""
    nshards_path = split_dir / NSHARDS_FILE
    if not nshards_path.is_file():
        raise DataError(f"{nshards_path}: not found (expected the number of shards N; the shards are 0.tar .. N-1.tar)")
    text = _read_text(nshards_path).strip()
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise DataError(f"{nshards_path}: {text[:40]!r} is not a positive integer (expected the number of shards)")
    n = int(text)
    shards = [split_dir / f"{i}.tar" for i in range(n)]
    for shard in shards:
        if not shard.is_file():
            raise DataError(f"{shard}: not found ({nshards_path} says {n} shards: 0.tar .. {n - 1}.tar)")
    extra = split_dir / f"{n}.tar"
    if extra.exists():
        raise DataError(f"{extra}: exists but {nshards_path} says {n} shards (0.tar .. {n - 1}.tar); update it")
    return shards


@dataclass(frozen=True)
class _Member:
    """Where a tar member's data lies; ``payload`` holds the bytes of a (small) target member."""

    offset: int
    size: int
    payload: bytes | None = None


def _tar_files(shard: Path, payload_exts: tuple[str, ...]) -> Iterator[dict]:
    """The members of one shard as webdataset's ``tar_file_iterator`` yields them (regular files, ``__*__``
    meta entries skipped), with offsets instead of data, then webdataset's end-of-shard marker ``{}``.

    Only the small members (extensions ``payload_exts``) are read; image data is skipped by seeking. A shard
    that ends early — inside a member, or without the two zero blocks that close every tar — is a DataError."""
    wds = _webdataset()
    base_plus_ext = wds.tariterators.base_plus_ext
    skip_meta = re.compile(r"__[^/]*__($|/)")
    end = 0
    try:
        with shard.open("rb") as handle:
            if handle.read(2) == b"\x1f\x8b":
                raise DataError(f"{shard}: gzip-compressed (expected an uncompressed tar, as CLIP_benchmark writes)")
            handle.seek(0)
            with tarfile.open(fileobj=handle, mode="r:") as tar:
                for info in tar:
                    end = info.offset_data + -(-info.size // _BLOCK) * _BLOCK
                    name = info.name
                    if not info.isreg() or skip_meta.match(name):
                        continue
                    if "/" not in name and name.startswith("__") and name.endswith("__"):
                        continue
                    payload = None
                    _, ext = base_plus_ext(name)
                    if ext is not None and ext.lower() in payload_exts:
                        extracted = tar.extractfile(info)
                        payload = extracted.read() if extracted is not None else b""
                    yield {"fname": name, "data": _Member(info.offset_data, info.size, payload), "__url__": str(shard)}
                    tar.members = []  # the index keeps what it needs; do not hold every TarInfo
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(end)
                tail = handle.read(2 * _BLOCK)
    except tarfile.TarError as err:
        raise DataError(f"{shard}: not a readable tar file, or truncated ({err})") from None
    if len(tail) < 2 * _BLOCK or tail.strip(b"\0"):
        # tarfile stops quietly at a cut between members or at a damaged header: the two zero blocks that
        # close every tar must follow the last member read, or samples would be lost without a word.
        raise DataError(
            f"{shard}: truncated or corrupt: no further tar member and no end-of-archive blocks at byte {end} "
            f"of {size} (a partial copy or an interrupted write?)"
        )
    yield {}


@dataclass
class _Index:
    """Where each sample's image lies, its target member's bytes and (classification) its ``.npy`` metadata
    member's bytes or None, in the order of the shards."""

    split_dir: Path
    shards: list[Path]
    keys: list[str] = field(default_factory=list)
    shard_of: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    exts: list[str] = field(default_factory=list)
    targets: list[bytes] = field(default_factory=list)
    metadata: list[bytes | None] = field(default_factory=list)

    def where(self, i: int) -> str:
        return f"{self.shards[self.shard_of[i]]}: sample {self.keys[i]!r}"


def _build_index(split_dir: Path, dataset_type: WdsType) -> _Index:
    wds = _webdataset()
    shards = _shard_paths(split_dir)
    target_ext = TARGET_EXTENSION[dataset_type]
    with_metadata = dataset_type is WdsType.CLASSIFICATION
    payload_exts = (target_ext, METADATA_EXTENSION) if with_metadata else (target_ext,)
    index = _Index(split_dir, shards)
    shard_ids = {str(s): i for i, s in enumerate(shards)}

    def files() -> Iterator[dict]:
        for shard in shards:
            current[0] = shard
            yield from _tar_files(shard, payload_exts)

    current: list[Path] = [shards[0]]
    samples = wds.tariterators.group_by_keys(files(), handler=wds.handlers.reraise_exception)
    try:
        for sample in samples:
            shard = Path(sample["__url__"])
            key = sample["__key__"]
            ext = next((e for e in IMAGE_EXTENSIONS if e in sample), None)
            if ext is None:
                found = ", ".join(sorted(k for k in sample if not k.startswith("__"))) or "nothing"
                raise DataError(
                    f"{shard}: sample {key!r} has no image (expected a .webp, .png, .jpg or .jpeg member; "
                    f"found {found})"
                )
            target = sample.get(target_ext)
            if target is None:
                raise DataError(
                    f"{shard}: sample {key!r} has no .{target_ext} member (a {dataset_type.value} set needs one "
                    f"per image)"
                )
            image: _Member = sample[ext]
            index.keys.append(key)
            index.shard_of.append(shard_ids[str(shard)])
            index.offsets.append(image.offset)
            index.sizes.append(image.size)
            index.exts.append(ext)
            index.targets.append(target.payload)
            metadata = sample.get(METADATA_EXTENSION) if with_metadata else None
            index.metadata.append(None if metadata is None else metadata.payload)
    except ValueError as err:  # webdataset's grouping: a file name twice in one sample
        raise DataError(f"{current[0]}: {err.args[0] if err.args else err}") from None
    if not index.keys:
        raise DataError(f"{split_dir}: the shards hold no samples")
    return index


class _ShardReader:
    """Reads byte ranges of the shards through handles opened lazily in each process: a DataLoader worker
    (fork or spawn) opens its own instead of sharing its parent's (pickling drops them)."""

    def __init__(self, shards: list[Path]) -> None:
        self.shards = shards
        self._pid = -1
        self._files: dict[int, Any] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"shards": self.shards}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["shards"])

    def read(self, shard: int, offset: int, size: int, where: str) -> bytes:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's handles are not ours
                self._files, self._pid = {}, os.getpid()
            handle = self._files.get(shard)
            if handle is None:
                try:
                    handle = self.shards[shard].open("rb")
                except OSError as err:
                    raise DataError(f"{where}: cannot open the shard ({err.strerror or err})") from None
                self._files[shard] = handle
            handle.seek(offset)
            data = handle.read(size)
        if len(data) != size:
            raise DataError(f"{where}: the shard ends inside the image ({size} bytes expected at offset {offset})")
        return data

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files = {}


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _WdsImages(torch.utils.data.Dataset):
    """Random access to a split's images: ``images[i] -> transform(PIL RGB)``."""

    def __init__(self, index: _Index, transform: Any = None) -> None:
        self.index = index
        self.transform = transform
        self.reader = _ShardReader(index.shards)
        self._shard_sha256: dict[int, str] = {}  # filled by fingerprint_items, shared by shallow copies

    def __len__(self) -> int:
        return len(self.index.keys)

    def image(self, i: int) -> Image.Image:
        ix = self.index
        where = ix.where(i)
        data = self.reader.read(ix.shard_of[i], ix.offsets[i], ix.sizes[i], where)
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                return img.convert("RGB")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
            raise DataError(f"{where}: .{ix.exts[i]} image unreadable or corrupt ({type(err).__name__})") from None

    def __getitem__(self, i: int) -> Any:
        image = self.image(i)
        return self.transform(image) if self.transform is not None else image

    def fingerprint_items(self) -> list[str]:
        """Per sample: split, shard, key, extension, size and the sha256 of the shard's bytes (read once per
        dataset object), so that any change to a shard changes the fingerprint."""
        ix = self.index
        for s, shard in enumerate(ix.shards):
            if s not in self._shard_sha256:
                self._shard_sha256[s] = _sha256_file(shard)
        split = ix.split_dir.name
        return [
            f"{split}/{ix.shards[s].name}:{key}.{ext}\t{size}\t{self._shard_sha256[s][:16]}"
            for s, key, ext, size in zip(ix.shard_of, ix.keys, ix.exts, ix.sizes, strict=True)
        ]


# --- datasets ----------------------------------------------------------------------------------------------
class WdsClassificationDataset(LabelledDataset):
    """A classification split of a wds folder: ``ds[i] -> (transform(PIL RGB), label)``. ``sample_metadata``:
    the samples' ``.npy`` members as an [N, F] int64 array when every sample has one (DataComp's WILDS and
    fairness copies: region, income, ...; ``cyclip_bench.metrics.fairness.SAMPLE_METADATA`` names the columns),
    else None."""

    def __init__(
        self,
        name: str,
        metadata: ClassMetadata,
        labels: Sequence[int],
        images: _WdsImages,
        transform: Any = None,
        sample_metadata: np.ndarray | None = None,
    ) -> None:
        super().__init__(name, metadata, labels, transform)
        self.images = images
        self.root = images.index.split_dir  # the split folder, for plan listings (``eval.splits.data_source``)
        self.sample_metadata = sample_metadata

    @property
    def shards(self) -> list[Path]:
        """The tar files the split reads (two splits sharing one are refused: ``eval.splits``)."""
        return list(self.images.index.shards)

    def _image(self, index: int) -> Image.Image:
        return self.images.image(index)

    def _fingerprint_items(self) -> list[str]:
        items = self.images.fingerprint_items()
        if self.sample_metadata is None:
            return items
        return [
            f"{item}\t{','.join(map(str, row))}" for item, row in zip(items, self.sample_metadata.tolist(), strict=True)
        ]


class WdsMultilabelDataset(torch.utils.data.Dataset):
    """A multilabel split: ``.targets`` is an [N, C] uint8 multi-hot array (C = ``len(metadata.classes)``);
    ``ds[i] -> (transform(PIL RGB), targets[i])``."""

    def __init__(
        self, name: str, metadata: ClassMetadata, targets: np.ndarray, images: _WdsImages, transform: Any = None
    ) -> None:
        self.name = name
        self.metadata = metadata
        self.targets = targets
        self.images = images
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, np.ndarray]:
        image = self.images.image(index)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[index]

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for item, row in zip(self.images.fingerprint_items(), self.targets, strict=True):
            digest.update(f"{item}\t{''.join(map(str, row.tolist()))}\n".encode())
        return digest.hexdigest()

    def __repr__(self) -> str:
        return f"WdsMultilabelDataset({self.name!r}, {len(self)} examples, {len(self.metadata.classes)} classes)"


class WdsRetrievalDataset:
    """A retrieval split, shaped as ``RetrievalDataset``: ``.images`` (a Dataset of transformed images),
    ``.captions`` and ``.caption_image`` (caption j describes image ``caption_image[j]``)."""

    def __init__(self, name: str, images: _WdsImages, captions: list[str], caption_image: list[int]) -> None:
        self.name = name
        self.images = images
        self.captions = captions
        self.caption_image = caption_image
        self.path = images.index.split_dir  # the split folder, for plan listings (``eval.splits.data_source``)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for item in self.images.fingerprint_items():
            digest.update(f"{item}\n".encode())
        for c, i in zip(self.captions, self.caption_image, strict=True):
            digest.update(f"{i}\t{c}\n".encode())
        return digest.hexdigest()

    def __repr__(self) -> str:
        return f"WdsRetrievalDataset({self.name!r}, {len(self.images)} images, {len(self.captions)} captions)"


WdsDataset = WdsClassificationDataset | WdsMultilabelDataset | WdsRetrievalDataset


def _parse_label(raw: bytes, where: str, n_classes: int) -> int:
    text = raw.decode("utf-8", errors="replace").strip()
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise DataError(f"{where}: .cls {text[:40]!r} is not an integer (expected a class index, zero-based)")
    label = int(text)
    if not 0 <= label < n_classes:
        raise DataError(f"{where}: label {label} out of range 0..{n_classes - 1} ({n_classes} classes)")
    return label


def _load_npy(raw: bytes, where: str, expected: str) -> object:
    """One sample's ``.npy`` member, pickles refused (a pickle in a dataset must never run code)."""
    try:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise DataError(f"{where}: .npy holds pickled objects, refused (expected {expected})") from None
        raise DataError(f"{where}: .npy unreadable ({err})") from None
    except (OSError, EOFError) as err:
        raise DataError(f"{where}: .npy unreadable ({err})") from None


def _parse_multi_hot(raw: bytes, where: str, n_classes: int) -> np.ndarray:
    row = _load_npy(raw, where, "a numeric multi-hot vector")
    if not isinstance(row, np.ndarray) or row.dtype.kind not in "biuf":
        raise DataError(f"{where}: .npy must be a numeric multi-hot vector, not {type(row).__name__}")
    if row.ndim != 1 or row.shape[0] != n_classes:
        raise DataError(f"{where}: .npy has shape {row.shape}, expected ({n_classes},): one entry per class")
    if not np.isin(row, (0, 1)).all():
        bad = row[~np.isin(row, (0, 1))][0]
        raise DataError(f"{where}: .npy holds {bad!r}; a multi-hot vector holds only 0 and 1")
    return row.astype(np.uint8)


def _parse_sample_metadata(raw: bytes, where: str) -> np.ndarray:
    """One sample's ``.npy`` metadata: a 1-d vector of whole numbers (pickles refused), as int64."""
    row = _load_npy(raw, where, "a vector of integer metadata")
    if not isinstance(row, np.ndarray) or row.dtype.kind not in "biuf" or row.ndim != 1:
        shape = getattr(row, "shape", None)
        raise DataError(f"{where}: .npy metadata must be a 1-d numeric vector, got {type(row).__name__} {shape}")
    if row.dtype.kind == "f" and not np.all(np.isfinite(row) & (row == np.round(row))):
        raise DataError(f"{where}: .npy metadata holds {row.tolist()!r}; expected whole numbers (ids, years, ...)")
    return row.astype(np.int64)


def _sample_metadata(index: _Index) -> np.ndarray | None:
    """Every sample's ``.npy`` metadata row stacked [N, F], or None when no sample has one; some samples with
    and some without, or rows of different lengths, is an error naming the first odd sample."""
    present = [raw is not None for raw in index.metadata]
    if not any(present):
        return None
    if not all(present):
        i = present.index(False)
        raise DataError(
            f"{index.where(i)}: no .npy metadata member, but other samples of the split have one (every sample "
            f"needs its metadata row, or none)"
        )
    rows = [_parse_sample_metadata(raw, index.where(i)) for i, raw in enumerate(index.metadata)]  # type: ignore[arg-type]
    for i, row in enumerate(rows):
        if row.shape != rows[0].shape:
            raise DataError(
                f"{index.where(i)}: .npy metadata has {row.shape[0]} values, but the first sample's has "
                f"{rows[0].shape[0]} (one column layout per split)"
            )
    return np.stack(rows)


def _parse_captions(raw: bytes, where: str) -> list[str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{where}: .txt is not UTF-8 ({err.reason} at byte {err.start})") from None
    # One caption a line; a newline inside a caption was written as a literal backslash-n and stays so.
    captions = [line.rstrip("\r") for line in text.split("\n")]
    captions = [c for c in captions if c.strip()]
    if not captions:
        raise DataError(f"{where}: .txt holds no caption (expected one caption per line)")
    return captions


def _classification(name: str, info: WdsInfo, index: _Index, transform: Any) -> WdsClassificationDataset:
    n = len(info.classes)
    labels = [_parse_label(raw, index.where(i), n) for i, raw in enumerate(index.targets)]
    rows = _sample_metadata(index)
    return WdsClassificationDataset(name, info.metadata, labels, _WdsImages(index), transform, rows)


def _multilabel(name: str, info: WdsInfo, index: _Index, transform: Any) -> WdsMultilabelDataset:
    n = len(info.classes)
    rows = [_parse_multi_hot(raw, index.where(i), n) for i, raw in enumerate(index.targets)]
    return WdsMultilabelDataset(name, info.metadata, np.stack(rows), _WdsImages(index), transform)


def _retrieval(name: str, info: WdsInfo, index: _Index, transform: Any) -> WdsRetrievalDataset:
    captions: list[str] = []
    caption_image: list[int] = []
    for i, raw in enumerate(index.targets):
        for caption in _parse_captions(raw, index.where(i)):
            captions.append(caption)
            caption_image.append(i)
    return WdsRetrievalDataset(name, _WdsImages(index, transform), captions, caption_image)


_BUILDERS: dict[WdsType, Callable[[str, WdsInfo, _Index, Any], WdsDataset]] = {
    WdsType.CLASSIFICATION: _classification,
    WdsType.MULTILABEL: _multilabel,
    WdsType.RETRIEVAL: _retrieval,
}


def wds_splits(root: str | os.PathLike) -> list[str]:
    """The split folders of a wds folder (those holding ``nshards.txt``), sorted."""
    root = Path(root)
    return sorted(p.name for p in root.iterdir() if (p / NSHARDS_FILE).is_file()) if root.is_dir() else []


def load_wds(
    root: str | os.PathLike,
    split: str = "test",
    transform: Any = None,
    name: str | None = None,
    metadata: ClassMetadata | None = None,
) -> WdsDataset:
    """One split of a wds folder as the dataset its ``dataset_type.txt`` calls for (see the module doc);
    ``metadata`` supplies class names or templates the folder lacks (``wds_info``'s ``fallback``)."""
    root = Path(root)
    info = wds_info(root, metadata)
    split_dir = root / split
    if not split_dir.is_dir():
        found = ", ".join(wds_splits(root)) or "none"
        raise DataError(f"{split_dir}: split folder not found (splits in {root}: {found})")
    index = _build_index(split_dir, info.dataset_type)
    return _BUILDERS[info.dataset_type](name or f"{root.name}/{split}", info, index, transform)


# --- where a dataset lives ---------------------------------------------------------------------------------
def wds_folder_candidates(data_root: str | os.PathLike, name: str) -> list[Path]:
    """The folders ``wds_folder_for`` tries, in order: ``wds_<task>``, ``wds_<task>_test`` (DataComp) and
    ``<name>``, where ``<task>`` is the name without a leading ``wds/`` and with ``/`` turned into ``-``."""
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
        raise ConfigError(f"wds dataset name {name!r}: expected names like 'wds/vtab/cifar10' or 'cars'")
    task = name.removeprefix("wds/")
    flat = task.replace("/", "-")
    root = Path(data_root)
    out: list[Path] = []
    for path in (root / f"wds_{flat}", root / f"wds_{flat}_test", root / task, root / name):
        if path not in out:
            out.append(path)
    return out


def wds_folder_for(data_root: str | os.PathLike, name: str) -> Path:
    """The first existing folder of ``wds_folder_candidates``; none is a DataError listing every path tried."""
    candidates = wds_folder_candidates(data_root, name)
    for path in candidates:
        if path.is_dir():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise DataError(f"wds dataset {name!r}: no folder found under {data_root} (tried {tried})")


# --- writing (fixtures) ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WdsSample:
    """One sample to write: an image (PIL, HxWx3 uint8 array, or bytes written as they are; None writes no
    image) and the target of the dataset's kind — ``label`` (.cls), ``targets`` (.npy) or ``captions`` (.txt).
    ``extra`` adds members, encoded by webdataset's writer from their extension."""

    image: Image.Image | np.ndarray | bytes | None
    label: int | str | None = None
    targets: np.ndarray | None = None
    captions: Sequence[str] | None = None
    image_ext: str = "webp"
    extra: Mapping[str, Any] = field(default_factory=dict)


# As CLIP_benchmark's exporter saves images: webp lossless, png, jpeg at Pillow's default quality.
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "webp": {"format": "webp", "lossless": True},
    "png": {"format": "png"},
    "jpg": {"format": "jpeg"},
    "jpeg": {"format": "jpeg"},
}


def _encode_image(image: Image.Image | np.ndarray | bytes, ext: str) -> bytes:
    if isinstance(image, bytes):
        return image
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, **_SAVE_OPTIONS[ext])
    return buffer.getvalue()


def _record(key: str, sample: WdsSample) -> dict[str, Any]:
    if sample.image_ext not in _SAVE_OPTIONS:
        raise ConfigError(f"image_ext {sample.image_ext!r}: expected one of {', '.join(_SAVE_OPTIONS)}")
    record: dict[str, Any] = {"__key__": key}
    if sample.image is not None:
        record[sample.image_ext] = _encode_image(sample.image, sample.image_ext)
    if sample.label is not None:
        record["cls"] = sample.label
    if sample.targets is not None:
        record["npy"] = sample.targets
    if sample.captions is not None:
        record["txt"] = "\n".join(c.replace("\n", "\\n") for c in sample.captions)
    record.update(sample.extra)
    return record


def write_wds_fixture(
    out: str | os.PathLike,
    dataset_type: str,
    classes: Sequence[str],
    templates: Sequence[str],
    samples_per_shard: int,
    splits: Mapping[str, Sequence[WdsSample]],
    *,
    overwrite: bool = False,
) -> dict[str, int]:
    """Write ``splits`` in the wds layout with webdataset's ``ShardWriter``, as CLIP_benchmark's exporter does:
    keys ``s%07d`` counting through each split, ``samples_per_shard`` samples a shard, ``<split>/nshards.txt``,
    ``classnames.txt`` and the templates (as given, CLIP_benchmark's ``{c}`` placeholder) when given, and
    ``dataset_type.txt`` for retrieval and multilabel sets. Built in a temp folder and renamed into place;
    returns the number of shards of each split."""
    from cyclip_bench.data.synth import _move_into_place, _prepare_out

    wds = _webdataset()
    try:
        kind = WdsType(dataset_type)
    except ValueError:
        known = ", ".join(t.value for t in WdsType)
        raise ConfigError(f"dataset_type {dataset_type!r}: expected one of {known}") from None
    if samples_per_shard < 1:
        raise ConfigError(f"samples_per_shard {samples_per_shard}: expected at least 1")
    out = Path(out)
    _prepare_out(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    counts: dict[str, int] = {}
    try:
        for split, samples in splits.items():
            if not samples:
                raise ConfigError(f"split {split!r}: no samples to write")
            (tmp / split).mkdir(parents=True)
            pattern = str(tmp / split).replace("%", "%%") + "/%d.tar"
            writer = wds.ShardWriter(pattern, maxcount=samples_per_shard, verbose=0)
            try:
                for i, sample in enumerate(samples):
                    writer.write(_record(f"s{i:07d}", sample))
                counts[split] = writer.shard
            finally:
                writer.close()
            (tmp / split / NSHARDS_FILE).write_text(f"{counts[split]}\n", encoding="utf-8")
        if classes:
            (tmp / CLASSNAMES_FILE).write_text("\n".join(classes) + "\n", encoding="utf-8")
        if templates:
            (tmp / TEMPLATES_FILE).write_text("\n".join(templates) + "\n", encoding="utf-8")
        if kind is not WdsType.CLASSIFICATION:
            (tmp / TYPE_FILE).write_text(f"{kind.value}\n", encoding="utf-8")
        os.chmod(tmp, 0o755)
        _move_into_place(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts


def synthetic_wds_samples(
    dataset_type: str,
    count: int,
    num_classes: int = 3,
    *,
    seed: int = 0,
    image_size: int = 16,
    image_ext: str = "webp",
    captions_per_image: int = 2,
) -> list[WdsSample]:
    """``count`` samples of random pixels (a pure function of the arguments) with targets of ``dataset_type``:
    label ``i % num_classes``; a multi-hot row with class ``i % num_classes`` and random others; or
    ``captions_per_image`` captions naming the image."""
    kind = WdsType(dataset_type)
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        image = rng.integers(0, 256, (image_size, image_size, 3), dtype=np.uint8)
        if kind is WdsType.CLASSIFICATION:
            samples.append(WdsSample(image, label=i % num_classes, image_ext=image_ext))
        elif kind is WdsType.MULTILABEL:
            row = (rng.random(num_classes) < 0.3).astype(np.uint8)
            row[i % num_classes] = 1
            samples.append(WdsSample(image, targets=row, image_ext=image_ext))
        else:
            captions = [f"image {i}, caption {k}" for k in range(captions_per_image)]
            samples.append(WdsSample(image, captions=captions, image_ext=image_ext))
    return samples


__all__ = [
    "WdsClassificationDataset",
    "WdsInfo",
    "WdsMultilabelDataset",
    "WdsRetrievalDataset",
    "WdsSample",
    "WdsType",
    "load_wds",
    "synthetic_wds_samples",
    "wds_folder_candidates",
    "wds_folder_for",
    "wds_info",
    "wds_splits",
    "write_wds_fixture",
]
