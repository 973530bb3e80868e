"""What an export format produces and how it reaches the disk: a plan of files (relative path → text) checked
in full before anything is written, then each file written atomically (cyclip_bench/fileio.py).

A file already at a target path is replaced only when the format recognises it as one of its own outputs (an
earlier export, or the other tool's own file of that layout); anything else is refused, so an export never
clobbers a user's file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cyclip_bench.errors import FileSystemError, UserError
from cyclip_bench.fileio import atomic_write_text
from cyclip_bench.results import Result


@dataclass(frozen=True)
class ExportOptions:
    """The choices every format reads: the prompts' ``language`` (CLIP_benchmark records it and names files with
    it) and ``extras``: also export what the other tool has no name for, under ``cyclip_bench_*`` names."""

    language: str = "en"
    extras: bool = False


@dataclass
class ExportPlan:
    """``files``: relative path → text, in writing order. ``notes``: lines to show the user (what was left out and
    why). ``exported``: how many (checkpoint, task) records went into the files."""

    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    exported: int = 0


@dataclass(frozen=True)
class ExportFormat:
    """One output format: ``plan`` turns loaded results (and the files already in the output folder) into an
    `ExportPlan`; ``is_own(path)`` says whether an existing file at a target path is one this format writes (and so
    may be replaced). ``layout``: one line saying what the files are, for the help and the summary."""

    name: str
    layout: str
    plan: Callable[[list[Result], Path, ExportOptions], ExportPlan]
    is_own: Callable[[Path], bool]


def check_out_dir(out_dir: Path) -> None:
    """``--out`` must be a folder or not exist yet (it is created)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise FileSystemError(f"--out {out_dir} is a file; expected a folder for the exported files")


def write_plan(out_dir: Path, plan: ExportPlan, fmt: ExportFormat) -> list[Path]:
    """Check every target first (a folder in the way, or a file this format did not write: one error, nothing
    written), then write each file atomically. Returns the paths written."""
    targets = [out_dir / relative for relative in plan.files]
    for target in targets:
        if target.is_dir():
            raise FileSystemError(f"cannot write {target}: a folder is in the way of the exported file")
        if target.exists() and not fmt.is_own(target):
            raise UserError(
                f"{target}: exists and is not a {fmt.name} file that `cyclip-bench export` would replace; "
                "move it or choose another --out"
            )
        for parent in target.relative_to(out_dir).parents:
            if parent != Path(".") and (out_dir / parent).exists() and not (out_dir / parent).is_dir():
                raise FileSystemError(f"cannot write {target}: {out_dir / parent} is a file, expected a folder")
    for target, text in zip(targets, plan.files.values(), strict=True):
        atomic_write_text(target, text)
    return targets
