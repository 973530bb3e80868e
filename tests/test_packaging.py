"""The wheel ships the package data an installed user needs: suite specs, metadata JSON, presets, templates."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_suites_and_data(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git not available")
    src = tmp_path / "src"
    # Build from the tracked files only, as a clean clone would.
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("cyclip_bench-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    suites_in_repo = sorted(p.name for p in (ROOT / "suites").glob("*.toml"))
    assert suites_in_repo, "the repository has no suite specs"
    for suite in suites_in_repo:
        assert f"cyclip_bench/suites/{suite}" in names
    assert any(n.startswith("cyclip_bench/data/metadata/") and n.endswith(".json") for n in names)
    assert any(n.startswith("cyclip_bench/models/presets/") and n.endswith(".json") for n in names)
    assert any(n.startswith("cyclip_bench/report/templates/") for n in names)
    # pyproject lists the packages one by one: a new subpackage left out of that list must fail here
    packages = [name for name in files if name.startswith("cyclip_bench/") and name.endswith("/__init__.py")]
    assert packages and [p for p in packages if p not in names] == []
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "cyclip-bench = cyclip_bench.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_a_passing_tests_temp_folder_is_deleted_when_it_ends(pytestconfig):
    """CI machines have little disk: tests that write RN50 checkpoints (390 MB each) must not keep their folders to
    the end of the run. A failing test's folder is kept to look at."""
    assert pytestconfig.getini("tmp_path_retention_policy") == "failed"
    assert int(pytestconfig.getini("tmp_path_retention_count")) <= 1
