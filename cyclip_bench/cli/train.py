"""`cyclip-bench train`: parse flags → TrainConfig → checks → cyclip_bench.train.train, or with ``--nproc N``
cyclip_bench.launch (N ranks under torchrun's agent, one line if one fails).

The flags are derived from TrainConfig's field declarations (cli/derive.py): a new training option is one field."""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path
from typing import Any

import typer

from cyclip_bench.cli.app import app
from cyclip_bench.cli.derive import config_flags, derived_command
from cyclip_bench.train.config import TrainConfig
from cyclip_bench.validation import PositiveInt, check_value


def train(**options: Any) -> None:
    """Train a model with a registered objective (clip, cyclip, siglip, …): <logs>/<name>/ gets
    checkpoints/latest.pt, metrics.jsonl, config.json. The flags are TrainConfig's fields (train/config.py)."""
    from cyclip_bench.launch import check_before_launch, launch, rank_reporting

    ctx, config, nproc = options.pop("ctx"), options.pop("config"), options.pop("nproc")
    debug = bool(ctx.find_root().params.get("debug"))
    with rank_reporting(debug):  # in a rank that `--nproc` started: its failure is reported once, by the launcher
        check_value(nproc, PositiveInt, "--nproc")
        cfg = TrainConfig.from_sources(config, **config_flags(TrainConfig, options))  # validates before any launch
        if "LOCAL_RANK" in os.environ:  # a rank of a torchrun job (ours or the user's)
            _train(cfg)
            return
        check_before_launch(cfg, nproc)  # bad input: one line, before any rank or status line
        if nproc > 1:
            launch(_strip_nproc(sys.argv[1:]), nproc, cfg.run_dir, debug)
        else:
            _train(cfg)


def _train(cfg: TrainConfig) -> None:
    from cyclip_bench.train import train as run_training

    path = run_training(cfg)
    if int(os.environ.get("RANK", "0")) == 0:
        print(path)


_COMMAND_ONLY = [
    inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context),
    inspect.Parameter(
        "config",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(None, "--config", metavar="TOML", help="TOML file of these options (flags win)."),
        annotation=Path,
    ),
    inspect.Parameter(
        "nproc",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(1, "--nproc", help="Processes on this machine (relaunches under torchrun)."),
        annotation=int,
    ),
]
app.command(name="train")(derived_command(TrainConfig, _COMMAND_ONLY, train, train.__doc__ or ""))


def _strip_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out
