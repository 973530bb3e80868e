"""The benchmark scripts' CPU paths run end to end (the GPU run itself is a measurement, not a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench_module(name: str):
    """A script of bench/ imported as a module (bench/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_gpu_bench_smoke_path(tmp_path):
    out = tmp_path / "gpu"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_bench.py"), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    figures = json.loads((out / "gpu_bench.json").read_text())
    (row,) = figures["train"]
    assert row["model"] == "tiny" and row["batch"] == 32
    for key in ("clip_pairs_per_s", "cyclip_pairs_per_s", "open_clip_train_pairs_per_s"):
        assert row[key] > 0
    assert row["ours_over_open_clip_train"] == pytest.approx(
        row["clip_pairs_per_s"] / row["open_clip_train_pairs_per_s"]
    )
    assert figures["eval"]["floor_s"] > 0 and figures["eval"]["suite_over_floor"] > 0
    log = (out / "gpu_bench.log").read_text()
    assert "ours/oc" in log and "images/s encoding" in log  # the table is printed last and logged


def _real_layout_bench(args: list[str], out) -> dict:
    """Run bench/real_layout_bench.py with ``args`` into ``out``; the figures it wrote (fails on a non-zero exit)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "real_layout_bench.py"), *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads((out / "real_layout_bench.json").read_text())


def test_real_layout_bench_peak_rss_is_the_commands_own():
    """Each command's peak RSS is its own: os.wait4's ru_maxrss carried this script's high-water mark across exec
    (RN50 figures said 1.3 GB for a 190 MB report). With 600 MB held here, `--help` must still report little."""
    rlb = _bench_module("real_layout_bench")
    held = bytearray(600 * 2**20)
    held[::4096] = b"\x01" * len(held[::4096])  # touch every page: resident in this process
    row = rlb.run(["--help"])
    assert 5 < row["peak_rss_mib"] < 400 and row["wall_s"] > 0
    assert held[0] == 1
    with pytest.raises(SystemExit, match="no-such-command"):
        rlb.run(["no-such-command"])


@pytest.mark.slow
def test_real_layout_bench_smoke_path(tmp_path):
    """The real-layout bench writes its fixture, runs eval + report per suite and reports the figures (retrieval
    only here: the 80,000-prompt ImageNet head is tests/test_real_layout_e2e.py's)."""
    args = ["--suite", "retrieval", "--retrieval-images", "10", "--image-size", "16", "--workers", "0"]
    figures = _real_layout_bench(args, tmp_path)
    assert figures["fixture"]["images"] == 20  # Flickr30k and MS-COCO, 10 images each
    row = figures["suites"]["retrieval"]
    # 100 captions (5 per image); each distinct string is encoded once, and the generated captions repeat a few
    assert row["images"] == 20 and 90 <= row["texts"] <= 100 and row["results_json_bytes"] > 0
    assert row["eval"]["peak_rss_mib"] > 0 and row["report"]["bytes"] > 0 and row["images_per_s"] > 0


@pytest.mark.slow
def test_real_layout_bench_checks_every_checkpoint_format(tmp_path):
    """--formats: the same RN50-quickgelu weights as our checkpoint, an open_clip state dict and the official CyCLIP
    release's layout are each recognised as what they are and give the same metrics (the script exits otherwise).
    Each foreign file (390 MB for RN50) is deleted once evaluated: only our own checkpoint stays."""
    args = ["--suite", "retrieval", "--retrieval-images", "4", "--image-size", "16", "--workers", "0"]
    args += ["--model", "RN50-quickgelu", "--formats", "--format-suite", "retrieval", "--batch-size", "8"]
    formats = _real_layout_bench(args, tmp_path)["formats"]
    assert sorted(formats) == ["cyclip-bench", "cyclip-official", "open_clip"]
    assert {row["model"] for row in formats.values()} == {"RN50-quickgelu"}
    assert {row["loaded_as"] for row in formats.values()} == set(formats)
    assert (
        formats["open_clip"]["metrics"] == formats["cyclip-official"]["metrics"] == formats["cyclip-bench"]["metrics"]
    )
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["RN50-quickgelu.pt"]


def test_clip_benchmark_side_by_side_compares_names_and_templates():
    """The prompt check that decides whether CLIP_benchmark is rerun with our class names (CLIP_benchmark itself
    is not installed in CI; bench/README.md has the measured run)."""
    from cyclip_bench.data.metadata import builtin_metadata

    side = _bench_module("clip_benchmark_side_by_side")
    meta = builtin_metadata("cifar100")
    templates = [t.replace("{}", "{c}") for t in meta.templates]
    assert side.prompts_agree("cifar100", {"classnames": list(meta.classes), "templates": templates}) == {
        "same_class_names": True,
        "same_templates": True,
    }
    torchvision_names = [c.replace(" ", "_") for c in meta.classes]  # what CLIP_benchmark 1.6.2 uses
    assert side.prompts_agree("cifar100", {"classnames": torchvision_names, "templates": meta.templates}) == {
        "same_class_names": False,
        "same_templates": False,
    }
    # The catalog's imagenet1k takes its classes and 80 templates from the "imagenet" metadata (CLIP_benchmark's
    # imagenet1k uses OpenAI's list, the same one): the check must find it, not fail on the catalog name.
    imagenet = builtin_metadata("imagenet")
    prompts = {"classnames": list(imagenet.classes), "templates": [t.replace("{}", "{c}") for t in imagenet.templates]}
    assert len(prompts["classnames"]) == 1000 and len(prompts["templates"]) == 80
    assert side.prompts_agree("imagenet1k", prompts) == {"same_class_names": True, "same_templates": True}


def test_clip_benchmark_side_by_side_compares_per_image_predictions(tmp_path):
    """CLIP_benchmark's process dumps each dataset's top-1 predictions (a stand-in clip_benchmark package here: the
    real one is not installed in CI) and the script compares them image by image with ours."""
    side = _bench_module("clip_benchmark_side_by_side")
    cli = (
        "from clip_benchmark.metrics import zeroshot_classification as zs\n"
        "def main():\n"
        "    zs.run_classification(None, [[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], [1, 0, 0], 'cpu')\n"
        "    zs.run_classification(None, [[0.0, 0.2, 0.1]], [2], 'cpu')\n"
    )
    _fake_clip_benchmark(tmp_path / "fake", cli=cli)
    dumps = tmp_path / "predictions"
    dumps.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "fake"), "CB_PREDICTIONS": str(dumps)}
    subprocess.run([sys.executable, "-c", side.CB_MAIN, "eval"], check=True, env=env, cwd=ROOT)
    first, second = (json.loads(p.read_text()) for p in sorted(dumps.glob("*.json")))
    assert first == {"prediction": [1, 0, 1], "label": [1, 0, 0]} and second == {"prediction": [1], "label": [2]}
    ours = {"prediction": [1, 0, 0], "label": [1, 0, 0]}
    assert side.agreement(ours, first) == {
        "same_labels_in_order": True,
        "top1_prediction_agreement": round(2 / 3, 6),
        "distinct_predicted_classes": 2,
    }
    assert side.agreement({"prediction": [0, 0, 1], "label": [0, 0, 1]}, first) == {"same_labels_in_order": False}


@pytest.mark.slow
def test_zoo_bench_smoke_path(tmp_path, world_dir, capsys):
    """The zoo bench runs one eval over the checkpoints and one eval per checkpoint, checks their results agree
    and prints the wall times, their ratio and where the time went (2 models, 1 round, a zero-shot suite here)."""
    zoo = _bench_module("zoo_bench")
    args = ["--world", str(world_dir), "--suite", "world-zeroshot", "--models", "2", "--rounds", "1"]
    figures = zoo.main([*args, "--batch-size", "64", "--out", str(tmp_path)])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == figures
    [row] = figures["rounds"]
    # the ratio comes from the unrounded times: the rounded ones give it to ±1 in the last place
    assert figures["ratio"] == row["ratio"] == pytest.approx(row["sweep_s"] / row["separate_s"], abs=2e-3)
    assert row["sweep_s"] > 0 and row["separate_s"] > 0 and figures["models"] == 2
    assert row["images_decoded_once"] > 0 and row["sweep_profile"]["decode_shared"] > 0  # one group, decoded once
    assert row["separate_profile"]["decode_shared"] == 0  # one-model runs decode inside their image encoding
    for profile in (row["sweep_profile"], row["separate_profile"]):
        assert set(profile) == {"decode_shared", "encode_images", "encode_texts", "tasks", "total"}
    assert sorted(p.name for p in (tmp_path / "zoo").iterdir()) == ["zoo-s0.pt", "zoo-s1.pt"]


def test_eval_bench_reports_every_world_suite_against_its_floor(tmp_path, world_dir):
    bench = _bench_module("eval_bench")
    suites = bench.world_suites()
    assert "world" in suites and {"world-shifts", "world-linear-probe"} <= set(suites)
    assert all(name == "world" or name.startswith("world-") for name in suites)
    checkpoint = bench._checkpoint(tmp_path)
    row = bench.measure_suite("world-linear-probe", checkpoint, world_dir, tmp_path, 64, 0)
    assert row["suite"] == "world-linear-probe" and row["images_encoded_once"] > 0
    assert row["cold_over_floor"] == pytest.approx(row["cold_s"] / row["floor_s"], rel=0.05)
    # the floor counts the texts the run asked for, each distinct one once (a probe suite asks for none)
    assert row["floor_s"] == pytest.approx(row["image_floor_s"] + row["text_floor_s"], abs=0.02)
    assert row["texts_encoded_once"] <= row["texts_asked"]
    markdown = bench.table([row])
    assert "| `world-linear-probe` |" in markdown and f"{row['cold_over_floor']:.2f}x" in markdown


def test_eval_bench_records_the_texts_a_run_asks_for_and_encodes_each_distinct_one_once(tmp_path):
    bench = _bench_module("eval_bench")
    from cyclip_bench.eval.features import Encoder

    original = Encoder.texts
    with bench.recording_texts() as asked:
        assert Encoder.texts is not original
    assert Encoder.texts is original and asked == []
    checkpoint = bench._checkpoint(tmp_path)

    class Cfg:
        device, precision, batch_size = "cpu", "fp32", 2

    seconds, distinct = bench.text_floor(Cfg, checkpoint, ["a photo of a cat", "a dog", "a photo of a cat", "x"])
    assert distinct == 3 and seconds > 0


def test_precision_bench_interleaves_rounds_and_tables_every_configuration():
    bench = _bench_module("precision_bench")
    assert [label for label, _, _ in bench.configurations(True)] == ["fp32", "bf16", "fp32+CL", "bf16+CL"]
    assert [label for label, _, _ in bench.configurations(False)] == ["fp32", "bf16"]
    calls: list[str] = []
    seconds = bench.time_rounds({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=3)
    assert calls == ["a", "b"] + ["a", "b"] * 3  # one warm-up each, then the rounds interleaved
    assert {name: len(s) for name, s in seconds.items()} == {"a": 3, "b": 3}
    row = {"model": "RN50", "what": "image encoder", "per_s": {"fp32": 8.0, "bf16+CL": 20.0}}
    row["speedup_vs_fp32"] = {"fp32": 1.0, "bf16+CL": 2.5}
    row["gflop_per_item"], row["gflop_per_s"] = 10.8, {"fp32": 86.4, "bf16+CL": 216.0}
    assert "| `RN50` | image encoder | 10.8 | 8.0 | — | — | 20.0 | 2.5x (bf16+CL) | 216.0 |" in bench.speed_table([row])


def test_precision_bench_counts_an_encoders_flops():
    import torch

    bench = _bench_module("precision_bench")
    layer = torch.nn.Linear(16, 8, bias=False)
    x = torch.randn(4, 16)
    assert bench.forward_flops(lambda: layer(x)) == 2 * 4 * 16 * 8  # two per multiply-add


def test_precision_bench_equivalence_thresholds():
    """bf16 may become a default only where all three hold against fp32 (issue 26): top-1 within fp32's CI,
    ≥ 99% identical argmax, gaps within 1e-2 relative."""
    bench = _bench_module("precision_bench")
    ok = {"bf16_within_fp32_ci": True, "identical_argmax": 0.99}
    gap = {"rel_diff": 0.01}
    assert bench.thresholds([ok, ok], [gap]) == {
        "top1_within_ci": True,
        "identical_argmax_ge_0_99": True,
        "gaps_rel_le_1e-2": True,
    }
    assert bench.thresholds([ok, {**ok, "identical_argmax": 0.9899}], [gap])["identical_argmax_ge_0_99"] is False
    assert bench.thresholds([ok, {**ok, "bf16_within_fp32_ci": False}], [gap])["top1_within_ci"] is False
    assert bench.thresholds([ok], [gap, {"rel_diff": 0.0101}])["gaps_rel_le_1e-2"] is False
    assert bench.thresholds([ok], [])["gaps_rel_le_1e-2"] is None


@pytest.mark.slow
def test_precision_bench_times_the_tiny_encoders_and_training_step():
    bench = _bench_module("precision_bench")
    rows = bench.speed(["tiny"], batch=4, rounds=1)
    assert [(r["model"], r["what"]) for r in rows] == [
        ("tiny", "image encoder"),
        ("tiny", "text encoder"),
        ("tiny", "training step (pairs)"),
    ]
    # the tiny preset's image tower is a ResNet: its layouts are measured too, the text tower's are not
    image, text, step = rows
    assert set(image["per_s"]) == {"fp32", "bf16", "fp32+CL", "bf16+CL"} and image["gflop_per_item"] > 0
    assert set(text["per_s"]) == set(step["per_s"]) == {"fp32", "bf16"}
    assert all(min(r["per_s"].values()) > 0 for r in rows)


# --- bench/clip_benchmark_wds.py: the parts that do not need CLIP_benchmark -------------------------------------
_WDS_FAKE_CLI = r"""
import json, sys
from clip_benchmark.metrics import zeroshot_classification as zs, zeroshot_retrieval as zr
from clip_benchmark import models

def load_clip(**kwargs):
    return None, None, None

def main():  # as CLIP_benchmark 1.6.2 names its outputs: {dataset} = the name less wds/, "/" -> "_"
    argv = sys.argv[1:]
    names = argv[argv.index("--dataset") + 1 : argv.index("--dataset_root")]
    output = argv[argv.index("--output") + 1]
    for i, name in enumerate(names):
        short = name.replace("wds/", "", 1)
        load_clip()
        if short == "flickr30k":
            metrics = zr.evaluate()
            doc = {"metrics": metrics}
        else:
            zs.zero_shot_classifier()
            logits, target = zs.run_classification(None, [[0.2, 0.8], [0.9, 0.1]], [1, i % 2], "cpu")
            doc = {"metrics": {"acc1": 0.5, "acc5": 1.0, "mean_per_class_recall": 0.5,
                               "mean_average_precision": 0.25},
                   "classnames": ["a", "b"], "templates": ["a photo of a {c}."]}
        open(output.format(dataset=short.replace("/", "_")), "w").write(json.dumps(doc))
"""


def _fake_clip_benchmark(root: Path, cli: str = _WDS_FAKE_CLI) -> Path:
    """A stand-in clip_benchmark package with the names the side-by-side scripts patch (the real one is not
    installed in CI), its command line ``cli``."""
    pkg = root / "clip_benchmark"
    (pkg / "metrics").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text("")
    (pkg / "metrics" / "__init__.py").write_text("")
    (pkg / "metrics" / "zeroshot_classification.py").write_text(
        "import torch\n"
        "def zero_shot_classifier(*args, **kwargs):\n    return None\n"
        "def run_classification(model, classifier, dataloader, device, amp=True):\n"
        "    return torch.tensor(classifier, dtype=torch.float), torch.tensor(dataloader)\n"
    )
    recalls = {f"{d}_retrieval_recall@{k}": 0.1 * k for d in ("image", "text") for k in (1, 5, 10)}
    (pkg / "metrics" / "zeroshot_retrieval.py").write_text(f"def evaluate(*args, **kwargs):\n    return {recalls!r}\n")
    (pkg / "cli.py").write_text(cli)
    return root


def test_clip_benchmark_wds_selects_datasets_by_their_wds_names():
    wds = _bench_module("clip_benchmark_wds")
    assert [c.name for c in wds.select("all")] == [c.name for c in wds.CASES]
    chosen = wds.select("wds/vtab/dtd, wds/flickr30k")
    assert [c.folder for c in chosen] == ["wds_vtab-dtd", "wds_flickr30k"]  # CLIP_benchmark's {dataset_cleaned}
    with pytest.raises(SystemExit, match="unknown 'wds/dtd'.*wds/vtab/dtd"):
        wds.select("wds/dtd")
    kinds = {c.kind.value for c in wds.CASES}
    assert kinds == {"classification", "retrieval", "multilabel"} and len(wds.CASES) >= 6


def test_clip_benchmark_wds_reads_clip_benchmarks_files_and_dumps_in_its_order(tmp_path):
    """theirs(): CLIP_benchmark's command line, its result files found under its own names, its predictions matched
    to the classifying datasets only (a retrieval set in between calls no classifier), and its time split."""
    wds = _bench_module("clip_benchmark_wds")
    cases = wds.select("wds/vtab/dtd,wds/flickr30k,wds/gtsrb,wds/voc2007_multilabel")
    env = {**os.environ, "PYTHONPATH": str(_fake_clip_benchmark(tmp_path / "fake"))}
    args = wds.parser().parse_args(["--cb-python", sys.executable, "--fixture", str(tmp_path / "fix")])
    found = wds.theirs(args, cases, tmp_path / "ckpt.pt", tmp_path / "theirs", env)
    rows = found["datasets"]
    assert rows["wds/vtab/dtd"]["label"] == [1, 0] and rows["wds/gtsrb"]["label"] == [1, 0]
    assert rows["wds/gtsrb"]["prediction"] == [1, 0] and "prediction" not in rows["wds/voc2007_multilabel"]
    assert rows["wds/flickr30k"]["image_to_text_R@5"] == pytest.approx(0.5)  # its text_retrieval_recall@5
    assert rows["wds/flickr30k"]["text_to_image_R@10"] == pytest.approx(1.0)  # its image_retrieval_recall@10
    assert rows["wds/voc2007_multilabel"]["mean_average_precision"] == 0.25
    assert set(found["timing"]["spent_s"]) == {"load_model", "zeroshot_heads", "classify_images", "retrieval"}
    assert found["timing"]["wall_s"] > 0 and found["timing"]["peak_rss_mib"] > 0


@pytest.mark.slow
def test_clip_benchmark_wds_fixture_and_our_side(tmp_path):
    """The wds fixture lands where CLIP_benchmark's --dataset_root DIR/wds_{dataset_cleaned} looks, at the real
    class counts, in several shards; our eval on it gives every number the comparison reads; compare() calls equal
    numbers equal and a different one not."""
    from cyclip_bench.data.wds import load_wds, wds_info

    wds = _bench_module("clip_benchmark_wds")
    cases = wds.select("wds/vtab/cifar100,wds/gtsrb,wds/flickr30k,wds/voc2007_multilabel")
    argv = ["--cb-python", "unused", "--per-class", "1", "--retrieval-images", "6"]
    args = wds.parser().parse_args([*argv, "--image-size", "16", "--shard-size", "5", "--batch-size", "32"])
    args.fixture = tmp_path / "fixture"
    args.fixture.mkdir()
    images = wds.write_fixture(args.fixture, cases, args, dict(os.environ))
    assert sorted(p.name for p in args.fixture.iterdir()) == [
        "fixture.json",
        "wds_flickr30k",
        "wds_gtsrb",
        "wds_voc2007_multilabel",
        "wds_vtab-cifar100",
    ]
    assert images == {"wds/vtab/cifar100": 100, "wds/gtsrb": 43, "wds/flickr30k": 6, "wds/voc2007_multilabel": 20}
    assert len(wds_info(args.fixture / "wds_vtab-cifar100").classes) == 100
    assert (args.fixture / "wds_gtsrb" / "test" / "nshards.txt").read_text().strip() == "9"  # 43 samples, 5 a shard
    assert (args.fixture / "wds_voc2007_multilabel" / "dataset_type.txt").read_text().strip() == "multilabel"
    assert load_wds(args.fixture / "wds_voc2007_multilabel").targets.shape == (20, 20)
    assert "{c}" in (args.fixture / "wds_gtsrb" / "zeroshot_classification_templates.txt").read_text()

    args.model = "tiny"
    args.checkpoint = None
    checkpoint = tmp_path / "state_dict.pt"
    wds.save_checkpoint(args, checkpoint)
    found = wds.ours(args, cases, checkpoint, tmp_path / "ours", dict(os.environ))
    rows = found["datasets"]
    assert len(rows["wds/gtsrb"]["prediction"]) == 43 and len(rows["wds/gtsrb"]["classnames"]) == 43
    assert rows["wds/voc2007_multilabel"]["images"] == 20 and 0 <= rows["wds/voc2007_multilabel"]["map_11point"] <= 1
    assert set(rows["wds/flickr30k"]) >= set(wds.RETRIEVAL_METRICS)
    assert found["run"]["encoded"]["images"] == 100 + 43 + 6 + 20 and found["timing"]["peak_rss_mib"] > 0

    # CLIP_benchmark's side as read_theirs gives it: equal numbers, same names and templates (its {c} placeholder)
    from cyclip_bench.eval.shared import texts_sha256

    ours_row = rows["wds/gtsrb"]
    meta = wds_info(args.fixture / "wds_gtsrb").metadata
    theirs_row = {
        **{k: ours_row[k] for k in ("top1", "top5", "mean_per_class_recall", "prediction", "label", "classnames")},
        "templates_sha256": texts_sha256(list(meta.templates)),
    }
    row = wds.compare(wds.BY_NAME["wds/gtsrb"], ours_row, theirs_row)
    assert row["equal"] and row["same_class_names"] and row["same_templates"] and row["classes"] == 43
    assert row["top1_prediction_agreement"] == 1.0
    shifted = {**theirs_row, "top5": ours_row["top5"] + 1e-3, "classnames": ours_row["classnames"][::-1]}
    shifted["prediction"] = [(p + 1) % 43 for p in ours_row["prediction"]]
    row = wds.compare(wds.BY_NAME["wds/gtsrb"], ours_row, shifted)
    assert not row["equal"] and not row["same_class_names"] and row["top1_prediction_agreement"] == 0.0


def test_clip_benchmark_wds_summary_takes_the_ratio_of_median_wall_times():
    wds = _bench_module("clip_benchmark_wds")
    args = wds.parser().parse_args(["--cb-python", "x", "--model", "RN50", "--fixture", "/f"])
    run = {"encoded": {"images": 3, "texts": 7}, "wall_time_s": {"total": 1.0}, "templates_sha256": {}}
    rounds = [
        ({"timing": {"wall_s": s}, "run": run}, {"timing": {"wall_s": t}}) for s, t in ((10, 40), (30, 20), (20, 60))
    ]
    doc = wds.summary(args, {"wds/cifar10": {"equal": True}}, rounds)
    assert doc["ours_over_theirs"] == 0.5  # median 20 over median 40, not the first round's 0.25
    assert [r["wall_s"] for r in doc["ours"]] == [10, 30, 20] and doc["ours_run"]["encoded"]["texts"] == 7
    assert doc["model"] == "RN50" and doc["datasets"] == {"wds/cifar10": {"equal": True}}
