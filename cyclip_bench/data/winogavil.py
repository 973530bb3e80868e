"""WinoGAViL (Bitton et al. 2022), the association task of DataComp's 38: a textual cue, 5–12 candidate images,
and the candidates the cue is associated with. Read from its released layout (the files of the Hugging Face
dataset ``nlphuji/winogavil``; no webdataset copy exists)::

    DATA_ROOT/winogavil/
      winogavil_dataset.csv        one instance a row: ``cue``, ``candidates`` and ``associations`` (JSON lists of
                                   image names; other columns, e.g. ``ID``, are kept out of the way)
      winogavil_images/<name>.jpg  one image per candidate name (the release's winogavil_images.zip, unpacked)

Catalog name ``winogavil``; a path table takes ``format = "winogavil"`` and ``path`` the folder. The data kind
``ASSOCIATION`` builds it; the task kind ``association`` scores it (cyclip_bench/eval/tasks/association.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cyclip_bench.data.captions import read_table
from cyclip_bench.data.catalog import DataKind, images_with_transform
from cyclip_bench.data.labelled import _ImageList
from cyclip_bench.errors import DataError, UserError

NAME = "winogavil"
CSV_FILE = "winogavil_dataset.csv"
IMAGES_DIR = "winogavil_images"
IMAGE_EXTENSION = "jpg"
COLUMNS = ["cue", "candidates", "associations"]
PUBLISHED = "https://huggingface.co/datasets/nlphuji/winogavil (winogavil_dataset.csv + winogavil_images.zip)"


@dataclass(frozen=True)
class Association:
    """One instance: the ``cue``, its candidate images (indices into the dataset's ``image_files``) and, per
    candidate, whether the cue is associated with it."""

    cue: str
    candidates: tuple[int, ...]
    truth: tuple[bool, ...]


class WinogavilDataset:
    """Unique candidate images (``.images``: a Dataset of transformed images, in ``image_files`` order) and the
    ``instances`` over them; ``path`` is the CSV read."""

    def __init__(self, name: str, path: Path, image_files: list[str], instances: list[Association], transform: Any):
        self.name, self.path = name, Path(path)
        self.image_files, self.instances = image_files, instances
        self.images = _ImageList(image_files, transform)

    def fingerprint(self) -> str:
        """sha256 over the images (name, size) and every instance: changes with the data."""
        digest = hashlib.sha256()
        for f in self.image_files:
            digest.update(f"{Path(f).name}\t{os.path.getsize(f)}\n".encode())
        for item in self.instances:
            digest.update(f"{item.cue}\t{item.candidates}\t{item.truth}\n".encode())
        return digest.hexdigest()

    def __repr__(self) -> str:
        return f"WinogavilDataset({self.name!r}, {len(self.image_files)} images, {len(self.instances)} instances)"


def _names(value: str, where: str, column: str) -> list[str]:
    try:
        names = json.loads(value)
    except json.JSONDecodeError:
        names = None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise DataError(f"{where}: {column} {value[:60]!r} is not a JSON list of image names")
    return names


def load_winogavil(folder: str | os.PathLike, transform: Any = None, name: str | None = None) -> WinogavilDataset:
    """The released layout in ``folder`` (see the module doc); every problem is a DataError naming the file and
    row: a missing file or image, a malformed list, an association that is not a candidate."""
    folder = Path(folder)
    csv_path = folder / CSV_FILE
    if not csv_path.is_file():
        raise DataError(
            f"{csv_path}: not found (expected WinoGAViL's released {CSV_FILE} and {IMAGES_DIR}/<name>.jpg in "
            f"{folder}; published at {PUBLISHED}; cyclip-bench downloads nothing)"
        )
    table = read_table(csv_path, COLUMNS)
    images_dir = folder / IMAGES_DIR
    index: dict[str, int] = {}
    files: list[str] = []
    instances: list[Association] = []
    for row_no, row in enumerate(table.itertuples(index=False), start=2):
        where = f"{csv_path}: row {row_no}"
        cue = str(row.cue).strip()
        if not cue:
            raise DataError(f"{where}: empty cue")
        candidates = _names(str(row.candidates), where, "candidates")
        associations = set(_names(str(row.associations), where, "associations"))
        if len(set(candidates)) != len(candidates):
            raise DataError(f"{where}: a candidate is listed twice in {candidates}")
        stray = sorted(associations - set(candidates))
        if stray:
            raise DataError(f"{where}: association {stray[0]!r} is not one of the candidates")
        ids = []
        for candidate in candidates:
            if candidate not in index:
                path = images_dir / f"{candidate}.{IMAGE_EXTENSION}"
                if Path(candidate).name != candidate or not path.is_file():
                    raise DataError(f"{where}: image {path} not found (each candidate is {IMAGES_DIR}/<name>.jpg)")
                index[candidate] = len(files)
                files.append(str(path))
            ids.append(index[candidate])
        instances.append(Association(cue, tuple(ids), tuple(c in associations for c in candidates)))
    return WinogavilDataset(name or f"{NAME}/test", csv_path, files, instances, transform)


def build_winogavil(ref: str | Mapping[str, Any], data_root: str | os.PathLike | None, transform: Any = None) -> Any:
    """By catalog name ``winogavil`` (DATA_ROOT/winogavil) or path table ``{path, format = "winogavil", name}``."""
    if isinstance(ref, Mapping):
        if ref.get("format") != NAME or "path" not in ref:
            raise UserError(
                f"dataset reference {dict(ref)!r}: an association task reads {{path, format = 'winogavil'}}"
            )
        path = Path(ref["path"])
        if not path.is_absolute() and data_root is not None:
            path = Path(data_root) / path
        return load_winogavil(path, transform, ref.get("name"))
    if ref != NAME:
        raise UserError(f"dataset {ref!r}: an association task reads the dataset {NAME!r} (or a path table)")
    if data_root is None:
        raise UserError(f"dataset {ref!r} needs --data-root (it lives at DATA_ROOT/{NAME}/{CSV_FILE})")
    return load_winogavil(Path(data_root) / NAME, transform)


class _Association(DataKind):
    name, unit, splits = "association", "instances", ("test",)

    def build(
        self, ref: str | Mapping[str, Any], data_root: str | os.PathLike | None, split: str, transform: Any = None
    ) -> WinogavilDataset:
        if split not in self.splits:
            raise UserError(f"dataset {ref!r}: an association set has the split 'test' only, not {split!r}")
        return build_winogavil(ref, data_root, transform)

    def with_transform(self, data: Any, transform: Any) -> Any:
        return images_with_transform(data, transform)

    def size(self, data: Any) -> int:
        return len(data.instances)

    def images(self, data: Any) -> Any:
        return data.images


ASSOCIATION: DataKind = _Association()


# Candidates per generated instance, cycling: DataComp's two groups (5–6 and 10–12 candidates) both get instances.
FIXTURE_CANDIDATES = (5, 6, 10, 12)
_FIXTURE_CUES = ("fire", "ocean", "winter", "music", "garden", "night", "bread", "storm", "circus", "desert")


def fixture_instances(count: int, seed: int = 0, pool: int = 40) -> list[tuple[str, list[str], list[str]]]:
    """``count`` generated instances (cue, candidates, associations) for ``write_winogavil_fixture``: a pure
    function of the arguments; candidates drawn from ``pool`` image names, their number cycling over
    ``FIXTURE_CANDIDATES``, 2 associations with 5 or 6 candidates and 3 with 10 or 12."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = [f"img{j:03d}" for j in range(max(pool, max(FIXTURE_CANDIDATES)))]
    out = []
    for i in range(count):
        k = FIXTURE_CANDIDATES[i % len(FIXTURE_CANDIDATES)]
        candidates = [names[j] for j in rng.choice(len(names), size=k, replace=False)]
        cue = _FIXTURE_CUES[i % len(_FIXTURE_CUES)] + ("" if i < len(_FIXTURE_CUES) else f" {i}")
        out.append((cue, candidates, candidates[: 2 if k <= 6 else 3]))
    return out


def write_winogavil_fixture(
    out: str | os.PathLike, instances: list[tuple[str, list[str], list[str]]], image_size: int = 16
) -> Path:
    """Write the released layout (CSV with the release's columns + one random-pixel jpg per candidate name) for
    tests and ``cyclip-bench data fixture``: each instance is (cue, candidates, associations)."""
    import csv

    import numpy as np
    from PIL import Image

    out = Path(out)
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    with open(out / CSV_FILE, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID", "cue", "candidates", "associations", "num_associations", "num_candidates"])
        for i, (cue, candidates, associations) in enumerate(instances):
            writer.writerow(
                [i, cue, json.dumps(candidates), json.dumps(associations), len(associations), len(candidates)]
            )
            for c in candidates:
                path = out / IMAGES_DIR / f"{c}.{IMAGE_EXTENSION}"
                if not path.exists():
                    pixels = rng.integers(0, 256, (image_size, image_size, 3), dtype=np.uint8)
                    Image.fromarray(pixels).save(path, format="jpeg")
    return out


__all__ = [
    "ASSOCIATION",
    "Association",
    "WinogavilDataset",
    "build_winogavil",
    "fixture_instances",
    "load_winogavil",
    "write_winogavil_fixture",
]
