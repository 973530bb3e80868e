"""Pickles read from data files, with no code run: a restricted unpickler and a static scan of pickle globals.

A pickle names the functions and classes that rebuild its objects ("globals"); the plain ``pickle.load`` imports
and calls whatever it names, so a booby-trapped dataset file (``os.system`` in a ``__reduce__``) runs a command.
``load_data_pickle`` resolves only the few globals that the CIFAR archives (and Python-3 pickles of the same dicts)
need: numpy's array/scalar/dtype reconstruction and builtin containers. Any other global is refused with one line
naming the file and the global (``ForbiddenGlobal``, a DataError: exit code 2); a truncated or corrupt pickle is a
DataError naming the file. Checkpoints are not read here: torch reads them with ``weights_only=True``
(cyclip_bench/models ``load_checkpoint``); ``referenced_globals`` lists what a refused one names.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
import pickletools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from cyclip_bench.errors import DataError


class ForbiddenGlobal(DataError):
    """A data pickle names a function or class outside the allow-list (it would run code if loaded plainly)."""


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Python 3 pickles bytes at protocol < 3 as _codecs.encode(text, "latin1"); no other codec is data.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} (only latin1 rebuilds bytes)")
    return text.encode("latin1")


def _no_size(kind: type) -> Any:
    def build(*args: Any) -> Any:
        # bytes(n)/bytearray(n) would allocate n zero bytes: data never needs it (pickles store the contents).
        if args and isinstance(args[0], int):
            raise pickle.UnpicklingError(f"{kind.__name__}({args[0]!r}) is an allocation, not data")
        return kind(*args)

    return build


def _numpy_globals() -> dict[tuple[str, str], Any]:
    # Taken from numpy's own reductions, so the objects are right for numpy 1.x and 2.x alike; both module
    # spellings are accepted (the CIFAR archives name numpy.core, numpy 2 writes numpy._core).
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    scalar = np.float64(0).__reduce__()[0]
    found: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for package in ("numpy.core", "numpy._core"):
        found[(f"{package}.multiarray", "_reconstruct")] = reconstruct
        found[(f"{package}.multiarray", "scalar")] = scalar
        found[(f"{package}.numeric", "_frombuffer")] = frombuffer
    return found


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    **_numpy_globals(),
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "bytes"): _no_size(bytes),
    ("builtins", "bytearray"): _no_size(bytearray),
    ("_codecs", "encode"): _latin1_encode,
}
"""(module, name) → the object a data pickle may use; everything else is refused."""


def _python3_name(module: str, name: str) -> tuple[str, str]:
    """Python-2 pickles spell builtins ``__builtin__``: the standard library's own renaming table."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def python3_global(dotted: str) -> str:
    """``module.name`` in Python-3 spelling (``commands.Popen`` → ``subprocess.Popen``; a bare name is a
    builtin: ``exec`` → ``builtins.exec``), for naming a refused global the way the reader knows it."""
    module, _, name = dotted.rpartition(".")
    return ".".join(_python3_name(module or "builtins", name))


class _DataUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, path: Path) -> None:
        super().__init__(file, encoding="latin1")  # Python-2 str → str, as torchvision reads the archives
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        key = _python3_name(module, name)
        if key not in ALLOWED_GLOBALS:
            raise ForbiddenGlobal(
                f"{self._path}: refused: the pickle calls {'.'.join(key)}, which a data file may not use "
                f"(read: numpy arrays, numbers, strings, lists and dicts; nothing in a data file is run)"
            )
        return ALLOWED_GLOBALS[key]

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not data")


def load_data_pickle(path: str | Path, what: str = "pickle") -> Any:
    """The object pickled in ``path``, built without running code from the file.

    ``what`` names the expected contents in the error line (e.g. "CIFAR pickle batch")."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return _DataUnpickler(handle, path).load()
    except ForbiddenGlobal:
        raise
    except OSError as err:
        raise DataError(f"{path}: cannot read {what}: {err.strerror or err}") from None
    except Exception as err:  # a corrupt pickle can raise almost anything; name the file
        detail = " ".join(f"{type(err).__name__}: {err}".split())
        if isinstance(err, EOFError) or "truncated" in detail or "ran out of input" in detail.lower():
            detail = f"truncated: {detail}"
        raise DataError(f"{path}: not a readable {what} ({detail})") from None


def _opcodes(data: bytes | BinaryIO) -> Iterator[tuple[str, Any]]:
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(data) if isinstance(data, bytes) else data):
            yield opcode.name, arg
    except Exception:  # noqa: BLE001 - a malformed pickle: report what was read before the damage
        return


def referenced_globals(data: bytes | BinaryIO) -> list[str]:
    """``module.name`` (Python-3 spelling) of every global the first pickle in ``data`` (bytes or a binary
    file) names, read without loading anything (``pickletools`` only decodes opcodes). ``STACK_GLOBAL`` takes
    its names from the strings pushed before it (directly or through the memo), which is how protocol 4+
    pickles spell every global."""
    found: list[str] = []
    strings: list[str] = []  # every string pushed, in order
    memo: dict[int, Any] = {}
    top: Any = None  # the string on top of the stack, when the last push was one
    for name, arg in _opcodes(data):
        if name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
            top = arg
            strings.append(arg)
        elif name == "MEMOIZE":
            memo[len(memo)] = top
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[int(arg)] = top
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            top = memo.get(int(arg))
            if isinstance(top, str):
                strings.append(top)
        elif name == "GLOBAL":
            module, _, global_name = str(arg).partition(" ")
            found.append(".".join(_python3_name(module, global_name)))
            top = None
        elif name == "STACK_GLOBAL" and len(strings) >= 2:
            found.append(".".join(_python3_name(strings[-2], strings[-1])))
            top = None
        elif name != "FRAME":
            top = None
    return list(dict.fromkeys(found))


__all__ = ["ALLOWED_GLOBALS", "ForbiddenGlobal", "load_data_pickle", "python3_global", "referenced_globals"]
