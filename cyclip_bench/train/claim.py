"""Who owns a run folder, and what a run that stopped early leaves in it.

One live ``train`` process at a time per run folder: the main rank holds ``<run>/.claim`` locked (``flock``) for
the run's lifetime and writes its pid, host and start time into it. The kernel drops the lock when the process
dies however it dies, so a claim file nobody holds a lock on is stale and is taken over (with a line saying
so), while a held one refuses the second run naming the first. Holding the claim, a run removes the temp files
of saves that a killed run left behind (``atomic_open``'s ``.<name>.XXXXXXXX.tmp``, only the trainer's own), and
a run that fails before its first optimiser step removes what it created in the folder, so a rerun finds it as
it was.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import re
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cyclip_bench.errors import ConfigError, FileSystemError
from cyclip_bench.fileio import describe_os_error

CLAIM_FILE = ".claim"
# atomic_open's temp names: "." + the target's name + "." + mkstemp's 8 characters + ".tmp"
_RANDOM = r"\.[a-z0-9_]{8}\.tmp"
_RUN_TEMP = re.compile(rf"^\.(config\.json|metrics\.jsonl){_RANDOM}$")  # in the run folder
_CHECKPOINT_TEMP = re.compile(rf"^\..+\.pt{_RANDOM}$")  # in its checkpoints folder


def stale_temp_files(run_dir: Path) -> list[Path]:
    """The trainer's temp files in ``run_dir`` and ``run_dir/checkpoints``: a save that never finished."""
    found = []
    for folder, pattern in ((run_dir, _RUN_TEMP), (run_dir / "checkpoints", _CHECKPOINT_TEMP)):
        if folder.is_dir():
            found += [p for p in sorted(folder.iterdir()) if pattern.match(p.name) and p.is_file()]
    return [p for p in found if not p.is_symlink()]


def remove_stale_temp_files(run_dir: Path) -> tuple[int, int]:
    """Delete them; (files, bytes) removed. Only call it holding the run folder's claim."""
    files = size = 0
    for path in stale_temp_files(run_dir):
        with contextlib.suppress(OSError):
            length = path.stat().st_size
            path.unlink()
            files, size = files + 1, size + length
    return files, size


def _missing_folders(path: Path) -> list[Path]:
    """The folders ``mkdir(parents=True)`` of ``path`` would create, deepest first."""
    made = []
    while not path.exists() and path != path.parent:
        made.append(path)
        path = path.parent
    return made


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size} bytes"


def _record() -> dict[str, Any]:
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": started}


def _read_record(fd: int) -> dict[str, Any] | None:
    """The claim file's holder record; None when empty or garbled (a process died while writing it)."""
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _holder(record: dict[str, Any] | None) -> str:
    if record is None:
        return "an unknown process"
    return f"pid {record.get('pid')} on {record.get('host')} (started {record.get('started')})"


def _pid_alive(record: dict[str, Any]) -> bool:
    """For file systems without flock: whether the recorded holder still runs (unknowable on another host)."""
    if record.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(record.get("pid", 0)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True
    return True


class RunClaim:
    """A context manager for the run folder's claim (the main rank's; ``enabled=False`` on the other ranks makes
    every method a no-op). ``say`` prints one status line (takeover, removed debris)."""

    def __init__(self, run_dir: Path, say: Callable[[str], None], enabled: bool = True) -> None:
        self.run_dir, self.path, self.say, self.enabled = Path(run_dir), Path(run_dir) / CLAIM_FILE, say, enabled
        self._fd: int | None = None
        self._made: list[Path] = []  # the folders the claim created (run folder, --logs), deepest first
        self._before: set[str] = set()
        self._kept = False

    def __enter__(self) -> RunClaim:
        return self if self._fd is not None else self.acquire()

    def acquire(self) -> RunClaim:
        """Claim the folder (creating it), then remove its stale temp files; a held claim is a ConfigError."""
        if not self.enabled:
            return self
        try:
            self._made = _missing_folders(self.run_dir)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._before = set(os.listdir(self.run_dir))
        except OSError as err:
            raise FileSystemError(f"run folder {self.run_dir}: {describe_os_error(err)}") from err
        self._fd = self._acquire()
        try:
            files, size = remove_stale_temp_files(self.run_dir)
            if files:
                self.say(
                    f"removed {files} stale temp file(s), {_megabytes(size)}, left in {self.run_dir} by saves "
                    "that never finished"
                )
        except BaseException as err:
            self.__exit__(type(err), err, None)
            raise
        return self

    def keep(self) -> None:
        """The run has made progress: whatever happens now, the folder holds its work."""
        self._kept = True

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self.enabled or self._fd is None:
            return
        try:
            if exc_type is not None and not self._kept:
                self._discard_new_entries()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)  # before the lock goes: see _acquire's inode check
            os.close(self._fd)
            self._fd = None
        if exc_type is not None and not self._kept:
            with contextlib.suppress(OSError):
                for folder in self._made:
                    folder.rmdir()  # empty unless someone else wrote there meanwhile; then it stays

    def _discard_new_entries(self) -> None:
        for name in set(os.listdir(self.run_dir)) - self._before - {CLAIM_FILE}:
            path = self.run_dir / name
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()

    def _acquire(self) -> int:
        """Open and lock the claim file; refuse a held one; take over a stale one, saying so."""
        while True:
            fd, existed = self._open()
            previous = _read_record(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_record(fd)  # again: the holder may have written it since
                os.close(fd)
                self._refuse(holder)
            except OSError as err:  # no flock on this file system (some network mounts): judge by the pid
                if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    os.close(fd)
                    raise FileSystemError(f"cannot lock {self.path}: {describe_os_error(err)}") from err
                if previous is not None and _pid_alive(previous):
                    os.close(fd)
                    self._refuse(previous, f"; if it is gone, delete {self.path}")
            # A previous holder unlinks the file before it unlocks: if ours is not the file at the path any more,
            # we locked a file nobody will see, so try again.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        if existed:  # and unlocked: its holder is gone
            previous = _read_record(fd)
            self.say(f"taking over the claim on {self.run_dir} left by {_holder(previous)}, which is no longer running")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_record()).encode("utf-8"), 0)
        return fd

    def _open(self) -> tuple[int, bool]:
        """The claim file opened for writing, and whether it was there already (one we create has no holder)."""
        while True:
            try:
                return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), False
            except FileExistsError:
                pass
            except OSError as err:
                raise FileSystemError(f"cannot claim run folder {self.run_dir}: {describe_os_error(err)}") from err
            try:
                return os.open(self.path, os.O_RDWR), True
            except FileNotFoundError:
                continue  # its holder removed it between the two opens
            except OSError as err:
                raise FileSystemError(f"cannot claim run folder {self.run_dir}: {describe_os_error(err)}") from err

    def _refuse(self, record: dict[str, Any] | None, hint: str = "") -> None:
        raise ConfigError(
            f"run folder {self.run_dir} is in use by another train process, {_holder(record)}: wait for it to "
            f"finish, or pass another --name{hint}"
        )
