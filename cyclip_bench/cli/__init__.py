"""Command-line interface: `cyclip-bench` and `python -m cyclip_bench`."""

from __future__ import annotations

import sys

import typer

from cyclip_bench.cli.app import app
from cyclip_bench.cli.mplconfig import ensure_writable_config_dir
from cyclip_bench.errors import FileSystemError, UserError
from cyclip_bench.fileio import describe_os_error

try:  # typer >= 0.20 vendors click; older typer uses the click package
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import UsageError

try:  # "no arguments: show the help", which newer click raises as a usage error carrying the help text
    from typer._click.exceptions import NoArgsIsHelpError
except ImportError:  # pragma: no cover
    try:
        from click.exceptions import NoArgsIsHelpError
    except ImportError:
        NoArgsIsHelpError = None  # older click prints the help and exits 0 itself

ensure_writable_config_dir()  # before any command module can import matplotlib

# Importing the command modules registers their commands on `app`.
from cyclip_bench.cli import data as _data  # noqa: E402,F401  isort: skip
from cyclip_bench.cli import train as _train  # noqa: E402,F401  isort: skip
from cyclip_bench.cli import evaluate as _evaluate  # noqa: E402,F401  isort: skip
from cyclip_bench.cli import report as _report  # noqa: E402,F401  isort: skip
from cyclip_bench.cli import export as _export  # noqa: E402,F401  isort: skip
from cyclip_bench.cli import suites as _suites  # noqa: E402,F401  isort: skip
from cyclip_bench.cli import demo as _demo  # noqa: E402,F401  isort: skip

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Run the app; bad input becomes one line on stderr and exit code 2 (``--debug`` shows the traceback)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        # Outside standalone mode click *returns* the code of a `typer.Exit` instead of exiting: pass it on.
        code = app(args=args, prog_name="cyclip-bench", standalone_mode=False)
        if isinstance(code, int) and code != 0:
            sys.exit(code)
    except UserError as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except UsageError as err:
        if NoArgsIsHelpError is not None and isinstance(err, NoArgsIsHelpError):
            print(err.format_message())  # bare `cyclip-bench` (or `cyclip-bench data`): the help, not an error
            sys.exit(0)
        if debug:
            raise
        message = err.format_message()
        if message:  # empty for "no arguments: help shown"
            where = f" (see `{err.ctx.command_path} --help`)" if err.ctx is not None else ""
            print(f"error: {message}{where}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:
        # A file-system fault that no reader or writer turned into a UserError (a full disk, a folder that is
        # not writable, a file that vanished): still one line naming the path, not a traceback.
        if debug:
            raise
        print(f"error: {describe_os_error(err)}", file=sys.stderr)
        sys.exit(FileSystemError.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as err:
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
