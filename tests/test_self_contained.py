"""The repository stands alone: no tracked file points outside it (to notes that live beside the checkout), and
the documents the code cites exist in docs/."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Built from parts so that this file, like every other, holds no such reference itself.
_FOLDER = "sha" + "red"
_NOTES = ("PAP" + "ER", "DES" + "IGN", "STY" + "LE", "PITF" + "ALLS", "DATA" + "SETS")
OUTSIDE = re.compile(rf"\.\./{_FOLDER}|\b{_FOLDER}/[A-Z]+\.md|\b({'|'.join(_NOTES)})\.md\b")


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    files = []
    for name in listed.splitlines():
        path = ROOT / name
        if path.suffix in {".py", ".md", ".toml", ".json", ".j2", ".txt", ".cfg", ".sh", ".yml", ".yaml"} or (
            path.name in {"Makefile", "run"}
        ):
            files.append(path)
    return files


def test_no_file_refers_outside_the_repository():
    hits = []
    for path in _tracked_text_files():
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not hits, "references outside the repository:\n" + "\n".join(hits)


def test_the_pattern_catches_what_it_is_for():
    folder, design, paper = _FOLDER, _NOTES[1], _NOTES[0]
    for text in (f"see ../{folder}/{design}.md", f"formulas in {paper}.md", f"from {folder}/{paper}.md"):
        assert OUTSIDE.search(text), text
    assert not OUTSIDE.search("see docs/paper.md and docs/architecture.md")


def test_cited_docs_exist():
    for name in ("paper.md", "architecture.md", "contracts.md", "formats.md", "evaluation.md", "training.md"):
        assert (ROOT / "docs" / name).is_file(), name
