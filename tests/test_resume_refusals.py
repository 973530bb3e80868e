"""`--resume` continues a run exactly, so it refuses a checkpoint of another architecture, another loss
configuration, or one without optimizer/scheduler/RNG state — saying what differs and how to proceed — and
`--pretrained FILE` is the weight-only start that message points to."""

from __future__ import annotations

import json
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
    return train(train_config(csv, logs, name="continued", resume=str(ckpt), **{"max_steps": 1, **kw}))


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


# --- a resumed run goes on as it was, or says what it changes ---


def _as_two_ranks(ckpt: Path, tmp_path: Path) -> Path:
    """The checkpoint as a 2-rank run would have saved it (each rank's RNG state, the sampler's world size)."""
    payload = load_checkpoint(ckpt)
    payload["sampler"]["world_size"] = 2
    payload["rng"] = payload["rng"] * 2
    path = tmp_path / "two-ranks.pt"
    save_checkpoint(path, payload)
    return path


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"batch_size": 4}, "(global batch 8 → 4, --batch-size 8 → 4); "),
        ({"accum_steps": 2}, "(global batch 8 → 16, --accum-steps 1 → 2); "),
        ({"lr": 2e-3}, "(--lr 0.001 → 0.002); "),
        ({"warmup": 5, "epochs": 2}, "(--warmup 2 → 5, --epochs 1 → 2); "),
        ({"seed": 3}, "(--seed 0 → 3); "),
    ],
)
def test_a_changed_batch_schedule_or_data_order_is_refused_naming_old_and_new(trained, tmp_path, kw, message):
    csv, ckpt = trained
    with pytest.raises(ConfigError) as err:
        _resume(csv, tmp_path, ckpt, **kw)
    text = str(err.value)
    assert text.startswith(f"--resume {ckpt}: this run would continue differently from the checkpoint {message}")
    assert "pass --allow-resume-changes " in text and "\n" not in text
    assert not (tmp_path / "continued").exists()


def test_resuming_a_two_rank_run_with_one_rank_is_refused_unless_allowed(trained, tmp_path, capsys):
    csv, ckpt = trained
    two = _as_two_ranks(ckpt, tmp_path)
    with pytest.raises(ConfigError) as err:
        _resume(csv, tmp_path, two)
    assert "(world size 2 → 1, global batch 16 → 8); " in str(err.value)
    assert "--allow-resume-changes world-size,batch to continue with the change" in str(err.value)
    with pytest.raises(ConfigError, match="world size 2 → 1"):  # allowing one kind does not allow the other
        _resume(csv, tmp_path, two, allow_resume_changes=("batch",))
    _resume(csv, tmp_path, two, allow_resume_changes=("world-size", "batch"))
    assert "with world size 2 → 1, global batch 16 → 8 (--allow-resume-changes)" in capsys.readouterr().err
    (segment,) = json.loads((tmp_path / "continued" / "config.json").read_text())["segments"]
    assert segment["from_step"] == 1 and segment["changes"] == ["world size 2 → 1", "global batch 16 → 8"]


def test_other_training_data_is_refused_by_content_not_by_path(trained, tmp_path):
    csv, ckpt = trained
    moved = tmp_path / "moved.csv"
    rows = csv.read_text().splitlines()
    moved.write_text("\n".join([rows[0]] + [f"{csv.parent}/{r}" for r in rows[1:]]) + "\n")
    with pytest.raises(ConfigError, match=r"\(--train-data .*train.csv → .*moved.csv, the --train-data file's sha256"):
        train(train_config(moved, tmp_path, name="continued", resume=str(ckpt), max_steps=1))
    same = tmp_path / "copy.csv"  # the same bytes under another path: the same data
    same.write_text(csv.read_text())
    for i in range(16):
        (tmp_path / f"{i}.png").write_bytes((csv.parent / f"{i}.png").read_bytes())
    train(train_config(same, tmp_path, name="continued", resume=str(ckpt), max_steps=1))


def test_an_allowed_change_is_a_new_segment_and_keeps_the_first(trained, tmp_path, capsys):
    csv, _ = trained
    run_dir = tmp_path / "r"
    train(train_config(csv, tmp_path, name="r", max_steps=1))
    first = json.loads((run_dir / "config.json").read_text())
    with pytest.raises(ConfigError, match=r"\(--lr 0.001 → 0.002, --max-steps 1 → 2\)"):
        train(train_config(csv, tmp_path, name="r", resume="latest", max_steps=2, lr=2e-3))
    assert json.loads((run_dir / "config.json").read_text()) == first  # a refusal changes nothing
    capsys.readouterr()
    train(
        train_config(csv, tmp_path, name="r", resume="latest", max_steps=2, lr=2e-3, allow_resume_changes=("schedule",))
    )
    err = capsys.readouterr().err
    assert f"resuming {run_dir} from step 1 (epoch 0) of {run_dir / 'checkpoints' / 'latest.pt'}, with --lr" in err
    config = json.loads((run_dir / "config.json").read_text())
    assert [s["from_step"] for s in config["segments"]] == [0, 1]
    assert config["segments"][0] == first["segments"][0]  # the first part's record, untouched
    assert config["segments"][1]["changes"] == ["--lr 0.001 → 0.002", "--max-steps 1 → 2"]
    assert config["segments"][1]["config"]["lr"] == config["lr"] == 2e-3
    assert config["segments"][1]["resumed_from"] == str(run_dir / "checkpoints" / "latest.pt")
    assert load_checkpoint(run_dir / "checkpoints" / "latest.pt")["step"] == 2


def test_segments_after_the_resumed_step_are_rolled_back():
    from cyclip_bench.train.continuation import add_segment

    parts = [{"from_step": 0}, {"from_step": 40}, {"from_step": 90}]
    assert add_segment(parts, {"from_step": 40, "new": True}) == [{"from_step": 0}, {"from_step": 40, "new": True}]
