"""`cyclip-bench train --nproc N`: N ranks on this machine, and one line for whatever goes wrong.

Before any rank starts, the launching process runs the checks a rank runs first (`check_before_launch`: device,
output folders, training and validation data), so bad input is one `error:` line and exit 2 with nothing spawned.

Then torchrun's agent runs in this process (`torch.distributed.run`, as `torchrun --standalone` would) with this
process's stderr — and so the agent's log, the ranks' own stderr, C++ warnings and tracebacks — going to
``<run>/launcher.log``. Rank 0's status and progress lines go to a file the launcher copies to the terminal as
they come (`rank_reporting`), so a healthy run looks as it does in one process.

Each rank records how it failed in a folder named by ``CYCLIP_BENCH_RANK_REPORTS`` (a UserError's message and
exit code; for anything else its exception). A failed job is then reported once: the first UserError of any
rank, as one process would report it (bad data found late, a diverged loss, a stop by SIGTERM); otherwise the
rank that failed first — a rank killed by a signal other than the SIGTERM the agent sends the survivors, else
the earliest crash — as `RankFailed` (exit 4), naming the rank, its exit code or signal, how to continue
(``--resume latest`` once a checkpoint exists) and the log.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cyclip_bench.errors import ConfigError, RankFailed, TrainingInterrupted, UserError
from cyclip_bench.fileio import atomic_write_json
from cyclip_bench.train.config import TrainConfig
from cyclip_bench.validation import check_device_available, check_output_dir

REPORTS_ENV = "CYCLIP_BENCH_RANK_REPORTS"  # set by `launch` for its ranks: where each records its failure
LOG_NAME = "launcher.log"
_PROGRESS = "rank0.progress"  # rank 0's stderr lines, copied to the terminal by the launcher
_RELAY_INTERVAL_S = 0.1


def check_before_launch(cfg: TrainConfig, nproc: int) -> None:
    """What each rank would check first, once, before any rank (or any status line): the device, one GPU per
    rank when ranks take GPUs, writable output folders, and the data (train.data.check_train_data)."""
    from cyclip_bench.train.data import check_train_data

    if cfg.device != "auto":
        check_device_available(cfg.device)
    if nproc > 1 and cfg.device in ("auto", "cuda"):
        _check_gpu_per_rank(cfg.device, nproc)
    check_output_dir(cfg.logs, "--logs")
    check_output_dir(cfg.run_dir, "run folder")
    check_train_data(cfg, nproc)


def _check_gpu_per_rank(device: str, nproc: int) -> None:
    """Rank r takes cuda:r (runtime.resolve_device): N ranks on GPUs need N of them."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count and count < nproc:
        raise ConfigError(
            f"--nproc {nproc}: each rank takes its own GPU (--device {device}) and this machine has {count}; "
            f"pass --nproc {count} or --device cpu"
        )


@dataclass
class _Outcome:
    """How the agent's run ended: all ranks succeeded, some failed ({global rank: exit code, negative for a
    signal}), the launcher itself got a stop signal, or the agent failed on its own."""

    failures: dict[int, int] = field(default_factory=dict)
    signum: int = 0
    agent_error: str = ""

    @property
    def ok(self) -> bool:
        return not (self.failures or self.signum or self.agent_error)


def launch(argv: list[str], nproc: int, run_dir: Path, debug: bool = False) -> None:
    """Run this train command (``argv``, without --nproc) as ``nproc`` ranks; return when every rank succeeded,
    else raise the one error that says why. ``debug`` leaves every process's output on the terminal."""
    made = _folders_to_make(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / LOG_NAME
    new_log = not log_path.exists()
    reports = Path(tempfile.mkdtemp(prefix="cyclip-bench-ranks-"))
    try:
        with open(log_path, "ab", buffering=0) as log:
            stamp = datetime.datetime.now().isoformat(timespec="seconds")
            log.write(f"--- {stamp} cyclip-bench {shlex.join(argv)} (--nproc {nproc})\n".encode())
            outcome = _run_agent(argv, nproc, reports, log, debug)
        error = _job_error(outcome, _read_records(reports), run_dir, log_path)
    finally:
        shutil.rmtree(reports, ignore_errors=True)
    if error is None:
        return
    if not isinstance(error, RankFailed) and new_log and os.listdir(run_dir) == [LOG_NAME]:
        # The ranks left no work and the one line says it all: leave nothing behind.
        with contextlib.suppress(OSError):
            log_path.unlink()
            for folder in made:
                folder.rmdir()
    raise error


def _folders_to_make(path: Path) -> list[Path]:
    """The folders ``mkdir(parents=True)`` of ``path`` creates, deepest first."""
    made = []
    while not path.exists() and path != path.parent:
        made.append(path)
        path = path.parent
    return made


def _run_agent(argv: list[str], nproc: int, reports: Path, log: IO[bytes], debug: bool) -> _Outcome:
    """torchrun's `run` in this process, its stderr (inherited by the ranks) sent to ``log`` unless ``debug``."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    args = parse_args(
        [
            "--standalone",
            f"--nproc-per-node={nproc}",
            f"--log-dir={reports / 'torchelastic'}",  # its per-attempt folders go with our temp folder
            "-m",
            "--",  # torchrun would otherwise take our --logs for its own --logs-specs (prefix match)
            "cyclip_bench",
            *argv,
        ]
    )
    progress = reports / _PROGRESS
    progress.touch()
    os.environ[REPORTS_ENV] = str(reports)
    with contextlib.ExitStack() as stack:
        if not debug:
            terminal = stack.enter_context(_stderr_to(log))
            stack.enter_context(_Relay(progress, terminal, log))
        try:
            run(args)
        except ChildFailedError as err:
            return _Outcome(failures={rank: failure.exitcode for rank, failure in err.failures.items()})
        except SignalException as err:
            return _Outcome(signum=int(err.sigval))
        except Exception as err:  # the agent itself (rendezvous, a port): its traceback goes to the log
            if debug:
                raise
            traceback.print_exc()
            return _Outcome(agent_error=_one_line(err))
        finally:
            os.environ.pop(REPORTS_ENV, None)
    return _Outcome()


@contextlib.contextmanager
def _stderr_to(log: IO[bytes]) -> Iterator[int]:
    """Point file descriptor 2 (this process's stderr, and every child's) at ``log``; yield a descriptor of the
    terminal's stderr; put it back afterwards."""
    sys.stderr.flush()
    terminal = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        yield terminal
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)
        os.close(terminal)


class _Relay:
    """Copies what rank 0 appends to its progress file to the terminal (and the log) while the job runs."""

    def __init__(self, path: Path, terminal: int, log: IO[bytes]) -> None:
        self.path, self.terminal, self.log = path, terminal, log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rank0-progress", daemon=True)

    def __enter__(self) -> _Relay:
        self._source = open(self.path, "rb")  # noqa: SIM115  (closed in __exit__)
        self._thread.start()
        return self

    def _copy(self) -> None:
        chunk = self._source.read()
        with contextlib.suppress(OSError):  # a closed terminal must not stop the job
            view = memoryview(chunk)
            while view:
                view = view[os.write(self.terminal, view) :]
            self.log.write(chunk)

    def _run(self) -> None:
        while not self._stop.wait(_RELAY_INTERVAL_S):
            self._copy()

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._copy()  # what came after the last poll
        self._source.close()


def _read_records(reports: Path) -> dict[int, dict[str, Any]]:
    """{global rank: its failure record} from the ranks' files (a file that does not parse is skipped)."""
    records = {}
    for path in reports.glob("rank-*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            record = json.loads(path.read_text(encoding="utf-8"))
            records[int(record["rank"])] = record
    return records


def _job_error(
    outcome: _Outcome, records: dict[int, dict[str, Any]], run_dir: Path, log_path: Path
) -> UserError | None:
    """The one error that reports a failed job (None when it succeeded); see the module docstring."""
    if outcome.ok:
        return None
    user = [r for r in records.values() if r.get("kind") == "user"]
    if user:
        first = min(user, key=lambda r: r.get("time", 0.0))
        error = UserError(str(first["message"]))
        error.exit_code = int(first["exit_code"])
        return error
    hint = _continue_hint(run_dir)
    if outcome.signum:
        name = signal.Signals(outcome.signum).name
        return TrainingInterrupted(f"stopped by {name}; {hint}", outcome.signum)
    if outcome.agent_error:
        return RankFailed(f"torchrun's agent failed ({outcome.agent_error}); {hint}; details in {log_path}")
    rank, code = min(outcome.failures.items(), key=lambda item: _blame_order(*item, records))
    crash = records.get(rank, {})
    if code < 0:
        how = f"was killed by signal {-code} ({_signal_name(-code)})"
    elif crash:
        how = f"failed with exit code {code} ({crash.get('message', '')})"
    else:
        how = f"exited with code {code}"
    return RankFailed(f"rank {rank} {how}, which stopped the job; {hint}; torch's output is in {log_path}")


def _blame_order(rank: int, code: int, records: dict[int, dict[str, Any]]) -> tuple[int, float, int]:
    """Which failed rank caused the others: one killed by a signal first (it could record nothing, and the agent
    stops the survivors with SIGTERM), then the earliest crash, then the rest."""
    if code < 0 and -code != signal.SIGTERM:
        return (0, 0.0, rank)
    if rank in records:
        return (1, float(records[rank].get("time", 0.0)), rank)
    return (2, 0.0, rank)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "unknown signal"


def _continue_hint(run_dir: Path) -> str:
    if (run_dir / "checkpoints" / "latest.pt").is_file():
        return "continue from its last checkpoint with --resume latest"
    return "no checkpoint was saved yet: run the same command again to start over"


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


@contextlib.contextmanager
def rank_reporting(debug: bool = False) -> Iterator[None]:
    """Around a rank's work, in a rank that `launch` started: rank 0's stderr (status and progress lines) goes
    to the file the launcher copies to the terminal, and a failure is recorded for the launcher before it
    propagates (to this rank's stderr, which is the launcher's log). Anywhere else it changes nothing."""
    folder, rank = os.environ.get(REPORTS_ENV), os.environ.get("RANK")
    if not folder or rank is None:
        yield
        return
    stream, previous = None, sys.stderr
    if rank == "0" and not debug:
        stream = open(Path(folder) / _PROGRESS, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        sys.stderr = stream
    try:
        yield
    except UserError as err:
        _record(Path(folder), int(rank), "user", str(err), err.exit_code)
        raise
    except Exception as err:
        _record(Path(folder), int(rank), "crash", _one_line(err), 1)
        raise
    finally:
        if stream is not None:
            sys.stderr = previous
            stream.close()


def _record(folder: Path, rank: int, kind: str, message: str, exit_code: int) -> None:
    record = {"rank": rank, "kind": kind, "message": message, "exit_code": exit_code, "time": time.time()}
    with contextlib.suppress(OSError):  # the launcher then reports the bare exit code
        atomic_write_json(folder / f"rank-{rank}.json", record)
