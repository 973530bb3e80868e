"""Checkpoint labels in a shared --out: a result belongs to the checkpoint file it records (sha256). Another
checkpoint under the same label is refused unless --overwrite; `--checkpoint LABEL=PATH` keeps both."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import cli

from cyclip_bench.errors import ConfigError
from cyclip_bench.eval.config import EvalConfig, checkpoint_entry
from cyclip_bench.fileio import sha256_file


def _eval(world_dir: Path, out: Path, *args: str):
    return cli(
        "eval", *args, "--suite", "world-zeroshot", "--data-root", str(world_dir), "--out", str(out),
        "--cache-dir", str(out.parent / "cache"), "--workers", "0", "-q",
    )  # fmt: skip


def _one_line(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


def test_another_checkpoint_under_the_same_label_is_refused_and_the_result_kept(
    world_dir, same_label_checkpoints, tmp_path
):
    exp1, exp2 = same_label_checkpoints["exp1"], same_label_checkpoints["exp2"]
    out = tmp_path / "out"
    assert _eval(world_dir, out, "-c", str(exp1)).returncode == 0
    result = out / "clip__world-zeroshot.json"
    before = result.read_bytes()
    for extra in ([], ["--resume"], ["--dry-run"]):
        err = _one_line(_eval(world_dir, out, "-c", str(exp2), *extra))
        for part in ("'clip'", str(result), str(exp1.resolve()), str(exp2.resolve()), "LABEL=", "--overwrite"):
            assert part in err, (extra, part, err)
        assert result.read_bytes() == before
    # --overwrite replaces it with the other checkpoint's results
    assert _eval(world_dir, out, "-c", str(exp2), "--overwrite").returncode == 0
    assert json.loads(result.read_text())["checkpoint"]["path"] == str(exp2.resolve())


def test_label_equals_path_keeps_both_results(world_dir, same_label_checkpoints, tmp_path):
    exp1, exp2 = same_label_checkpoints["exp1"], same_label_checkpoints["exp2"]
    out = tmp_path / "out"
    assert _eval(world_dir, out, "-c", str(exp1)).returncode == 0
    ran = _eval(world_dir, out, "-c", f"exp2={exp2}")
    assert ran.returncode == 0, ran.stderr
    first = json.loads((out / "clip__world-zeroshot.json").read_text())["checkpoint"]
    second = json.loads((out / "exp2__world-zeroshot.json").read_text())["checkpoint"]
    assert (first["label"], first["path"]) == ("clip", str(exp1.resolve()))
    assert (second["label"], second["path"]) == ("exp2", str(exp2.resolve()))
    assert set(pd.read_csv(out / "results.csv")["checkpoint"]) == {"clip", "exp2"}
    # both labels in one invocation, and a rerun of the same checkpoint still resumes its finished tasks
    again = _eval(world_dir, out, "-c", f"first={exp1}", "-c", f"exp2={exp2}", "--resume")
    assert again.returncode == 0, again.stderr
    resumed = json.loads((out / "exp2__world-zeroshot.json").read_text())["run"]["resumed_tasks"]
    assert resumed == ["fine-zeroshot", "shapes-zeroshot"]


def test_two_checkpoints_with_one_label_in_one_invocation_are_refused(world_dir, same_label_checkpoints, tmp_path):
    exp1, exp2 = same_label_checkpoints["exp1"], same_label_checkpoints["exp2"]
    err = _one_line(_eval(world_dir, tmp_path / "out", "-c", str(exp1), "-c", str(exp2)))
    assert "share the label 'clip'" in err and "LABEL=" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_file_whose_name_holds_an_equals_sign_is_a_path(world_dir, same_label_checkpoints, tmp_path):
    odd = tmp_path / "lr=0.1.pt"
    shutil.copy(same_label_checkpoints["exp1"], odd)
    assert checkpoint_entry(str(odd)) == (None, str(odd))
    assert checkpoint_entry(f"mine={odd}") == ("mine", str(odd))
    ran = _eval(world_dir, tmp_path / "out", "-c", str(odd))
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "out" / "lr=0.1__world-zeroshot.json").is_file()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("a/b=missing.pt", "'a/b' before '=' is not a label for LABEL=PATH (it contains a path separator"),
        ("=missing.pt", "'' before '=' is not a label for LABEL=PATH (it is empty"),
        ("mine=", "nothing after '=' (expected LABEL=PATH)"),
    ],
)
def test_bad_label_equals_path_names_the_flag(tmp_path, entry, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        EvalConfig(checkpoints=(entry,), suite="world-zeroshot", out=tmp_path / "out")


def test_a_checkpoint_file_changed_since_its_result_is_recomputed_not_refused(
    world_dir, same_label_checkpoints, tmp_path
):
    run = tmp_path / "runs" / "clip" / "checkpoints" / "latest.pt"  # e.g. trained further, saved at the same path
    run.parent.mkdir(parents=True)
    shutil.copy(same_label_checkpoints["exp1"], run)
    out = tmp_path / "out"
    assert _eval(world_dir, out, "-c", str(run)).returncode == 0
    shutil.copy(same_label_checkpoints["exp2"], run)
    again = _eval(world_dir, out, "-c", str(run), "--resume")
    assert again.returncode == 0, again.stderr
    obj = json.loads((out / "clip__world-zeroshot.json").read_text())
    assert obj["checkpoint"]["sha256"] == sha256_file(run) and obj["run"]["resumed_tasks"] == []


def test_one_checkpoint_given_twice_is_refused_as_such(world_dir, same_label_checkpoints, tmp_path):
    """The same file twice (a shell glob that overlaps another) is said to be given twice — not that the two
    "share a label", whose advice (give one another label) would evaluate it twice."""
    exp1 = same_label_checkpoints["exp1"]
    err = _one_line(_eval(world_dir, tmp_path / "out", "-c", str(exp1), "-c", str(exp1)))
    assert err == f"error: --checkpoint: {exp1.resolve()} is given twice (as 'clip'); pass it once\n"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
