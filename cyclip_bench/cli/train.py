"""`cyclip-bench train`: parse flags → TrainConfig → cyclip_bench.train.train (or relaunch under torchrun).

The flags are derived from TrainConfig's field declarations (cli/derive.py): a new training option is one field."""

from __future__ import annotations

import inspect
import os
import subprocess
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
    from cyclip_bench.train import train as run_training

    config, nproc = options.pop("config"), options.pop("nproc")
    check_value(nproc, PositiveInt, "--nproc")
    cfg = TrainConfig.from_sources(config, **config_flags(TrainConfig, options))  # validates before any launch
    if nproc > 1 and "LOCAL_RANK" not in os.environ:
        raise typer.Exit(_relaunch(nproc))
    path = run_training(cfg)
    if int(os.environ.get("RANK", "0")) == 0:
        print(path)


_COMMAND_ONLY = [
    inspect.Parameter(
        "config",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(None, "--config", help="TOML file of these options (flags win)."),
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


def _relaunch(nproc: int) -> int:
    """Run this same command under torchrun with ``nproc`` processes; a failed rank fails the whole job."""
    args = [a for a in _strip_nproc(sys.argv[1:])]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "--",  # torchrun would otherwise take our --logs for its own --logs-specs (prefix match)
        "cyclip_bench",
        *args,
    ]
    return subprocess.call(command)


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
