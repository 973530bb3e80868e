"""File-system faults — an output folder that is a file or not writable, a full disk, a file that vanishes
between listing and reading — are one line naming the path, exit 2, and leave the previous good output as it
was, with no temp file beside it.

The process runs as root in CI, where chmod does not stop a write: "not writable" is simulated by making
``os.access`` (what the check consults; it does see read-only file systems) say no, and a full disk by making
``os.fsync`` fail with ENOSPC, the last step of every atomic write (or a write inside torch.save, whose C++ writer
wraps the error). A real chmod test runs when not root.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from cli_runner import cli
from tiny_inputs import minimal_result, write_random_pairs

from cyclip_bench import fileio
from cyclip_bench.errors import FileSystemError
from cyclip_bench.fileio import atomic_write_text

RESULT = minimal_result()


def _full_disk(monkeypatch, when=lambda path: True) -> list[str]:
    """Every atomic write whose target matches ``when`` fails at fsync with ENOSPC; returns the paths hit."""
    real_fsync, hit = os.fsync, []

    def fsync(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        if when(target):
            hit.append(target)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(fileio.os, "fsync", fsync)
    return hit


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def _error_line(result) -> str:
    """The error line: the last line on stderr (status lines may precede it), and no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ")
    return last


def _results(folder: Path, n: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        doc = {**RESULT, "checkpoint": {"label": f"c{i}", "sha256": f"{i}" * 64}}
        (folder / f"c{i}__s.json").write_text(json.dumps(doc))
    return folder


# ---- the atomic writer -----------------------------------------------------------------------------------


def test_a_full_disk_keeps_the_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("previous good")
    _full_disk(monkeypatch)
    with pytest.raises(FileSystemError, match=f"cannot write {target}: No space left on device"):
        atomic_write_text(target, "new")
    assert target.read_text() == "previous good"
    assert list(tmp_path.iterdir()) == [target]


class _FillingFile:
    """A binary file that takes ``room`` bytes, then fails every write with ENOSPC (as a disk that fills)."""

    def __init__(self, handle, room: int) -> None:
        self._handle, self._room = handle, room

    def write(self, data) -> int:
        size = memoryview(data).nbytes
        if size > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= size
        return self._handle.write(data)

    def __getattr__(self, name: str):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._handle.close()


def test_a_disk_that_fills_inside_torch_save_is_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    """torch.save's C++ zip writer reports the failed write as a RuntimeError of its own ("unexpected pos …"), the
    ENOSPC only in its context: still "cannot write PATH: No space left on device", the old file intact."""
    import torch

    from cyclip_bench.models import load_checkpoint, save_checkpoint

    target = tmp_path / "latest.pt"
    save_checkpoint(target, {"step": 1, "weights": torch.zeros(10)})
    real_fdopen = fileio.os.fdopen
    monkeypatch.setattr(fileio.os, "fdopen", lambda fd, *a, **k: _FillingFile(real_fdopen(fd, *a, **k), 4096))
    with pytest.raises(FileSystemError, match=f"^cannot write {target}: No space left on device$") as caught:
        save_checkpoint(target, {"step": 2, "weights": torch.zeros(100_000)})
    assert isinstance(caught.value.__cause__, RuntimeError)  # what torch raised: the case this test is for
    assert load_checkpoint(target)["step"] == 1
    assert list(tmp_path.iterdir()) == [target]


def test_a_file_where_the_folder_should_be(tmp_path):
    (tmp_path / "a").write_text("a file")
    with pytest.raises(FileSystemError, match="a file stands where the folder"):
        atomic_write_text(tmp_path / "a" / "b" / "out.txt", "x")


# ---- through the CLI: a full disk --------------------------------------------------------------------------


def test_report_on_a_full_disk_keeps_the_previous_report(tmp_path, monkeypatch):
    results, out = _results(tmp_path / "results"), tmp_path / "report"
    assert cli("report", str(results), "--out", str(out), "--title", "first").returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    hit = _full_disk(monkeypatch)
    line = _error_line(cli("report", str(results), "--out", str(out), "--title", "second"))
    assert "No space left on device" in line and str(out) in line
    assert hit
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not _temp_files(tmp_path)


@pytest.fixture(scope="module")
def pairs_csv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pairs")
    return write_random_pairs(root)


def test_training_on_a_full_disk_keeps_the_last_good_checkpoint(pairs_csv, tmp_path, monkeypatch):
    import torch

    from cyclip_bench.models import load_checkpoint

    saves = []

    def second_checkpoint(target: str) -> bool:
        if ".latest.pt." in target:
            saves.append(target)
        return len(saves) == 2 and ".latest.pt." in target

    _full_disk(monkeypatch, second_checkpoint)
    args = ["train", "--train-data", str(pairs_csv), "--logs", str(tmp_path), "--name", "run", "--workers", "0"]
    args += ["--batch-size", "8", "--epochs", "1", "--checkpoint-steps", "1", "--no-progress"]
    line = _error_line(cli(*args))
    latest = tmp_path / "run" / "checkpoints" / "latest.pt"
    assert line == f"error: cannot write {latest}: No space left on device"
    assert load_checkpoint(latest)["step"] == 1  # the checkpoint of step 1, intact
    assert torch.load(latest, weights_only=True)["optimizer"]
    assert not _temp_files(tmp_path)


def test_eval_rebuild_of_results_csv_names_an_unreadable_file(tmp_path):
    from cyclip_bench.errors import UserError
    from cyclip_bench.results import write_results_csv

    out = _results(tmp_path / "out", 2)
    (out / "gone__s.json").symlink_to(tmp_path / "nowhere.json")  # listed by the glob, cannot be read
    with pytest.raises(UserError, match="cannot read gone__s.json to rebuild results.csv"):
        write_results_csv(out)
    assert not (out / "results.csv").exists()


# ---- not writable ------------------------------------------------------------------------------------------


def _not_writable(monkeypatch, folder: Path) -> None:
    """os.access says no for ``folder`` (what a read-only mount or missing permission looks like)."""
    import cyclip_bench.validation as validation

    real = os.access

    def access(path, mode, *args, **kwargs):
        if Path(path) == folder and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(validation.os, "access", access)


@pytest.mark.parametrize("command", ["train", "eval", "report", "synth"])
def test_an_output_folder_that_is_not_writable_is_refused_before_any_work(command, pairs_csv, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    target = locked / "out"
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"unused: the output check comes first")
    args = {
        "train": ["train", "--train-data", str(pairs_csv), "--logs", str(target), "--workers", "0"],
        "eval": ["eval", "-c", str(ckpt), "--suite", "world-zeroshot", "--out", str(target), "--no-cache"],
        "report": ["report", str(_results(tmp_path / "results")), "--out", str(target)],
        "synth": ["data", "synth", str(target), "--size", "0.01"],
    }[command]
    _not_writable(monkeypatch, locked)
    line = _error_line(cli(*args))
    assert line.endswith(f"{target}: cannot be created: {locked} is not writable"), line
    assert list(locked.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod; the os.access test above covers it")
def test_a_real_read_only_folder(tmp_path):
    results, locked = _results(tmp_path / "results"), tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        line = _error_line(cli("report", str(results), "--out", str(locked / "out")))
        assert "is not writable" in line
    finally:
        locked.chmod(0o700)


# ---- vanished between listing and reading ------------------------------------------------------------------


def test_a_result_file_that_vanishes_after_the_listing(tmp_path, monkeypatch):
    import cyclip_bench.results.read as report_results

    results, out = _results(tmp_path / "results", 2), tmp_path / "report"
    listed = report_results.collect_result_files

    def list_then_lose_one(inputs):
        files = listed(inputs)
        files[1].unlink()  # another process removed it after we listed the folder
        return files

    monkeypatch.setattr(report_results, "collect_result_files", list_then_lose_one)
    line = _error_line(cli("report", str(results), "--out", str(out)))
    assert "c1__s.json: cannot read results file (FileNotFoundError" in line
    assert not out.exists()


def test_a_caption_table_that_vanishes_after_the_check(tmp_path, monkeypatch):
    from cyclip_bench.data import captions

    table = tmp_path / "t.csv"
    table.write_text("image,caption\na.png,x\n")
    real = captions.pd.read_csv

    def vanish_then_read(path, *args, **kwargs):
        Path(path).unlink()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(captions.pd, "read_csv", vanish_then_read)
    line = _error_line(cli("data", "check", str(table)))
    assert line.startswith(f"error: {table}: cannot read (")
