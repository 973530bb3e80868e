"""One live `train` per run folder (a locked `.claim`), no temp-file debris from killed saves, and no half-made run
folder from a run that failed before its first step (cyclip_bench/train/claim.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tiny_inputs import write_random_pairs
from train_helpers import train_config

from cyclip_bench.errors import ConfigError, DataError
from cyclip_bench.fileio import atomic_open
from cyclip_bench.models import load_checkpoint
from cyclip_bench.train import train
from cyclip_bench.train.claim import CLAIM_FILE, RunClaim, stale_temp_files


def _lines() -> tuple[list[str], object]:
    said: list[str] = []
    return said, said.append


def _temp_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.tmp"))


# --- claims ---


def test_a_second_claim_on_a_held_folder_is_refused_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    with RunClaim(run, print):
        holder = json.loads((run / CLAIM_FILE).read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(ConfigError) as err, RunClaim(run, print):
            pass
        message = str(err.value)
        assert message.startswith(f"run folder {run} is in use by another train process, pid {os.getpid()} on ")
        assert f"on {socket.gethostname()} (started {holder['started']})" in message and "another --name" in message
    assert not (run / CLAIM_FILE).exists()  # released: the next run needs no takeover
    said, say = _lines()
    with RunClaim(run, say):
        pass
    assert said == []


def test_a_claim_left_by_a_dead_process_is_taken_over_with_a_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / CLAIM_FILE).write_text(json.dumps({"pid": 999999, "host": "gone", "started": "2024-01-01T00:00:00+00:00"}))
    said, say = _lines()
    with RunClaim(run, say):
        assert json.loads((run / CLAIM_FILE).read_text())["pid"] == os.getpid()
    assert said == [
        f"taking over the claim on {run} left by pid 999999 on gone (started 2024-01-01T00:00:00+00:00), "
        "which is no longer running"
    ]


def test_an_empty_unlocked_claim_file_is_stale_too(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / CLAIM_FILE).write_text("")  # a process died between creating and writing it
    said, say = _lines()
    with RunClaim(run, say):
        pass
    assert said == [f"taking over the claim on {run} left by an unknown process, which is no longer running"]


def test_a_sigkilled_holder_blocks_while_alive_and_its_claim_is_taken_over_after(tmp_path):
    run = tmp_path / "run"
    code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from cyclip_bench.train.claim import RunClaim
        with RunClaim(Path({str(run)!r}), print):
            print("held", flush=True)
            time.sleep(120)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with (
            pytest.raises(ConfigError, match=f"in use by another train process, pid {proc.pid} on "),
            RunClaim(run, print),
        ):
            pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    said, say = _lines()
    with RunClaim(run, say):
        pass
    assert len(said) == 1 and f"left by pid {proc.pid} on {socket.gethostname()}" in said[0]


def test_a_failure_before_the_first_step_removes_what_the_run_created_only(tmp_path):
    fresh = tmp_path / "logs" / "fresh"
    with pytest.raises(RuntimeError), RunClaim(fresh, print):
        (fresh / "config.json").write_text("{}")
        raise RuntimeError("bad input")
    assert list(tmp_path.iterdir()) == []  # the run folder and the --logs folder made for it are gone
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError), RunClaim(kept, print):
        (kept / "metrics.jsonl").write_text("")
        (kept / "tensorboard").mkdir()
        raise RuntimeError("bad input")
    assert sorted(p.name for p in kept.iterdir()) == ["notes.txt"]
    with pytest.raises(RuntimeError), RunClaim(kept, print) as claim:  # after progress, everything stays
        (kept / "config.json").write_text("{}")
        claim.keep()
        raise RuntimeError("diverged")
    assert sorted(p.name for p in kept.iterdir()) == ["config.json", "notes.txt"]


def test_a_disabled_claim_on_other_ranks_touches_nothing(tmp_path):
    with RunClaim(tmp_path / "run", print, enabled=False):
        pass
    assert not (tmp_path / "run").exists()


# --- temp-file debris ---


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, RuntimeError])
def test_an_interrupted_atomic_write_leaves_no_temp_file(tmp_path, error):
    with pytest.raises(error), atomic_open(tmp_path / "latest.pt", "wb") as handle:
        handle.write(b"x" * 1000)
        raise error()
    assert list(tmp_path.iterdir()) == []


def test_only_the_trainers_own_temp_files_are_stale(tmp_path):
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    ours = [
        ckpts / ".latest.pt.a1b2c3d4.tmp",
        ckpts / ".epoch_3.pt.zz_0a9bq.tmp",
        tmp_path / ".config.json.abcdefgh.tmp",
    ]
    others = [
        ckpts / "latest.pt",
        ckpts / ".notes.txt.abcdefgh.tmp",
        ckpts / ".latest.pt.short.tmp",
        tmp_path / ".report.html.abcdefgh.tmp",
        tmp_path / ".latest.pt.abcdefgh.tmp",  # checkpoints live in checkpoints/
    ]
    for path in ours + others:
        path.write_bytes(b"x")
    assert sorted(stale_temp_files(tmp_path)) == sorted(ours)


_KILL_IN_SAVE = """
import os, signal, sys
import torch
import cyclip_bench.models as models
from cyclip_bench.cli import main

real, calls = torch.save, {"n": 0}

def half_then_die(obj, handle, *args, **kwargs):
    calls["n"] += 1
    if calls["n"] == int(os.environ["KILL_AT_SAVE"]):
        real(obj, handle, *args, **kwargs)  # the whole payload is in the temp file, not yet renamed
        handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    real(obj, handle, *args, **kwargs)

torch.save = half_then_die  # the process-wide torch.save, which the checkpoint writer calls
main(sys.argv[1:])
"""


def _train_args(csv: Path, logs: Path) -> list[str]:
    flags = "--batch-size 8 --epochs 1 --workers 0 --name k --checkpoint-steps 1 --no-progress --warmup 1 --lr 1e-3"
    return ["train", "--train-data", str(csv), "--logs", str(logs), *flags.split()]


@pytest.mark.parametrize("kill_at_save", [1, 2])
def test_a_kill_inside_a_save_leaves_no_temp_bytes_after_the_next_start(tmp_path, capsys, kill_at_save):
    csv = write_random_pairs(tmp_path)
    env = {**os.environ, "KILL_AT_SAVE": str(kill_at_save), "OMP_NUM_THREADS": "1"}
    args = _train_args(csv, tmp_path / "runs")
    proc = subprocess.run([sys.executable, "-c", _KILL_IN_SAVE, *args], env=env, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (debris,) = _temp_files(tmp_path / "runs")
    assert debris.name.startswith(".latest.pt.") and debris.stat().st_size > 100_000
    size = debris.stat().st_size
    # killed in the first save there is no checkpoint: a fresh start; in the second, --resume latest
    resume = {} if kill_at_save == 1 else {"resume": "latest"}
    final = train(train_config(csv, tmp_path / "runs", name="k", warmup=1, **resume))
    assert _temp_files(tmp_path / "runs") == []
    assert load_checkpoint(final)["step"] == 2
    err = capsys.readouterr().err
    assert f"removed 1 stale temp file(s), {size / 1e6:.1f} MB, left in {tmp_path / 'runs' / 'k'}" in err
    assert ("resuming" in err) == bool(resume) and "taking over the claim" in err  # SIGKILL left the claim file


# --- whole runs ---


_WAIT_AFTER_FIRST_SAVE = """
import os, sys, time
from pathlib import Path
import cyclip_bench.train.loop as loop
from cyclip_bench.cli import main

real = loop._save

def save_then_wait(run, *names):
    path = real(run, *names)
    while not Path(os.environ["GO_FILE"]).exists():
        time.sleep(0.05)
    return path

loop._save = save_then_wait
main(sys.argv[1:])
"""


def test_a_second_train_on_a_running_folder_is_one_line_exit_2_and_the_first_finishes(tmp_path):
    csv = write_random_pairs(tmp_path)
    args = _train_args(csv, tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GO_FILE": str(tmp_path / "go")}
    # the first run holds still after its first checkpoint until the second has been refused
    first = subprocess.Popen(
        [sys.executable, "-c", _WAIT_AFTER_FIRST_SAVE, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 180
    while not (tmp_path / "k" / "checkpoints" / "latest.pt").exists():
        assert first.poll() is None and time.time() < deadline, first.communicate()[1][-3000:]
        time.sleep(0.1)
    second = subprocess.run([sys.executable, "-m", "cyclip_bench", *args], env=env, capture_output=True, text=True)
    (tmp_path / "go").touch()
    out, err = first.communicate(timeout=300)
    assert second.returncode == 2
    (line,) = second.stderr.strip().splitlines()
    assert line.startswith(
        f"error: run folder {tmp_path / 'k'} is in use by another train process, pid {first.pid} on "
        f"{socket.gethostname()} (started "
    )
    assert first.returncode == 0, err[-3000:]
    assert out.strip() == str(tmp_path / "k" / "checkpoints" / "latest.pt")
    assert load_checkpoint(tmp_path / "k" / "checkpoints" / "latest.pt")["step"] == 2
    assert not (tmp_path / "k" / CLAIM_FILE).exists()


def test_bad_input_found_at_the_first_step_leaves_no_run_folder(tmp_path):
    csv = write_random_pairs(tmp_path)
    for i in range(16):  # every batch has one: the first step fails
        (tmp_path / f"{i}.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"\d+\.png"):
        train(train_config(csv, tmp_path / "runs", name="bad", data_cache="off"))
    assert not (tmp_path / "runs").exists()  # nor the --logs folder it made for it
    write_random_pairs(tmp_path)  # the rerun after the fix is a plain start, not "already has checkpoints"
    assert load_checkpoint(train(train_config(csv, tmp_path / "runs", name="bad", data_cache="off")))["step"] == 2


def test_a_held_folder_refuses_every_rank_of_an_nproc_job_with_one_line(tmp_path):
    csv = write_random_pairs(tmp_path)
    args = _train_args(csv, tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with RunClaim(tmp_path / "k", print):  # rank 0 cannot claim; rank 1 must not wait for it forever
        proc = subprocess.run(
            [sys.executable, "-m", "cyclip_bench", *args, "--nproc", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert proc.returncode == 2, proc.stderr[-3000:]
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: run folder {tmp_path / 'k'} is in use by another train process, pid {os.getpid()}")


def test_without_flock_a_claim_is_judged_by_its_pid(tmp_path, monkeypatch):
    import errno

    import cyclip_bench.train.claim as claim_module

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(claim_module.fcntl, "flock", no_locks)
    run = tmp_path / "run"
    run.mkdir()
    host = socket.gethostname()
    for pid, other_host in ((os.getpid(), host), (999999, "elsewhere")):  # alive here; unknowable elsewhere
        (run / CLAIM_FILE).write_text(json.dumps({"pid": pid, "host": other_host, "started": "t"}))
        with pytest.raises(ConfigError, match=f"pid {pid} on {other_host}.*; if it is gone, delete {run / CLAIM_FILE}"):
            RunClaim(run, print).acquire()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its pid runs nothing
    (run / CLAIM_FILE).write_text(json.dumps({"pid": gone.pid, "host": host, "started": "t"}))
    said, say = _lines()
    with RunClaim(run, say):
        pass
    assert len(said) == 1 and f"left by pid {gone.pid} on {host}" in said[0]
