"""Run small BLAS work single-threaded. OpenBLAS's worker threads busy-wait between calls; for the
thousands of
tiny products of an L-BFGS probe they cost far more than they save, and on a loaded machine they make a
0.1 s fit
take seconds. This does what threadpoolctl does for OpenBLAS (not a dependency here): find the loaded
libraries
and call their ``*_set_num_threads``. Anywhere it cannot (no /proc, other BLAS), it changes nothing."""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator

_PAIRS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


def _openblas_controls() -> list[tuple]:
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
    except OSError:
        return []
    controls = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _PAIRS:
            if hasattr(lib, get_name) and hasattr(lib, set_name):
                controls.append((getattr(lib, get_name), getattr(lib, set_name)))
                break
    return controls


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    controls = _openblas_controls()
    previous = [get() for get, _ in controls]
    for _, set_threads in controls:
        set_threads(1)
    try:
        yield
    finally:
        for (_, set_threads), n in zip(controls, previous, strict=True):
            set_threads(int(n))
