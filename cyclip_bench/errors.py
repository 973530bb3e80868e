"""User-facing errors: the CLI turns these into one line on stderr and the class's exit code.

The table of classes and codes is docs/errors.md (tests/test_error_table.py keeps the two in step).
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (a flag, a file, a row). The message must name what was wrong and what was expected."""

    exit_code = 2


class DataError(UserError):
    """A dataset file, row or image that cannot be used."""


class ConfigError(UserError):
    """A configuration value (flag, TOML key, suite option, checkpoint entry) that is invalid."""


class FileSystemError(UserError):
    """The file system refused: an output folder that is a file or not writable, a full disk, a file that vanished
    between listing and reading. The message names the path and the reason."""


class TrainingDiverged(UserError):
    """The loss became NaN/inf; the last good checkpoint is kept."""

    exit_code = 3


class RankFailed(UserError):
    """A rank of a `train --nproc N` job died (killed by a signal, or an error that is not bad input) and the job
    was stopped: the message names the rank, how it ended, how to continue and the log with torch's output."""

    exit_code = 4


class TrainingInterrupted(UserError):
    """SIGTERM/SIGINT: the run saved its checkpoint and stopped; exit code 128 + signal number."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum

    def __reduce__(self) -> tuple:
        # Picklable with both arguments: `demo --jobs` trains in worker processes, whose exceptions come back
        # pickled (the default would call __init__(message) and fail, turning a clean stop into a traceback).
        return (type(self), (str(self), self.signum))
