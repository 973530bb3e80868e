"""The training loop, top to bottom: setup → (resume) → epochs of optimiser steps → validation → checkpoints.

One optimiser step = ``accum_steps`` micro-batches of ``batch_size`` pairs on each of ``world_size`` ranks.
Everything that decides the numbers (data order, learning rate, RNG) is a function of the step, so a run
resumed from any checkpoint continues exactly as if it had never stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cyclip_bench import distributed as dist_utils
from cyclip_bench import progress as progress_lines
from cyclip_bench.errors import ConfigError, TrainingDiverged, TrainingInterrupted, UserError
from cyclip_bench.fileio import atomic_write_json
from cyclip_bench.models import (
    CHECKPOINT_FORMAT,
    DEFAULT_MODEL,
    build_transform,
    check_payload,
    create_model,
    create_training_model,
    get_tokenizer,
    load_checkpoint,
    save_checkpoint,
    wants_channels_last,
)
from cyclip_bench.models.interop import load_state_dict_strictly, load_weights_file
from cyclip_bench.objectives import (
    Objective,
    get_objective,
    model_bias,
    objective_loss,
    setup_model_parameters,
    split_outputs,
)
from cyclip_bench.runtime import DistEnv, autocast, init_distributed, precision, resolve_precision
from cyclip_bench.train import config as train_config
from cyclip_bench.train import continuation
from cyclip_bench.train.claim import RunClaim
from cyclip_bench.train.config import TrainConfig, flag
from cyclip_bench.train.data import TrainData, build_train_data, val_dataset
from cyclip_bench.train.monitor import Monitor
from cyclip_bench.train.state import capture_rng, checkpoint_payload, restore_rng
from cyclip_bench.validation import check_device_available, check_output_dir

MAX_LOGIT_SCALE = math.log(100)  # the paper clamps the temperature parameter to [0, ln 100]


@dataclass
class Run:
    """The mutable state of one training run (the config stays frozen)."""

    cfg: TrainConfig
    env: DistEnv
    model: torch.nn.Module  # DDP-wrapped when distributed
    raw_model: torch.nn.Module
    info: Any
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    steps_per_epoch: int
    total_steps: int
    objective: Objective
    loss_params: dict[str, float]
    monitor: Monitor | None = None
    step: int = 0
    epoch: int = 0
    batches_done: int = 0  # micro-batches of the current epoch already consumed
    memory_format: torch.memory_format = torch.contiguous_format
    data_record: dict = field(default_factory=dict)  # what the checkpoint records of the data (continuation.py)
    resume_changes: list[str] = field(default_factory=list)  # changes --allow-resume-changes let through

    @property
    def ckpt_dir(self) -> Path:
        return self.cfg.run_dir / "checkpoints"


def lr_at(step: int, base_lr: float, warmup: int, total_steps: int) -> float:
    """Linear warmup over ``warmup`` optimiser steps, then cosine from ``base_lr`` to 0 at ``total_steps``."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * min(1.0, progress)))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices only: biases, norm gains and logit_scale (≤ 1-d parameters) get none."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def use_channels_last(cfg: TrainConfig, model: torch.nn.Module) -> bool:
    """``--channels-last`` as given, else on for convolutional image towers (ResNets), off for ViTs.

    NHWC lets oneDNN/cuDNN pick faster convolution kernels: the tiny ResNet's step is ~12% faster on 2 CPU
    cores (bench/README.md), RN50 with bf16 on GPUs gains more. A ViT has one convolution (its patch embedding),
    so there is nothing to win.
    """
    return wants_channels_last(model, cfg.channels_last)


def _say(env: DistEnv) -> Callable[[str], None]:
    """A one-line status printer for the setup phase (main rank only; the progress monitor starts later)."""

    def say(message: str) -> None:
        if env.is_main:
            progress_lines.say(message)  # with the process's label (a demo worker's run name)

    return say


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _setup(cfg: TrainConfig, env: DistEnv, resume_from: Path | None) -> tuple[Run, TrainData, Any, dict]:
    """Model, data, optimiser; every rank builds the same initial weights from ``cfg.seed``. The inputs that
    can be refused cheaply (the checkpoint to resume, the validation table) are checked before the training
    data is decoded, so a refusal comes before any status line."""
    _seed(cfg.seed)
    objective = get_objective(cfg.loss)
    loss_params = dict(cfg.loss_params)  # resolved and checked by the config
    raw_model, info = _create_model(cfg, env, objective, loss_params)
    resume, changes, data_record = {}, [], continuation.data_record(cfg)
    if resume_from is not None:
        resume = load_checkpoint(resume_from)
        changes = check_resumable(resume, info, cfg, resume_from, env.world_size, data_record)
    memory_format = torch.channels_last if use_channels_last(cfg, raw_model) else torch.contiguous_format
    raw_model.to(memory_format=memory_format)  # before the optimiser and DDP see the parameters
    _seed(cfg.seed + 1000 * env.rank)  # then a different stream per rank (dropout, augmentation)
    transform, tokenizer = build_transform(info.preprocess, train=True), get_tokenizer(info)
    val = val_dataset(cfg, build_transform(info.preprocess), tokenizer)
    data = build_train_data(cfg, env, transform, tokenizer, info.preprocess, _say(env))
    steps_per_epoch = data.batches_per_epoch // cfg.accum_steps
    total = steps_per_epoch * cfg.epochs if cfg.max_steps is None else min(cfg.max_steps, steps_per_epoch * cfg.epochs)
    # The fused AdamW kernel exists for CPU and CUDA; on 2 CPU cores it cuts the tiny model's optimiser step
    # from ~29 ms to ~4 ms (bench/README.md).
    fused = env.device.type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(
        param_groups(raw_model, cfg.weight_decay),
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        eps=cfg.eps,
        fused=fused or None,
    )
    scaler = torch.amp.GradScaler(env.device.type, enabled=precision(cfg.precision).grad_scaling)
    model = raw_model
    if env.distributed:
        ids = [env.device.index] if env.device.type == "cuda" else None
        model = torch.nn.parallel.DistributedDataParallel(raw_model, device_ids=ids)
    run = Run(cfg, env, model, raw_model, info, optimizer, scaler, steps_per_epoch, total, objective, loss_params)
    run.memory_format, run.data_record, run.resume_changes = memory_format, data_record, changes
    return run, data, val, resume


def _create_model(cfg: TrainConfig, env: DistEnv, objective: Objective, params: dict) -> tuple[Any, Any]:
    """The model with the objective's own learnable scalars (SigLIP's bias), added before anything compares or
    saves it. A ``--pretrained`` file is loaded after they exist, so a file that has them (a SigLIP checkpoint)
    fits, and one that lacks them (CLIP weights) leaves them at their initial values."""
    names = tuple(p.attribute for p in objective.model_parameters)
    if names and cfg.pretrained is not None and Path(cfg.pretrained).is_file():
        model, info = create_model(cfg.model or DEFAULT_MODEL, None, env.device, cfg.image_size)
        setup_model_parameters(model, info, objective, params, from_weights=False)
        load_weights_file(model, Path(cfg.pretrained), "--pretrained", optional=names)
        return model, info
    model, info = create_training_model(cfg.model, cfg.pretrained, env.device, cfg.image_size)
    setup_model_parameters(model, info, objective, params, from_weights=cfg.pretrained is not None)
    return model, info


def _resume_path(cfg: TrainConfig) -> Path | None:
    latest = cfg.run_dir / "checkpoints" / "latest.pt"
    if cfg.resume is None:
        if latest.exists():
            raise ConfigError(
                f"run folder {cfg.run_dir} already has checkpoints: pass --resume latest to "
                f"continue it, or another --name"
            )
        return None
    path = latest if cfg.resume == "latest" else Path(cfg.resume)
    if not path.is_file():
        raise ConfigError(f"--resume {cfg.resume}: no checkpoint at {path}")
    return path


def _resume(run: Run, ckpt: dict, path: Path) -> None:
    """Restore weights, optimiser, scaler, step, sampler position and this rank's RNG states from a checkpoint
    that ``check_resumable`` accepted (a training state of this very run's model and objective)."""
    load_state_dict_strictly(run.raw_model, ckpt["state_dict"], f"--resume {path}")
    try:
        run.optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt["scaler"]:
            run.scaler.load_state_dict(ckpt["scaler"])
        run.step, run.epoch = int(ckpt["step"]), int(ckpt["sampler"]["epoch"])
        run.batches_done = int(ckpt["sampler"]["batches_done"])
        if len(ckpt["rng"]) == run.env.world_size:  # same world: each rank continues its own streams exactly
            restore_rng(ckpt["rng"][run.env.rank])
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as err:
        raise ConfigError(
            f"--resume {path}: its optimizer/sampler/RNG state does not fit this run ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); {_WEIGHTS_ONLY.format(path=path)}"
        ) from err


_WEIGHTS_ONLY = "to start a new run from its weights only, pass --pretrained {path} instead of --resume"
_RESUME_STATE = ("optimizer", "scheduler", "scaler", "sampler", "rng", "step", "epoch")
_LOSS_FIELDS = ("loss", "lambda_inmodal", "lambda_crossmodal", "cyclic_normalization", "loss_params")


def _first_difference(a: Any, b: Any, where: str) -> str | None:
    """'<path>: <a> vs <b>' for the first entry where two nested configs differ (None when equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            found = _first_difference(a.get(key), b.get(key), f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{where}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{where} is {a!r} in the checkpoint, {b!r} in this run"


def check_resumable(
    ckpt: dict, info: Any, cfg: TrainConfig, path: Path, world_size: int = 1, data: dict | None = None
) -> list[str]:
    """``--resume`` continues a training run exactly, so the checkpoint must be one: this project's format with
    its optimizer, schedule, sampler and RNG state, the same architecture and the same objective; and the run
    must go on as it was — world size, global batch, schedule, data — unless ``--allow-resume-changes`` allows a
    change (continuation.py). Each refusal says what differs and how to proceed (``--pretrained`` starts a new
    run from the weights alone). Returns the allowed changes."""
    where, weights_only = f"--resume {path}", _WEIGHTS_ONLY.format(path=path)
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(
            f"{where}: not a cyclip-bench training checkpoint (format {ckpt.get('format')!r}); {weights_only}"
        )
    check_payload(ckpt, where)
    missing = [key for key in _RESUME_STATE if key not in ckpt]
    if missing:
        raise ConfigError(
            f"{where}: the checkpoint has no {', '.join(missing)} state, so the run cannot continue "
            f"exactly; {weights_only}"
        )
    if ckpt["model_name"] != info.name:
        raise ConfigError(
            f"{where}: the checkpoint is model {ckpt['model_name']!r}, this run --model "
            f"{info.name!r} (another architecture); resume with --model {ckpt['model_name']}"
        )
    saved = ckpt.get("train_config") if isinstance(ckpt.get("train_config"), dict) else {}
    for name in _LOSS_FIELDS:  # before the architecture: an objective's parameters are in the model config
        if name in saved and saved[name] != getattr(cfg, name):
            raise ConfigError(
                f"{where}: another loss configuration: {flag(name)} is {saved[name]!r} in the checkpoint, "
                f"{getattr(cfg, name)!r} in this run; resume with {flag(name)} {saved[name]}, or {weights_only}"
            )
    differs = _first_difference(ckpt["model_config"], info.config, "model_config")
    if differs:
        raise ConfigError(
            f"{where}: another architecture than this run's --model {info.name!r} ({differs}); "
            "resume with the checkpoint's --model/--image-size"
        )
    return continuation.check_continuation(ckpt, cfg, world_size, data or continuation.data_record(cfg), where)


def _save(run: Run, *extra_names: str) -> Path:
    """Write latest.pt (and copies under ``extra_names``) on the main rank; every rank sends its RNG state."""
    states = [capture_rng()]
    if run.env.distributed:
        states = [None] * run.env.world_size
        torch.distributed.all_gather_object(states, capture_rng())
    latest = run.ckpt_dir / "latest.pt"
    if run.env.is_main:
        payload = checkpoint_payload(run, states)
        for name in extra_names:
            save_checkpoint(run.ckpt_dir / name, payload)
        save_checkpoint(latest, payload)  # last, so latest is never older than a named copy
    dist_utils.barrier()
    return latest


def _autocast(run: Run) -> contextlib.AbstractContextManager:
    return autocast(run.cfg.precision, run.env.device)


def _optimizer_step(run: Run, batches: Any) -> dict[str, float]:
    """Forward (in autocast) and backward over ``accum_steps`` micro-batches, then clip, step and clamp."""
    cfg, sums = run.cfg, dict.fromkeys(run.objective.logged_terms, 0.0)
    lr = lr_at(run.step, cfg.lr, cfg.warmup, run.total_steps)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    for micro in range(cfg.accum_steps):
        images, texts = next(batches)
        images, texts = (
            images.to(run.env.device, non_blocking=True, memory_format=run.memory_format),
            texts.to(run.env.device, non_blocking=True),
        )
        # DDP syncs gradients only on the last micro-batch; the others accumulate locally.
        last = micro == cfg.accum_steps - 1
        sync = contextlib.nullcontext() if last or not run.env.distributed else run.model.no_sync()
        with sync:
            with _autocast(run):
                image_features, text_features, scale, bias = split_outputs(run.model(images, texts))
            out = objective_loss(
                run.objective,
                image_features,
                text_features,
                scale,
                bias,
                lambda_inmodal=cfg.lambda_inmodal,
                lambda_crossmodal=cfg.lambda_crossmodal,
                normalization=cfg.cyclic_normalization,
                params=run.loss_params,
            )
            if not torch.isfinite(out["loss"]):
                raise TrainingDiverged(
                    f"loss is {out['loss'].item()} at step {run.step + 1} (epoch {run.epoch}); stopped. "
                    f"The last "
                    f"good checkpoint is {run.ckpt_dir / 'latest.pt'} — lower --lr or use --grad-clip"
                )
            run.scaler.scale(out["loss"] / cfg.accum_steps).backward()
        for key in sums:
            sums[key] += out[key].item() / cfg.accum_steps
        run.batches_done += 1
    if cfg.grad_clip is not None:
        run.scaler.unscale_(run.optimizer)  # clip the true gradient, not the fp16-scaled one
        torch.nn.utils.clip_grad_norm_(run.raw_model.parameters(), cfg.grad_clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.optimizer.zero_grad(set_to_none=True)
    with torch.no_grad():
        run.raw_model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
    run.step += 1
    return {**sums, "lr": lr}


class _StopSignals:
    """SIGTERM/SIGINT set a flag; the loop checkpoints at the end of the current step and exits cleanly."""

    def __init__(self) -> None:
        self.signum = 0
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def requested(self, distributed: bool) -> int:
        if not distributed:
            return self.signum
        flag = torch.tensor([self.signum])  # every rank must stop at the same step
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return int(flag.item())

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _train_epoch(run: Run, data: TrainData, stop: _StopSignals) -> None:
    """Optimiser steps until the epoch's batches (or the step budget) run out; checkpoint every few steps."""
    cfg = run.cfg
    batches = iter(data.make_loader(run.epoch, run.batches_done))
    tick, pairs = time.perf_counter(), 0
    while run.batches_done + cfg.accum_steps <= data.batches_per_epoch and run.step < run.total_steps:
        parts = _optimizer_step(run, batches)
        pairs += cfg.batch_size * run.env.world_size * cfg.accum_steps
        log = run.step % cfg.log_every == 0 or run.step == run.total_steps
        rate = pairs / max(time.perf_counter() - tick, 1e-9)
        scalars = {"logit_scale": run.raw_model.logit_scale.exp().item()}
        bias = model_bias(run.raw_model)
        if bias is not None:
            scalars["logit_bias"] = bias.item()
        run.monitor.train_step(run.step, run.epoch, parts.pop("lr"), parts, scalars, rate, log)
        if log:
            tick, pairs = time.perf_counter(), 0
        signum = stop.requested(run.env.distributed)
        if signum:
            path = _save(run)
            raise TrainingInterrupted(
                f"stopped by {signal.Signals(signum).name} at step {run.step}; checkpoint "
                f"saved to {path}; continue with --resume latest",
                signum,
            ) from None
        if run.step % cfg.checkpoint_steps == 0:
            _save(run)
    if run.batches_done + cfg.accum_steps > data.batches_per_epoch:  # epoch exhausted (not just the step budget)
        run.epoch, run.batches_done = run.epoch + 1, 0


@torch.no_grad()
def validate(run: Run, dataset: Any) -> dict[str, float]:
    """Validation loss over consecutive chunks of ``val_batch_size`` pairs in file order, averaged by pairs.

    Each rank encodes a contiguous slice; the features are gathered in order, so the result does not depend on
    the number of ranks.
    """
    model, size, cfg = run.raw_model, len(dataset), run.cfg
    model.eval()
    lo, hi = size * run.env.rank // run.env.world_size, size * (run.env.rank + 1) // run.env.world_size
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(dataset, range(lo, hi)),
        batch_size=cfg.val_batch_size,
        num_workers=cfg.workers,
    )
    image_parts, text_parts = [], []
    for images, texts in loader:
        with _autocast(run):
            image_parts.append(model.encode_image(images.to(run.env.device), normalize=True).float())
            text_parts.append(model.encode_text(texts.to(run.env.device), normalize=True).float())
    dim = model.logit_scale.new_zeros(0, run.info.config["embed_dim"])
    images = dist_utils.all_gather_variable(torch.cat(image_parts) if image_parts else dim)
    texts = dist_utils.all_gather_variable(torch.cat(text_parts) if text_parts else dim)
    totals = dict.fromkeys(run.objective.logged_terms, 0.0)
    for start in range(0, size, cfg.val_batch_size):
        chunk = slice(start, start + cfg.val_batch_size)
        out = objective_loss(
            run.objective,
            images[chunk],
            texts[chunk],
            model.logit_scale.exp(),
            model_bias(model),
            lambda_inmodal=cfg.lambda_inmodal,
            lambda_crossmodal=cfg.lambda_crossmodal,
            normalization=cfg.cyclic_normalization,
            params=run.loss_params,
            distributed=False,
        )
        for key in totals:
            totals[key] += out[key].item() * len(images[chunk]) / size
    model.train()
    return totals


def _describe(run: Run, data: TrainData) -> str:
    cfg, env = run.cfg, run.env
    params = sum(p.numel() for p in run.raw_model.parameters()) / 1e6
    global_batch = cfg.batch_size * env.world_size * cfg.accum_steps
    return (
        f"training {run.info.name} ({params:.1f}M params), {cfg.loss} λ_in={cfg.lambda_inmodal} "
        f"λ_cross={cfg.lambda_crossmodal}, {data.num_pairs} pairs; global batch {global_batch} = "
        f"{cfg.batch_size} per rank × {env.world_size} rank(s) × {cfg.accum_steps} accumulation; "
        f"{run.steps_per_epoch} steps/epoch, {run.total_steps} steps; {env.device} {cfg.precision} "
        f"→ {cfg.run_dir}"
    )


def _write_config(run: Run, data: TrainData, resumed_from: Path | None) -> None:
    """config.json: the config this part of the run trains with, and ``segments``, one per part (a fresh start
    begins the list; a resume adds itself after the parts before its step)."""
    resolved = {
        "world_size": run.env.world_size,
        "device": str(run.env.device),
        "global_batch": run.cfg.batch_size * run.env.world_size * run.cfg.accum_steps,
        "steps_per_epoch": run.steps_per_epoch,
        "total_steps": run.total_steps,
        "num_pairs": data.num_pairs,
        "model_config": run.info.config,
        "preprocess": run.info.preprocess,
        "channels_last": run.memory_format == torch.channels_last,
        "data_source": data.source,
        "loss_terms": list(run.objective.logged_terms),
        "loss_params": run.loss_params,
    }
    path = run.cfg.run_dir / "config.json"
    segment = continuation.new_segment(run.cfg, resolved, run.step, run.epoch, resumed_from, run.resume_changes)
    earlier = continuation.read_segments(path) if resumed_from is not None else []
    segments = continuation.add_segment(earlier, segment)
    atomic_write_json(path, {**run.cfg.to_dict(), "resolved": resolved, "segments": segments})


def _run(cfg: TrainConfig, env: DistEnv, claim: RunClaim) -> Path:
    resume_from = _resume_path(cfg)
    run, data, val, resume = _setup(cfg, env, resume_from)
    if resume_from is not None:
        _resume(run, resume, resume_from)
        if run.step >= run.total_steps and not run.resume_changes:
            # Nothing left to train: the run's data is never decoded, its config and metrics stay as they are.
            _say(env)(f"reusing finished run {cfg.run_dir} ({run.step}/{run.total_steps} steps)")
            return resume_from
        allowed = f", with {', '.join(run.resume_changes)} (--allow-resume-changes)" if run.resume_changes else ""
        _say(env)(f"resuming {cfg.run_dir} from step {run.step} (epoch {run.epoch}) of {resume_from}{allowed}")
    data.prepare()  # decode a caption table into memory (when --data-cache allows) only now that it is needed
    start = run.step
    global_batch = cfg.batch_size * env.world_size * cfg.accum_steps
    run.monitor = Monitor(
        cfg.run_dir,
        env.is_main,
        run.total_steps,
        run.step,
        cfg.progress,
        cfg.tensorboard,
        run.objective.logged_terms,
        global_batch,
    )
    try:
        if env.is_main:
            _write_config(run, data, resume_from)
        run.monitor.info(_describe(run, data))
        with _StopSignals() as stop:
            while run.step < run.total_steps:
                epoch = run.epoch
                _train_epoch(run, data, stop)
                epoch_done = run.epoch > epoch
                if val is not None and (epoch_done or run.step >= run.total_steps):
                    run.monitor.validation(run.step, epoch, validate(run, val))
                keep = epoch_done and cfg.save_every and run.epoch % cfg.save_every == 0
                _save(run, *([f"epoch_{run.epoch}.pt"] if keep else []))
    finally:
        if run.step > start:
            claim.keep()  # the folder now holds this run's work, whatever happens next
        run.monitor.close()
    return run.ckpt_dir / "latest.pt"


def train(cfg: TrainConfig) -> Path:
    """Train as configured (one process, or one rank of a torchrun job); return the final checkpoint.

    Before anything is written: the config is validated (a config built in Python gets the checks flags get),
    the device must exist, and the run folder must be creatable and writable. Then the main rank claims the
    run folder (one live run per folder) and clears the temp files of saves a killed run left (claim.py)."""
    cfg = train_config.validate(cfg)
    if cfg.device != "auto":
        check_device_available(cfg.device)
    check_output_dir(cfg.logs, "--logs")
    check_output_dir(cfg.run_dir, "run folder")
    env = init_distributed(cfg.device)
    cfg = dataclasses.replace(cfg, precision=resolve_precision(cfg.precision, env.device))  # auto: bf16 GPU, fp32 CPU
    try:
        with _claim(cfg, env) as claim:
            return _run(cfg, env, claim)
    finally:
        dist_utils.cleanup()


def _claim(cfg: TrainConfig, env: DistEnv) -> RunClaim:
    """The main rank claims the run folder (claim.py); under torchrun every rank learns whether it could, so a
    refusal stops the whole job with the same line instead of leaving the other ranks waiting."""
    claim, refusal = RunClaim(cfg.run_dir, _say(env), enabled=env.is_main), None
    try:
        claim.acquire()
    except UserError as err:
        refusal = err
    if env.distributed:
        shared = [None if refusal is None else str(refusal)]
        torch.distributed.broadcast_object_list(shared, src=0)
        if refusal is None and shared[0] is not None:
            refusal = ConfigError(shared[0])
    if refusal is not None:
        raise refusal
    return claim
