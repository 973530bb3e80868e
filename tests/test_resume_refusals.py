"""`--resume` continues a run exactly, so it refuses a checkpoint of another architecture, another loss
configuration, or one without optimizer/scheduler/RNG state — saying what differs and how to proceed — and
`--pretrained FILE` is the weight-only start that message points to."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_inputs import write_random_pairs
from train_helpers import train_config

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.models import create_model, load_checkpoint, save_checkpoint
from cyclip_bench.train import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(caption CSV, a 1-step CLIP training checkpoint of the tiny preset)."""
    root = tmp_path_factory.mktemp("resume")
    csv = write_random_pairs(root, caption="picture {}")
    ckpt = train(train_config(csv, root / "runs", name="base", max_steps=1))
    return csv, ckpt


def _resume(csv: Path, logs: Path, ckpt: Path, **kw):
    return train(train_config(csv, logs, name="continued", resume=str(ckpt), max_steps=2, **kw))


def _without(ckpt: Path, tmp_path: Path, *keys: str) -> Path:
    payload = {k: v for k, v in load_checkpoint(ckpt).items() if k not in keys}
    path = tmp_path / f"without-{'-'.join(keys)}.pt"
    save_checkpoint(path, payload)
    return path


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"model": "tiny-vit"}, "the checkpoint is model 'tiny', this run --model 'tiny-vit' (another architecture)"),
        (
            {"image_size": 64},
            "another architecture than this run's --model 'tiny' (model_config.vision_cfg.image_size is 32 in the "
            "checkpoint, 64 in this run)",
        ),
        ({"loss": "cyclip"}, "another loss configuration: --loss is 'clip' in the checkpoint, 'cyclip' in this run"),
        (
            {"cyclic_normalization": "pair"},
            "--cyclic-normalization is 'paper' in the checkpoint, 'pair' in this run; resume with "
            "--cyclic-normalization paper, or to start a new run from its weights only, pass --pretrained",
        ),
    ],
)
def test_another_architecture_or_objective_is_refused_saying_what_differs(trained, tmp_path, kw, message):
    csv, ckpt = trained
    with pytest.raises(ConfigError) as err:
        _resume(csv, tmp_path, ckpt, **kw)
    assert message in str(err.value)
    assert str(err.value).startswith(f"--resume {ckpt}: ")
    assert not (tmp_path / "continued").exists()  # refused before the run folder was made


@pytest.mark.parametrize("missing", [("optimizer",), ("scheduler",), ("rng",), ("sampler", "step")])
def test_a_checkpoint_without_training_state_points_to_pretrained(trained, tmp_path, missing):
    csv, ckpt = trained
    stripped = _without(ckpt, tmp_path, *missing)
    with pytest.raises(ConfigError) as err:
        _resume(csv, tmp_path, stripped)
    text = str(err.value)
    assert f"the checkpoint has no {', '.join(missing)} state, so the run cannot continue exactly" in text
    assert f"pass --pretrained {stripped} instead of --resume" in text


def test_training_state_of_another_form_is_one_error(trained, tmp_path):
    csv, ckpt = trained
    payload = load_checkpoint(ckpt)
    payload["optimizer"] = {"state": {}, "param_groups": []}  # an optimizer of another model
    bad = tmp_path / "bad-optimizer.pt"
    save_checkpoint(bad, payload)
    with pytest.raises(ConfigError, match="its optimizer/sampler/RNG state does not fit this run"):
        _resume(csv, tmp_path, bad)


def test_pretrained_file_loads_the_weights_only(trained):
    # The trainer builds its model with create_model(--model, --pretrained); a matching --resume still resumes
    # exactly (tests/test_train.py's kill-and-resume test goes through check_resumable).
    _, ckpt = trained
    weights = load_checkpoint(ckpt)["state_dict"]
    model, _ = create_model("tiny", pretrained=str(ckpt))
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key]), key
    with pytest.raises(UserError, match="does not fit the architecture"):
        create_model("tiny-vit", pretrained=str(ckpt))
