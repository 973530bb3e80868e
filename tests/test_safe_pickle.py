"""No code from data: CIFAR pickles (meta and batches, CIFAR-10 and CIFAR-100, Python-2 and Python-3 pickles) are
read by a restricted unpickler; a booby-trapped file is refused with one line naming the file and the global, and
its payload never runs — through the loader and through `cyclip-bench eval`."""

from __future__ import annotations

import ast
import builtins
import os
import pickle
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cli_runner import cli

from cyclip_bench.data.catalog import build_dataset
from cyclip_bench.data.fixture import write_py2_pickle
from cyclip_bench.errors import DataError
from cyclip_bench.safe_pickle import ForbiddenGlobal, load_data_pickle, referenced_globals

PACKAGE = Path(__file__).resolve().parents[1] / "cyclip_bench"


class Payload:
    """Pickles as ``func(*args)``: what a booby-trapped file holds. Each variant creates ``marker`` when run."""

    def __init__(self, func: Callable, args: tuple) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


def payloads(marker: Path) -> dict[str, tuple[Payload, str]]:
    """name → (payload, the global the refusal must name)."""
    return {
        "os.system": (Payload(os.system, (f"touch {marker}",)), "posix.system"),
        "subprocess.run": (Payload(subprocess.run, (["touch", str(marker)],)), "subprocess.run"),
        "builtins.exec": (Payload(builtins.exec, (f"open({str(marker)!r}, 'w').close()",)), "builtins.exec"),
        "builtins.eval": (Payload(builtins.eval, (f"open({str(marker)!r}, 'w').close()",)), "builtins.eval"),
    }


FILES = {  # variant → (folder, meta file, [(split, batch file)])
    "cifar10": ("cifar-10-batches-py", "batches.meta", [("train", "data_batch_1"), ("test", "test_batch")]),
    "cifar100": ("cifar-100-python", "meta", [("train", "train"), ("test", "test")]),
}
TARGETS = [
    (variant, file, split)
    for variant, (_, meta, batches) in FILES.items()
    for file, split in [(meta, "test"), *[(b, s) for s, b in batches]]
]


def _dump(path: Path, obj: object, style: str) -> None:
    if style == "py2":  # as the real archives: protocol 2, Python-2 strings (GLOBAL opcodes)
        write_py2_pickle(path, obj)
    else:  # a Python-3 pickle (protocol 4: STACK_GLOBAL opcodes)
        path.write_bytes(pickle.dumps(obj, protocol=4))


def write_cifar(root: Path, variant: str, style: str = "py2", n: int = 4, replace: dict | None = None) -> np.ndarray:
    """A small CIFAR folder in torchvision's layout; ``replace`` maps a file name to the object it holds instead."""
    folder_name, meta_file, _ = FILES[variant]
    folder = root / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(0).integers(0, 256, (n, 3072), dtype=np.uint8)
    if variant == "cifar10":
        contents = {"batches.meta": {"label_names": [f"c{i}" for i in range(10)], "num_cases_per_batch": n}}
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            contents[name] = {"batch_label": name, "labels": [i % 10 for i in range(n)], "data": data}
    else:
        contents = {"meta": {"fine_label_names": [f"f{i}" for i in range(100)], "coarse_label_names": ["s"] * 20}}
        for name in ("train", "test"):
            contents[name] = {"data": data, "fine_labels": [99 - i for i in range(n)], "coarse_labels": [0] * n}
    contents.update(replace or {})
    for name, obj in contents.items():
        _dump(folder / name, obj, style)
    return data


# --- safe reading keeps the real formats working ---------------------------------------------------------------


@pytest.mark.parametrize("style", ["py2", "py3"])
@pytest.mark.parametrize("variant", ["cifar10", "cifar100"])
def test_cifar_loads_from_python2_and_python3_pickles(tmp_path, variant, style):
    data = write_cifar(tmp_path, variant, style)
    ds = build_dataset(variant, tmp_path, "test")
    assert len(ds) == 4
    # channel-major rows: pixel (0, 0) of image 1 is bytes 0, 1024, 2048 of its row
    assert ds[1][0].getpixel((0, 0)) == tuple(int(data[1, k]) for k in (0, 1024, 2048))
    assert ds.labels == ([0, 1, 2, 3] if variant == "cifar10" else [99, 98, 97, 96])


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_every_pickle_protocol_of_arrays_scalars_and_containers_loads(tmp_path, protocol):
    obj = {
        "data": np.arange(12, dtype=np.uint8).reshape(3, 4),
        "floats": np.linspace(0, 1, 3, dtype=np.float32),
        "labels": [np.int64(3), 4],
        "raw": b"\x00\xffbytes",
        "empty": b"",
        "misc": (1.5, complex(1, 2), {1, 2}, frozenset({3}), bytearray(b"ab"), None, True),
    }
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    back = load_data_pickle(path)
    assert np.array_equal(back["data"], obj["data"]) and back["data"].dtype == np.uint8
    assert np.array_equal(back["floats"], obj["floats"]) and back["labels"] == [3, 4]
    assert back["raw"] == obj["raw"] and back["empty"] == b"" and back["misc"] == obj["misc"]


# --- no code from data ----------------------------------------------------------------------------------------


def test_the_payloads_are_live_with_a_plain_unpickler(tmp_path):
    """The refusals below are meaningful: each payload does run when the file is read with pickle.load."""
    for name, (payload, _) in payloads(tmp_path / "m").items():
        marker = tmp_path / "m"
        pickle.loads(pickle.dumps({"label_names": payload}, protocol=2))
        assert marker.exists(), name
        marker.unlink()


@pytest.mark.parametrize("style", ["py2", "py3"])
@pytest.mark.parametrize("payload_name", ["os.system", "subprocess.run", "builtins.exec", "builtins.eval"])
@pytest.mark.parametrize(("variant", "file", "split"), TARGETS)
def test_a_booby_trapped_cifar_file_is_refused_and_never_run(tmp_path, variant, file, split, payload_name, style):
    marker = tmp_path / "marker"
    payload, global_name = payloads(marker)[payload_name]
    # in a meta file the payload stands for the class names; in a batch, for the image rows
    replace = {"label_names": payload} if file == "batches.meta" else {"fine_label_names": payload}
    if file not in ("batches.meta", "meta"):
        replace = {"data": payload, "labels": [0], "fine_labels": [0]}
    write_cifar(tmp_path / "data", variant, style, replace={file: replace})
    with pytest.raises(ForbiddenGlobal) as caught:
        build_dataset(variant, tmp_path / "data", split)
    message = str(caught.value)
    path = tmp_path / "data" / FILES[variant][0] / file
    assert message.startswith(f"{path}: refused: the pickle calls {global_name},"), message
    assert "\n" not in message and isinstance(caught.value, DataError)
    assert not marker.exists()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from cyclip_bench.models import create_model, model_payload, save_checkpoint

    model, info = create_model("tiny")
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, model_payload(model, info))
    return path


def _eval_suite(tmp_path: Path, variant: str, split: str, checkpoint: Path):
    suite = tmp_path / "suite.toml"
    suite.write_text(
        f'name = "s"\nversion = 1\n[[tasks]]\nname = "z"\nkind = "zeroshot"\ndataset = "{variant}"\nsplit = "{split}"\n'
    )
    out = tmp_path / "out"
    args = ["eval", "-c", str(checkpoint), "--suite", str(suite), "--data-root", str(tmp_path / "data")]
    result = cli(*args, "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--workers", "0", "-q")
    return result, out


@pytest.mark.parametrize(("variant", "file", "split"), TARGETS)
def test_eval_refuses_a_booby_trapped_cifar_file_in_one_line(tmp_path, tiny_checkpoint, variant, file, split):
    marker = tmp_path / "marker"
    payload, global_name = payloads(marker)["os.system"]
    key = "label_names" if variant == "cifar10" else "fine_label_names"
    replace = {key: payload} if file in ("batches.meta", "meta") else {"data": payload, "labels": [0]}
    write_cifar(tmp_path / "data", variant, replace={file: replace})
    result, out = _eval_suite(tmp_path, variant, split, tiny_checkpoint)
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert f"{FILES[variant][0]}/{file}: refused" in lines[0] and global_name in lines[0]
    assert not marker.exists() and not (out / "results.csv").exists()


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        ({"batches.meta": {"label_names": 0}}, "batches.meta: 'label_names' must be a list of class names"),
        ({"batches.meta": {"label_names": [1] * 10}}, "batches.meta: 'label_names' must be a list of class names"),
        ({"test_batch": {"data": "pixels", "labels": [0]}}, "test_batch: 'data' must be a uint8 array"),
        ({"test_batch": {"data": np.zeros((1, 3072), np.uint8), "labels": 7}}, "test_batch: 'labels' must be a list"),
        ({"test_batch": {"data": np.zeros((1, 3072), np.uint8), "labels": ["a"]}}, "'labels' must be a list of int"),
    ],
    ids=["meta-int", "meta-numbers", "data-str", "labels-int", "labels-str"],
)
def test_malformed_but_harmless_cifar_contents_are_one_line(tmp_path, tiny_checkpoint, replace, message):
    write_cifar(tmp_path / "data", "cifar10", replace=replace)
    with pytest.raises(DataError, match=message):
        build_dataset("cifar10", tmp_path / "data", "test")
    result, _ = _eval_suite(tmp_path, "cifar10", "test", tiny_checkpoint)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert message in result.stderr


@pytest.mark.parametrize("cut", [0, 1, 40, -1])
def test_truncated_cifar_pickles_name_the_file(tmp_path, tiny_checkpoint, cut):
    write_cifar(tmp_path / "data", "cifar10")
    meta = tmp_path / "data" / "cifar-10-batches-py" / "batches.meta"
    meta.write_bytes(meta.read_bytes()[:cut])
    with pytest.raises(DataError, match=f"{meta}: not a readable CIFAR pickle batch"):
        build_dataset("cifar10", tmp_path / "data", "test")
    result, _ = _eval_suite(tmp_path, "cifar10", "test", tiny_checkpoint)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert f"{meta}: not a readable CIFAR pickle batch" in result.stderr


@pytest.mark.parametrize(
    "obj",
    [
        Payload(pickle.loads, (b"N.",)),  # even a harmless-looking function outside the list
        Payload(np.load, ("x.npy",)),
        Payload(getattr, ("text", "upper")),
    ],
    ids=["pickle.loads", "numpy.load", "getattr"],
)
def test_globals_outside_the_list_are_refused(tmp_path, obj):
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps({"x": obj}, protocol=2))
    with pytest.raises(ForbiddenGlobal, match=f"{path}: refused: the pickle calls "):
        load_data_pickle(path)


def test_allowed_helpers_refuse_what_is_not_data(tmp_path):
    """``_codecs.encode`` rebuilds bytes only with latin1; ``bytes(n)`` (an allocation) is refused."""
    import _codecs

    for obj, what in [(Payload(_codecs.encode, ("abc", "rot13")), "rot13"), (Payload(bytes, (10**6,)), "bytes")]:
        path = tmp_path / "p.pkl"
        path.write_bytes(pickle.dumps(obj, protocol=2))
        with pytest.raises(DataError, match=f"{path}: not a readable pickle .*{what}"):
            load_data_pickle(path)


@pytest.mark.parametrize("protocol", [0, 2, 3, 4, 5])
def test_referenced_globals_reads_the_names_without_loading(tmp_path, protocol):
    marker = tmp_path / "marker"
    obj = {"a": [payloads(marker)["os.system"][0], np.zeros(2)], "b": payloads(marker)["builtins.exec"][0]}
    names = referenced_globals(pickle.dumps(obj, protocol=protocol))
    assert "posix.system" in names and "builtins.exec" in names
    assert not marker.exists()


# --- nothing else in the package unpickles plainly -------------------------------------------------------------


def _unsafe_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """Calls that could run code from a file: pickle/_pickle/dill/joblib/marshal loads, pickle.Unpickler,
    torch.load without ``weights_only=True``, numpy load with ``allow_pickle=True``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("pickle", "_pickle", "dill", "marshal", "shelve"):
            names = {alias.name for alias in node.names}
            if names & {"load", "loads", "Unpickler", "open"}:
                found.append((node.lineno, f"from {node.module} import {', '.join(sorted(names))}"))
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        keywords = {kw.arg: kw.value for kw in node.keywords}
        root, _, attr = name.rpartition(".")
        if root in ("pickle", "_pickle", "cPickle", "dill", "joblib", "marshal", "shelve") and attr in (
            "load",
            "loads",
            "Unpickler",
            "open",
        ):
            found.append((node.lineno, name))
        elif name == "torch.load":
            flag = keywords.get("weights_only")
            if not (isinstance(flag, ast.Constant) and flag.value is True):
                found.append((node.lineno, "torch.load without weights_only=True"))
        elif name in ("np.load", "numpy.load"):
            flag = keywords.get("allow_pickle")
            if not (flag is None or (isinstance(flag, ast.Constant) and flag.value is False)):
                found.append((node.lineno, f"{name} with allow_pickle"))
    return found


def test_no_plain_unpickling_anywhere_in_the_package():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "safe_pickle.py":  # the restricted unpickler itself (pickle.Unpickler subclassed)
            continue
        calls = _unsafe_calls(ast.parse(path.read_text(), str(path)))
        if calls:
            offenders[str(path.relative_to(PACKAGE.parent))] = calls
    assert offenders == {}


def test_the_package_scan_would_catch_each_unsafe_form():
    source = """
import pickle, torch, numpy as np
pickle.load(f, encoding="latin1")
pickle.loads(b)
torch.load(p)
torch.load(p, weights_only=False)
np.load(p, allow_pickle=True)
torch.load(p, weights_only=True)
np.load(p)
"""
    assert [line for line, _ in _unsafe_calls(ast.parse(source))] == [3, 4, 5, 6, 7]
