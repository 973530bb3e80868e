"""The report as a document: sections holding tables, plots and linked data files, and the writer that saves
figures and CSVs beside report.md. Both renderers (Markdown, HTML) read these records and nothing else."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cyclip_bench.fileio import atomic_write_text
from cyclip_bench.report import plots, tables
from cyclip_bench.results import Result

PLOTS_DIR = "plots"
DATA_DIR = "per-class"  # CSVs too long for the report (one row per class); linked from their task's section


@dataclass
class Plot:
    title: str
    caption: str
    png: str  # path relative to the report folder
    svg: str
    data_uri: str


@dataclass
class DataFile:
    description: str
    path: str  # relative to the report folder; our own slug, safe to put in a link


@dataclass
class Section:
    title: str
    anchor: str
    meta: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, tables.Table]] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)  # findings-style statements, shown as a list before tables
    children: list[Section] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)  # (summary, preformatted text) blocks
    files: list[DataFile] = field(default_factory=list)


class FileWriter:
    """Saves figures (PNG + SVG under plots/) and CSVs (under per-class/) with unique slug names, and remembers
    every file it wrote for the manifest."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.plots: list[Path] = []
        self.data: list[Path] = []
        self._stems: set[str] = set()

    @property
    def written(self) -> list[Path]:
        return [*self.plots, *self.data]

    def _unique(self, folder: str, stem: str) -> str:
        stem = slug(stem)
        unique, i = stem, 2
        while f"{folder}/{unique}" in self._stems:
            unique, i = f"{stem}-{i}", i + 1
        self._stems.add(f"{folder}/{unique}")
        return unique

    def add_plot(self, fig, stem: str, title: str, caption: str) -> Plot | None:
        if fig is None:
            return None
        unique = self._unique(PLOTS_DIR, stem)
        paths = plots.save_figure(fig, self.out_dir / PLOTS_DIR, unique)
        self.plots.extend([paths["png"], paths["svg"]])
        data_uri = "data:image/png;base64," + base64.b64encode(paths["png"].read_bytes()).decode("ascii")
        return Plot(
            title=title,
            caption=caption,
            png=f"{PLOTS_DIR}/{unique}.png",
            svg=f"{PLOTS_DIR}/{unique}.svg",
            data_uri=data_uri,
        )

    def add_csv(self, frame: pd.DataFrame, stem: str, description: str) -> DataFile:
        unique = self._unique(DATA_DIR, stem)
        path = self.out_dir / DATA_DIR / f"{unique}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n"))
        self.data.append(path)
        return DataFile(description, f"{DATA_DIR}/{unique}.csv")


@dataclass(frozen=True)
class ReportContext:
    """What every section reads: the results, the baseline of the paired tests, one colour per checkpoint, the
    bootstrap settings, and the writer its plots and files go through."""

    results: list[Result]
    baseline: str
    colours: dict[str, tuple]
    writer: FileWriter
    n_boot: int
    seed: int


def slug(text: str) -> str:
    slugged = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return slugged[:80] or "plot"
