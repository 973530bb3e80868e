"""`train --nproc N`: bad input is refused before any rank starts; a failed job is one `error:` line; matplotlib's
config-folder warning never comes before that line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import cli
from tiny_inputs import write_random_pairs

from cyclip_bench import launch
from cyclip_bench.cli import mplconfig
from cyclip_bench.errors import ConfigError, DataError, RankFailed, TrainingInterrupted, UserError

TRAIN = ["--model", "tiny-vit", "--batch-size", "4", "--workers", "0", "--no-progress"]


def _cyclip_bench(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """The command line in its own process (what a user runs), one thread per process."""
    return subprocess.run(
        [sys.executable, "-m", "cyclip_bench", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        timeout=timeout,
    )


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    return write_random_pairs(data, n=32)


# ---- bad input: found in the launching process --------------------------------------------------------------


def _no_agent(*args, **kwargs):
    raise AssertionError("a rank was started for input the launcher should have refused")


@pytest.mark.parametrize("nproc", ["1", "2"])
@pytest.mark.parametrize("case", ["missing-csv", "corrupt-image", "batch-over-data"])
def test_bad_data_is_one_line_before_any_rank_or_status_line(pairs, tmp_path, monkeypatch, case, nproc):
    monkeypatch.setattr(launch, "_run_agent", _no_agent)
    data, args, expected = str(pairs), [], ""
    if case == "missing-csv":
        data, expected = str(tmp_path / "nope.csv"), "nope.csv: file not found"
    elif case == "corrupt-image":
        (pairs.parent / "7.png").write_bytes(b"not a png at all")
        expected = f"{pairs}: row 8: image file {pairs.parent / '7.png'} unreadable"
    else:
        args, expected = ["--batch-size", "40"], "32 pairs make 0 batch(es)"
    result = cli("train", "--train-data", data, *TRAIN, *args, "--logs", str(tmp_path / "logs"), "--nproc", nproc)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith("error: ")
    assert expected in result.stderr
    assert not (tmp_path / "logs").exists()


def test_a_missing_csv_under_nproc_is_one_line_from_the_command_line(tmp_path):
    result = _cyclip_bench(
        "train", "--train-data", str(tmp_path / "nope.csv"), *TRAIN, "--logs", str(tmp_path / "logs"), "--nproc", "2"
    )
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'nope.csv'}: file not found\n"
    assert not (tmp_path / "logs").exists()


def test_nproc_gpu_ranks_need_a_gpu_each(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    launch._check_gpu_per_rank("auto", 2)
    with pytest.raises(ConfigError, match=r"--nproc 4: each rank takes its own GPU .* has 2; pass --nproc 2"):
        launch._check_gpu_per_rank("auto", 4)


# ---- what a failed job reports --------------------------------------------------------------------------------


def _record(rank: int, kind: str, message: str, code: int, at: float) -> dict:
    return {"rank": rank, "kind": kind, "message": message, "exit_code": code, "time": at}


def test_a_rank_killed_by_a_signal_is_blamed_not_the_rank_it_took_down(tmp_path):
    # rank 0 crashed in a collective because rank 1 vanished; the agent then stopped rank 2 with SIGTERM
    outcome = launch._Outcome(failures={0: 1, 1: -9, 2: -15})
    records = {0: _record(0, "crash", "RuntimeError: Connection closed by peer", 1, 5.0)}
    error = launch._job_error(outcome, records, tmp_path, tmp_path / "launcher.log")
    assert isinstance(error, RankFailed) and error.exit_code == 4
    assert str(error).startswith("rank 1 was killed by signal 9 (SIGKILL), which stopped the job; ")
    assert "no checkpoint was saved yet: run the same command again" in str(error)
    assert str(tmp_path / "launcher.log") in str(error)


def test_the_earliest_crash_is_blamed_and_a_checkpoint_means_resume(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "latest.pt").write_bytes(b"x")
    outcome = launch._Outcome(failures={0: 1, 1: 1})
    records = {
        0: _record(0, "crash", "RuntimeError: Connection closed by peer", 1, 7.0),
        1: _record(1, "crash", "MemoryError", 1, 6.0),
    }
    error = launch._job_error(outcome, records, tmp_path, tmp_path / "launcher.log")
    assert str(error).startswith("rank 1 failed with exit code 1 (MemoryError), which stopped the job; ")
    assert "continue from its last checkpoint with --resume latest" in str(error)


def test_a_ranks_user_error_is_reported_as_one_process_would(tmp_path):
    outcome = launch._Outcome(failures={0: 2, 1: -15})
    records = {
        1: _record(1, "user", "later", 2, 9.0),
        0: _record(0, "user", "image file x.png is unreadable or corrupt", 2, 8.0),
    }
    error = launch._job_error(outcome, records, tmp_path, tmp_path / "launcher.log")
    assert type(error) is UserError and error.exit_code == 2
    assert str(error) == "image file x.png is unreadable or corrupt"


def test_a_stop_signal_to_the_launcher_is_an_interruption(tmp_path):
    error = launch._job_error(launch._Outcome(signum=signal.SIGINT), {}, tmp_path, tmp_path / "launcher.log")
    assert isinstance(error, TrainingInterrupted) and error.exit_code == 130
    assert launch._job_error(launch._Outcome(), {}, tmp_path, tmp_path / "l") is None


def test_rank_reporting_records_the_failure_and_sends_rank0_output_to_the_relay(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(launch.REPORTS_ENV, str(tmp_path))
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(DataError), launch.rank_reporting():
        print("decoding 32 pairs", file=sys.stderr)
        raise DataError("t.csv: row 3: image file a.png not found")
    assert (tmp_path / launch._PROGRESS).read_text(encoding="utf-8") == "decoding 32 pairs\n"
    assert capsys.readouterr().err == ""
    record = json.loads((tmp_path / "rank-0.json").read_text(encoding="utf-8"))
    assert (record["kind"], record["message"], record["exit_code"]) == (
        "user",
        "t.csv: row 3: image file a.png not found",
        2,
    )
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(ZeroDivisionError), launch.rank_reporting():
        print("rank 1 says", file=sys.stderr)
        _ = 1 / 0
    assert capsys.readouterr().err == "rank 1 says\n"  # only rank 0 talks to the terminal
    record = json.loads((tmp_path / "rank-1.json").read_text(encoding="utf-8"))
    assert (record["kind"], record["message"]) == ("crash", "ZeroDivisionError: division by zero")


def test_rank_reporting_changes_nothing_outside_a_launched_rank(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(launch.REPORTS_ENV, raising=False)
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(DataError), launch.rank_reporting():
        print("status", file=sys.stderr)
        raise DataError("x")
    assert capsys.readouterr().err == "status\n"
    assert not list(tmp_path.iterdir())


# ---- real 2-rank jobs ---------------------------------------------------------------------------------------------


def _rank_pid(launcher: int, rank: int) -> int | None:
    """The pid of the child of ``launcher`` whose environment says RANK=<rank> (Linux /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent == launcher and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the rank's process through /proc")
def test_a_rank_killed_by_sigkill_is_one_error_line_and_the_log_keeps_torchs_output(pairs, tmp_path):
    logs = tmp_path / "logs"
    args = ["train", "--train-data", str(pairs), *TRAIN, "--epochs", "100", "--checkpoint-steps", "1"]
    args += ["--logs", str(logs), "--name", "k", "--nproc", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cyclip_bench", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 180
        while not (logs / "k" / "checkpoints" / "latest.pt").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the job ended before its first checkpoint"
            time.sleep(0.2)
        pid = _rank_pid(proc.pid, 1)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lines = err.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert proc.returncode == RankFailed.exit_code, err
    log = logs / "k" / "launcher.log"
    assert (
        errors
        == [lines[-1]]
        == [
            f"error: rank 1 was killed by signal 9 (SIGKILL), which stopped the job; continue from its last checkpoint "
            f"with --resume latest; torch's output is in {log}"
        ]
    )
    assert "Traceback" not in err and "torch.distributed" not in err and "torch/distributed" not in err
    text = log.read_text(encoding="utf-8")
    assert "exitcode: -9" in text  # torchrun's agent's own report went to the log, not the terminal
    # the other lines are rank 0's status lines, copied to the terminal (and the log) as they came
    assert lines[0].startswith("decoding 32 pairs") and all(line in text for line in lines[:-1])


# ---- matplotlib's config folder ------------------------------------------------------------------------------------


def _unwritable_home(tmp_path: Path) -> dict[str, str]:
    """A HOME under a plain file: no folder can be made there, not even by root."""
    (tmp_path / "a-file").write_text("x")
    return {"HOME": str(tmp_path / "a-file" / "home"), "XDG_CONFIG_HOME": "", "XDG_CACHE_HOME": "", "MPLCONFIGDIR": ""}


def test_an_unwritable_home_gets_a_temporary_matplotlib_folder_removed_at_exit(tmp_path, monkeypatch):
    for name, value in _unwritable_home(tmp_path).items():
        monkeypatch.setenv(name, value)
    code = (
        "import os, cyclip_bench.cli, matplotlib; "
        "print(os.environ['MPLCONFIGDIR']); print(matplotlib.get_cachedir() == os.environ['MPLCONFIGDIR'])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stderr == ""  # no "Matplotlib created a temporary cache directory" warning
    folder, same = result.stdout.split()
    assert same == "True" and not Path(folder).exists()


def test_a_writable_or_chosen_matplotlib_folder_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    assert mplconfig.ensure_writable_config_dir() is None and "MPLCONFIGDIR" not in os.environ
    monkeypatch.setenv("HOME", str(tmp_path / "x"))
    (tmp_path / "x").write_text("a file")
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mine"))
    assert mplconfig.ensure_writable_config_dir() is None and os.environ["MPLCONFIGDIR"] == str(tmp_path / "mine")


@pytest.mark.parametrize("command", ["train", "report"])
def test_bad_input_with_an_unwritable_home_is_one_line(tmp_path, command):
    (tmp_path / "bad.json").write_text("{}")
    args = {
        "train": ["train", "--train-data", str(tmp_path / "nope.csv"), *TRAIN, "--logs", str(tmp_path / "l")],
        "report": ["report", str(tmp_path / "bad.json"), "--out", str(tmp_path / "r")],
    }[command]
    result = _cyclip_bench(*args, env=_unwritable_home(tmp_path), timeout=120)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: "), result.stderr
