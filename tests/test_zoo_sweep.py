"""A zoo sweep: one eval over several models decodes each dataset split once per distinct PIL stage and tokenises
each text list once per tokenizer, and its features and results equal each model evaluated alone — in memory,
memory-mapped under the cache folder, streamed (no cache folder, over the bound) and under two ranks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import open_clip
import pytest
import torch

import cyclip_bench.data.labelled as labelled_module
import cyclip_bench.eval.shared as shared_module
from cyclip_bench.data.catalog import DATA_KINDS
from cyclip_bench.eval import EvalConfig, evaluate
from cyclip_bench.eval.shared import TokenStore, pil_stage_key, tokenizer_identity

# tiny and tiny-vit: 32 px, equal preprocessing (one PIL stage); tiny-64: 64 px (another).
PRESETS = ("tiny", "tiny-vit", "tiny-64")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> dict[str, Path]:
    """Three untrained tiny models, one per preset (different weights and architectures)."""
    from cyclip_bench.models import create_model, model_payload, save_checkpoint

    folder = tmp_path_factory.mktemp("zoo")
    paths = {}
    for seed, name in enumerate(PRESETS):
        torch.manual_seed(seed)
        model, info = create_model(name)
        paths[name] = folder / f"{name}.pt"
        save_checkpoint(paths[name], model_payload(model, info))
    return paths


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    """Zero-shot (labelled splits, class prompts), retrieval (images + captions) and consistency (test and train
    splits, caption pairs): every way a task reads images and texts, without the linear probes' fitting time."""
    path = tmp_path_factory.mktemp("suite") / "zoo.toml"
    path.write_text(
        'name = "zoo"\nversion = 1\ndescription = "zoo sweep test"\n'
        'include = ["world-zeroshot", "world-retrieval", "world-consistency"]\n'
    )
    return path


def _cfg(checkpoints, suite, world_dir, folder: Path, **kw) -> EvalConfig:
    base = dict(
        checkpoints=tuple(str(c) for c in checkpoints),
        suite=str(suite),
        out=folder / "out",
        data_root=world_dir,
        workers=0,
        batch_size=24,  # ragged last batches: the shared path must batch exactly like a model's own loader
        cache_dir=folder / "cache",
        progress=False,
    )
    return EvalConfig(**{**base, **kw})


def _tasks(path: Path) -> list[dict]:
    return json.loads(path.read_text())["tasks"]


def _features(cache: Path) -> dict[str, torch.Tensor]:
    return {p.name: torch.load(p, weights_only=True) for p in sorted(cache.glob("*/*.pt"))}


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """Every image file decoded (workers=0: in this process)."""
    calls: list[str] = []
    original = labelled_module.load_image

    def counting(path):
        calls.append(str(path))
        return original(path)

    monkeypatch.setattr(labelled_module, "load_image", counting)
    return calls


@pytest.fixture(scope="module")
def alone(zoo, suite, world_dir, tmp_path_factory) -> dict[str, dict]:
    """Each model evaluated by itself (cold cache): its results' tasks and its cached features."""
    out = {}
    for name, path in zoo.items():
        folder = tmp_path_factory.mktemp(f"alone-{name}")
        [result] = evaluate(_cfg([path], suite, world_dir, folder))
        out[name] = {"tasks": _tasks(result), "features": _features(folder / "cache"), "opened": None}
    return out


def _decodes_per_model(world_dir, suite) -> int:
    """Image files one model's run of ``suite`` decodes."""
    from cyclip_bench.eval.plan import load_tasks
    from cyclip_bench.eval.splits import build_needs

    _, tasks = load_tasks(str(suite))
    datasets = build_needs(tasks, world_dir)
    return sum(len(DATA_KINDS[json.loads(key)[1]].images(data)) for key, data in datasets.items())


def test_zoo_decodes_once_per_preprocessing_and_equals_each_model_alone(zoo, suite, world_dir, tmp_path, alone, opened):
    paths = evaluate(_cfg(zoo.values(), suite, world_dir, tmp_path))
    per_model = _decodes_per_model(world_dir, suite)
    # Two PIL stages (32 px for tiny and tiny-vit, 64 px for tiny-64): every file decoded twice, not three times.
    assert len(opened) == 2 * per_model
    features = _features(tmp_path / "cache")
    for name, path in zip(PRESETS, paths, strict=True):
        assert _tasks(path) == alone[name]["tasks"], name  # every metric and per-example array, exactly
        for key, tensor in alone[name]["features"].items():
            assert torch.equal(features[key], tensor), (name, key)
    runs = {name: json.loads(p.read_text())["run"] for name, p in zip(PRESETS, paths, strict=True)}
    shared = runs["tiny"]["shared_decoding"]
    assert shared["checkpoints"] == ["tiny", "tiny-vit"] and shared["images_decoded"] == per_model
    assert runs["tiny-vit"]["shared_decoding"]["images_decoded"] == 0  # read tiny's pixels
    assert "shared_decoding" not in runs["tiny-64"]  # alone in its group: streamed as in a one-model run
    # The cache record is each checkpoint's own (the same as its run alone), not the run's running total.
    assert runs["tiny-vit"]["cache"] == {"enabled": True, "hits": 0, "misses": len(alone["tiny-vit"]["features"])}


def test_results_keep_the_plan_order_when_groups_reorder_the_run(zoo, suite, world_dir, tmp_path, alone):
    order = [zoo["tiny"], zoo["tiny-64"], zoo["tiny-vit"]]  # tiny-64 runs last (after the 32 px group)
    paths = evaluate(_cfg(order, suite, world_dir, tmp_path))
    assert [p.name for p in paths] == ["tiny__zoo.json", "tiny-64__zoo.json", "tiny-vit__zoo.json"]
    for name, path in zip(("tiny", "tiny-64", "tiny-vit"), paths, strict=True):
        assert _tasks(path) == alone[name]["tasks"], name
    rows = (tmp_path / "out" / "results.csv").read_text().splitlines()[1:]
    assert {row.split(",")[0] for row in rows} == set(PRESETS)


def test_over_the_memory_bound_pixels_are_memory_mapped_under_the_cache(
    zoo, suite, world_dir, tmp_path, alone, opened, monkeypatch
):
    monkeypatch.setattr(shared_module, "PIXELS_LIMIT_BYTES", 0)
    spilled: list[str] = []
    original = shared_module.PixelStore.close

    def close(store):
        spilled.extend(store.spilled)
        folder = store._spill_folder
        assert folder is not None and folder.parent == tmp_path / "cache" / "pixels" and any(folder.iterdir())
        original(store)
        assert not folder.exists()  # removed when the group is done

    monkeypatch.setattr(shared_module.PixelStore, "close", close)
    paths = evaluate(_cfg([zoo["tiny"], zoo["tiny-vit"]], suite, world_dir, tmp_path))
    assert spilled and len(opened) == _decodes_per_model(world_dir, suite)
    for name, path in zip(("tiny", "tiny-vit"), paths, strict=True):
        assert _tasks(path) == alone[name]["tasks"], name
    assert list((tmp_path / "cache" / "pixels").iterdir()) == []


def test_over_the_bound_without_a_cache_folder_each_model_streams(zoo, suite, world_dir, tmp_path, alone, opened):
    shared_module.PIXELS_LIMIT_BYTES, limit = 0, shared_module.PIXELS_LIMIT_BYTES
    try:
        paths = evaluate(_cfg([zoo["tiny"], zoo["tiny-vit"]], suite, world_dir, tmp_path, cache=False))
    finally:
        shared_module.PIXELS_LIMIT_BYTES = limit
    assert len(opened) == 2 * _decodes_per_model(world_dir, suite)  # decoded per model, as two runs would
    for name, path in zip(("tiny", "tiny-vit"), paths, strict=True):
        assert _tasks(path) == alone[name]["tasks"], name


def test_texts_are_tokenised_once_per_tokenizer(zoo, suite, world_dir, tmp_path, monkeypatch):
    tokenised: list[int] = []
    original = open_clip.tokenizer.SimpleTokenizer.__call__

    def counting(self, texts, context_length=None):
        tokenised.append(len(texts) if isinstance(texts, list) else 1)
        return original(self, texts, context_length)

    monkeypatch.setattr(open_clip.tokenizer.SimpleTokenizer, "__call__", counting)
    evaluate(_cfg([zoo["tiny"]], suite, world_dir, tmp_path / "one", cache=False))
    one = sum(tokenised)
    tokenised.clear()
    evaluate(_cfg(zoo.values(), suite, world_dir, tmp_path / "three", cache=False))
    assert one > 0 and sum(tokenised) == one  # the three models share open_clip's BPE tokenizer at 32 tokens


def test_tokenizer_identity_tells_tokenizers_apart():
    from open_clip.tokenizer import SimpleTokenizer

    a, b, c = SimpleTokenizer(context_length=32), SimpleTokenizer(context_length=32), SimpleTokenizer(context_length=77)
    assert tokenizer_identity(a) == tokenizer_identity(b) != tokenizer_identity(c)
    lower = SimpleTokenizer(context_length=32, clean="whitespace")
    assert tokenizer_identity(lower) != tokenizer_identity(a)
    assert tokenizer_identity(lambda texts: torch.zeros(len(texts), 4)) is None  # unknown: never shared
    # An unknown tokenizer is called for every model: nothing is kept under a None identity.
    store, calls = TokenStore(), []

    def tokenizer(texts):
        calls.append(list(texts))
        return torch.zeros(len(texts), 4, dtype=torch.long)

    for _ in range(2):
        assert [t.shape[0] for t in store.batches(tokenizer, list("abcde"), range(5), 2)] == [2, 2, 1]
    assert len(calls) == 6


def test_pil_stage_key_ignores_only_the_normalisation():
    base = {"image_size": 32, "mean": [0.5] * 3, "std": [0.5] * 3, "interpolation": "bicubic"}
    assert pil_stage_key(base) == pil_stage_key({**base, "mean": [0.1] * 3, "std": [0.2] * 3})
    for change in ({"image_size": 64}, {"interpolation": "bilinear"}, {"resize_mode": "squash"}):
        assert pil_stage_key({**base, **change}) != pil_stage_key(base)


def _torchrun(*args: str) -> None:
    run = subprocess.run(
        [
            *(sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29541"),
            *("-m", "cyclip_bench", "eval", *args),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]


@pytest.mark.slow
def test_two_ranks_share_decoding_and_equal_each_model_alone(zoo, world_dir, tmp_path):
    common = [
        *("--suite", "world-consistency", "--data-root", str(world_dir), "--workers", "0"),
        *("--batch-size", "16", "--no-cache", "-q"),
    ]
    both = ("--checkpoint", str(zoo["tiny"]), "--checkpoint", str(zoo["tiny-vit"]))
    _torchrun(*both, *common, "--out", str(tmp_path / "two"))
    _torchrun("--checkpoint", str(zoo["tiny-vit"]), *common, "--out", str(tmp_path / "alone"))
    one = subprocess.run(
        [sys.executable, "-m", "cyclip_bench", "eval", *both, *common, "--out", str(tmp_path / "one")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    result = "tiny-vit__world-consistency.json"
    zoo_run = json.loads((tmp_path / "two" / result).read_text())
    assert zoo_run["run"]["world_size"] == 2
    # tiny-vit read the pixels tiny's run decoded, rank by rank: exactly its two-rank run alone.
    assert zoo_run["tasks"] == json.loads((tmp_path / "alone" / result).read_text())["tasks"]
    for name in ("tiny", "tiny-vit"):  # and a one-process run's numbers (the criterion of tests/test_eval.py)
        a = json.loads((tmp_path / "one" / f"{name}__world-consistency.json").read_text())
        b = json.loads((tmp_path / "two" / f"{name}__world-consistency.json").read_text())
        for ta, tb in zip(a["tasks"], b["tasks"], strict=True):
            assert ta["per_example"] == tb["per_example"], name
            assert ta["metrics"] == pytest.approx(tb["metrics"], abs=1e-5), name
    shared = json.loads((tmp_path / "two" / "tiny__world-consistency.json").read_text())["run"]["shared_decoding"]
    # The record is the first rank's: it decoded its half of each split only.
    assert 0 < shared["images_decoded"] < _decodes_per_model(world_dir, "world-consistency")


def test_a_single_model_run_decodes_as_before(zoo, suite, world_dir, tmp_path, opened):
    [path] = evaluate(_cfg([zoo["tiny-64"]], suite, world_dir, tmp_path, cache=False))
    assert len(opened) == _decodes_per_model(world_dir, suite)
    assert "shared_decoding" not in json.loads(path.read_text())["run"]


def test_a_sweeps_report_compares_the_models_side_by_side(zoo, world_dir, tmp_path):
    """`eval` with several checkpoints, then `report` on its --out: one column per model in the overview and in
    each task's table, and the consistency geometry (modality gap, gaps, alignment/uniformity) of every model in
    one table and one figure."""
    from cli_runner import cli

    checkpoints = [arg for path in zoo.values() for arg in ("--checkpoint", str(path))]
    ran = cli(
        "eval", *checkpoints, "--suite", "world-consistency", "--data-root", str(world_dir),
        "--out", str(tmp_path / "sweep"), "--no-cache", "--workers", "0", "--quiet",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    report = cli("report", str(tmp_path / "sweep"), "--out", str(tmp_path / "report"), "--n-boot", "100")
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report" / "report.md").read_text()
    # a folder's results are read in file-name order (explicit files: in the order given)
    labels = [path.name.split("__")[0] for path in sorted((tmp_path / "sweep").glob("*__*.json"))]
    assert sorted(labels) == sorted(PRESETS)
    header = "| " + " | ".join(labels) + " |"
    assert f"| suite · task · metric {header}" in text  # the overview: one column per model
    section = text.split("### shapes-consistency", 1)[1].split("\n### ", 1)[0]
    assert f"| metric {header}" in section
    for metric in ("modality\\_gap", "inmodal\\_gap", "crossmodal\\_gap", "align\\_image\\_text", "uniform\\_joint"):
        [row] = [line for line in section.splitlines() if line.startswith(f"| {metric} ")]
        assert row.count("|") == len(labels) + 2, row  # a value for every model, side by side
    assert "![Embedding geometry](plots/geometry-world-consistency-shapes-consistency.png)" in section
    assert (tmp_path / "report" / "plots" / "geometry-world-consistency-shapes-consistency.png").stat().st_size > 0
