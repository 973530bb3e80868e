"""Matplotlib's config and cache folder for the command line, settled before anything imports matplotlib.

Matplotlib keeps its config and font cache under ``$XDG_CONFIG_HOME``/``$XDG_CACHE_HOME`` (``~/.config``,
``~/.cache``; ``~/.matplotlib`` off Linux). When that folder cannot be written (no or read-only HOME, a HOME under
a file) it makes a temporary one itself and logs "Matplotlib created a temporary cache directory …" on stderr —
before our own output, so a command's one `error:` line became three. We point ``MPLCONFIGDIR`` at a temporary
folder of our own in that case (removed at exit; inherited by the ranks of `train --nproc`). A ``MPLCONFIGDIR``
the user set is left alone.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path


def _default_dirs() -> list[Path]:
    """The folders matplotlib would create and write when MPLCONFIGDIR is not set."""
    home = Path.home()
    if sys.platform.startswith(("linux", "freebsd")):
        config = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
        cache = os.environ.get("XDG_CACHE_HOME") or str(home / ".cache")
        return [Path(config) / "matplotlib", Path(cache) / "matplotlib"]
    return [home / ".matplotlib"]


def _writable(path: Path) -> bool:
    """A writable folder, or one ``mkdir -p`` could create (its nearest existing parent is a writable folder)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def ensure_writable_config_dir() -> Path | None:
    """Set ``MPLCONFIGDIR`` to a temporary folder (deleted at exit) when matplotlib's default is not writable;
    return that folder, or None when nothing needed changing."""
    if os.environ.get("MPLCONFIGDIR"):
        return None
    try:
        if all(_writable(path) for path in _default_dirs()):
            return None
    except (RuntimeError, KeyError, OSError):  # Path.home(): no HOME and no passwd entry
        pass
    folder = Path(tempfile.mkdtemp(prefix="cyclip-bench-matplotlib-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["MPLCONFIGDIR"] = str(folder)
    return folder
