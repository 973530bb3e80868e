"""Typed result records and their JSON / CSV form (the format in docs/contracts.md)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cyclip_bench.errors import UserError
from cyclip_bench.fileio import atomic_write_text
from cyclip_bench.validation import check_name

SCHEMA_VERSION = 1
CSV_COLUMNS = ("checkpoint", "suite", "task", "dataset", "metric", "value")


@dataclass
class MetricInfo:
    higher_is_better: bool | None
    unit: str = "fraction"
    per_example: str | None = None


@dataclass
class TaskResult:
    name: str
    kind: str
    dataset: str
    split: str
    metrics: dict[str, float]
    metric_info: dict[str, MetricInfo]
    per_example: dict[str, list] = field(default_factory=dict)
    class_names: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # {metric: {"hits": int, "n": int}} for fraction metrics (metric == hits / n exactly); absent in older files
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = asdict(self)
        out["metrics"] = {k: float(v) for k, v in self.metrics.items()}
        if self.class_names is None:
            out.pop("class_names")
        if not self.counts:
            out.pop("counts")
        return out

    @classmethod
    def from_json(cls, obj: dict) -> TaskResult:
        info = {k: MetricInfo(**v) for k, v in obj.get("metric_info", {}).items()}
        return cls(
            name=obj["name"],
            kind=obj["kind"],
            dataset=obj.get("dataset", ""),
            split=obj.get("split", ""),
            metrics=dict(obj.get("metrics", {})),
            metric_info=info,
            per_example=dict(obj.get("per_example", {})),
            class_names=obj.get("class_names"),
            extra=dict(obj.get("extra", {})),
            counts={k: dict(v) for k, v in obj.get("counts", {}).items()},
        )


def result_filename(label: str, suite: str) -> str:
    """``<label>__<suite>.json``; both parts are checked to be safe file-name components (labels are sanitised
    where they are made, suite names refused when loaded), so nothing is written outside ``--out``."""
    check_name(label, "checkpoint label")
    check_name(suite, "suite name")
    return f"{label}__{suite}.json"


def read_result(path: Path) -> dict:
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # ValueError: not JSON, or not UTF-8
        raise UserError(f"cannot read results {path}: {err}") from None
    if not isinstance(obj, dict) or obj.get("schema_version") != SCHEMA_VERSION:
        found = obj.get("schema_version") if isinstance(obj, dict) else type(obj).__name__
        raise UserError(f"{path}: schema_version {found!r}, expected {SCHEMA_VERSION}")
    from cyclip_bench.report.results import parse_result  # the one strict reader of this format

    parse_result(obj, Path(path))
    return obj


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


def write_result(path: Path, obj: dict) -> None:
    atomic_write_text(path, compact_json(obj))


def csv_rows(obj: dict) -> list[tuple]:
    label, suite = obj["checkpoint"]["label"], obj["suite"]["name"]
    return [
        (label, suite, task["name"], task["dataset"], metric, value)
        for task in obj["tasks"]
        for metric, value in task["metrics"].items()
    ]


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
            writer.writerows(csv_rows(obj))
    target = Path(out_dir) / "results.csv"
    atomic_write_text(target, buffer.getvalue())
    return target
