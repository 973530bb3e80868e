"""Every command's flags come from its config dataclass (cli/derive.py): the command has exactly the config's
flag fields plus the few options that belong to the command alone, and each flag's help comes from its field."""

from __future__ import annotations

import dataclasses

import pytest
import typer

from cyclip_bench.cli import app
from cyclip_bench.cli.derive import cli_fields, config_from_flags, flag_of
from cyclip_bench.data.fixture_config import DATASETS, FixtureConfig, suite_fixture_flags
from cyclip_bench.demo import DemoConfig
from cyclip_bench.errors import ConfigError, DataError
from cyclip_bench.eval.config import EvalConfig
from cyclip_bench.export.config import ExportConfig
from cyclip_bench.options import option_spec
from cyclip_bench.report.config import ReportConfig
from cyclip_bench.train.config import TrainConfig

# (command path, its config, the options that belong to the command and not to the config)
COMMANDS = [
    (("train",), TrainConfig, {"config", "nproc"}),
    (("eval",), EvalConfig, set()),
    (("report",), ReportConfig, set()),
    (("export",), ExportConfig, set()),
    (("demo",), DemoConfig, set()),
    (("data", "fixture"), FixtureConfig, {"suite"}),
]


def _command(path: tuple[str, ...]):
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


@pytest.mark.parametrize(("path", "cls", "extra"), COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_the_command_has_exactly_the_configs_flags(path, cls, extra):
    params = {p.name: p for p in _command(path).params if p.name != "help"}
    wanted = {field.name: (field, spec) for field, spec in cli_fields(cls)}
    assert set(params) == set(wanted) | extra
    for name, (field, spec) in wanted.items():
        param = params[name]
        if spec.argument:
            assert param.param_type_name == "argument", name
        else:
            assert flag_of(field, spec) in param.opts, name
            assert param.help.startswith(spec.help), name
    for field in dataclasses.fields(cls):
        spec = option_spec(field)
        assert spec is not None and spec.help.strip(), f"{cls.__name__}.{field.name}: declare it with option()"


def test_flags_not_given_keep_the_configs_defaults(tmp_path):
    cfg = config_from_flags(DemoConfig, {"quick": True, "seeds": "0,2", "objectives": "clip, siglip"})
    assert cfg.out.name == "demo-out-quick" and cfg.seeds == (0, 2) and cfg.objectives == ("clip", "siglip")
    assert cfg.epochs is None and cfg.suite == "world"
    with pytest.raises(ConfigError, match="--seeds"):
        config_from_flags(DemoConfig, {"seeds": "0,x"})
    report = config_from_flags(ReportConfig, {"results": [tmp_path / "a.json"], "out_dir": tmp_path / "r"})
    assert report.title == "cyclip-bench report" and report.n_boot == 2000


def test_fixture_dataset_flags_split_commas_and_suites_add_their_datasets(tmp_path):
    cfg = config_from_flags(FixtureConfig, {"out": tmp_path / "f", "datasets": ["cifar10,imagenetv2", "mscoco"]})
    assert cfg.datasets == ("cifar10", "imagenetv2", "mscoco")
    assert config_from_flags(FixtureConfig, {"out": tmp_path / "f"}).datasets == DATASETS
    resolved = suite_fixture_flags("s", {"imagenet1k": ["test"], "imagenetv2": ["test"]}, ("cifar10",), None)
    assert resolved == {"datasets": ("cifar10", "imagenet1k", "imagenetv2"), "train_per_class": 0}
    assert suite_fixture_flags("s", {"imagenet1k": ["test", "train"]}, None, None)["train_per_class"] is None
    with pytest.raises(DataError, match="world-shapes"):
        suite_fixture_flags("world", {"world-shapes": ["test"]}, None, None)
