"""User-facing errors: the CLI turns these into one line on stderr and exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (a flag, a file, a row). The message must name what was wrong and what was expected."""

    exit_code = 2


class DataError(UserError):
    """A dataset file, row or image that cannot be used."""


class ConfigError(UserError):
    """A configuration value (flag or TOML key) that is invalid."""
