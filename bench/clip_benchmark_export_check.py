"""Our CLIP_benchmark export read by CLIP_benchmark's own `build` (not CI: it needs clip-benchmark in a venv).

Exports RESULTS with ``cyclip-bench export --format clip_benchmark`` into a folder, runs ``clip_benchmark build``
over that folder in CLIP_benchmark's venv (its own reader: every *.json in the folder → one CSV row each), and
compares the CSV it makes with the ``benchmark.csv`` we wrote, cell by cell, with pandas. Prints one JSON line
(files, rows, whether the column sets are equal, mismatched cells) and exits 1 on any difference.

CLIP_benchmark's CLI module imports torch, open_clip and its dataset and metric code even for `build`, so its venv
needs them; reusing this project's packages through a .pth file, only a few small ones are installed:
    python3 -m venv /tmp/cb-venv
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/cb-venv/lib/python3.11/site-packages/zz_project.pth
    /tmp/cb-venv/bin/pip install --no-deps "clip-benchmark==1.6.2" requests urllib3 certifi charset-normalizer \\
        idna pycocoevalcap scikit-learn joblib threadpoolctl cloudpickle narwhals
    python bench/clip_benchmark_export_check.py --cb-python /tmp/cb-venv/bin/python RESULTS...
RESULTS: result JSONs or folders written by `cyclip-bench eval` (e.g. ``demo-out-quick/results`` after
``cyclip-bench demo --quick``).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

# CLIP_benchmark's `build` subcommand, run from its CLI module as its console script would.
CB_BUILD = (
    "import sys\nfrom clip_benchmark.cli import main\nsys.argv = ['clip_benchmark', 'build'] + sys.argv[1:]\nmain()\n"
)
ROW_KEY = ["model_fullname", "dataset", "task"]


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} … failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if pd.isna(a) and pd.isna(b):
        return True
    return a == b


def compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> dict:
    """Row by row (matched on model_fullname, dataset, task), every column both have."""
    mismatches = []
    if set(ours.columns) == set(theirs.columns) and len(ours) == len(theirs):
        ours_rows = ours.set_index(ROW_KEY).sort_index()
        their_rows = theirs.set_index(ROW_KEY).sort_index()
        if not ours_rows.index.equals(their_rows.index):
            mismatches.append("the rows differ")
        else:
            for column in ours_rows.columns:
                for key, a, b in zip(ours_rows.index, ours_rows[column], their_rows[column], strict=True):
                    if not _same(a, b):
                        mismatches.append(f"{key} {column}: ours {a!r}, clip_benchmark {b!r}")
    return {
        "rows": {"ours": len(ours), "clip_benchmark": len(theirs)},
        "same_columns": set(ours.columns) == set(theirs.columns),
        "only_ours": sorted(set(ours.columns) - set(theirs.columns)),
        "only_clip_benchmark": sorted(set(theirs.columns) - set(ours.columns)),
        "mismatched_cells": len(mismatches),
        "first_mismatches": mismatches[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="result JSONs or folders written by `cyclip-bench eval`")
    parser.add_argument("--cb-python", required=True, help="python of a venv with clip-benchmark installed")
    parser.add_argument("--out", type=Path, help="export folder (default: a temporary one)")
    parser.add_argument("--extras", action="store_true", help="export with --extras (cyclip_bench_* columns too)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "export"
        export = [sys.executable, "-m", "cyclip_bench", "export", *args.results, "--format", "clip_benchmark"]
        _run([*export, "--out", str(out), *(["--extras"] if args.extras else [])])
        their_csv = Path(tmp) / "clip_benchmark_build.csv"
        _run([args.cb_python, "-c", CB_BUILD, str(out), "--output", str(their_csv)])
        ours, theirs = pd.read_csv(out / "benchmark.csv"), pd.read_csv(their_csv)
        outcome = {"files": len(list(out.glob("*.json"))), **compare(ours, theirs)}
    print(json.dumps(outcome))
    if not outcome["same_columns"] or outcome["mismatched_cells"] or len(ours) != len(theirs):
        sys.exit(1)


if __name__ == "__main__":
    main()
