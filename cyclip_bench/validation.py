"""One validation layer for configuration values, whatever their source (flags, TOML files, suite options,
checkpoint entries).

A config is a frozen dataclass whose fields declare their type and range once, as ``Annotated`` types built
from the aliases below (pydantic v2 constraints). ``check_fields(cls, values, ...)`` validates a mapping of raw
values against those declarations — strictly: a string is never a number, a float never an integer, ``inf`` and
``nan`` are never finite numbers — and turns the first problem into ONE ``ConfigError`` line naming where the
value came from (the flag, or the file and key) and what was expected. Nothing is written before this runs.

Also here, because every command needs them: names that become file names (``check_name``, ``safe_label``),
``--device`` availability, and output folders that cannot be written (``check_output_dir``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import os
import re
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from typing_extensions import NotRequired, Required, TypedDict

from cyclip_bench.errors import ConfigError

# A name that becomes part of a file name (run, suite, label) must leave room for the rest of the name
# (`<label>__<suite>.json`) within the usual 255-byte limit of a file name.
MAX_NAME_BYTES = 120


def lists_as_tuples(value: Any) -> Any:
    """A list where a tuple is declared (TOML and JSON have lists; frozen configs hold tuples)."""
    return tuple(value) if isinstance(value, list) else value


def _no_nul(value: Any) -> Any:
    if "\x00" in str(value):
        raise ValueError("a path without NUL characters")
    return value


def name_problem(value: str) -> str | None:
    """Why ``value`` cannot be used as one file-name component (None when it can)."""
    if not value:
        return "it is empty"
    if value in (".", ".."):
        return f"{value!r} names a folder, not a file"
    if "/" in value or "\\" in value:
        return "it contains a path separator"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "it contains a control character (NUL, newline, …)"
    if len(value.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    return None


def _file_name(value: str) -> str:
    problem = name_problem(value)
    if problem is not None:
        raise ValueError(f"a name usable as a file name ({problem})")
    return value


def _one_char(value: str) -> str:
    if len(value) != 1:
        raise ValueError("one character")
    return value


def _device_syntax(value: str) -> str:
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value):
        raise ValueError("auto, cpu, cuda, cuda:N or mps")
    return value


# ---- field types: declare type and range once --------------------------------------------------------------
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]  # torch.manual_seed takes a 64-bit integer
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
OpenFraction = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]  # strictly between 0 and 1
PositiveInts = Annotated[tuple[PositiveInt, ...], BeforeValidator(lists_as_tuples), Field(min_length=1)]
Names = Annotated[tuple[str, ...], BeforeValidator(lists_as_tuples)]
NonEmptyStr = Annotated[str, Field(min_length=1)]
OneChar = Annotated[str, AfterValidator(_one_char)]
PathStr = Annotated[str, AfterValidator(_no_nul)]  # a path kept as a string (TOML, flags)
PathValue = Annotated[Path, Strict(False), AfterValidator(_no_nul)]  # a path; a string is accepted
Paths = Annotated[tuple[PathValue, ...], BeforeValidator(lists_as_tuples)]
FileName = Annotated[str, AfterValidator(_file_name)]  # becomes (part of) a file name: one safe component
Device = Annotated[str, AfterValidator(_device_syntax)]


def at_least(minimum: int, why: str | None = None) -> Any:
    """An integer >= ``minimum``; ``why`` is said after the expectation in messages."""
    return Annotated[int, Field(ge=minimum, description=why)]


def float_range(ge: float | None = None, gt: float | None = None, lt: float | None = None) -> Any:
    return Annotated[float, Field(ge=ge, gt=gt, lt=lt, allow_inf_nan=False)]


# ---- checking ----------------------------------------------------------------------------------------------
def flag_name(field: str) -> str:
    """``batch_size`` → ``--batch-size``."""
    return "--" + field.replace("_", "-")


@functools.cache
def _adapter(cls: type, partial: bool = False) -> tuple[TypeAdapter, dict[str, Any]]:
    """A strict pydantic adapter over the dataclass's init fields (a TypedDict: field names never clash with
    pydantic's own attributes) and each field's resolved type hint. ``partial`` (another package's config
    dataclass): every field optional, and a field whose default is None also accepts None."""
    hints = typing.get_type_hints(cls, include_extras=True)
    annotations: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        hint = hints[f.name]
        if partial and f.default is None:
            hint = hint | None
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        annotations[f.name] = Required[hint] if required and not partial else NotRequired[hint]
    schema = TypedDict(f"{cls.__name__}Values", annotations)  # type: ignore[operator]
    schema.__pydantic_config__ = ConfigDict(strict=True, extra="forbid", arbitrary_types_allowed=True)
    return TypeAdapter(schema), {k: hints[k] for k in annotations}


def check_fields(
    cls: type,
    values: Mapping[str, Any],
    where: str = "",
    name: Callable[[str], str] = flag_name,
    partial: bool = False,
) -> dict[str, Any]:
    """Validate ``values`` against the annotated fields of dataclass ``cls``; return them converted (lists →
    tuples, str → Path where declared). The first problem is a ConfigError: ``<where>: <name(key)> <value>:
    expected <form>``. Unknown keys are errors too (callers that want did-you-mean check keys first)."""
    adapter, hints = _adapter(cls, partial)
    try:
        return dict(adapter.validate_python(dict(values)))
    except ValidationError as err:
        raise ConfigError(_message(err, hints, where, name)) from None


def check_instance(obj: Any, where: str = "", name: Callable[[str], str] = flag_name) -> None:
    """``check_fields`` on a dataclass instance's own values (for configs built directly in Python, from
    ``__post_init__``); the converted values (a path given as a string → Path, a list → tuple) are stored back,
    also on a frozen dataclass, so the config holds the declared types from then on."""
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init}
    for key, value in check_fields(type(obj), values, where, name).items():
        object.__setattr__(obj, key, value)


def check_value(value: Any, hint: Any, name: str) -> Any:
    """Validate one value (a flag that belongs to no config dataclass) against a type from this module."""
    try:
        return TypeAdapter(hint, config=ConfigDict(strict=True)).validate_python(value)
    except ValidationError as err:
        raise ConfigError(_message(err, {}, "", lambda _: name, single=True)) from None


def _message(err: ValidationError, hints: dict[str, Any], where: str, name: Callable[[str], str], single=False) -> str:
    errors = err.errors()
    first = errors[0]
    loc = first["loc"]
    key = "" if single else str(loc[0])
    rest = loc if single else loc[1:]
    prefix = f"{where}: " if where else ""
    if first["type"] in ("missing", "extra_forbidden"):
        what = "missing required" if first["type"] == "missing" else "unknown"
        return f"{prefix}{what} {name(key).removesuffix(' =')}"
    index = "".join(f"[{part}]" for part in rest if isinstance(part, int))
    # One value that fits no member of a union gives an error per member (their locations end in the member's
    # name): say every expectation; errors elsewhere (another index, the length) are left for the next run.
    same = [e for e in errors if _position(e["loc"], single) == _position(loc, single)]
    expected = " or ".join(dict.fromkeys(_expected(e) for e in same))
    why = _description(hints.get(key)) if first["type"] in _RANGE_ERRORS else None
    label = name(key)  # "--lr", "option 'topk'", or "key 'lr' =" for a key of a file
    label = f"{label[:-2]}{index} =" if label.endswith(" =") else f"{label}{index}"
    return f"{prefix}{label} {_show(first['input'])}: expected {expected}{f' ({why})' if why else ''}"


def _position(loc: tuple, single: bool) -> tuple:
    head, rest = ((), loc) if single else (loc[:1], loc[1:])
    return head + tuple(part for part in rest if isinstance(part, int))


_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "too_short", "too_long"}


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _expected(error: dict[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    simple = {
        "finite_number": "a finite number",
        "int_type": "an integer",
        "int_parsing": "an integer",
        "int_from_float": "an integer",
        "float_type": "a number",
        "float_parsing": "a number",
        "string_type": "a string",
        "bool_type": "true or false",
        "tuple_type": "a list",
        "list_type": "a list",
        "dict_type": "a table (mapping)",
        "path_type": "a path",
    }
    if kind in simple:
        return simple[kind]
    if kind == "greater_than":
        return f"a number > {_num(ctx['gt'])}"
    if kind == "greater_than_equal":
        return f"at least {_num(ctx['ge'])}"
    if kind == "less_than":
        return f"a number < {_num(ctx['lt'])}"
    if kind == "less_than_equal":
        return f"at most {_num(ctx['le'])}"
    if kind == "literal_error":
        return str(ctx.get("expected", "one of the allowed values"))
    if kind == "too_short":
        return f"at least {ctx['min_length']} item(s)"
    if kind == "too_long":
        return f"at most {ctx['max_length']} item(s)"
    if kind == "string_too_short":
        return "a non-empty string" if ctx.get("min_length") == 1 else f"at least {ctx['min_length']} characters"
    if kind == "string_too_long":
        return f"at most {ctx['max_length']} character(s)"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "is_instance_of":
        return f"a {ctx.get('class', 'value of the declared type')}"
    return re.sub(r"^Input should be ", "", str(error["msg"]))


def _description(hint: Any) -> str | None:
    """The ``description`` of the pydantic ``Field`` in an ``Annotated`` hint (or in a member of a union)."""
    if hint is None:
        return None
    if typing.get_origin(hint) is Annotated:
        for meta in typing.get_args(hint)[1:]:
            if isinstance(meta, FieldInfo) and meta.description:
                return meta.description
        return _description(typing.get_args(hint)[0])
    for arg in typing.get_args(hint):
        found = _description(arg)
        if found:
            return found
    return None


# ---- names that become file names --------------------------------------------------------------------------
def check_name(value: str, what: str) -> str:
    """A name that becomes a file or folder name must be one safe component; otherwise a ConfigError."""
    problem = name_problem(value) if isinstance(value, str) else "it is not a string"
    if problem is not None:
        raise ConfigError(f"{what} {_show(value)}: expected a name usable as a file name ({problem})")
    return value


def safe_label(value: str) -> str:
    """A label derived from a file or run name, made usable as one file-name component: path separators and
    control characters become ``_``, ``.``/``..``/empty become ``_``, and a name longer than MAX_NAME_BYTES is
    cut and given a short hash of the original (so two long names stay apart)."""
    text = re.sub(r"[/\\\x00-\x1f\x7f]", "_", value)
    if text in ("", ".", ".."):
        text = "_"
    if len(text.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        cut = text.encode("utf-8", "surrogatepass")[: MAX_NAME_BYTES - 9].decode("utf-8", "ignore")
        text = f"{cut}-{digest}"
    return text


# ---- the environment: devices and output folders -----------------------------------------------------------
def check_device_available(device: str, flag: str = "--device") -> None:
    """``--device cuda[:N]``/``mps`` on a machine without one is a one-line ConfigError (before any work)."""
    import torch

    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"{flag} {device}: no CUDA GPU is available on this machine (torch.cuda.is_available() is False); "
                f"use {flag} cpu or auto"
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise ConfigError(f"{flag} {device}: this machine has {count} CUDA device(s), numbered 0..{count - 1}")
    elif device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"{flag} mps: the Apple MPS backend is not available here; use {flag} cpu or auto")


def check_output_dir(path: str | os.PathLike, what: str) -> None:
    """Refuse, before any work, an output folder that is a file, lies under a file, or whose nearest existing
    folder is not writable (``os.access`` sees read-only file systems even for root). Creates nothing."""
    path = Path(path)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        where = "exists and is not a folder" if probe == path else f"{probe} is a file, not a folder"
        raise ConfigError(f"{what} {path}: {where}")
    if not os.access(probe, os.W_OK | os.X_OK):
        shown = "is not writable" if probe == path else f"cannot be created: {probe} is not writable"
        raise ConfigError(f"{what} {path}: {shown}")


def is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
