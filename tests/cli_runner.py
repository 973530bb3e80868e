"""Run the CLI in-process through ``cyclip_bench.cli.main`` (the console script's function), capturing output."""

from __future__ import annotations

import contextlib
import io
import subprocess

from cyclip_bench.cli import main


def cli(*args: str) -> subprocess.CompletedProcess:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())
