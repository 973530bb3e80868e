"""Command-line interface: `cyclip-bench` and `python -m cyclip_bench`."""

from __future__ import annotations

import sys

import click

from cyclip_bench.cli.app import app
from cyclip_bench.errors import UserError

# Importing the command modules registers their commands on `app`.
from cyclip_bench.cli import data as _data  # noqa: E402,F401  isort: skip
from cyclip_bench.cli import train as _train  # noqa: E402,F401  isort: skip
from cyclip_bench.cli import evaluate as _evaluate  # noqa: E402,F401  isort: skip
from cyclip_bench.cli import report as _report  # noqa: E402,F401  isort: skip
from cyclip_bench.cli import suites as _suites  # noqa: E402,F401  isort: skip
from cyclip_bench.cli import demo as _demo  # noqa: E402,F401  isort: skip

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Run the app; bad input becomes one line on stderr and exit code 2 (``--debug`` shows the traceback)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, prog_name="cyclip-bench", standalone_mode=False)
    except UserError as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except click.exceptions.UsageError as err:
        if debug:
            raise
        where = f" (see `{err.ctx.command_path} --help`)" if err.ctx is not None else ""
        print(f"error: {err.format_message()}{where}", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
