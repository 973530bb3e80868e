"""Suite specs: TOML data files (built-ins in the top-level ``suites/`` folder, shipped as ``cyclip_bench.suites``)
loaded strictly into dataclasses. An unknown key is an error naming it and the keys allowed.

A suite may ``include`` other suites (built-in names, or paths ending in ``.toml`` relative to the including
file): their tasks come first, in include order, under their own names; ``[overrides.<task>]`` tables change an
included task's dataset, split or options; the file's own ``[[tasks]]`` follow. The suite's ``sha256`` is taken
over the resolved suite (name, version, every task), so how a suite is split into files does not change it."""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.fileio import sha256_bytes
from cyclip_bench.registry import did_you_mean
from cyclip_bench.validation import FileName, NonEmptyStr, OneChar, PathStr, PositiveInt, check_fields

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DatasetRef = str | dict[str, str]  # a catalog name, or {"path", "format", "metadata", "train_path", ...}


@dataclass(frozen=True)
class TaskSpec:
    """One task instance: a task kind applied to a dataset with kind-specific options."""

    name: str
    kind: str
    dataset: DatasetRef | None = None
    split: str = "test"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    version: int
    description: str
    tasks: tuple[TaskSpec, ...]
    source: str  # "builtin" | "path"
    path: str
    sha256: str  # of the resolved suite: name, version and every task (``suite_sha256``)

    def task(self, name: str) -> TaskSpec:
        for task in self.tasks:
            if task.name == name:
                return task
        names = [t.name for t in self.tasks]
        raise UserError(f"suite {self.name!r} has no task {name!r}.{did_you_mean(name, names)}")


def _strict(table: dict, cls: type, where: str) -> None:
    """Unknown keys first, with did-you-mean, against the fields of the table's form ``cls``."""
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(map(str, table)) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}.{did_you_mean(unknown[0], sorted(allowed))} "
            f"Allowed: {', '.join(sorted(allowed))}"
        )


def dataset_label(ref: DatasetRef | None) -> str:
    """A short name for results: the catalog name, or the path of a custom dataset."""
    if ref is None:
        return ""
    return ref if isinstance(ref, str) else str(ref.get("path", ""))


@dataclass(frozen=True)
class _SuiteTable:
    """The form of a suite file's top level (checked by ``cyclip_bench.validation``)."""

    name: FileName  # results are <label>__<name>.json
    version: PositiveInt
    description: str = ""
    include: list[NonEmptyStr] = field(default_factory=list)  # built-in names or .toml paths (this file's folder)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # included task → what changes
    tasks: list[dict[str, Any]] = field(default_factory=list)  # the suite's own tasks, after the included ones


@dataclass(frozen=True)
class _TaskTable:
    """The form of one ``[[tasks]]`` table; ``options`` are checked by the task kind's Options dataclass."""

    name: NonEmptyStr
    kind: NonEmptyStr
    dataset: NonEmptyStr | dict[str, Any] | None = None
    split: FileName = "test"  # also a folder name under a dataset root (DATA_ROOT/<split>/)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _DatasetTable:
    """A custom dataset reference (same keys as the data catalog's path references). ``path`` is the dataset
    folder (with ``train/`` and ``test/`` split folders) or one split's folder (the test split); ``train_path``
    names the train split's folder explicitly (docs/formats.md, "Splits of a dataset given by path")."""

    path: Annotated[PathStr, Field(min_length=1)]
    format: NonEmptyStr | None = None
    metadata: PathStr | None = None
    name: NonEmptyStr | None = None
    image_key: NonEmptyStr | None = None
    caption_key: NonEmptyStr | None = None
    delimiter: OneChar | None = None
    train_path: Annotated[PathStr, Field(min_length=1)] | None = None


@dataclass(frozen=True)
class _OverrideTable:
    """An ``[overrides.<task>]`` table: what changes in an included task (its name and kind stay). ``options``
    are merged key by key over the included task's options; ``dataset`` and ``split`` replace its own."""

    dataset: NonEmptyStr | dict[str, Any] | None = None
    split: FileName | None = None
    options: dict[str, Any] | None = None


def _key(key: str) -> str:
    return f"key {key!r} ="


def _parse_dataset(value: Any, where: str) -> DatasetRef | None:
    if value is None or isinstance(value, str):
        return value
    _strict(value, _DatasetTable, f"{where}.dataset")
    checked = check_fields(_DatasetTable, value, f"{where}.dataset", _key)
    return {k: str(v) for k, v in checked.items() if v is not None}


def _parse_task(table: Any, at: str) -> TaskSpec:
    if not isinstance(table, dict):
        raise ConfigError(f"{at}: each task must be a table")
    _strict(table, TaskSpec, at)
    task = check_fields(_TaskTable, table, at, _key)
    return TaskSpec(
        name=task["name"],
        kind=task["kind"],
        dataset=_parse_dataset(task.get("dataset"), at),
        split=task.get("split", "test"),
        options=dict(task.get("options", {})),
    )


def suite_sha256(name: str, version: int, tasks: tuple[TaskSpec, ...]) -> str:
    """sha256 of the resolved suite as canonical JSON: comments, layout, the description and which files the
    tasks came from (includes) do not change it; any task's kind, dataset, split or option does."""
    doc = {"name": name, "version": version, "tasks": [dataclasses.asdict(t) for t in tasks]}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return sha256_bytes(text.encode("utf-8"))


# ---- finding suite files -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Source:
    """One suite file: its bytes, where it came from, and the folder its relative includes resolve against."""

    raw: bytes
    source: str  # "builtin" | "path"
    shown: str  # "<name>.toml" for a built-in, the resolved path of a file (messages, results, include chains)
    folder: Path | None  # None for a built-in: it includes built-ins


def builtin_suite_names() -> list[str]:
    folder = resources.files("cyclip_bench.suites")
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def _builtin(name: str) -> _Source:
    resource = resources.files("cyclip_bench.suites").joinpath(f"{name}.toml")
    return _Source(resource.read_bytes(), "builtin", f"{name}.toml", None)


def _file(path: Path) -> _Source:
    return _Source(path.read_bytes(), "path", str(path.resolve()), path.resolve().parent)


def _unknown_builtin(name: str, names: list[str]) -> str:
    return f"unknown suite {name!r}.{did_you_mean(name, names)} Built-in: {', '.join(names)}"


def _included(entry: str, parent: _Source, where: str) -> _Source:
    """An ``include`` entry: a path ending in .toml, relative to the including file (in a built-in suite: the
    built-in of that file name), or a built-in suite's name."""
    names = builtin_suite_names()
    if entry.endswith(".toml") and parent.folder is not None:
        path = parent.folder / entry
        if not path.is_file():
            raise ConfigError(f"{where}: include {entry!r}: suite file {path} not found")
        return _file(path)
    name = entry[: -len(".toml")] if entry.endswith(".toml") else entry
    if name not in names:
        raise ConfigError(f"{where}: include: {_unknown_builtin(name, names)}; or a path ending in .toml")
    return _builtin(name)


# ---- resolving includes ------------------------------------------------------------------------------------------
def _resolve(src: _Source, chain: tuple[str, ...]) -> tuple[dict[str, Any], tuple[TaskSpec, ...]]:
    """The checked top-level values of ``src`` and its tasks with every include resolved (``chain``: the files
    that include it, outermost first, to name a cycle)."""
    if src.shown in chain:
        cycle = " → ".join((*chain[chain.index(src.shown) :], src.shown))
        raise ConfigError(f"suite include cycle: {cycle}")
    where = f"suite {src.shown}"
    try:
        data = tomllib.loads(src.raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{where}: invalid TOML ({err})") from None
    _strict(data, _SuiteTable, where)
    top = check_fields(_SuiteTable, data, where, _key)

    included: dict[str, tuple[TaskSpec, str]] = {}  # task name → (its definition, the suite it came from)
    for entry in top.get("include", []):
        child = _included(entry, src, where)
        if top["include"].count(entry) > 1:
            raise ConfigError(f"{where}: include lists {entry!r} twice")
        for task in _resolve(child, (*chain, src.shown))[1]:
            seen = included.setdefault(task.name, (task, child.shown))
            if seen[0] != task:  # the same task reached through two includes is one task, at its first place
                raise ConfigError(
                    f"{where}: task {task.name!r} is included from {seen[1]} and from {child.shown} with different "
                    "definitions; include only one of them, or rename the task in one"
                )
    for name, table in top.get("overrides", {}).items():
        included[name] = (_override(included, name, table, f"{where} overrides.{name}"), included[name][1])

    tasks = [spec for spec, _ in included.values()]
    for i, table in enumerate(top.get("tasks", [])):
        at = f"{where} tasks[{i}]"
        task = _parse_task(table, at)
        if task.name in included:
            raise ConfigError(
                f"{at}: task {task.name!r} is already included from {included[task.name][1]}; change it with an "
                f"[overrides.{task.name}] table, or give this task another name"
            )
        tasks.append(task)
    names = [t.name for t in tasks]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ConfigError(f"{where}: task name {duplicate!r} appears twice")
    if not tasks:
        raise ConfigError(f'{where}: no tasks: give [[tasks]] tables or include = ["<suite>", ...]')
    return top, tuple(tasks)


def _override(included: dict[str, tuple[TaskSpec, str]], name: str, table: dict, at: str) -> TaskSpec:
    """An included task with its ``[overrides.<name>]`` table applied."""
    if name not in included:
        known = list(included)
        raise ConfigError(
            f"{at}: no included task {name!r} to override.{did_you_mean(name, known)} "
            f"Included: {', '.join(known) or 'none'}"
        )
    _strict(table, _OverrideTable, at)
    checked = check_fields(_OverrideTable, table, at, _key)
    if not checked:
        raise ConfigError(f"{at}: changes nothing (give dataset, split or options)")
    spec = included[name][0]
    changes: dict[str, Any] = {}
    if "dataset" in checked:
        changes["dataset"] = _parse_dataset(checked["dataset"], at)
    if "split" in checked:
        changes["split"] = checked["split"]
    if "options" in checked:
        changes["options"] = {**spec.options, **checked["options"]}
    return dataclasses.replace(spec, **changes)


def load_suite(name_or_path: str | Path) -> SuiteSpec:
    """A built-in suite by name, or a user TOML file by path; its includes resolved."""
    text_path = str(name_or_path)
    if text_path.endswith(".toml") or Path(text_path).is_file():
        path = Path(text_path)
        if not path.is_file():
            raise UserError(f"suite file {text_path} not found")
        src = _file(path)
    else:
        names = builtin_suite_names()
        if text_path not in names:
            raise UserError(f"{_unknown_builtin(text_path, names)}; or pass a .toml file")
        src = _builtin(text_path)
    top, tasks = _resolve(src, ())
    return SuiteSpec(
        name=top["name"],
        version=top["version"],
        description=top.get("description", ""),
        tasks=tasks,
        source=src.source,
        path=src.shown,
        sha256=suite_sha256(top["name"], top["version"], tasks),
    )


def builtin_suites() -> list[SuiteSpec]:
    return [load_suite(name) for name in builtin_suite_names()]
