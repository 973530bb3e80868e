"""The root Typer app. Each command lives in its own module of this package and only parses flags,
builds a config and calls a library function (the library never imports the CLI)."""

from __future__ import annotations

import typer

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
