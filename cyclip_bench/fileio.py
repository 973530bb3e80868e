"""Atomic writes and content hashes: outputs never leave a half-written file or clobber what the user had."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from cyclip_bench.errors import FileSystemError


def describe_os_error(err: OSError) -> str:
    """'<path>: <reason>' for a file-system error (e.g. '/out/x.json: No space left on device')."""
    reason = err.strerror or str(err) or type(err).__name__
    return f"{err.filename}: {reason}" if err.filename else reason


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temp file next to ``path``; on success fsync and rename it over ``path``, on error delete it.

    A file-system fault (the folder cannot be created or written, the disk is full) is a FileSystemError naming
    ``path``; the previous ``path``, if any, is untouched and no temp file is left behind.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise FileSystemError(f"cannot write {path}: {_reason(err, path.parent)}") from err
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600 files; give the result the permissions a plain open() would (0666 & ~umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        cause = _os_error_in(err)
        if cause is not None:
            raise FileSystemError(f"cannot write {path}: {_reason(cause, None)}") from err
        raise


def _os_error_in(err: BaseException) -> OSError | None:
    """``err`` if it is an OSError, else the first OSError it was raised from or while handling: a writer in C++
    (torch.save's zip writer) reports a failed write of the Python file as a RuntimeError of its own, the OSError
    (a full disk) in its context."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _reason(err: OSError, folder: Path | None) -> str:
    reason = err.strerror or str(err) or type(err).__name__
    if isinstance(err, (FileExistsError, NotADirectoryError)) and folder is not None:
        return f"{reason} (a file stands where the folder {folder} should be)"
    return reason


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
