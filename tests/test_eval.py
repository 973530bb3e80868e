"""The evaluation engine end to end on the generated world: results format, caching, encode-once, resume,
bad input, plugins, linear-probe determinism."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from cyclip_bench.errors import UserError
from cyclip_bench.eval import EvalConfig, evaluate
from cyclip_bench.eval.features import Encoder
from cyclip_bench.fileio import sha256_file


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory) -> Path:
    """An untrained tiny model in this project's checkpoint format (fast; for plumbing tests)."""
    from cyclip_bench.models import create_model, model_payload, save_checkpoint

    torch.manual_seed(0)
    model, info = create_model("tiny")
    path = tmp_path_factory.mktemp("ckpt") / "random.pt"
    save_checkpoint(path, model_payload(model, info))
    return path


def _cfg(ckpt, world_dir, tmp_path, suite="world-zeroshot", **kw) -> EvalConfig:
    base = dict(
        checkpoints=(str(ckpt),),
        suite=suite,
        out=tmp_path / "out",
        data_root=world_dir,
        workers=0,
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    return EvalConfig(**{**base, **kw})


# --- the results of the trained tiny checkpoints (contract) ------------------------------------------------


@pytest.mark.slow
def test_eval_results_follow_the_contract(eval_results, tiny_checkpoints):
    assert [p.name for p in eval_results] == ["clip__world.json", "cyclip__world.json"]
    obj = json.loads(eval_results[0].read_text())
    assert obj["schema_version"] == 1
    assert obj["suite"]["name"] == "world" and obj["suite"]["version"] == 1 and len(obj["suite"]["sha256"]) == 64
    ck = obj["checkpoint"]
    assert ck["label"] == "clip" and ck["format"] == "cyclip-bench"
    assert ck["sha256"] == sha256_file(tiny_checkpoints["clip"])
    assert ck["model_config"] and ck["preprocess"]["image_size"] and ck["train_config"] is not None
    assert ck["run_dir"] and Path(ck["run_dir"]).name == "clip"
    run = obj["run"]
    for key in (
        "precision",
        "batch_size",
        "device",
        "world_size",
        "versions",
        "git_commit",
        "templates_sha256",
        "started",
        "finished",
        "wall_time_s",
    ):
        assert key in run
    assert set(run["wall_time_s"]) == {"encode", "encode_images", "encode_texts", "tasks", "total"}
    assert run["templates_sha256"] and set(run["encoded"]) == {"images", "texts"}
    tasks = {t["name"]: t for t in obj["tasks"]}
    assert {t["kind"] for t in tasks.values()} == {
        "zeroshot",
        "effective_robustness",
        "linear_probe",
        "retrieval",
        "consistency",
        "compositional",
    }
    for task in obj["tasks"]:
        for metric, info in task["metric_info"].items():
            assert metric in task["metrics"] and "higher_is_better" in info
            if info["per_example"]:  # the metric is the mean of its per-example array
                values = task["per_example"][info["per_example"]]
                assert task["metrics"][metric] == pytest.approx(sum(values) / len(values))
    zs = tasks["shapes-zeroshot"]
    calibration = {"ece", "nll", "ece_temperature_scaled", "nll_temperature_scaled"}
    assert set(zs["metrics"]) == {"top1", "top3", "top5", "mean_per_class_recall"} | calibration
    assert len(zs["per_example"]["top1"]) == 50 and len(zs["class_names"]) == 10
    cons = tasks["fine-consistency"]["metrics"]
    for m in (
        "consistency@1",
        "consistency@3",
        "consistency@5",
        "consistency@10",
        "inmodal_gap",
        "crossmodal_gap",
        "inmodal_loss_per_pair",
        "crossmodal_loss_per_pair",
        "inmodal_rank_correlation",
        "crossmodal_rank_correlation",
        "inmodal_gap_normalised",
        "crossmodal_asymmetry_normalised",
        "modality_gap",
        "cone_image",
        "cone_text",
        "align_image_text",
        "uniform_image",
        "uniform_text",
        "uniform_joint",
        "fine_top1",
        "coarse_top1",
    ):
        assert m in cons
    assert "fine_top1" not in tasks["shapes-consistency"]["metrics"]  # shapes have no superclasses
    for m in ("inmodal_rank_correlation", "crossmodal_rank_correlation"):
        assert -1 <= cons[m] <= 1
    assert cons["inmodal_gap_normalised"] > 0 and cons["crossmodal_asymmetry_normalised"] > 0
    assert set(tasks["retrieval"]["metrics"]) == {
        f"{d}_R@{k}" for d in ("image_to_text", "text_to_image") for k in (1, 5, 10)
    }
    assert "C" in tasks["shapes-linear-probe"]["extra"]
    er = tasks["effective-robustness"]
    assert len(er["extra"]["points"]) == 6 and set(er["extra"]["fit"]) >= {"slope", "intercept"}
    table = pd.read_csv(eval_results[0].parent / "results.csv")
    assert list(table.columns) == ["checkpoint", "suite", "task", "dataset", "metric", "value"]
    assert set(table["checkpoint"]) == {"clip", "cyclip"}


def test_space_metrics_directions_and_values():
    from cyclip_bench import metrics as M
    from cyclip_bench.eval.tasks.consistency import space_metrics

    g = torch.Generator().manual_seed(0)
    images, texts = torch.randn(20, 8, generator=g), torch.randn(20, 8, generator=g)
    got = space_metrics(images, texts)
    higher = {name for name, (_, info) in got.items() if info.higher_is_better}
    assert higher == {"inmodal_rank_correlation", "crossmodal_rank_correlation"}
    for name in ("inmodal_rank_correlation", "crossmodal_rank_correlation", "inmodal_gap_normalised"):
        assert got[name][0] == getattr(M, name)(images, texts)
    assert got["crossmodal_asymmetry_normalised"][0] == M.crossmodal_asymmetry_normalised(images, texts)


# --- features: encode once, cache keys ---------------------------------------------------------------------


def test_each_dataset_is_encoded_once_per_run(random_checkpoint, world_dir, tmp_path, monkeypatch):
    calls: list[str] = []
    original = Encoder.images

    def counting(self, dataset, what):
        calls.append(what)
        return original(self, dataset, what)

    monkeypatch.setattr(Encoder, "images", counting)
    # shapes test is used by zeroshot, linear probe and consistency; shapes train by both of the latter.
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "s"\nversion = 1\n'
        '[[tasks]]\nname = "z"\nkind = "zeroshot"\ndataset = "world-shapes"\n'
        '[[tasks]]\nname = "lp"\nkind = "linear_probe"\ndataset = "world-shapes"\n'
        '[[tasks]]\nname = "c"\nkind = "consistency"\ndataset = "world-shapes"\n'
    )
    evaluate(_cfg(random_checkpoint, world_dir, tmp_path, suite=str(path), cache=False))
    assert sorted(calls) == ["images world-shapes/test", "images world-shapes/train"]


def test_channels_last_is_on_for_resnets_and_gives_the_same_results(tiny_checkpoints, world_dir, tmp_path, monkeypatch):
    """NHWC batches and weights for a convolutional image tower (auto), off for a ViT; both layouts give the same
    predictions and the same metrics to float rounding, and the run records which one it used."""
    from cyclip_bench.eval.runner import uses_channels_last
    from cyclip_bench.models import create_model

    layouts: list[torch.memory_format] = []
    original = Encoder._image_batch

    def recording(self, batch):
        out = original(self, batch)
        layouts.append(torch.channels_last if out.is_contiguous(memory_format=torch.channels_last) else None)
        return out

    monkeypatch.setattr(Encoder, "_image_batch", recording)
    auto = _cfg(tiny_checkpoints["clip"], world_dir, tmp_path)
    assert uses_channels_last(auto, create_model("tiny")[0])  # a ResNet
    assert not uses_channels_last(auto, create_model("tiny-vit")[0])  # one convolution: the patch embedding
    assert not uses_channels_last(replace(auto, channels_last=False), create_model("tiny")[0])
    runs = {}
    for flag in (None, False):
        cfg = replace(auto, channels_last=flag, out=tmp_path / f"out-{flag}", cache=False)
        layouts.clear()
        runs[flag] = json.loads(evaluate(cfg)[0].read_text())
        assert layouts and set(layouts) == {torch.channels_last if flag is None else None}
    on, off = runs[None], runs[False]
    assert on["run"]["channels_last"] is True and off["run"]["channels_last"] is False
    for task_on, task_off in zip(on["tasks"], off["tasks"], strict=True):
        assert task_on["per_example"]["prediction"] == task_off["per_example"]["prediction"]
        for name, value in task_on["metrics"].items():
            assert value == pytest.approx(task_off["metrics"][name], abs=1e-6), (task_on["name"], name)


def test_one_models_tokenizer_is_made_only_when_text_is_encoded(random_checkpoint, world_dir, tmp_path, monkeypatch):
    import cyclip_bench.models as models

    made: list[str] = []
    original = models.get_tokenizer

    def counting(info):
        made.append(info.name)
        return original(info)

    monkeypatch.setattr(models, "get_tokenizer", counting)
    probe_only = tmp_path / "probe.toml"
    probe_only.write_text(
        'name = "p"\nversion = 1\n[[tasks]]\nname = "lp"\nkind = "linear_probe"\ndataset = "world-shapes"\n'
    )
    evaluate(_cfg(random_checkpoint, world_dir, tmp_path, suite=str(probe_only), cache=False))
    assert made == []  # the probe reads images only
    evaluate(_cfg(random_checkpoint, world_dir, tmp_path, cache=False, overwrite=True))
    assert made == ["tiny"]  # zero-shot encodes class prompts: made once, on the first


def _cache_stats(paths):
    return json.loads(paths[0].read_text())["run"]["cache"]


def test_cache_hits_and_each_key_part_misses(random_checkpoint, world_dir, tmp_path):
    cfg = _cfg(random_checkpoint, world_dir, tmp_path)
    cold = _cache_stats(evaluate(cfg))
    assert cold["hits"] == 0 and cold["misses"] == 4  # 2 image sets + 2 text heads
    warm = _cache_stats(evaluate(cfg))
    assert warm == {"enabled": True, "hits": 4, "misses": 0}
    # precision is part of every key
    assert _cache_stats(evaluate(replace(cfg, precision="bf16")))["misses"] == 4
    # another checkpoint (different sha256) misses everything
    other = tmp_path / "other.pt"
    payload = torch.load(random_checkpoint, weights_only=True)
    payload["train_config"] = {"note": "same weights, other file"}
    torch.save(payload, other)
    assert _cache_stats(evaluate(replace(cfg, checkpoints=(str(other),))))["misses"] == 4
    # preprocessing: same weights, other normalisation → image features miss, texts hit
    payload["preprocess"] = {**payload["preprocess"], "mean": [0.5, 0.5, 0.5]}
    torch.save(payload, other)
    evaluate(replace(cfg, checkpoints=(str(other),)))
    stats = _cache_stats(evaluate(replace(cfg, checkpoints=(str(other),), out=tmp_path / "o2")))
    assert stats["hits"] == 4  # (the run before filled it)
    # dataset fingerprint and templates: a copy of the world with one image and the templates changed
    world2 = tmp_path / "world2"
    shutil.copytree(world_dir, world2)
    evaluate(replace(cfg, data_root=world2))  # same content → same fingerprints → all hits
    assert _cache_stats(evaluate(replace(cfg, data_root=world2)))["misses"] == 0
    image = next((world2 / "shapes" / "test").rglob("*.png"))
    image.write_bytes(image.read_bytes() + b"\0")  # file size changes → fingerprint changes
    meta = json.loads((world2 / "fine" / "classes.json").read_text())
    meta["templates"] = meta["templates"][:1]
    (world2 / "fine" / "classes.json").write_text(json.dumps(meta))
    assert _cache_stats(evaluate(replace(cfg, data_root=world2))) == {"enabled": True, "hits": 2, "misses": 2}


def test_no_cache_writes_nothing(random_checkpoint, world_dir, tmp_path):
    evaluate(_cfg(random_checkpoint, world_dir, tmp_path, cache=False))
    assert not (tmp_path / "cache").exists()


def test_dry_run_encodes_nothing(random_checkpoint, world_dir, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("encoded during a dry run")

    monkeypatch.setattr(Encoder, "_run", fail)
    paths = evaluate(_cfg(random_checkpoint, world_dir, tmp_path, suite="world", dry_run=True))
    assert paths == [tmp_path / "out" / "random__world.json"] and not paths[0].exists()


# --- resume, overwrite, suite versions ---------------------------------------------------------------------


def test_resume_skips_done_tasks_and_other_versions_are_refused(random_checkpoint, world_dir, tmp_path, monkeypatch):
    from cyclip_bench.eval.tasks.zeroshot import ZeroShot

    cfg = _cfg(random_checkpoint, world_dir, tmp_path)
    first = json.loads(evaluate(cfg)[0].read_text())

    def fail(self, ctx):
        raise AssertionError("a finished task ran again")

    monkeypatch.setattr(ZeroShot, "run", fail)
    again = json.loads(evaluate(replace(cfg, resume=True))[0].read_text())
    assert again["tasks"] == first["tasks"]
    assert again["run"]["resumed_tasks"] == ["fine-zeroshot", "shapes-zeroshot"]
    # nothing was recomputed: the record of the run that produced the numbers (its times, start) is kept
    assert {k: v for k, v in again["run"].items() if k != "resumed_tasks"} == {
        k: v for k, v in first["run"].items() if k != "resumed_tasks"
    }
    monkeypatch.undo()
    # another checkpoint file under the same label: refused (tests/test_eval_labels.py); with --overwrite its
    # results are stale, recomputed and not reused
    retrained = tmp_path / "other" / "random.pt"
    retrained.parent.mkdir()
    payload = torch.load(random_checkpoint, weights_only=True)
    payload["step"] = 1
    torch.save(payload, retrained)
    refused = r"another checkpoint \(.*random.pt\) under the label 'random'; this run's .*other.random.pt"
    with pytest.raises(UserError, match=refused):
        evaluate(replace(cfg, checkpoints=(str(retrained),), resume=True))
    stale = json.loads(
        evaluate(replace(cfg, checkpoints=(str(retrained),), resume=True, overwrite=True))[0].read_text()
    )
    assert stale["run"]["resumed_tasks"] == [] and stale["checkpoint"]["sha256"] == sha256_file(retrained)
    # a user suite of the same name and another version into the same folder
    suite = tmp_path / "world-zeroshot.toml"
    suite.write_text(load_text("world-zeroshot").replace("version = 1", "version = 2"))
    with pytest.raises(UserError, match="version 1.*this is version 2.*--overwrite"):
        evaluate(replace(cfg, suite=str(suite)))
    assert json.loads(evaluate(replace(cfg, suite=str(suite), overwrite=True))[0].read_text())["suite"]["version"] == 2


def load_text(name: str) -> str:
    from importlib import resources

    return resources.files("cyclip_bench.suites").joinpath(f"{name}.toml").read_text()


# --- bad input from the CLI: one line, exit 2 --------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cyclip_bench", *args], capture_output=True, text=True, timeout=300)


def test_cli_bad_inputs_are_one_line_exit_2(random_checkpoint, world_dir, tmp_path, capsys):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    empty_root = tmp_path / "empty"
    empty_root.mkdir()
    bad_meta = tmp_path / "meta.json"
    bad_meta.write_text(json.dumps({"classes": ["a", "b"], "templates": ["a {}."]}))
    mismatch = tmp_path / "mismatch.toml"
    mismatch.write_text(
        f'name = "m"\nversion = 1\n[[tasks]]\nname = "z"\nkind = "zeroshot"\n'
        f'dataset = {{ path = "{world_dir / "shapes" / "test"}", metadata = "{bad_meta}" }}\n'
    )
    common = ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--workers", "0", "-q"]
    cases = [
        (
            ["-c", str(garbage), "--suite", "world-zeroshot", "--data-root", str(world_dir)],
            "cannot load checkpoint",
        ),
        (
            ["-c", str(random_checkpoint), "--suite", "world-zeroshot", "--data-root", str(empty_root)],
            "not found",
        ),
        (["-c", str(random_checkpoint), "--suite", "world-zeroshots"], "Did you mean"),
        (["-c", str(random_checkpoint), "--suite", str(mismatch)], "2 classes"),
        (["-c", str(random_checkpoint), "--suite", "world-zeroshot", "--precision", "fp8"], "--precision"),
    ]
    from cyclip_bench.cli import main

    for args, message in cases:  # in-process: the same main() the console script runs
        with pytest.raises(SystemExit) as exit_info:
            main(["eval", *args, *common])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2, (args, err)
        assert err.count("\n") == 1 and err.startswith("error: ") and message in err, (args, err)


def test_cli_eval_world_zeroshot(random_checkpoint, world_dir, tmp_path):
    proc = _cli(
        "eval",
        "--checkpoint",
        str(random_checkpoint),
        "--suite",
        "world-zeroshot",
        "--data-root",
        str(world_dir),
        "--out",
        str(tmp_path / "out"),
        "--no-cache",
        "--workers",
        "0",
    )
    assert proc.returncode == 0, proc.stderr
    assert "shapes-zeroshot" in proc.stdout and (tmp_path / "out" / "results.csv").is_file()


# --- task kinds as plugins ---------------------------------------------------------------------------------

PLUGIN = """
from cyclip_bench.eval import TaskKind
from cyclip_bench.results import MetricInfo


class ImageCount(TaskKind):
    def run(self, ctx):
        n = ctx.image_features(self.spec.dataset, self.spec.split).shape[0]
        return self.result({"count": float(n)}, {"count": MetricInfo(True, "count")})
"""


def test_task_kind_from_an_entry_point(random_checkpoint, world_dir, tmp_path, monkeypatch):
    from cyclip_bench.eval import TASKS

    site = tmp_path / "site"
    (site / "fake_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "fake_plugin_tasks.py").write_text(PLUGIN)
    (site / "fake_plugin-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-plugin\nVersion: 0.1\n"
    )
    (site / "fake_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[cyclip_bench.tasks]\nimage_count = fake_plugin_tasks:ImageCount\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(TASKS, "_entry_points_loaded", False)
    monkeypatch.setattr(TASKS, "_items", dict(TASKS._items))
    suite = tmp_path / "p.toml"
    suite.write_text('name = "p"\nversion = 1\n[[tasks]]\nname = "n"\nkind = "image_count"\ndataset = "world-shapes"\n')
    obj = json.loads(evaluate(_cfg(random_checkpoint, world_dir, tmp_path, suite=str(suite)))[0].read_text())
    assert obj["tasks"][0]["metrics"] == {"count": 50.0}


# --- linear probe -------------------------------------------------------------------------------------------


def test_linear_probe_is_deterministic_and_learns():
    from cyclip_bench.eval.tasks.linear_probe import fit_logistic_regression, predict, search_C

    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 8, generator=g) * 3
    y = torch.arange(200) % 4
    x = centres[y] + torch.randn(200, 8, generator=g)
    c1, hist1, _ = search_C(x, y, 4)
    c2, hist2, _ = search_C(x, y, 4)
    assert c1 == c2 and hist1 == hist2 and len(hist1) >= 7
    w, b = fit_logistic_regression(x, y, 4, c1)
    assert float((predict(x, w, b) == y).double().mean()) > 0.9
    # stronger regularisation shrinks the weights
    w_small, _ = fit_logistic_regression(x, y, 4, 1e-4)
    assert w_small.norm() < w.norm()


def test_warm_started_probe_fits_reach_the_cold_optimum(monkeypatch):
    import scipy.optimize

    from cyclip_bench.eval.tasks.linear_probe import fit_logistic_regression, search_C, split_train_val

    iterations, minimize = [], scipy.optimize.minimize

    def counting_minimize(*args, **kwargs):
        found = minimize(*args, **kwargs)
        iterations.append(found.nit)
        return found

    monkeypatch.setattr(scipy.optimize, "minimize", counting_minimize, raising=True)  # probe_solver's

    g = torch.Generator().manual_seed(1)
    centres = torch.randn(5, 6, generator=g) * 2
    y = torch.arange(300) % 5
    x = centres[y] + torch.randn(300, 6, generator=g)
    for C in (1e-2, 1.0, 1e2):
        cold = fit_logistic_regression(x, y, 5, C)
        warm = fit_logistic_regression(x, y, 5, C, init=fit_logistic_regression(x, y, 5, C * 30))
        # the same model: same probabilities (the biases alone are only fixed up to a common shift)
        probs = [torch.softmax(x.double() @ w + b, dim=1) for w, b in (cold, warm)]
        torch.testing.assert_close(probs[0], probs[1], atol=1e-3, rtol=0)
        # and the same objective C·ΣCE + ½‖W‖² (where it is flat, the solver may stop at other points)
        objective = [
            C * torch.nn.functional.cross_entropy(x.double() @ w + b, y, reduction="sum") + 0.5 * (w * w).sum()
            for w, b in (cold, warm)
        ]
        assert objective[1] == pytest.approx(float(objective[0]), rel=1e-5)
    # weakly regularised fits are the slow ones; on the solver's scaled basis (eval/probe_solver.py) cold and
    # warm-started fits alike converge well before the cap (a neighbour's solution is a small head start there)
    iterations.clear()
    fit_logistic_regression(x, y, 5, 1e2)
    fit_logistic_regression(x, y, 5, 1e2, init=fit_logistic_regression(x, y, 5, 1e1))
    assert max(iterations) < 300
    C, history, (w, b) = search_C(x, y, 5)
    train, _ = split_train_val(len(y), 0.2, 0)
    cold_w, cold_b = fit_logistic_regression(x[train], y[train], 5, C)
    probs = [torch.softmax(x.double() @ w_ + b_, dim=1) for w_, b_ in ((w, b), (cold_w, cold_b))]
    torch.testing.assert_close(probs[0], probs[1], atol=1e-3, rtol=0)
    # the coarse points tried are a prefix of the grid: the climb from strong to weak regularisation stops only
    # after two points below the best (tests/test_linear_probe_solver.py)
    coarse = [c for c in (-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0) if c in {h["log10_C"] for h in history}]
    assert coarse == [-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0][: len(coarse)] and len(coarse) >= 3


# --- torchrun: 2 gloo processes give the results of 1 ------------------------------------------------------


@pytest.mark.slow
def test_two_process_run_equals_one_process(random_checkpoint, world_dir, tmp_path):
    common = [
        "--checkpoint",
        str(random_checkpoint),
        "--suite",
        "world-consistency",
        "--data-root",
        str(world_dir),
        "--workers",
        "0",
        "--batch-size",
        "16",
        "-q",
    ]
    one = _cli("eval", *common, "--out", str(tmp_path / "one"), "--no-cache")
    assert one.returncode == 0, one.stderr
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29533",
            "-m",
            "cyclip_bench",
            "eval",
            *common,
            "--out",
            str(tmp_path / "two"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert two.returncode == 0, two.stderr[-2000:]
    a = json.loads((tmp_path / "one" / "random__world-consistency.json").read_text())
    b = json.loads((tmp_path / "two" / "random__world-consistency.json").read_text())
    assert b["run"]["world_size"] == 2
    for ta, tb in zip(a["tasks"], b["tasks"], strict=True):
        assert ta["per_example"] == tb["per_example"]
        assert ta["metrics"] == pytest.approx(tb["metrics"], abs=1e-5)


def test_shift_sets_share_one_text_head(random_checkpoint, world_dir, tmp_path, monkeypatch):
    calls: list[str] = []
    original = Encoder.texts

    def counting(self, texts, what):
        calls.append(what)
        return original(self, texts, what)

    monkeypatch.setattr(Encoder, "texts", counting)
    evaluate(_cfg(random_checkpoint, world_dir, tmp_path, suite="world-shifts", cache=False))
    assert len(calls) == 1  # shapes + 6 shift sets: same classes and templates → one head
