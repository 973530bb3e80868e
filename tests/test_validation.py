"""The validation layer itself (cyclip_bench/validation.py): what the sweep does not show case by case."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from cyclip_bench.errors import ConfigError
from cyclip_bench.eval import EvalConfig
from cyclip_bench.report import ReportConfig
from cyclip_bench.train import TrainConfig, train
from cyclip_bench.validation import (
    PositiveFloat,
    PositiveInts,
    at_least,
    check_device_available,
    check_fields,
    check_value,
)


@dataclass(frozen=True)
class Options:
    k: PositiveInts = (1,)
    pairs: str | dict = ""
    batch: at_least(2, "a batch needs negatives") = 8
    rate: PositiveFloat | None = None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"k": [1, 0]}, "option 'k'[1] 0: expected at least 1"),
        ({"pairs": 3}, "option 'pairs' 3: expected a string or a table (mapping)"),  # every member of the union
        ({"batch": 1}, "option 'batch' 1: expected at least 2 (a batch needs negatives)"),  # range: says why
        ({"batch": "8"}, "option 'batch' '8': expected an integer"),  # type: no why
        ({"rate": float("inf")}, "option 'rate' inf: expected a finite number"),
        ({"rate": True}, "option 'rate' True: expected a number"),
        ({"colour": 1}, "unknown option 'colour'"),
    ],
)
def test_messages_name_the_value_and_the_expected_form(values, message):
    with pytest.raises(ConfigError) as err:
        check_fields(Options, values, "task 'x'", lambda key: f"option {key!r}")
    assert str(err.value) == f"task 'x': {message}"


def test_values_are_converted_to_the_declared_types():
    assert check_fields(Options, {"k": [3, 1], "rate": 2}) == {"k": (3, 1), "rate": 2.0}
    cfg = EvalConfig(checkpoints=["a.pt"], suite="s", out="out", cache_dir="cache")
    assert cfg.checkpoints == ("a.pt",) and cfg.out == Path("out") and cfg.cache_dir == Path("cache")
    report = ReportConfig(results=["a.json"], out_dir="r")
    assert report.results == (Path("a.json"),) and report.out_dir == Path("r")


def test_a_single_flag_outside_any_config():
    assert check_value(2.5, PositiveFloat, "--size") == 2.5
    with pytest.raises(ConfigError, match=r"^--size nan: expected a finite number$"):
        check_value(float("nan"), PositiveFloat, "--size")


def test_a_bad_toml_value_is_refused_even_when_a_flag_overrides_it(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('lr = "fast"\n')
    with pytest.raises(ConfigError, match=r"c\.toml: key 'lr' = 'fast': expected a number"):
        TrainConfig.from_sources(toml, train_data="a.csv", lr=0.1)


def test_a_config_built_in_python_is_checked_before_training_writes_anything(tmp_path):
    cfg = TrainConfig(train_data="a.csv", lr=float("inf"), logs=str(tmp_path / "logs"))
    with pytest.raises(ConfigError, match="--lr inf: expected a finite number"):
        train(cfg)
    assert not (tmp_path / "logs").exists()


def test_a_cuda_index_beyond_the_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    check_device_available("cuda:1")
    with pytest.raises(ConfigError, match=r"--device cuda:2: this machine has 2 CUDA device\(s\), numbered 0\.\.1"):
        check_device_available("cuda:2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA GPU is available"):
        check_device_available("cuda")
