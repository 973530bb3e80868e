"""`data check`: validate a caption table, a labelled folder or a whole world folder and say what was
found."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cyclip_bench.data.captions import read_caption_table
from cyclip_bench.data.images import load_image
from cyclip_bench.data.labelled import load_image_folder, load_labels_csv
from cyclip_bench.data.metadata import ClassMetadata, load_class_metadata
from cyclip_bench.errors import DataError

MAX_PROBLEMS_LISTED = 20


@dataclass
class CheckReport:
    """What a check found: one ``lines`` entry per part, and every problem (file/row and what is wrong)."""

    path: str
    kind: str
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_images(files: list[str], where: str, rows: bool, report: CheckReport) -> int:
    bad = 0
    for i, f in enumerate(files):
        try:
            if not os.path.isfile(f):
                raise DataError(f"image file {f} not found")
            load_image(f)
        except DataError as err:
            bad += 1
            report.problems.append(f"{where}: row {i + 1}: {err}" if rows else f"{where}: {err}")
    return bad


def check_caption_table(
    path: Path,
    report: CheckReport,
    image_key: str = "image",
    caption_key: str = "caption",
    delimiter: str | None = None,
) -> None:
    table = read_caption_table(path, image_key, caption_key, delimiter)
    images = table["image"].tolist()
    unique = list(dict.fromkeys(images))
    first_row = {img: i for i, img in reversed(list(enumerate(images)))}
    bad = 0
    for img in unique:
        try:
            if not os.path.isfile(img):
                raise DataError(f"image file {img} not found")
            load_image(img)
        except DataError as err:
            bad += 1
            report.problems.append(f"{path}: row {first_row[img] + 1}: {err}")
    empty = sum(1 for c in table["caption"].tolist() if not c.strip())
    if empty:
        report.problems.append(f"{path}: {empty} rows have an empty caption")
    words = sum(len(c.split()) for c in table["caption"].tolist()) / len(table)
    report.lines.append(
        f"{path}: captions: {len(table)} rows, {len(unique)} images "
        f"({len(table) / len(unique):.1f} captions/image), {words:.1f} words/caption, "
        f"{bad} bad images"
    )


def _metadata_for(folder: Path, metadata: Path | None) -> tuple[ClassMetadata, str]:
    if metadata is not None:
        return load_class_metadata(metadata), str(metadata)
    for candidate in (
        folder / "classes.json",
        folder.parent / "classes.json",
        folder.parent.parent / "classes.json",
    ):
        if candidate.is_file():
            return load_class_metadata(candidate), str(candidate)
    raise DataError(f"{folder}: no class metadata found (pass --metadata FILE.json or put classes.json beside it)")


def check_labelled(
    folder: Path, report: CheckReport, metadata: Path | None = None, meta: ClassMetadata | None = None
) -> None:
    if (folder / "labels.csv").is_file():
        if meta is None:
            meta, source = _metadata_for(folder, metadata)
        else:
            source = "classes.json"
        ds = load_labels_csv(folder, meta, str(folder), None, source, check_files=False)
        bad = _check_images(ds.files, str(folder / "labels.csv"), True, report)
    else:
        meta = load_class_metadata(metadata) if metadata is not None else meta
        ds = load_image_folder(folder, meta)
        bad = _check_images(ds.files, str(folder), False, report)
    counts = Counter(ds.labels)
    present = len(counts)
    n = len(ds.metadata.classes)
    shown = ", ".join(ds.metadata.classes[:10]) + (", …" if n > 10 else "")
    line = (
        f"{folder}: labelled: {len(ds)} images, {present}/{n} classes present "
        f"(per class {min(counts.values())}..{max(counts.values())}), {bad} bad images; classes: {shown}"
    )
    if ds.metadata.superclasses:
        line += f"; {len(ds.metadata.superclasses)} superclasses"
    report.lines.append(line)


def check_world(folder: Path, report: CheckReport) -> None:
    import json

    info = json.loads((folder / "world.json").read_text(encoding="utf-8"))
    report.lines.append(
        f"{folder}: world seed={info.get('seed')} size={info.get('size')} "
        f"image_size={info.get('image_size')} generator_version={info.get('generator_version')}"
    )
    parts = [("captions", folder / "captions" / "train.csv"), ("captions", folder / "captions" / "val.csv")]
    parts += [("labelled", folder / p / s) for p in ("shapes", "fine") for s in ("train", "test")]
    shifts = folder / "shifts"
    shift_names = sorted(p.name for p in shifts.iterdir() if p.is_dir()) if shifts.is_dir() else []
    parts += [("shift", shifts / name) for name in shift_names]
    parts += [("captions", folder / "retrieval" / "captions.csv")]
    shapes_meta = folder / "shapes" / "classes.json"
    for kind, path in parts:
        try:
            if kind == "captions":
                check_caption_table(path, report)
            elif kind == "shift":
                check_labelled(path, report, shapes_meta)
            else:
                check_labelled(path, report)
        except DataError as err:
            report.problems.append(str(err))


def check_path(
    path: str | os.PathLike,
    image_key: str = "image",
    caption_key: str = "caption",
    delimiter: str | None = None,
    metadata: str | os.PathLike | None = None,
) -> CheckReport:
    """Validate PATH: a world folder (world.json), a labelled folder (labels.csv or class folders), or a
    caption
    CSV/TSV. Structural errors raise DataError; per-row problems are collected in the report."""
    path = Path(path)
    meta_path = Path(metadata) if metadata is not None else None
    if path.is_file():
        report = CheckReport(str(path), "captions")
        check_caption_table(path, report, image_key, caption_key, delimiter)
    elif path.is_dir() and (path / "world.json").is_file():
        report = CheckReport(str(path), "world")
        check_world(path, report)
    elif path.is_dir():
        report = CheckReport(str(path), "labelled")
        check_labelled(path, report, meta_path)
    else:
        raise DataError(f"{path}: not found (expected a caption CSV/TSV, a labelled folder or a world folder)")
    return report
