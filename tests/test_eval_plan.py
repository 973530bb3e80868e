"""eval as plan → run → write: ``--dry-run`` prints the plan without loading a model or decoding an image; a run
executes the plan it printed (nothing resolved twice); data kinds are typed objects, not strings to compare."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from cli_runner import cli

import cyclip_bench
from cyclip_bench.cli.derive import config_from_flags
from cyclip_bench.data import catalog
from cyclip_bench.data.catalog import DATASETS, LABELLED, MULTILABEL, RETRIEVAL, DatasetEntry
from cyclip_bench.errors import UserError
from cyclip_bench.eval import EvalConfig, evaluate, make_plan
from cyclip_bench.eval.features import Encoder
from cyclip_bench.fileio import sha256_file


def _fail(what: str):
    def fail(*args, **kwargs):
        raise AssertionError(f"{what} during a dry run")

    return fail


@pytest.fixture
def nothing_loaded(monkeypatch):
    """Any model built, checkpoint payload read, image decoded or batch encoded fails the test."""
    import PIL.Image

    from cyclip_bench.models import factory, interop

    monkeypatch.setattr(interop, "load_for_eval", _fail("a checkpoint was loaded"))
    monkeypatch.setattr(interop, "read_weights_payload", _fail("a checkpoint's weights were read"))
    monkeypatch.setattr(interop, "create_model", _fail("a model was built"))
    monkeypatch.setattr(interop, "create_model_from_config", _fail("a model was built"))
    monkeypatch.setattr(factory, "create_model", _fail("a model was built"))
    monkeypatch.setattr(PIL.Image, "open", _fail("an image was decoded"))
    monkeypatch.setattr(Encoder, "_run", _fail("something was encoded"))


def test_dry_run_prints_the_plan_and_loads_no_checkpoint(world_dir, same_label_checkpoints, tmp_path, nothing_loaded):
    exp1, exp2 = same_label_checkpoints["exp1"], same_label_checkpoints["exp2"]
    out = tmp_path / "out"
    ran = cli(
        "eval", "-c", str(exp1), "-c", f"second={exp2}", "--suite", "world", "--data-root", str(world_dir),
        "--out", str(out), "--no-cache", "--dry-run",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    shapes, retrieval = world_dir / "shapes", world_dir / "retrieval" / "captions.csv"
    assert lines[0].startswith("suite world v") and "the data each one reads" in lines[0]
    # every task, each split it reads with its file and size
    assert "  shapes-zeroshot (zeroshot)" in lines and "  shapes-consistency (consistency)" in lines
    for split, dataset, source, unit in (
        ("test ", "world-shapes", shapes / "test" / "labels.csv", "examples"),
        ("train", "world-shapes", shapes / "train" / "labels.csv", "examples"),
        ("test ", "world-retrieval", retrieval, "captions"),
    ):
        shown = re.compile(rf"    {split} {dataset}: {re.escape(str(source))} \(\d+ {unit}\)")
        assert any(shown.fullmatch(line) for line in lines), (split, dataset)
    # the checkpoints: label, resolved file, sha256 (hashed, never loaded)
    assert f"  clip: {exp1.resolve()} (sha256 {sha256_file(exp1)})" in lines
    assert f"  second: {exp2.resolve()} (sha256 {sha256_file(exp2)})" in lines
    assert f"would write {out / 'clip__world.json'}" in lines and f"would write {out / 'second__world.json'}" in lines
    assert f"would write {out / 'results.csv'}" in lines
    assert not out.exists() or not any(out.iterdir())


def test_dry_run_plans_a_pretrained_tag_by_name(world_dir, tmp_path, nothing_loaded):
    ran = cli(
        "eval", "-c", "openai", "--model", "RN50", "--suite", "world-zeroshot", "--data-root", str(world_dir),
        "--out", str(tmp_path / "out"), "--no-cache", "--dry-run",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "  RN50-openai: pretrained:RN50:openai (sha256 of its weights once loaded, model RN50)" in ran.stdout
    assert f"would write {tmp_path / 'out' / 'RN50-openai__world-zeroshot.json'}" in ran.stdout


def test_dry_run_still_refuses_what_a_run_refuses(world_dir, same_label_checkpoints, tmp_path, nothing_loaded):
    exp1, exp2 = same_label_checkpoints["exp1"], same_label_checkpoints["exp2"]
    base = ["--suite", "world-zeroshot", "--data-root", str(world_dir), "--out", str(tmp_path), "--dry-run"]
    both = cli("eval", "-c", str(exp1), "-c", str(exp2), *base)
    assert both.returncode == 2 and "share the label 'clip'" in both.stderr
    missing = cli("eval", "-c", str(tmp_path / "nope.pt"), *base)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_a_run_executes_its_plan_resolving_nothing_twice(world_dir, same_label_checkpoints, tmp_path, monkeypatch):
    """Each dataset split is built once (the plan's; every checkpoint reads a copy through its own transform),
    each checkpoint file is hashed and read once, the suite loaded once."""
    import cyclip_bench.eval.plan as plan_module
    from cyclip_bench.models import interop

    calls: Counter[str] = Counter()

    def counting(name: str, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(catalog, "build_dataset", counting("labelled", catalog.build_dataset))
    monkeypatch.setattr(catalog, "build_retrieval_dataset", counting("retrieval", catalog.build_retrieval_dataset))
    monkeypatch.setattr(interop, "sha256_file", counting("hash", interop.sha256_file))
    monkeypatch.setattr(interop, "read_weights_payload", counting("payload", interop.read_weights_payload))
    monkeypatch.setattr(plan_module, "load_suite", counting("suite", plan_module.load_suite))
    suite = tmp_path / "mine.toml"
    suite.write_text(
        'name = "mine"\nversion = 1\n'
        '[[tasks]]\nname = "z"\nkind = "zeroshot"\ndataset = "world-shapes"\n'
        '[[tasks]]\nname = "r"\nkind = "retrieval"\ndataset = "world-retrieval"\n'
        '[[tasks]]\nname = "k"\nkind = "consistency"\ndataset = "world-shapes"\n'
        'options = { k = [1], pairs = "world-retrieval" }\n'
    )
    exp1, exp2 = same_label_checkpoints["exp1"], same_label_checkpoints["exp2"]
    cfg = EvalConfig(
        checkpoints=(str(exp1), f"second={exp2}"), suite=str(suite), out=tmp_path / "out", data_root=world_dir,
        workers=0, cache=False, progress=False,
    )  # fmt: skip
    paths = evaluate(cfg)
    # shapes test + shapes train + the retrieval set, once each for both checkpoints and all three tasks
    assert calls == {"labelled": 2, "retrieval": 1, "hash": 2, "payload": 2, "suite": 1}
    assert [p.name for p in paths] == ["clip__mine.json", "second__mine.json"] and all(p.is_file() for p in paths)


def test_the_planned_datasets_stay_untransformed(world_dir, same_label_checkpoints, tmp_path):
    cfg = EvalConfig(
        checkpoints=(str(same_label_checkpoints["exp1"]),), suite="world-retrieval", out=tmp_path / "out",
        data_root=world_dir,
    )  # fmt: skip
    plan = make_plan(cfg)
    [data] = plan.datasets.values()
    copy = RETRIEVAL.with_transform(data, str.upper)
    assert copy.images.transform is str.upper and data.images.transform is None
    assert copy.images.files is data.images.files and copy.captions is data.captions  # nothing read again
    shapes = LABELLED.build("world-shapes", world_dir, "test")
    assert LABELLED.with_transform(shapes, str.upper).transform is str.upper and shapes.transform is None
    assert RETRIEVAL.images(copy) is copy.images and LABELLED.images(shapes) is shapes


def test_eval_flags_map_onto_the_config(tmp_path):
    given = {"checkpoints": ["a.pt", "b=c.pt"], "suite": "world", "out": str(tmp_path)}
    cfg = config_from_flags(EvalConfig, given)
    assert cfg.checkpoints == ("a.pt", "b=c.pt") and cfg.out == tmp_path
    assert cfg.progress and cfg.cache and cfg.batch_size == 256 and not cfg.dry_run
    quiet = config_from_flags(EvalConfig, {**given, "progress": True, "cache": False})  # -q / --quiet, --no-cache
    assert not quiet.progress and not quiet.cache


# --- data kinds: typed, asked rather than compared ------------------------------------------------------------


def test_catalog_kinds_are_typed_and_a_plugin_may_name_its_kind():
    assert DATASETS.get("world-shapes").kind is LABELLED and DATASETS.get("mscoco").kind is RETRIEVAL
    assert {DATASETS.get(name).kind for name in DATASETS.names()} == {LABELLED, RETRIEVAL, MULTILABEL}
    named = DatasetEntry("retrieval", ("test",), "somewhere", lambda root, split, transform: None)
    assert named.kind is RETRIEVAL
    with pytest.raises(UserError, match="unknown data kind 'captions'"):
        DatasetEntry("captions", ("test",), "somewhere", lambda root, split, transform: None)
    with pytest.raises(UserError, match="the split 'test' only"):
        RETRIEVAL.build("world-retrieval", None, "train")


# A data kind's name compared with a string, in either order, or looked up in a literal tuple/list/set.
_KIND = r"""["'](?:labelled|retrieval|multilabel)["']"""
_DISPATCH = re.compile(rf"(?:==|!=)\s*{_KIND}|{_KIND}\s*(?:==|!=)|\bin\s*[(\[{{][^)\]}}]*{_KIND}")
# The generated world's part kinds (how its images are rendered) are another vocabulary that shares a word.
_OTHER_VOCABULARY = {Path("data") / "synth.py"}


def test_no_data_kind_is_dispatched_on_a_string():
    package = Path(cyclip_bench.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package) in _OTHER_VOCABULARY:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _DISPATCH.search(line):
                found.append(f"{path.relative_to(package)}:{number}: {line.strip()}")
    assert not found, "dispatch on a data kind's name; ask the kind (cyclip_bench.data.catalog.DataKind):\n" + (
        "\n".join(found)
    )
    assert _DISPATCH.search('if need.kind == "retrieval":') and _DISPATCH.search('kind in ("labelled", "x")')
