"""Suite specs: TOML data files (built-ins in the top-level ``suites/`` folder, shipped as
``cyclip_bench.suites``)
loaded strictly into dataclasses. An unknown key is an error naming it and the keys allowed."""

from __future__ import annotations

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
    sha256: str  # of the TOML file's bytes

    def task(self, name: str) -> TaskSpec:
        for task in self.tasks:
            if task.name == name:
                return task
        names = [t.name for t in self.tasks]
        raise UserError(f"suite {self.name!r} has no task {name!r}.{did_you_mean(name, names)}")


def _strict(table: dict, cls: type, where: str) -> None:
    """Unknown keys first, with did-you-mean (SuiteSpec's provenance fields are not keys of the file)."""
    allowed = {f.name for f in fields(cls)} - ({"source", "path", "sha256"} if cls is SuiteSpec else set())
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
    tasks: Annotated[list[dict[str, Any]], Field(min_length=1)]
    description: str = ""


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


def _key(key: str) -> str:
    return f"key {key!r} ="


def _parse_dataset(value: Any, where: str) -> DatasetRef | None:
    if value is None or isinstance(value, str):
        return value
    _strict(value, _DatasetTable, f"{where}.dataset")
    checked = check_fields(_DatasetTable, value, f"{where}.dataset", _key)
    return {k: str(v) for k, v in checked.items() if v is not None}


def parse_suite(data: dict, source: str, path: str, sha256: str) -> SuiteSpec:
    where = f"suite {path}"
    _strict(data, SuiteSpec, where)
    top = check_fields(_SuiteTable, data, where, _key)
    tasks = []
    for i, table in enumerate(top["tasks"]):
        at = f"{where} tasks[{i}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{at}: each task must be a table")
        _strict(table, TaskSpec, at)
        task = check_fields(_TaskTable, table, at, _key)
        tasks.append(
            TaskSpec(
                name=task["name"],
                kind=task["kind"],
                dataset=_parse_dataset(task.get("dataset"), at),
                split=task.get("split", "test"),
                options=dict(task.get("options", {})),
            )
        )
    names = [t.name for t in tasks]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ConfigError(f"{where}: task name {duplicate!r} appears twice")
    return SuiteSpec(
        name=top["name"],
        version=top["version"],
        description=top.get("description", ""),
        tasks=tuple(tasks),
        source=source,
        path=path,
        sha256=sha256,
    )


def builtin_suite_names() -> list[str]:
    folder = resources.files("cyclip_bench.suites")
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_suite(name_or_path: str | Path) -> SuiteSpec:
    """A built-in suite by name, or a user TOML file by path."""
    text_path = str(name_or_path)
    if text_path.endswith(".toml") or Path(text_path).is_file():
        path = Path(text_path)
        if not path.is_file():
            raise UserError(f"suite file {text_path} not found")
        raw, source, shown = path.read_bytes(), "path", str(path.resolve())
    else:
        names = builtin_suite_names()
        if text_path not in names:
            raise UserError(
                f"unknown suite {text_path!r}.{did_you_mean(text_path, names)} "
                f"Built-in: {', '.join(names)}; or pass a .toml file"
            )
        resource = resources.files("cyclip_bench.suites").joinpath(f"{text_path}.toml")
        raw, source, shown = resource.read_bytes(), "builtin", f"{text_path}.toml"
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"suite {shown}: invalid TOML ({err})") from None
    return parse_suite(data, source, shown, sha256_bytes(raw))


def builtin_suites() -> list[SuiteSpec]:
    return [load_suite(name) for name in builtin_suite_names()]
