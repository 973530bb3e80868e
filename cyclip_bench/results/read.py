"""The strict reader of results files (docs/contracts.md): `load` one file, `load_all` the RESULTS of a report.

Everything the report shows comes from these records, so validation is strict: a file of an unknown schema
version, or one whose shape is not what the contract says, is a UserError naming the file and the field —
never a silently skipped task or an empty table cell.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from cyclip_bench.errors import DataError, UserError
from cyclip_bench.results.model import KNOWN_SCHEMA_VERSIONS, SCHEMA_VERSION, Result, TaskResult, resolve_info

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that orders the numbers inside a name by value: ``clip-s2`` before ``clip-s10`` (plain string order
    puts seed 10 between seeds 1 and 2). Equal values written differently (``s01``, ``s1``) fall back to the name."""
    parts = _DIGITS.split(name)
    return tuple((1, int(part), "") if i % 2 else (0, 0, part) for i, part in enumerate(parts)), name


def collect_result_files(inputs: list[Path]) -> list[Path]:
    """Expand RESULTS arguments: files as given, folders → their *.json files in natural name order (seed 2 before
    seed 10); duplicates dropped."""
    if not inputs:
        raise UserError("no RESULTS given: pass result JSON files or folders written by `cyclip-bench eval`")
    files: list[Path] = []
    seen: set[Path] = set()
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            listed = list(item.glob("*.json"))
            for path in listed:  # skipped silently, a broken link would drop a checkpoint from the report unseen
                if path.is_symlink() and not path.exists():
                    raise UserError(f"{path}: a link to {os.readlink(path)}, which does not exist")
            found = sorted((p for p in listed if p.is_file()), key=lambda p: natural_key(p.name))
            if not found:
                raise UserError(f"{item}: folder has no result JSON files (expected <checkpoint>__<suite>.json)")
        elif item.is_file():
            found = [item]
        else:
            raise UserError(f"{item}: no such results file or folder")
        for path in found:
            resolved = path.resolve()
            if resolved not in seen:
                seen.add(resolved)
                files.append(path)
    return files


def load(path: Path) -> Result:
    """Read and validate one results JSON; a problem is one UserError line naming the file and field."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read results file ({err.__class__.__name__}: {err})") from err
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from err
    return parse_result(doc, Path(path))


def parse_result(doc: Any, path: Path) -> Result:
    where = str(path)
    if not isinstance(doc, dict):
        raise UserError(f"{where}: results must be a JSON object, got {type(doc).__name__}")
    version = doc.get("schema_version")
    if version is None:
        raise UserError(f"{where}: missing 'schema_version' (is this a results file written by `cyclip-bench eval`?)")
    if isinstance(version, bool) or version not in KNOWN_SCHEMA_VERSIONS:
        known = ", ".join(str(v) for v in KNOWN_SCHEMA_VERSIONS)
        raise UserError(f"{where}: unknown schema_version {version!r} (this cyclip-bench reads: {known})")
    suite = _require_dict(doc, "suite", where)
    _require_str(suite, "name", f"{where}: suite")
    checkpoint = _require_dict(doc, "checkpoint", where)
    label = _require_str(checkpoint, "label", f"{where}: checkpoint")
    run = doc.get("run") or {}
    if not isinstance(run, dict):
        raise UserError(f"{where}: 'run' must be an object")
    tasks_doc = doc.get("tasks")
    if not isinstance(tasks_doc, list):
        raise UserError(f"{where}: 'tasks' must be a list of task results")
    tasks = [_parse_task(task, f"{where}: tasks[{i}]") for i, task in enumerate(tasks_doc)]
    names = [task.name for task in tasks]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise UserError(f"{where}: task name(s) appear more than once: {', '.join(duplicated)}")
    return Result(
        schema_version=int(version),
        suite=suite,
        checkpoint=checkpoint,
        run=run,
        tasks=tasks,
        path=path,
        label=label,
        raw_label=label,
    )


def _parse_task(doc: Any, where: str) -> TaskResult:
    if not isinstance(doc, dict):
        raise UserError(f"{where}: must be an object")
    name = _require_str(doc, "name", where)
    where = f"{where} ({name})"
    kind = _require_str(doc, "kind", where)
    dataset = doc.get("dataset")
    dataset = "" if dataset is None else str(dataset)
    metrics_doc = _require_dict(doc, "metrics", where)
    metrics: dict[str, float | None] = {}
    for metric, value in metrics_doc.items():
        if value is None:
            metrics[str(metric)] = None
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics[str(metric)] = None if math.isnan(float(value)) else float(value)
        else:
            raise UserError(f"{where}: metric {metric!r} must be a number or null, got {type(value).__name__}")
    metric_info = doc.get("metric_info") or {}
    if not isinstance(metric_info, dict) or not all(isinstance(v, dict) for v in metric_info.values()):
        raise UserError(f"{where}: 'metric_info' must map metric names to objects")
    per_example_doc = doc.get("per_example") or {}
    if not isinstance(per_example_doc, dict):
        raise UserError(f"{where}: 'per_example' must map names to arrays")
    per_example: dict[str, list[float]] = {}
    for key, values in per_example_doc.items():
        if not isinstance(values, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            raise UserError(f"{where}: per_example[{key!r}] must be an array of numbers")
        per_example[str(key)] = values
    for metric, info in metric_info.items():
        _check_metric_info(info, f"{where}: metric_info[{metric!r}]")
        ref = info.get("per_example")
        if ref is not None and ref not in per_example:
            raise UserError(f"{where}: metric_info[{metric!r}].per_example names {ref!r}, not in per_example")
    class_names = doc.get("class_names")
    if class_names is not None and (
        not isinstance(class_names, list) or not all(isinstance(c, str) for c in class_names)
    ):
        raise UserError(f"{where}: 'class_names' must be a list of strings")
    extra = doc.get("extra") or {}
    if not isinstance(extra, dict):
        raise UserError(f"{where}: 'extra' must be an object")
    if kind == "effective_robustness":
        _check_points(extra, where)
    counts = _parse_counts(doc.get("counts") or {}, metrics, where)
    split = doc.get("split")
    # What the file stores, completed from the task kind's declaration (older files stored no metric_info).
    infos = {str(m): resolve_info(kind, str(m), metric_info.get(m)) for m in [*metric_info, *metrics]}
    task = TaskResult(
        name=name,
        kind=kind,
        dataset=dataset,
        split=None if split is None else str(split),
        metrics=metrics,
        metric_info=infos,
        per_example=per_example,
        class_names=class_names,
        extra=extra,
        counts=counts,
    )
    check_consistency(task, where)
    return task


# Which per-example arrays share a length, and the `extra` entry that states it: (name prefix, extra key), the
# first matching prefix wins. Retrieval has one array per image (image→text) and one per caption (text→image).
_LENGTH_GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "retrieval": (("image_to_text_", "num_images"), ("text_to_image_", "num_captions"), ("", "num_examples")),
    # eval/tasks/compositional.py: one array per hard-negative subset, two choices per 2x2 group, one per group.
    "compositional": (
        *(
            (f"image_to_text/{subset}", f"num_{subset}")
            for subset in ("add_att", "add_obj", "replace_att", "replace_obj", "replace_rel", "swap_att", "swap_obj")
        ),
        ("group_image_to_text", "num_pairs"),
        ("group_text_to_image", "num_pairs"),
        ("disagreement", "num_pairs"),
        ("", "num_groups"),
    ),
}
_DEFAULT_LENGTH_GROUPS = (("", "num_examples"),)
_CLASS_INDEX_ARRAYS = ("label", "prediction")
HEADLINE_TOLERANCE = 1e-6  # |metric − mean(per-example)|: older files stored float32-rounded fractions
COUNTS_TOLERANCE = 1e-9  # |metric − hits / n|: files with counts store hits / n in float64


def check_consistency(task: TaskResult, where: str) -> None:
    """A task's numbers must agree with each other, or the report would show nonsense with confidence:
    per-example arrays have the stated length (``extra.num_examples``, ``num_images``, ``num_captions``) and,
    where none is stated, arrays of one group have one length; a fraction metric's array holds only 0 and 1;
    ``label`` / ``prediction`` are class indices in range; a metric equals the mean of its per-example array
    (within 1e-6) and ``hits / n`` of its counts. Otherwise a DataError naming the task and field."""
    _check_lengths(task, where)
    _check_class_indices(task, where)
    for metric, value in task.metrics.items():
        values = task.per_example_of(metric)
        if values is None:
            continue
        key = task.per_example_key(metric)
        if task.unit(metric) == "fraction":
            bad = next((v for v in values if v not in (0, 1)), None)
            if bad is not None:
                raise DataError(
                    f"{where}: per_example[{key!r}] holds {bad!r}; the per-example array of fraction metric "
                    f"{metric!r} must hold only 0 and 1"
                )
        mean = math.fsum(values) / len(values) if values else None
        agrees = (value is None and mean is None) or (
            value is not None
            and mean is not None
            and math.isclose(value, mean, rel_tol=HEADLINE_TOLERANCE, abs_tol=HEADLINE_TOLERANCE)
        )
        if not agrees:
            raise DataError(
                f"{where}: metric {metric!r} = {value!r} but the mean of per_example[{key!r}] is {mean!r} "
                f"(expected equal within {HEADLINE_TOLERANCE:g})"
            )
        count = task.counts.get(metric)
        if count is not None and (len(values) != count["n"] or math.fsum(values) != count["hits"]):
            raise DataError(
                f"{where}: counts[{metric!r}] = {count['hits']}/{count['n']} but per_example[{key!r}] has "
                f"{math.fsum(values):g} hits in {len(values)} entries"
            )


def _check_lengths(task: TaskResult, where: str) -> None:
    groups = _LENGTH_GROUPS.get(task.kind, _DEFAULT_LENGTH_GROUPS)
    first: dict[str, tuple[str, int]] = {}  # extra key → (first array, its length)
    for key, values in task.per_example.items():
        length_key = next(k for p, k in groups if key.startswith(p))
        stated = task.extra.get(length_key)
        if isinstance(stated, int) and not isinstance(stated, bool):
            if len(values) != stated:
                raise DataError(
                    f"{where}: per_example[{key!r}] has {len(values)} entries, expected {stated} (extra.{length_key})"
                )
        elif length_key in first and first[length_key][1] != len(values):
            other, n = first[length_key]
            raise DataError(
                f"{where}: per_example[{key!r}] has {len(values)} entries but per_example[{other!r}] has {n} "
                "(every per-example array of a task has one entry per example)"
            )
        first.setdefault(length_key, (key, len(values)))


def _check_class_indices(task: TaskResult, where: str) -> None:
    if task.class_names is not None:
        num_classes, source = len(task.class_names), "class_names"
    elif isinstance(task.extra.get("num_classes"), int):
        num_classes, source = int(task.extra["num_classes"]), "extra.num_classes"
    else:
        num_classes, source = None, ""
    for key in _CLASS_INDEX_ARRAYS:
        for value in task.per_example.get(key, ()):
            integer = math.isfinite(value) and value == int(value)
            if not integer or value < 0 or (num_classes is not None and value >= num_classes):
                expected = "≥ 0" if num_classes is None else f"0..{num_classes - 1} ({num_classes} classes in {source})"
                raise DataError(f"{where}: per_example[{key!r}] holds {value!r}; expected a class index {expected}")


def _parse_counts(doc: Any, metrics: dict[str, float | None], where: str) -> dict[str, dict[str, int]]:
    """``counts``: {metric: {"hits": int, "n": int}} with 0 ≤ hits ≤ n, the metric equal to hits / n."""
    if not isinstance(doc, dict):
        raise DataError(f'{where}: \'counts\' must map metric names to {{"hits", "n"}} objects')
    out: dict[str, dict[str, int]] = {}
    for metric, count in doc.items():
        field_where = f"{where}: counts[{metric!r}]"
        if not isinstance(count, dict) or set(count) != {"hits", "n"}:
            raise DataError(f"{field_where} must be an object with exactly 'hits' and 'n'")
        hits, n = count["hits"], count["n"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (hits, n)) or not 0 <= hits <= n:
            raise DataError(f"{field_where} = {hits!r}/{n!r}: expected integers with 0 ≤ hits ≤ n")
        if metric not in metrics:
            raise DataError(f"{field_where}: no metric {metric!r} in 'metrics'")
        value = metrics[metric]
        expected = hits / n if n else None
        if (value is None) != (expected is None) or (
            value is not None and expected is not None and abs(value - expected) > COUNTS_TOLERANCE
        ):
            raise DataError(f"{field_where} = {hits}/{n} = {expected!r} but metric {metric!r} = {value!r}")
        out[str(metric)] = {"hits": hits, "n": n}
    return out


_METRIC_INFO_TYPES = {"higher_is_better": bool, "unit": str, "per_example": str}


def _check_metric_info(info: dict[str, Any], where: str) -> None:
    for key, value in info.items():
        expected = _METRIC_INFO_TYPES.get(key)
        if expected is None:
            raise UserError(f"{where}: unknown key {key!r} (expected {', '.join(_METRIC_INFO_TYPES)})")
        if value is not None and not isinstance(value, expected):
            raise UserError(f"{where}.{key} must be {expected.__name__} or null, got {type(value).__name__}")


def _check_points(extra: dict[str, Any], where: str) -> None:
    points = extra.get("points", [])
    if not isinstance(points, list):
        raise UserError(f"{where}: extra.points must be a list")
    for i, point in enumerate(points):
        if not isinstance(point, dict):
            raise UserError(f"{where}: extra.points[{i}] must be an object")
        for key in ("id_top1", "shift_top1"):
            value = point.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise UserError(f"{where}: extra.points[{i}].{key} must be a number")


def _require_dict(doc: dict, key: str, where: str) -> dict:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise UserError(f"{where}: missing or invalid '{key}' (expected an object)")
    return value


def _require_str(doc: dict, key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise UserError(f"{where}: missing or invalid '{key}' (expected a non-empty string)")
    return value


def load_all(inputs: list[Path]) -> list[Result]:
    """Load every results file, give each checkpoint a unique display label, refuse a repeated
    (checkpoint, suite)."""
    results = [load(path) for path in collect_result_files(list(inputs))]
    # A label shared by two different checkpoints would merge their columns: suffix the hash to keep
    # them apart.
    by_label: dict[str, set[str]] = {}
    for res in results:
        by_label.setdefault(res.raw_label, set()).add(res.checkpoint_key)
    labelled: list[Result] = []
    seen: dict[tuple[str, str], Path] = {}
    for res in results:
        label = res.raw_label
        if len(by_label[label]) > 1:
            label = f"{label} [{res.checkpoint_key[:8]}]"
        key = (res.checkpoint_key, res.suite_name)
        if key in seen:
            raise UserError(
                f"{res.path}: checkpoint {res.raw_label!r} on suite {res.suite_name!r} is also in "
                f"{seen[key]}; "
                "pass each (checkpoint, suite) result once"
            )
        seen[key] = res.path
        labelled.append(_with_label(res, label))
    return labelled


def _with_label(res: Result, label: str) -> Result:
    return dataclasses.replace(res, label=label)


def read_result(path: Path) -> dict:
    """The document of one results file as a dict, after `load`'s checks: eval reads its own earlier files in
    --out (labels, suite versions, --resume) and copies their records."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # ValueError: not JSON, or not UTF-8
        raise UserError(f"cannot read results {path}: {err}") from None
    if not isinstance(obj, dict) or obj.get("schema_version") != SCHEMA_VERSION:
        found = obj.get("schema_version") if isinstance(obj, dict) else type(obj).__name__
        raise UserError(f"{path}: schema_version {found!r}, expected {SCHEMA_VERSION}")
    parse_result(obj, Path(path))
    return obj
