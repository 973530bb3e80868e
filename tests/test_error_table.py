"""docs/errors.md's table of error classes and exit codes matches the classes and what the CLI does with them."""

from __future__ import annotations

import errno
import inspect
import re
import signal
from pathlib import Path

import pytest
from cli_runner import cli

import cyclip_bench.cli as cli_module
from cyclip_bench import errors

try:
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import UsageError

DOC = Path(__file__).parent.parent / "docs" / "errors.md"


def _table() -> dict[str, str]:
    """error class → exit code, from the doc's table."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| ([^|]+) \| `(\w+)` \|", line)
        if match:
            rows[match.group(2)] = match.group(1).strip()
    return rows


def _raise(exc: BaseException):
    def app(*args, **kwargs):
        raise exc

    return app


def _example(name: str) -> BaseException:
    if name == "TrainingInterrupted":
        return errors.TrainingInterrupted("stopped by SIGTERM", signal.SIGTERM)
    if name == "OSError":
        return FileNotFoundError(errno.ENOENT, "No such file or directory", "/data/gone.csv")
    if name == "UsageError":
        return UsageError("No such option: --frobnicate")
    if name == "KeyboardInterrupt":
        return KeyboardInterrupt()
    return getattr(errors, name)(f"a {name} example")


def test_every_error_class_is_in_the_table_with_its_code():
    table = _table()
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.UserError)]
    assert {c.__name__ for c in classes} <= set(table), "an error class is missing from docs/errors.md"
    for cls in classes:
        code = table[cls.__name__]
        if cls is errors.TrainingInterrupted:
            assert code == "128 + N"
            assert errors.TrainingInterrupted("x", signal.SIGTERM).exit_code == 143
        else:
            assert int(code) == cls.exit_code, cls


@pytest.mark.parametrize("name", sorted(_table()))
def test_the_cli_exits_with_the_documented_code_and_one_line(name, monkeypatch):
    code = _table()[name]
    exc = _example(name)
    monkeypatch.setattr(cli_module, "app", _raise(exc))
    result = cli("train")
    expected = 143 if code == "128 + N" else int(code)
    assert result.returncode == expected
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    if isinstance(exc, (errors.UserError, OSError, UsageError)):
        assert lines[0].startswith("error: ")
    if isinstance(exc, OSError):
        assert lines[0] == "error: /data/gone.csv: No such file or directory"


def test_debug_shows_the_traceback_for_the_file_system_backstop(monkeypatch):
    monkeypatch.setattr(cli_module, "app", _raise(_example("OSError")))
    with pytest.raises(FileNotFoundError):
        cli_module.main(["--debug", "train"])


@pytest.mark.parametrize(
    "name", [c.__name__ for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.UserError)]
)
def test_every_error_survives_pickling_with_its_message_and_code(name):
    """Worker processes (`demo --jobs`) send their exceptions back pickled: class, message and exit code must
    arrive intact, or a clean stop becomes a BrokenProcessPool traceback."""
    import pickle

    original = _example(name)
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is type(original) and str(copy) == str(original) and copy.exit_code == original.exit_code
