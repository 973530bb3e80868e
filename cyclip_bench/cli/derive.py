"""A Typer command's flags derived from a config dataclass whose fields are ``option(...)`` (cyclip_bench.options).

Each field with ``cli=True`` becomes one option named by its flag, typed by its annotation (unwrapped to what
the command line parses: ``int``, ``float``, ``str``, a ``--x/--no-x`` switch for ``bool``), with the field's help
and default. Every option defaults to None, meaning "not given", so the config's own precedence (flags > TOML >
defaults) decides; ``config_flags`` turns the parsed values into that config's keyword arguments.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import typer

from cyclip_bench.options import OptionSpec, option_spec
from cyclip_bench.validation import Paths, PathStr, PathValue, flag_name

T = TypeVar("T")


def _cli_type(hint: Any) -> Any:
    """Annotated[...] → its type; X | None → X; Literal[...] → str; Path → str."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _cli_type(typing.get_args(hint)[0])
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return _cli_type(inner)
    if origin is Literal:
        return str
    if hint is Path:
        return str
    if hint in (bool, int, float, str):
        return hint
    raise TypeError(f"no command-line type for {hint!r}: declare cli_type= in its option()")


def _strip_optional(hint: Any) -> Any:
    """``X | None`` → X (Annotated kept: its metadata tells a path from other strings)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return inner
    return hint


_PATH_HINTS = (Path, PathStr, PathValue, Paths)
_FOLDER_FIELDS = ("out", "logs", "data_root", "cache_dir", "out_dir")


def metavar_for(name: str, hint: Any, cli_type: Any) -> str | None:
    """What a flag's value looks like in the help, in words rather than a Python type name: the choices of a
    Literal (``fp32|bf16``), ``DIR``/``PATH`` for folders and files, ``N`` for an integer, ``NUMBER`` for a float,
    else the field's name (``--model MODEL``). None for a switch."""
    if cli_type is bool:
        return None
    hint = _strip_optional(hint)
    bare = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    if typing.get_origin(bare) is Literal:
        return "|".join(str(choice) for choice in typing.get_args(bare))
    element = typing.get_args(cli_type)[0] if typing.get_origin(cli_type) is list else cli_type
    if name in _FOLDER_FIELDS:
        return "DIR"
    if hint in _PATH_HINTS or element is Path:
        return "PATH"
    if element is int:
        return "N"
    if element is float:
        return "NUMBER"
    return name.rsplit("_", 1)[-1].upper()


def _default_text(field: dataclasses.Field, spec: OptionSpec) -> str:
    if spec.default_help:
        return f" [default: {spec.default_help}]"
    default = field.default
    if default is dataclasses.MISSING or default is None or default == "":
        return ""
    if isinstance(default, bool):
        return f" [default: {'on' if default else 'off'}]"
    return f" [default: {default}]"


def cli_fields(cls: type) -> list[tuple[dataclasses.Field, OptionSpec]]:
    """The fields of ``cls`` that are flags, in declaration order."""
    found = []
    for field in dataclasses.fields(cls):
        spec = option_spec(field)
        if spec is not None and spec.cli:
            found.append((field, spec))
    return found


def flag_of(field: dataclasses.Field, spec: OptionSpec) -> str:
    return spec.flag or flag_name(field.name)


def option_parameters(cls: type) -> list[inspect.Parameter]:
    """One keyword parameter per flag of ``cls``, in the form Typer reads from a function's signature."""
    hints = typing.get_type_hints(cls, include_extras=True)
    params = []
    for field, spec in cli_fields(cls):
        cli_type = spec.cli_type or _cli_type(hints[field.name])
        help_text = spec.help + _default_text(field, spec)
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if spec.required and not required:  # needed, but may come from a TOML file: the help says so
            help_text += " [required]"
        first = ... if required else None  # not given → None: the config's own default (or precedence) decides
        if spec.argument:
            metavar = spec.metavar or field.name.upper()
            default = typer.Argument(first, help=help_text, show_default=False, metavar=metavar)
        else:
            flag = flag_of(field, spec)
            decls = [f"{flag}/--no-{flag[2:]}" if cli_type is bool else flag, *([spec.short] if spec.short else [])]
            metavar = spec.metavar or metavar_for(field.name, hints[field.name], cli_type)
            default = typer.Option(first, *decls, help=help_text, show_default=False, metavar=metavar)
        kind = inspect.Parameter.KEYWORD_ONLY
        params.append(inspect.Parameter(field.name, kind, default=default, annotation=cli_type))
    return params


def config_flags(cls: type, parsed: dict[str, Any]) -> dict[str, Any]:
    """Typer's parsed values → the config's keyword arguments (each field's ``parse`` applied; None = not given)."""
    out = {}
    for field, spec in cli_fields(cls):
        value = parsed.get(field.name)
        out[field.name] = spec.parse(value) if spec.parse is not None else value
    return out


def config_from_flags(cls: type[T], parsed: dict[str, Any], **resolved: Any) -> T:
    """``cls`` built from Typer's parsed values: flags not given (None) keep the field's default; ``resolved``
    adds (or overrides) values the command resolved itself. For configs without a TOML layer (train has
    ``from_sources``)."""
    given = {k: v for k, v in config_flags(cls, parsed).items() if v is not None}
    return cls(**{**given, **resolved})


def derived_command(
    cls: type, extra: list[inspect.Parameter], body: Callable[..., None], doc: str
) -> Callable[..., None]:
    """A function whose signature is ``cls``'s flags plus ``extra`` (command-only options), calling ``body``."""

    def command(**kwargs: Any) -> None:
        body(**kwargs)

    params = [*option_parameters(cls), *extra]
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = doc
    command.__name__ = body.__name__
    return command
