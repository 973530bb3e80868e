"""The trainer end to end on CPU: schedule, config, kill-and-resume, signals, NaN guard, shards, DDP."""

from __future__ import annotations

import io
import json
import math
import os
import random
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from train_helpers import train_config

from cyclip_bench.errors import ConfigError, DataError, UserError
from cyclip_bench.models import create_model, load_checkpoint
from cyclip_bench.train import TrainConfig, TrainingDiverged, lr_at, param_groups, train
from cyclip_bench.train.data import ShardStream, expand_braces

WORDS = ["red", "blue", "green", "circle", "square", "star", "big", "small", "left", "right"]


def _image(rng: np.random.Generator) -> Image.Image:
    return Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))


def _caption(rng: np.random.Generator) -> str:
    return "a " + " ".join(rng.choice(WORDS, 3))


@pytest.fixture(scope="module")
def pairs_csv(tmp_path_factory) -> Path:
    """64 random 16 px images with random captions, as a caption CSV."""
    root = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    rows = ["image,caption"]
    for i in range(64):
        _image(rng).save(root / f"{i}.png")
        rows.append(f"{i}.png,{_caption(rng)}")
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    return root / "train.csv"


def _cli(*args: str, env: dict | None = None) -> list[str]:
    return [sys.executable, "-m", "cyclip_bench", "train", *args]


def _metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


# --- schedule and optimiser ---


def test_warmup_is_linear_then_cosine_to_zero():
    lrs = [lr_at(s, 1.0, 10, 100) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(b > a for a, b in zip(lrs[:10], lrs[1:10], strict=False))
    assert lrs[55] == pytest.approx(0.5, abs=0.02) and lrs[-1] < 1e-3
    assert lr_at(100, 1.0, 10, 100) == pytest.approx(0.0)


def test_no_weight_decay_on_vectors_and_logit_scale():
    model, _ = create_model("tiny")
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert any(p is model.logit_scale for p in no_decay["params"])
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim < 2 for p in no_decay["params"])


def test_training_warms_up_and_writes_its_files(pairs_csv, tmp_path):
    cfg = train_config(pairs_csv, tmp_path, warmup=4, val_data=str(pairs_csv), name="w", loss="cyclip")
    final = train(cfg)
    records = _metrics(tmp_path / "w")
    lrs = [r["lr"] for r in records if r["split"] == "train"]
    assert lrs[:4] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])  # the warmup really runs (the original's never did)
    assert {"loss", "contrastive", "inmodal", "crossmodal", "logit_scale", "pairs_per_s", "time"} <= set(records[0])
    val = [r for r in records if r["split"] == "val"]
    assert len(val) == 1 and val[0]["inmodal"] > 0
    ckpt = load_checkpoint(final)
    assert ckpt["format"] == "cyclip-bench" and ckpt["step"] == 8 and ckpt["model_name"] == "tiny"
    assert ckpt["preprocess"]["image_size"] == 32 and ckpt["train_config"]["lambda_inmodal"] == 0.25
    config = json.loads((tmp_path / "w" / "config.json").read_text())
    assert config["resolved"]["global_batch"] == 8 and config["precision"] == "fp32"


# --- configuration ---


def test_flags_win_over_toml_and_lambdas_resolve(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[train]\ntrain-data = "a.csv"\nloss = "cyclip"\nbatch_size = 32\nlr = 0.1\n')
    cfg = TrainConfig.from_sources(toml, lr=0.5, lambda_crossmodal=0.0)
    assert (cfg.train_data, cfg.batch_size, cfg.lr) == ("a.csv", 32, 0.5)
    assert (cfg.lambda_inmodal, cfg.lambda_crossmodal) == (0.25, 0.0)  # I-CyCLIP
    assert TrainConfig.from_sources(None, train_data="a.csv").lambda_inmodal == 0.0


@pytest.mark.parametrize(
    "flags,message",
    [
        ({"batch_size": 1}, "--batch-size 1"),
        ({"loss": "cyclip", "lambda_inmodal": -0.1}, "--lambda-inmodal -0.1"),
        ({"lambda_crossmodal": 0.5}, "needs --loss cyclip"),
        ({"loss": "sigilp"}, "--loss 'sigilp'.*Did you mean 'siglip'"),
        ({"precison": "fp32"}, "Did you mean 'precision'"),
        (
            {"allow_resume_changes": ("batch", "speed")},
            r"--allow-resume-changes\[1\] 'speed': expected 'world-size', 'batch', 'schedule' or 'data'",
        ),
    ],
)
def test_bad_config_names_the_flag(flags, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_sources(None, train_data="a.csv", **flags)


def test_allow_resume_changes_from_a_comma_list_or_a_toml_list(tmp_path):
    from cyclip_bench.cli.derive import config_flags

    flags = config_flags(TrainConfig, {"train_data": "a.csv", "allow_resume_changes": " world-size, batch ,"})
    assert TrainConfig.from_sources(None, **flags).allow_resume_changes == ("world-size", "batch")
    toml = tmp_path / "c.toml"
    toml.write_text('[train]\ntrain-data = "a.csv"\nallow-resume-changes = ["schedule", "data"]\n')
    assert TrainConfig.from_sources(toml).allow_resume_changes == ("schedule", "data")
    assert TrainConfig.from_sources(None, train_data="a.csv").allow_resume_changes == ()


def test_bad_model_and_image_size_and_foreign_resume(pairs_csv, tmp_path):
    with pytest.raises(UserError, match="Did you mean 'tiny'"):
        train(train_config(pairs_csv, tmp_path, model="tiyn"))
    with pytest.raises(UserError, match="--image-size 20"):
        train(train_config(pairs_csv, tmp_path, image_size=20))
    first = train(train_config(pairs_csv, tmp_path, name="a", max_steps=1))
    with pytest.raises(ConfigError, match="another architecture"):
        train(train_config(pairs_csv, tmp_path, name="b", model="tiny-64", resume=str(first)))
    with pytest.raises(ConfigError, match="--resume latest"):
        train(train_config(pairs_csv, tmp_path, name="a", max_steps=1))  # would clobber a run


def test_cli_bad_input_is_one_line_exit_2(tmp_path):
    proc = subprocess.run(_cli("--train-data", "x.csv", "--batch-size", "1"), capture_output=True, text=True)
    assert proc.returncode == 2
    expected = "error: --batch-size 1: expected at least 2 (a contrastive batch needs negatives)"
    assert proc.stderr.strip().splitlines() == [expected]


# --- guards ---


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        (
            {"batch_size": 128},
            "64 pairs make 0 batch(es) of 128 (--batch-size 128 × 1 rank(s)) per epoch; one optimiser step needs 1 "
            "(--accum-steps 1): add pairs or lower --batch-size",
        ),
        (
            {"batch_size": 32, "accum_steps": 3},
            "make 2 batch(es) of 32 (--batch-size 32 × 1 rank(s)) per epoch; "
            "one optimiser step needs 3 (--accum-steps 3): add pairs or lower --batch-size or --accum-steps",
        ),
    ],
)
def test_too_few_pairs_for_one_step_says_what_one_step_needs(pairs_csv, tmp_path, kw, expected):
    with pytest.raises(DataError) as err:
        train(train_config(pairs_csv, tmp_path, name="small", **kw))
    assert str(err.value).startswith(f"--train-data {pairs_csv}: 64 pairs make ") and expected in str(err.value)
    assert not (tmp_path / "small").exists()


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(pairs_csv, tmp_path, monkeypatch):
    import cyclip_bench.train.loop as loop

    calls = {"n": 0}
    real = loop.objective_loss

    def poisoned(*args, **kwargs):
        out = real(*args, **kwargs)
        calls["n"] += 1
        return {**out, "loss": out["loss"] * float("nan")} if calls["n"] == 3 else out

    monkeypatch.setattr(loop, "objective_loss", poisoned)
    with pytest.raises(TrainingDiverged, match="at step 3"):
        train(train_config(pairs_csv, tmp_path, name="nan"))
    assert load_checkpoint(tmp_path / "nan" / "checkpoints" / "latest.pt")["step"] == 2


# --- exact resume ---


def _wait_for_step(run_dir: Path, step: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        path = run_dir / "metrics.jsonl"
        if path.exists() and sum(1 for _ in path.open()) >= step:
            return
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    raise AssertionError("run did not reach the step in time")


def test_sigkill_then_resume_is_bitwise_equal(pairs_csv, tmp_path):
    args = [
        "--train-data",
        str(pairs_csv),
        "--batch-size",
        "16",
        "--epochs",
        "2",
        "--lr",
        "1e-3",
        "--warmup",
        "3",
        "--workers",
        "0",
        "--logs",
        str(tmp_path),
        "--log-every",
        "1",
        "--checkpoint-steps",
        "2",
        "--no-progress",
        "--loss",
        "cyclip",
    ]
    subprocess.run(_cli(*args, "--name", "straight"), check=True, capture_output=True)
    # A random step of the 8, in either epoch, after the first checkpoint (step 2): killed before any checkpoint
    # there is nothing to resume, and `--resume latest` says so (exit 2). At most step 6, so that the ~50 ms it
    # takes to notice the step cannot let the run finish first (a step takes ~25 ms with in-memory data).
    kill_at = random.Random(os.getpid()).randint(3, 6)
    proc = subprocess.Popen(_cli(*args, "--name", "killed"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_step(tmp_path / "killed", kill_at, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    subprocess.run(_cli(*args, "--name", "killed", "--resume", "latest"), check=True, capture_output=True)
    straight = load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    resumed = load_checkpoint(tmp_path / "killed" / "checkpoints" / "latest.pt")
    assert resumed["step"] == straight["step"] == 8
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), f"{key} differs (killed near step {kill_at})"
    steps = [r["step"] for r in _metrics(tmp_path / "killed") if r["split"] == "train"]
    assert steps == list(range(1, 9))  # the replayed steps replace the lines the killed run wrote


def test_sigterm_checkpoints_then_exits_cleanly(pairs_csv, tmp_path):
    args = [
        "--train-data",
        str(pairs_csv),
        "--batch-size",
        "8",
        "--epochs",
        "50",
        "--workers",
        "0",
        "--logs",
        str(tmp_path),
        "--name",
        "t",
        "--log-every",
        "1",
        "--checkpoint-steps",
        "1000",
        "--no-progress",
    ]
    proc = subprocess.Popen(_cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_step(tmp_path / "t", 2, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    last = [r["step"] for r in _metrics(tmp_path / "t") if r["split"] == "train"][-1]
    assert load_checkpoint(tmp_path / "t" / "checkpoints" / "latest.pt")["step"] == last


# --- webdataset shards ---


def _write_shards(root: Path, shards: int = 2, per_shard: int = 20) -> str:
    rng = np.random.default_rng(1)
    for s in range(shards):
        with tarfile.open(root / f"{s:05d}.tar", "w") as tar:
            for i in range(per_shard):
                buf = io.BytesIO()
                _image(rng).save(buf, format="PNG")
                for ext, data in (("png", buf.getvalue()), ("txt", _caption(rng).encode())):
                    info = tarfile.TarInfo(f"{s:05d}{i:04d}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return str(root / ("{00000.." + f"{shards - 1:05d}" + "}.tar"))


def test_brace_expansion():
    assert expand_braces("s/{008..011}.tar") == ["s/008.tar", "s/009.tar", "s/010.tar", "s/011.tar"]
    assert expand_braces("{a,b}/{0..1}") == ["a/0", "a/1", "b/0", "b/1"]


def test_trains_on_tar_shards(tmp_path):
    spec = _write_shards(tmp_path)
    final = train(train_config(Path(spec), tmp_path, name="wds"))
    assert load_checkpoint(final)["step"] == 40 // 8
    records = _metrics(tmp_path / "wds")
    assert all(math.isfinite(r["loss"]) for r in records)


@pytest.mark.parametrize("workers", [1, 2])
def test_shard_stream_skips_exactly(tmp_path, workers):
    from cyclip_bench.train.data import shard_paths

    paths = shard_paths(_write_shards(tmp_path, shards=3, per_shard=8))
    transform = lambda im: torch.tensor(np.asarray(im), dtype=torch.float32)  # noqa: E731
    tokenizer = lambda caps: torch.tensor([[len(c)] for c in caps])  # noqa: E731

    def batches(skip: int, n: int) -> list[torch.Tensor]:
        stream = ShardStream(paths, 4, 1, 0, 0, 0, skip, transform, tokenizer, workers)
        loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers)
        out, it = [], iter(loader)
        for _ in range(n):
            out.append(next(it)[0])
        return out

    full, resumed = batches(0, 7), batches(3, 4)
    for a, b in zip(full[3:], resumed, strict=True):
        assert torch.equal(a, b)


# --- distributed ---


def test_two_ranks_match_one_process(pairs_csv, tmp_path):
    # A ViT preset: BatchNorm models (the ResNet `tiny`, RN50) normalise with per-rank batch statistics, as the
    # paper's and open_clip's RN50 training do, so only a norm-free-of-batch model can match exactly.
    common = [
        "--model",
        "tiny-vit",
        "--train-data",
        str(pairs_csv),
        "--val-data",
        str(pairs_csv),
        "--epochs",
        "1",
        "--max-steps",
        "2",
        "--workers",
        "0",
        "--logs",
        str(tmp_path),
        "--log-every",
        "1",
        "--no-progress",
        "--loss",
        "cyclip",
        "--warmup",
        "1",
        "--lr",
        "1e-4",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(_cli(*common, "--batch-size", "16", "--name", "one"), check=True, capture_output=True, env=env)
    proc = subprocess.run(
        _cli(*common, "--batch-size", "8", "--name", "two", "--nproc", "2"),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = _metrics(tmp_path / "one"), _metrics(tmp_path / "two")
    for a, b in zip(one, two, strict=True):
        for key in ("loss", "contrastive", "inmodal", "crossmodal"):
            assert a[key] == pytest.approx(b[key], abs=1e-4), (a["split"], a["step"], key)
    assert json.loads((tmp_path / "two" / "config.json").read_text())["resolved"]["global_batch"] == 16
