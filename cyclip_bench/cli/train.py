"""`cyclip-bench train`: parse flags → TrainConfig → cyclip_bench.train.train (or relaunch under torchrun)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from cyclip_bench.cli.app import app
from cyclip_bench.validation import PositiveInt, check_value

HELP_DATA = "Caption CSV/TSV (image,caption) or webdataset shards, e.g. 'shards/{00000..00009}.tar'."


@app.command()
def train(
    train_data: str = typer.Option(None, "--train-data", help=HELP_DATA),
    val_data: str = typer.Option(None, "--val-data", help="Caption CSV/TSV for a validation loss each epoch."),
    model: str = typer.Option(None, "--model", help="Preset (tiny, tiny-64) or any open_clip model name."),
    pretrained: str = typer.Option(None, "--pretrained", help="open_clip pretrained tag or weights file."),
    image_size: int = typer.Option(None, "--image-size", help="Override the model's input size."),
    loss: str = typer.Option(None, "--loss", help="clip or cyclip [default: clip]."),
    lambda_inmodal: float = typer.Option(None, "--lambda-inmodal", help="λ of L_I [cyclip: 0.25]."),
    lambda_crossmodal: float = typer.Option(None, "--lambda-crossmodal", help="λ of L_C [cyclip: 0.25]."),
    cyclic_normalization: str = typer.Option(
        None, "--cyclic-normalization", help="paper (1/N·Σ, grows with N) or pair (per-pair mean)."
    ),
    epochs: int = typer.Option(None, "--epochs", help="Epochs [default: 10]."),
    max_steps: int = typer.Option(None, "--max-steps", help="Stop after this many optimiser steps."),
    batch_size: int = typer.Option(None, "--batch-size", help="Pairs per rank per step [default: 128]."),
    lr: float = typer.Option(None, "--lr", help="Peak learning rate [default: 5e-4]."),
    warmup: int = typer.Option(None, "--warmup", help="Linear warmup steps [default: 50]."),
    weight_decay: float = typer.Option(None, "--weight-decay", help="AdamW decay on matrices [default: 0.1]."),
    grad_clip: float = typer.Option(None, "--grad-clip", help="Clip the gradient norm to this value."),
    accum_steps: int = typer.Option(None, "--accum-steps", help="Micro-batches per optimiser step."),
    precision: str = typer.Option(None, "--precision", help="auto|fp32|bf16|fp16 (auto: bf16 GPU, fp32 CPU)."),
    seed: int = typer.Option(None, "--seed", help="Random seed [default: 0]."),
    name: str = typer.Option(None, "--name", help="Run name [default: <loss>-<model>-s<seed>]."),
    logs: str = typer.Option(None, "--logs", help="Folder of runs [default: logs]."),
    resume: str = typer.Option(None, "--resume", help="latest (this run's latest.pt) or a checkpoint path."),
    save_every: int = typer.Option(None, "--save-every", help="Also keep epoch_<k>.pt every K epochs."),
    checkpoint_steps: int = typer.Option(None, "--checkpoint-steps", help="Update latest.pt every N steps."),
    log_every: int = typer.Option(None, "--log-every", help="metrics.jsonl line every N steps [default: 10]."),
    workers: int = typer.Option(None, "--workers", help="DataLoader workers per rank [default: 2]."),
    channels_last: bool = typer.Option(
        None,
        "--channels-last/--no-channels-last",
        help="NHWC image tensors [default: on for convolutional image towers (ResNets), off for ViTs].",
    ),
    data_cache: str = typer.Option(
        None,
        "--data-cache",
        help="auto|memory|off: decode a caption table once into RAM (auto: when it takes <= 4 GiB) [default: auto].",
    ),
    device: str = typer.Option(None, "--device", help="auto, cpu, cuda [default: auto]."),
    tensorboard: bool = typer.Option(None, "--tensorboard/--no-tensorboard", help="Also log to TensorBoard."),
    progress: bool = typer.Option(None, "--progress/--no-progress", help="Progress bar / plain log lines."),
    image_key: str = typer.Option(None, "--image-key", help="Image column [default: image]."),
    caption_key: str = typer.Option(None, "--caption-key", help="Caption column [default: caption]."),
    delimiter: str = typer.Option(None, "--delimiter", help="Column delimiter [default: , or tab for .tsv]."),
    bad_rows: str = typer.Option(None, "--bad-rows", help="error|skip rows whose image is missing/corrupt."),
    train_num_samples: int = typer.Option(None, "--train-num-samples", help="Pairs in the shards (skip count)."),
    val_batch_size: int = typer.Option(None, "--val-batch-size", help="Validation chunk size [default: 256]."),
    config: Path = typer.Option(None, "--config", help="TOML file of these options (flags win)."),
    nproc: int = typer.Option(1, "--nproc", help="Processes on this machine (relaunches under torchrun)."),
) -> None:
    """Train a CLIP or CyCLIP model: <logs>/<name>/ gets checkpoints/latest.pt, metrics.jsonl, config.json."""
    from cyclip_bench.train import TrainConfig
    from cyclip_bench.train import train as run_training

    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
    flags = {k: v for k, v in locals().items() if k not in ("config", "nproc", "TrainConfig", "run_training")}
    check_value(nproc, PositiveInt, "--nproc")
    cfg = TrainConfig.from_sources(config, **flags)  # validates before anything is launched
    if nproc > 1 and "LOCAL_RANK" not in os.environ:
        raise typer.Exit(_relaunch(nproc))
    path = run_training(cfg)
    if int(os.environ.get("RANK", "0")) == 0:
        print(path)


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
