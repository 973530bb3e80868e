"""The objective registry and SigLIP: formula against hand-written float64 loops, the sharded form against one
process with 2 gloo ranks, the model parameters it adds, checkpoints, evaluation and plugins."""

from __future__ import annotations

import inspect
import json
import math

import open_clip
import pytest
import torch
import torch.nn.functional as F
from two_ranks import Towers, assert_ranks_match, inputs, run_two_ranks

from cyclip_bench.errors import ConfigError
from cyclip_bench.losses import cyclip_loss, siglip_loss
from cyclip_bench.objectives import OBJECTIVES, Objective, get_objective, objective_loss

# --- the formula, against loops over Python floats (float64) ---------------------------------------------------


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _softplus(x: float) -> float:
    """log(1 + e^x) without overflow: −log σ(−x)."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def reference_siglip(image: list[list[float]], text: list[list[float]], s: float, b: float, lam: float) -> dict:
    """Zhai et al. eq. 1 and CyCLIP's L_I, L_C (docs/paper.md) written out pair by pair."""
    n = len(image)
    sigmoid = 0.0
    for j in range(n):
        for k in range(n):
            z = s * _dot(image[j], text[k]) + b
            y = 1.0 if j == k else -1.0
            sigmoid += _softplus(-y * z)  # −log σ(y·z)
    inmodal = crossmodal = 0.0
    for j in range(n):
        for k in range(n):
            inmodal += (_dot(image[j], image[k]) - _dot(text[j], text[k])) ** 2
            crossmodal += (_dot(image[j], text[k]) - _dot(image[k], text[j])) ** 2
    sigmoid, inmodal, crossmodal = sigmoid / n, inmodal / n, crossmodal / n
    return {
        "loss": sigmoid + lam * (inmodal + crossmodal),
        "sigmoid": sigmoid,
        "inmodal": inmodal,
        "crossmodal": crossmodal,
    }


def _unit_rows(n: int, d: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, d, generator=gen, dtype=torch.float64), dim=-1)


@pytest.mark.parametrize(("s", "b", "lam"), [(10.0, -10.0, 0.0), (3.0, 0.5, 0.25), (80.0, -4.0, 0.5)])
def test_siglip_matches_a_float64_loop_reference(s, b, lam):
    image, text = _unit_rows(7, 5, 0), _unit_rows(7, 5, 1)
    text[2] = image[2]  # one perfect pair, so the positive logit is large
    got = siglip_loss(image, text, torch.tensor(s, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), lam, lam)
    want = reference_siglip(image.tolist(), text.tolist(), s, b, lam)
    for key, value in want.items():
        assert got[key].dtype == torch.float64
        assert got[key].item() == pytest.approx(value, rel=1e-12, abs=1e-12), key


def test_siglip_equals_open_clips_siglip_loss():
    from open_clip.loss import SigLipLoss

    image, text = _unit_rows(9, 6, 2).float(), _unit_rows(9, 6, 3).float()
    scale, bias = torch.tensor(10.0), torch.tensor(-10.0)
    ours = siglip_loss(image, text, scale, bias)["loss"]
    theirs = SigLipLoss()(image, text, scale, bias)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


def test_siglip_needs_a_bias():
    image = _unit_rows(4, 3, 0)
    with pytest.raises(ConfigError, match="logit_bias"):
        objective_loss(get_objective("siglip"), image, image, 10.0, None)


def test_the_cyclic_add_on_is_the_same_for_every_objective():
    image, text = _unit_rows(6, 4, 4), _unit_rows(6, 4, 5)
    clip = cyclip_loss(image, text, 5.0, 0.3, 0.7)
    sig = siglip_loss(image, text, 5.0, -2.0, 0.3, 0.7)
    for key in ("inmodal", "crossmodal"):
        torch.testing.assert_close(clip[key], sig[key])
    torch.testing.assert_close(sig["loss"], sig["sigmoid"] + 0.3 * sig["inmodal"] + 0.7 * sig["crossmodal"])


def test_sigmoid_scores_rank_like_cosines():
    # Zero-shot with a SigLIP model: σ(s·cos + b) is increasing in cos, so evaluation's cosine argmax is its own.
    image, classes = _unit_rows(20, 8, 6), _unit_rows(5, 8, 7)
    cosine = image @ classes.T
    scores = torch.sigmoid(10.0 * cosine - 10.0)
    assert torch.equal(scores.argmax(1), cosine.argmax(1))


# --- 2 gloo ranks holding n rows each == 1 process on the 2n rows ----------------------------------------------


@pytest.mark.parametrize("lam", [0.0, 0.25])
def test_siglip_on_two_gloo_ranks_matches_one_process(tmp_path, lam):
    ranks = run_two_ranks("siglip", lam, tmp_path)
    model = Towers(bias=True)
    ref = siglip_loss(*model(*inputs(8)), lam, lam)
    ref["loss"].backward()
    assert model.logit_bias.grad is not None and model.logit_bias.grad.abs() > 0
    assert_ranks_match(ranks, ref, model)


# --- the registry -------------------------------------------------------------------------------------------


def test_built_in_objectives_declare_their_terms():
    assert {"clip", "cyclip", "siglip", "siglip-cyclic"} <= set(OBJECTIVES.names())
    assert get_objective("clip").logged_terms == ("loss", "contrastive", "inmodal", "crossmodal")
    assert get_objective("siglip").logged_terms == ("loss", "sigmoid", "inmodal", "crossmodal")
    assert [p.attribute for p in get_objective("siglip").model_parameters] == ["logit_scale", "logit_bias"]


@pytest.mark.parametrize("name", OBJECTIVES.names())  # generated from the registry: a new objective is covered
def test_every_objective_returns_its_declared_terms(name):
    objective = get_objective(name)
    image, text = _unit_rows(5, 4, 8).requires_grad_(), _unit_rows(5, 4, 9)
    out = objective_loss(objective, image, text, 10.0, -10.0, lambda_inmodal=0.1, lambda_crossmodal=0.1)
    assert tuple(out) == objective.logged_terms
    out["loss"].backward()
    assert torch.isfinite(image.grad).all()
    # its parameters' defaults pass their own declarations; its model parameters are ones a checkpoint rebuilds
    defaults = objective.resolve_params({}, str)
    clip_args = inspect.signature(open_clip.CLIP.__init__).parameters
    for spec in objective.model_parameters:
        assert spec.config_key in clip_args and spec.init_param in defaults


def test_unknown_objective_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"--loss 'siglp'.*Did you mean 'siglip'"):
        get_objective("siglp")


def test_objective_parameters_are_checked():
    siglip = get_objective("siglip")
    assert siglip.resolve_params({}, str) == {"init_logit_bias": -10.0, "init_logit_scale": math.log(10)}
    with pytest.raises(ConfigError, match="no parameter 'temperature'"):
        siglip.resolve_params({"temperature": 1.0}, str)
    with pytest.raises(ConfigError, match="init_logit_scale"):
        siglip.resolve_params({"init_logit_scale": 9.0}, str)  # above ln 100, the clamp of training


PLUGIN = """
from cyclip_bench.objectives import Objective


def margin(image, text, scale, bias, ctx):
    # 1 − cos of each matching pair, averaged over the global batch
    return {"misalignment": (1 - (image * text).sum(-1)).sum() / ctx.total}


OBJECTIVE = Objective(name="margin", help="1 - cos of the matching pairs", terms=("misalignment",), fn=margin)
"""


def test_objective_from_an_entry_point(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "fake_objective-0.1.dist-info").mkdir(parents=True)
    (site / "fake_objective_mod.py").write_text(PLUGIN)
    (site / "fake_objective-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-objective\nVersion: 0.1\n"
    )
    (site / "fake_objective-0.1.dist-info" / "entry_points.txt").write_text(
        "[cyclip_bench.objectives]\nmargin = fake_objective_mod:OBJECTIVE\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(OBJECTIVES, "_entry_points_loaded", False)
    monkeypatch.setattr(OBJECTIVES, "_items", dict(OBJECTIVES._items))
    objective = get_objective("margin")
    assert isinstance(objective, Objective) and objective.logged_terms[:2] == ("loss", "misalignment")
    image = _unit_rows(4, 3, 0)
    out = objective_loss(objective, image, image, 10.0)
    assert out["misalignment"].item() == pytest.approx(0.0, abs=1e-12)


def test_an_entry_point_that_is_not_an_objective_is_refused(monkeypatch):
    monkeypatch.setattr(OBJECTIVES, "_items", dict(OBJECTIVES._items))
    OBJECTIVES.add("not-one", object())
    with pytest.raises(ConfigError, match="not an Objective"):
        get_objective("not-one")


# --- training, checkpoints, evaluation ------------------------------------------------------------------------


def test_siglip_trains_saves_its_bias_and_evaluates(world_dir, tmp_path):
    from cyclip_bench.eval import EvalConfig, evaluate
    from cyclip_bench.models import load_checkpoint, model_from_checkpoint
    from cyclip_bench.report.training import find_training_log
    from cyclip_bench.train import TrainConfig, train

    cfg = TrainConfig.from_sources(
        None,
        train_data=str(world_dir / "captions" / "train.csv"),
        val_data=str(world_dir / "captions" / "val.csv"),
        loss="siglip",
        lambda_inmodal=0.25,
        max_steps=3,
        batch_size=16,
        warmup=1,
        lr=1e-3,
        workers=0,
        logs=str(tmp_path / "logs"),
        progress=False,
        log_every=1,
    )
    path = train(cfg)
    ckpt = load_checkpoint(path)
    assert ckpt["model_config"]["init_logit_bias"] == -10.0
    assert ckpt["model_config"]["init_logit_scale"] == pytest.approx(math.log(10))
    trained_bias = ckpt["state_dict"]["logit_bias"]
    assert trained_bias.item() != -10.0  # it learns
    model, _ = model_from_checkpoint(ckpt)
    assert torch.equal(model.logit_bias.detach(), trained_bias)
    records = [json.loads(line) for line in (path.parent.parent / "metrics.jsonl").read_text().splitlines()]
    assert {"loss", "sigmoid", "inmodal", "crossmodal", "logit_scale", "logit_bias"} <= set(records[0])
    assert "contrastive" not in records[0]
    log, note = find_training_log(path.parent.parent)
    assert note is None and log.terms == ("sigmoid", "inmodal", "crossmodal")
    assert log.val["sigmoid"].notna().all()

    out = evaluate(
        EvalConfig(
            checkpoints=(str(path),),
            suite="world-zeroshot",
            out=tmp_path / "eval",
            data_root=world_dir,
            workers=0,
            cache=False,
            progress=False,
        )
    )
    result = json.loads(out[0].read_text())
    assert result["tasks"] and all(task["metrics"] for task in result["tasks"])


def test_clip_with_cyclic_weights_still_points_to_cyclip(tmp_path):
    from cyclip_bench.train import TrainConfig

    with pytest.raises(ConfigError, match="needs --loss cyclip"):
        TrainConfig.from_sources(None, train_data="x.csv", loss="clip", lambda_inmodal=0.1)
    cfg = TrainConfig.from_sources(None, train_data="x.csv", loss="siglip", lambda_crossmodal=0.1)
    assert (cfg.lambda_inmodal, cfg.lambda_crossmodal) == (0.0, 0.1)
    cfg = TrainConfig.from_sources(None, train_data="x.csv", loss="siglip-cyclic")
    assert (cfg.lambda_inmodal, cfg.lambda_crossmodal) == (0.25, 0.25)


def test_siglip_starts_from_pretrained_weights_with_or_without_a_bias(tmp_path):
    from tiny_inputs import write_random_pairs

    from cyclip_bench.models import create_model, load_checkpoint, model_payload, save_checkpoint
    from cyclip_bench.train import TrainConfig, train

    (tmp_path / "pairs").mkdir()
    data = write_random_pairs(tmp_path / "pairs")

    def run(name: str, **kw) -> dict:
        cfg = TrainConfig.from_sources(
            None,
            train_data=str(data),
            loss="siglip",
            max_steps=1,
            batch_size=8,
            warmup=1,
            lr=1e-6,
            workers=0,
            logs=str(tmp_path / "logs"),
            name=name,
            progress=False,
            log_every=1,
            **kw,
        )
        path = train(cfg)
        first = json.loads((path.parent.parent / "metrics.jsonl").read_text().splitlines()[0])
        return {"ckpt": load_checkpoint(path), "path": path, "first": first}

    fresh = run("fresh", loss_params={"init_logit_bias": -4.0})
    assert fresh["first"]["logit_bias"] == pytest.approx(-4.0, abs=1e-3)
    again = run("again", pretrained=str(fresh["path"]))  # a SigLIP checkpoint: its bias is loaded, not re-initialised
    assert again["first"]["logit_bias"] == pytest.approx(fresh["ckpt"]["state_dict"]["logit_bias"].item(), abs=1e-3)

    torch.manual_seed(0)
    model, info = create_model("tiny")  # CLIP weights: no bias, temperature 1/0.07
    save_checkpoint(tmp_path / "clip.pt", model_payload(model, info))
    from_clip = run("from-clip", pretrained=str(tmp_path / "clip.pt"))
    assert from_clip["first"]["logit_bias"] == pytest.approx(-10.0, abs=1e-3)
    assert from_clip["first"]["logit_scale"] == pytest.approx(1 / 0.07, rel=1e-3)


def test_demo_objectives_are_registered_and_accepted():
    from cyclip_bench.demo import OBJECTIVES as DEMO_OBJECTIVES
    from cyclip_bench.demo import DemoConfig

    assert DEMO_OBJECTIVES["siglip"] == ("siglip", 0.0, 0.0)
    assert DEMO_OBJECTIVES["siglip-cyclic"] == ("siglip", 0.25, 0.25)
    for loss, _, _ in DEMO_OBJECTIVES.values():
        assert loss in OBJECTIVES
    assert DemoConfig(objectives=("siglip", "siglip-cyclic")).objectives == ("siglip", "siglip-cyclic")


# --- the training report reads the run's terms ----------------------------------------------------------------


def _write_run(run_dir, config, rows) -> None:
    run_dir.mkdir(parents=True)
    if config is not None:
        (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize(
    ("config", "row_terms", "want"),
    [
        # a run of this version: config.json names its terms
        (
            {"loss": "siglip", "resolved": {"loss_terms": ["loss", "sigmoid", "inmodal", "crossmodal"]}},
            ("sigmoid", "inmodal", "crossmodal"),
            ("sigmoid", "inmodal", "crossmodal"),
        ),
        # a run from before loss_terms was written: the registered objective named by `loss`
        (
            {"loss": "cyclip", "resolved": {}},
            ("contrastive", "inmodal", "crossmodal"),
            ("contrastive", "inmodal", "crossmodal"),
        ),
        # no config.json (an unknown plugin's run, a copied log): the rows' own numeric keys
        (None, ("misalignment", "inmodal", "crossmodal"), ("misalignment", "inmodal", "crossmodal")),
    ],
)
def test_training_log_terms_come_from_the_run(tmp_path, config, row_terms, want):
    from cyclip_bench.report.training import find_training_log

    rows = [
        {
            "split": "train",
            "step": s,
            "epoch": 0,
            "lr": 0.1,
            "loss": 1.0,
            **dict.fromkeys(row_terms, 0.5),
            "logit_scale": 10.0,
            "pairs_per_s": 100.0,
            "time": 1.0,
        }
        for s in (1, 2)
    ] + [{"split": "val", "step": 2, "epoch": 0, "loss": 1.0, **dict.fromkeys(row_terms, 0.4)}]
    _write_run(tmp_path / "run", config, rows)
    log, note = find_training_log(tmp_path / "run")
    assert note is None and log.terms == want
    assert list(log.train[list(want)].iloc[-1]) == [0.5] * 3 and list(log.val[list(want)].iloc[0]) == [0.4] * 3
