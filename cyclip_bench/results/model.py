"""The typed results model: one checkpoint on one suite (`Result`), its tasks (`TaskResult`) and what each metric
means (`MetricInfo`), with the metric declarations task kinds make (`MetricSpec`, `MetricTable`).

A metric's direction and unit are declared where the metric is produced: each task kind holds a `MetricTable`
(``TaskKind.metrics``) and builds every metric's `MetricInfo` from it, so the ``metric_info`` written into a
results file is the declaration. A file read back carries its own ``metric_info``; what a file leaves out (older
files wrote none) is taken from the declaration of the task kind the file names (`declared_metrics`), and only
for a kind nobody declared from `FALLBACK_INFO`: no direction (no best cell, no arrow) and a plain value.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
KNOWN_SCHEMA_VERSIONS = (1,)


@dataclass
class MetricInfo:
    """What one metric means: its direction (None: none), unit ("fraction" = stored in [0, 1], shown in %) and
    the per-example array whose mean it is (None: no such array)."""

    higher_is_better: bool | None
    unit: str = "fraction"
    per_example: str | None = None


@dataclass(frozen=True)
class MetricSpec:
    """A task kind's declaration of the metrics whose names match ``pattern`` (``fnmatch``: ``top*`` matches
    ``top1`` and ``top5``; a name without wildcards matches itself)."""

    pattern: str
    higher_is_better: bool | None
    unit: str

    def matches(self, metric: str) -> bool:
        return fnmatch.fnmatchcase(metric, self.pattern)


class MetricTable:
    """The metrics one task kind produces: the first spec whose pattern matches a name declares it."""

    def __init__(self, *specs: MetricSpec) -> None:
        self.specs = specs

    def lookup(self, metric: str) -> MetricSpec | None:
        return next((spec for spec in self.specs if spec.matches(metric)), None)

    def info(self, metric: str, per_example: str | None = None) -> MetricInfo:
        """The `MetricInfo` a task writes for ``metric``; a metric its kind did not declare is a bug in the kind."""
        spec = self.lookup(metric)
        if spec is None:
            declared = ", ".join(s.pattern for s in self.specs) or "(none)"
            raise KeyError(f"metric {metric!r} is not declared by its task kind (declared: {declared})")
        return MetricInfo(spec.higher_is_better, spec.unit, per_example)


# Where the declarations come from: a function kind → MetricTable | None. cyclip_bench.eval.tasks adds the task
# kind registry (built-in and entry-point kinds) when it is imported; eval and report both import it.
_METRIC_SOURCES: list[Callable[[str], MetricTable | None]] = []

# A metric that neither its file nor its task kind describes: no direction, a plain number (docs/contracts.md).
FALLBACK_INFO = MetricInfo(higher_is_better=None, unit="value", per_example=None)


def add_metric_source(source: Callable[[str], MetricTable | None]) -> None:
    """Let ``source`` (kind name → its MetricTable, or None for a kind it does not know) declare metrics."""
    if source not in _METRIC_SOURCES:
        _METRIC_SOURCES.append(source)


def declared_metrics(kind: str) -> MetricTable | None:
    """The metric declarations of task kind ``kind``, or None when no source knows the kind."""
    for source in _METRIC_SOURCES:
        table = source(kind)
        if table is not None:
            return table
    return None


def resolve_info(kind: str, metric: str, stored: dict[str, Any] | None) -> MetricInfo:
    """A metric's info: what the file stores, then its kind's declaration for what the file leaves out (null or
    absent), then `FALLBACK_INFO`."""
    stored = stored or {}
    table = declared_metrics(kind)
    spec = table.lookup(metric) if table is not None else None
    direction = stored.get("higher_is_better")
    if direction is None:
        direction = spec.higher_is_better if spec is not None else FALLBACK_INFO.higher_is_better
    unit = stored.get("unit") or (spec.unit if spec is not None else FALLBACK_INFO.unit)
    return MetricInfo(direction, unit, stored.get("per_example"))


_SCALARS = (int, float, str, bool, type(None))


@dataclass
class _Box:
    value: Any


def _as_plain(value: Any) -> Any:
    """``value`` copied as `dataclasses.asdict` copies a field (dataclasses to dicts, containers copied), with a
    fast path for a flat list of scalars — a per-example array of tens of thousands of numbers, which asdict
    visits one element at a time (0.35 s of a world run)."""
    if type(value) is dict:
        return {key: _as_plain(item) for key, item in value.items()}
    if type(value) is list and all(type(v) in _SCALARS for v in value):
        return list(value)
    return asdict(_Box(value))["value"]


@dataclass
class TaskResult:
    """One task's record in a results file (docs/contracts.md): written by a task kind, read by the report."""

    name: str
    kind: str
    dataset: str
    split: str | None
    metrics: dict[str, float | None]  # NaN read back as None
    metric_info: dict[str, MetricInfo]
    per_example: dict[str, list] = field(default_factory=dict)
    class_names: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # {metric: {"hits": int, "n": int}} for fraction metrics (metric == hits / n exactly); absent in older files
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The task as the JSON object a results file holds (key order fixed: files stay byte-identical)."""
        out = {f.name: _as_plain(getattr(self, f.name)) for f in fields(self)}  # asdict's key order
        out["metrics"] = {k: None if v is None else float(v) for k, v in self.metrics.items()}
        if self.class_names is None:
            out.pop("class_names")
        if not self.counts:
            out.pop("counts")
        return out

    @classmethod
    def from_json(cls, obj: dict) -> TaskResult:
        """A task record from a results file as written (no checks: the strict reader is `load`)."""
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

    def info(self, metric: str) -> MetricInfo:
        return self.metric_info.get(metric) or resolve_info(self.kind, metric, None)

    def higher_is_better(self, metric: str) -> bool | None:
        """True / False as declared; None for a metric without a direction."""
        return self.info(metric).higher_is_better

    def unit(self, metric: str) -> str:
        return self.info(metric).unit

    def per_example_key(self, metric: str) -> str | None:
        """The name of the per-example array whose mean is ``metric`` (metric_info[m].per_example, else an array
        named like the metric), or None."""
        key = self.metric_info[metric].per_example if metric in self.metric_info else None
        if key is None and metric in self.per_example:
            key = metric
        return key

    def per_example_of(self, metric: str) -> list[float] | None:
        """The per-example array whose mean is ``metric``, if any."""
        key = self.per_example_key(metric)
        return self.per_example.get(key) if key is not None else None


@dataclass(frozen=True)
class Result:
    """One results file: one checkpoint on one suite. ``suite``, ``checkpoint`` and ``run`` are the provenance
    records as written (docs/contracts.md lists their keys); the properties name what readers use of them."""

    schema_version: int
    suite: dict[str, Any]
    checkpoint: dict[str, Any]
    run: dict[str, Any]
    tasks: list[TaskResult]
    path: Path | None = None  # where it was read from
    label: str = ""  # unique display label (the checkpoint's label, disambiguated when two checkpoints share one)
    raw_label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The document a results file holds (key order fixed: files stay byte-identical)."""
        return {
            "schema_version": self.schema_version,
            "suite": self.suite,
            "checkpoint": self.checkpoint,
            "run": self.run,
            "tasks": [task.to_json() for task in self.tasks],
        }

    def to_rows(self) -> list[tuple]:
        """Long-format rows (checkpoint, suite, task, dataset, metric, value): results.csv."""
        label, suite = self.checkpoint["label"], self.suite["name"]
        return [
            (label, suite, task.name, task.dataset, metric, value)
            for task in self.tasks
            for metric, value in task.metrics.items()
        ]

    def task(self, name: str) -> TaskResult | None:
        return next((t for t in self.tasks if t.name == name), None)

    @property
    def suite_name(self) -> str:
        return str(self.suite["name"])

    @property
    def checkpoint_key(self) -> str:
        """Identity of the checkpoint across suites: its content hash when known, else its path/label."""
        return str(self.checkpoint.get("sha256") or self.checkpoint.get("path") or self.checkpoint["label"])

    @property
    def train_config(self) -> dict[str, Any] | None:
        config = self.checkpoint.get("train_config")
        return config if isinstance(config, dict) else None

    @property
    def run_dir(self) -> Path | None:
        run_dir = self.checkpoint.get("run_dir")
        return Path(run_dir) if run_dir else None
