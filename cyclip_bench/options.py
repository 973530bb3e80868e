"""A config field that is also a command-line flag, declared once: its default, its help and its flag name.

``option(...)`` is a ``dataclasses.field`` whose metadata carries the help text (and, when it differs from the
field name, the flag); ``cli/derive.py`` builds the Typer command from these declarations, so a field and its
flag cannot drift apart. Type and range stay in the field's annotation (``cyclip_bench.validation``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_MISSING: Any = dataclasses.MISSING


@dataclass(frozen=True)
class OptionSpec:
    """``help``: the flag's help line. ``flag``: its name when not ``--<field-with-dashes>``. ``cli``: False for
    fields set only in the TOML file. ``cli_type``: the type the command line parses (default: the field's
    own, unwrapped); ``parse`` turns that into the field's value (e.g. ``--loss-param K=V`` → a table).
    ``default_help``: what the help says the default is, when the field's default (None) is resolved later.
    ``metavar``: the value's placeholder in the help (default: the type's). ``short``: a one-letter alias
    (``-o``). ``argument``: a positional argument instead of an option (required unless the field has a default);
    a ``list[...]`` ``cli_type`` makes an option repeatable and an argument take one or more values.
    ``required``: the command needs a value although the field has a default (it may come from a TOML file
    instead of the flag); the help marks it ``[required]``."""

    help: str
    flag: str | None = None
    cli: bool = True
    cli_type: Any = None
    parse: Callable[[Any], Any] | None = None
    default_help: str | None = None
    metavar: str | None = None
    short: str | None = None
    argument: bool = False
    required: bool = False


def option(
    default: Any = _MISSING,
    help: str = "",
    *,
    default_factory: Callable[[], Any] = _MISSING,
    **spec: Any,
) -> Any:
    """A dataclass field declaring its flag (see ``OptionSpec`` for ``spec``)."""
    return dataclasses.field(
        default=default, default_factory=default_factory, metadata={"option": OptionSpec(help=help, **spec)}
    )


def option_spec(field: dataclasses.Field) -> OptionSpec | None:
    return field.metadata.get("option")
