"""Checkpoint refusals say why, safely: the blocked global or the damage, in one line, never torch's advice to load
with weights_only=False, and no torch warning before it; a folder given as a checkpoint is called a folder."""

from __future__ import annotations

import builtins
import io
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from cli_runner import cli

from cyclip_bench.errors import UserError
from cyclip_bench.models import load_checkpoint
from cyclip_bench.models.checkpoint import _BLOCKED_GLOBAL, _UNSUPPORTED_OPCODE
from cyclip_bench.models.interop import load_for_eval, load_weights_file


class Payload:
    """Pickles as ``func(*args)``: what a booby-trapped checkpoint holds."""

    def __init__(self, func, args: tuple) -> None:  # noqa: ANN001
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


def _evil(marker: Path, func=os.system) -> dict:  # noqa: ANN001
    """A checkpoint-like dict whose "hook" creates ``marker`` when unpickled plainly (no tensors: in a plain
    pickle a tensor is itself a refused global, torch.storage._load_from_bytes, which would be named first)."""
    args = {
        os.system: (f"touch {marker}",),
        subprocess.run: (["touch", str(marker)],),
        builtins.exec: (f"open({str(marker)!r}, 'w').close()",),
    }[func]
    return {"hook": Payload(func, args), "step": 1}


WRITERS = {
    "zip": lambda path, obj: torch.save(obj, path),
    "raw-torch": lambda path, obj: torch.save(obj, path, _use_new_zipfile_serialization=False),
    "pickle-2": lambda path, obj: path.write_bytes(pickle.dumps(obj, protocol=2)),
    "pickle-4": lambda path, obj: path.write_bytes(pickle.dumps(obj, protocol=4)),
    "pickle-5": lambda path, obj: path.write_bytes(pickle.dumps(obj, protocol=5)),
}


def _refusal(path: Path) -> tuple[str, list[str]]:
    """load_checkpoint's message and the warnings it let through (every warning shown, as on a first run)."""
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with pytest.raises(UserError) as caught:
            load_checkpoint(path)
    return str(caught.value), [str(w.message) for w in shown]


@pytest.mark.parametrize("form", list(WRITERS))
@pytest.mark.parametrize(
    ("func", "name"),
    [(os.system, "posix.system"), (subprocess.run, "subprocess.run"), (builtins.exec, "builtins.exec")],
)
def test_a_booby_trapped_checkpoint_names_the_global_and_never_runs(tmp_path, form, func, name):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    WRITERS[form](path, _evil(marker, func))
    message, shown = _refusal(path)
    assert message.startswith(f"cannot load checkpoint {str(path)!r}: refused: ")
    assert f"it names {name}, which safe loading does not allow" in message, message
    assert "weights_only" not in message and "\n" not in message
    assert shown == []  # torch's "Detected pickle protocol …" warning is not passed on
    assert not marker.exists()


def test_a_plain_pickle_of_tensors_is_refused_for_its_tensor_reader(tmp_path):
    """pickle.dump of a tensor rebuilds it through torch.storage._load_from_bytes (a full, unsafe torch.load)."""
    path = tmp_path / "plain.pt"
    path.write_bytes(pickle.dumps({"w": torch.zeros(2)}, protocol=2))
    assert "it names torch.storage._load_from_bytes, which safe loading does not allow" in _refusal(path)[0]


def test_torch_still_words_its_refusals_as_parsed():
    """The wording load_checkpoint reads (torch 2.6 … 2.14): if torch rewords it, this fails first."""
    texts = {}
    for form in ("zip", "pickle-4"):
        buffer = io.BytesIO()
        if form == "zip":
            torch.save({"hook": Payload(os.system, ("true",))}, buffer)
        else:
            buffer.write(pickle.dumps({"hook": Payload(os.system, ("true",))}, protocol=4))
        buffer.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(pickle.UnpicklingError) as caught:
                torch.load(buffer, weights_only=True)
        texts[form] = str(caught.value)
    assert _BLOCKED_GLOBAL[0].search(texts["zip"]).group(1) == "posix.system"
    assert _UNSUPPORTED_OPCODE.search(texts["pickle-4"]).group(1) == str(pickle.FRAME[0])
    assert "weights_only` set to `False`" in texts["zip"]  # the advice that must never reach the user


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_bytes(b""), "the file is empty (expected a torch.save checkpoint)"),
        (lambda p: p.write_bytes(b"not a checkpoint"), "not a torch.save checkpoint (byte 110 is not a pickle opcode)"),
        (
            lambda p: p.write_bytes(pickle.dumps([1, 2], protocol=2)),
            "not a torch.save checkpoint (RuntimeError: Invalid magic number; corrupt file?)",
        ),
        ("zip", "truncated or corrupt (RuntimeError: PytorchStreamReader failed reading zip archive"),
        ("raw-torch", "truncated or corrupt (RuntimeError: unexpected EOF"),
    ],
    ids=["empty", "text", "plain-list", "truncated-zip", "truncated-raw"],
)
def test_damaged_checkpoints_say_what_is_wrong(tmp_path, make, expected):
    path = tmp_path / "c.pt"
    if isinstance(make, str):  # a good checkpoint of this form, cut in half
        WRITERS[make](path, {"w": torch.arange(1000.0)})
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        make(path)
    message, shown = _refusal(path)
    assert message.startswith(f"cannot load checkpoint {str(path)!r}: {expected}"), message
    assert "weights_only" not in message and "\n" not in message and shown == []


def test_a_checkpoint_that_is_not_a_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], path)
    assert _refusal(path)[0] == f"checkpoint {str(path)!r} is not a dict (found list)"


def test_a_folder_is_called_a_folder_wherever_a_checkpoint_is_read(tmp_path):
    folder = tmp_path / "run.pt"
    folder.mkdir()
    expected = f"checkpoint {str(folder)!r} is a folder, expected a checkpoint file"
    with pytest.raises(UserError, match=expected):
        load_checkpoint(folder)
    with pytest.raises(UserError, match=expected):
        load_for_eval(str(folder))  # before: "does not exist (a pretrained tag needs --model NAME)"
    with pytest.raises(UserError, match=expected):
        load_for_eval(str(folder), model_name="tiny")  # before: "neither a file nor a pretrained tag"
    safetensors = tmp_path / "w.safetensors"
    safetensors.mkdir()
    with pytest.raises(UserError, match="is a folder, expected a checkpoint file"):
        load_weights_file(torch.nn.Linear(1, 1), safetensors, "--pretrained")


def _eval_args(tmp_path: Path, checkpoint: Path) -> list[str]:
    """`cyclip-bench eval` of ``checkpoint`` on a two-image labels.csv suite (valid data: only the checkpoint is
    wrong, and the data is resolved before the checkpoints are read)."""
    from PIL import Image

    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for i in range(2):
        Image.new("RGB", (8, 8), (200 * i, 10, 10)).save(data / f"{i}.png")
    (data / "labels.csv").write_text("image,label\n0.png,0\n1.png,1\n")
    (data / "classes.json").write_text('{"classes": ["red", "black"], "templates": ["a {} picture."]}')
    suite = tmp_path / "suite.toml"
    suite.write_text(
        'name = "s"\nversion = 1\n[[tasks]]\nname = "z"\nkind = "zeroshot"\n'
        f'dataset = {{ path = "{data}", format = "labels-csv", metadata = "{data / "classes.json"}" }}\n'
    )
    paths = ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--data-root", str(data)]
    return ["eval", "--suite", str(suite), "--checkpoint", str(checkpoint), *paths, "--workers", "0", "-q"]


@pytest.mark.parametrize("form", ["zip", "raw-torch"])
def test_eval_refuses_a_booby_trapped_checkpoint_in_one_line(tmp_path, form):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    WRITERS[form](path, _evil(marker))
    result = cli(*_eval_args(tmp_path, path))
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot load checkpoint") and "it names posix.system" in lines[0]
    assert "weights_only" not in result.stderr and not marker.exists() and not (tmp_path / "out").exists()


def test_eval_of_a_folder_says_folder(tmp_path):
    (tmp_path / "ckpt").mkdir()
    result = cli(*_eval_args(tmp_path, tmp_path / "ckpt"))
    assert result.returncode == 2 and result.stderr.splitlines() == [
        f"error: checkpoint {str(tmp_path / 'ckpt')!r} is a folder, expected a checkpoint file (a training run "
        f"writes RUN/checkpoints/latest.pt; a released model's folder holds open_clip_config.json + weights)"
    ]


def test_the_console_command_prints_one_line_and_no_torch_warning(tmp_path):
    """A plain protocol-4 pickle makes torch warn about the protocol before refusing: in a fresh process (where
    the warning is shown the first time) stderr must still be exactly the error line."""
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    WRITERS["pickle-4"](path, _evil(marker))
    args = _eval_args(tmp_path, path)
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    done = subprocess.run(
        [sys.executable, "-m", "cyclip_bench", *args], capture_output=True, text=True, env=env, timeout=300
    )
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: cannot load checkpoint") and "it names posix.system" in lines[0]
    assert "weights_only" not in done.stderr and "Warning" not in done.stderr and not marker.exists()
