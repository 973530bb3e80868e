"""Writing results: ``<label>__<suite>.json`` (`save`, atomic, compact JSON) and the long-format results.csv."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from cyclip_bench.errors import UserError
from cyclip_bench.fileio import atomic_write_text
from cyclip_bench.results.model import SCHEMA_VERSION, Result, TaskResult
from cyclip_bench.validation import check_name

CSV_COLUMNS = ("checkpoint", "suite", "task", "dataset", "metric", "value")


def result_filename(label: str, suite: str) -> str:
    """``<label>__<suite>.json``; both parts are checked to be safe file-name components (labels are sanitised
    where they are made, suite names refused when loaded), so nothing is written outside ``--out``."""
    check_name(label, "checkpoint label")
    check_name(suite, "suite name")
    return f"{label}__{suite}.json"


def compact_json(obj: Any, indent: int = 2) -> str:
    """JSON as ``json.dumps(obj, indent=indent)`` writes it, except that a list of scalars is one line with no
    spaces: per-example arrays and class-name lists are most of a results file, and with one element per line
    a 1,000-class suite over 150,000 examples wrote ~10 bytes per 0/1 instead of 2 (any JSON reader reads both).
    """

    def encode(value: Any, level: int) -> str:
        pad, end = " " * (indent * (level + 1)), " " * (indent * level)
        if isinstance(value, dict):
            if not value:
                return "{}"
            items = [f"{pad}{json.dumps(str(k))}: {encode(v, level + 1)}" for k, v in value.items()]
            return "{\n" + ",\n".join(items) + "\n" + end + "}"
        if isinstance(value, (list, tuple)):
            if all(not isinstance(v, (dict, list, tuple)) for v in value):
                return json.dumps(list(value), separators=(",", ":"), default=str)
            return "[\n" + ",\n".join(pad + encode(v, level + 1) for v in value) + "\n" + end + "]"
        return json.dumps(value, default=str)

    return encode(obj, 0) + "\n"


def save(path: Path, result: Result) -> None:
    """Write ``result`` to ``path`` atomically (temp file + rename) as compact JSON."""
    atomic_write_text(path, compact_json(result.to_json()))


def from_json(doc: dict) -> Result:
    """A results document as written, without checks (the strict reader is `load`): results.csv is rebuilt
    from the files in --out, and a resumed run keeps their task records."""
    return Result(
        schema_version=doc["schema_version"],
        suite=doc["suite"],
        checkpoint=doc["checkpoint"],
        run=doc.get("run") or {},
        tasks=[TaskResult.from_json(task) for task in doc["tasks"]],
        label=doc["checkpoint"]["label"],
        raw_label=doc["checkpoint"]["label"],
    )


def write_results_csv(out_dir: Path) -> Path:
    """Long-format CSV over every result JSON in ``out_dir`` (rebuilt whole, so --resume stays consistent)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for path in sorted(Path(out_dir).glob("*__*.json")):
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:  # vanished since the listing, or not JSON (someone else's file)
            raise UserError(f"--out {out_dir}: cannot read {path.name} to rebuild results.csv ({err})") from None
        if isinstance(obj, dict) and obj.get("schema_version") == SCHEMA_VERSION:
            writer.writerows(from_json(obj).to_rows())
    target = Path(out_dir) / "results.csv"
    atomic_write_text(target, buffer.getvalue())
    return target
