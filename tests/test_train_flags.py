"""TrainConfig is the single list of training flags: `cyclip-bench train` is derived from its fields."""

from __future__ import annotations

import dataclasses

import typer

from cyclip_bench.cli import app
from cyclip_bench.cli.derive import cli_fields, flag_of
from cyclip_bench.options import option_spec
from cyclip_bench.train.config import TrainConfig, flag


def _train_command():
    return typer.main.get_command(app).commands["train"]


def test_every_field_declares_its_help_once():
    for field in dataclasses.fields(TrainConfig):
        spec = option_spec(field)
        assert spec is not None and spec.help.strip(), f"{field.name}: declare it with option(default, help)"


def test_the_train_command_has_exactly_the_configs_flags():
    options = {p.name: p for p in _train_command().params}
    wanted = {field.name: flag_of(field, spec) for field, spec in cli_fields(TrainConfig)}
    assert set(options) == set(wanted) | {"config", "nproc"}
    for name, flag_text in wanted.items():
        assert flag_text in options[name].opts, name
        assert flag(name) == flag_text  # error messages name the same flag
    toml_only = {f.name for f in dataclasses.fields(TrainConfig)} - set(wanted)
    assert toml_only == {"beta1", "beta2", "eps"}


def test_switches_and_help_come_from_the_field():
    options = {p.name: p for p in _train_command().params}
    assert options["progress"].secondary_opts == ["--no-progress"]
    assert options["loss_params"].multiple and options["loss_params"].opts == ["--loss-param"]
    assert "[default: 128]" in options["batch_size"].help
    for field, spec in cli_fields(TrainConfig):
        assert options[field.name].help.startswith(spec.help)


def test_flags_reach_the_config_through_the_fields_parsers():
    from cyclip_bench.cli.derive import config_flags

    parsed = {"train_data": "x.csv", "loss": "siglip", "loss_params": ["init_logit_bias=-5"], "delimiter": "tab"}
    cfg = TrainConfig.from_sources(None, **config_flags(TrainConfig, parsed))
    assert cfg.loss_params["init_logit_bias"] == -5.0 and cfg.delimiter == "\t" and cfg.batch_size == 128


def test_toml_and_flag_loss_params_merge_flags_winning(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[train]\nloss = "siglip"\n[train.loss_params]\ninit_logit_bias = -3\ninit_logit_scale = 1.0\n')
    cfg = TrainConfig.from_sources(path, train_data="x.csv", loss_params={"init_logit_bias": -7.0})
    assert cfg.loss_params == {"init_logit_bias": -7.0, "init_logit_scale": 1.0}
