"""The root Typer app. Each command lives in its own module of this package and only parses flags,
builds a config and calls a library function (the library never imports the CLI)."""

from __future__ import annotations

import re
from typing import Any

import typer

# typer ≥ 0.2x writes a value's Python type in the help (`<int>`, `<list[Path]>`); a reader wants words.
_READABLE = {"int": "N", "int range": "N", "float": "NUMBER", "float range": "NUMBER", "str": "TEXT", "path": "PATH"}


def _readable_type(label: str) -> str:
    """``<list[Path]>`` → ``PATH...``, ``<int range>`` → ``N``, ``<a|b>`` stays ``a|b``."""
    inner = label.strip("<>")
    listed = re.fullmatch(r"list\[(.*)\]", inner)
    if listed:
        return _readable_type(listed.group(1)) + "..."
    return _READABLE.get(inner.lower(), inner)


def _use_readable_types() -> None:
    """Every parameter's value is shown as a word (or its metavar); an argument with a metavar shows no type
    after its name. A no-op on typer versions that already print click's words (INTEGER, TEXT)."""
    core = getattr(typer, "core", None)
    parameter = getattr(core, "_TyperParameter", None)
    argument = getattr(core, "TyperArgument", None)
    if parameter is None or argument is None or not hasattr(parameter, "display_type"):
        return
    shown = parameter.display_type

    def display_type(self: Any, ctx: Any) -> str:
        return _readable_type(shown(self, ctx))

    def argument_type(self: Any, ctx: Any) -> str | None:
        return None if self.metavar is not None else display_type(self, ctx)

    parameter.display_type = display_type
    argument.display_type_rich = argument_type


_use_readable_types()

app = typer.Typer(
    name="cyclip-bench",
    help="Train CLIP and CyCLIP models and benchmark the consistency of their image and text embedding spaces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts say "[default: 10]"; rich markup would swallow the brackets
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors."),
) -> None:
    """cyclip-bench: data → train → eval → report. Run `cyclip-bench demo` for the whole pipeline on a CPU."""
