"""The CLI contract: every command has --help; bad input is one line on stderr with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = ["data", "train", "eval", "report", "suites", "demo"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cyclip_bench", *args], capture_output=True, text=True, timeout=120)


def test_root_help_lists_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    assert len(result.stdout.strip().splitlines()) > 3


def test_help_keeps_bracketed_defaults():
    # "[default: 10]" in a help text must not be eaten as rich markup
    result = run_cli("train", "--help")
    text = " ".join(result.stdout.split())
    assert "Epochs. [default: 10]" in text and "[default: the objective's: 0.25 for cyclip" in text
    assert "[default: on for convolutional" in text


def test_unknown_command_is_one_line_exit_2():
    result = run_cli("frobnicate")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "frobnicate" in lines[0]
    assert "Traceback" not in result.stderr


def test_unknown_flag_is_one_line_exit_2():
    result = run_cli("report", "--no-such-flag")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--no-such-flag" in lines[0]


def test_user_error_traceback_only_with_debug(tmp_path):
    # `data check` of a path that does not exist is a user error.
    missing = str(tmp_path / "nope.csv")
    plain = run_cli("data", "check", missing)
    assert plain.returncode == 2
    assert len(plain.stderr.strip().splitlines()) == 1
    assert "nope.csv" in plain.stderr
    assert "Traceback" not in plain.stderr
    debug = run_cli("--debug", "data", "check", missing)
    assert "Traceback" in debug.stderr
