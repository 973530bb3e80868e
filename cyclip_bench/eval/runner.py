"""``evaluate(cfg)``: plan → run → write. ``make_plan`` (``eval.plan``) resolves and checks everything once;
``run_plan`` loads the planned checkpoints, encodes (once, cached) and computes every task's metrics;
``write_results`` writes one results JSON per checkpoint and the CSV over ``--out``."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cyclip_bench import __version__
from cyclip_bench.errors import UserError
from cyclip_bench.eval.config import EvalConfig
from cyclip_bench.eval.context import EvalContext
from cyclip_bench.eval.features import Encoder, FeatureCache
from cyclip_bench.eval.plan import CheckpointPlan, Plan, load_tasks, make_plan, suite_datasets
from cyclip_bench.eval.shared import PixelStore, TokenStore, pil_stage_key
from cyclip_bench.progress import current_label, say, tracker
from cyclip_bench.results import (
    SCHEMA_VERSION,
    Result,
    TaskResult,
    save,
    write_results_csv,
)
from cyclip_bench.runtime import DistEnv, init_distributed


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _versions() -> dict[str, str]:
    import numpy
    import open_clip

    return {
        "cyclip_bench": __version__,
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


@dataclass
class CheckpointOutcome:
    """What running the plan produced for one checkpoint: its provenance record, the record of the run, and
    every task's result (resumed ones included)."""

    checkpoint: dict
    run: dict
    tasks: dict[str, TaskResult]


@dataclass
class Outcome:
    """``run_plan``'s product, by checkpoint label; ``writes`` is false on every rank but the first."""

    checkpoints: dict[str, CheckpointOutcome]
    writes: bool


def _load_checkpoints(plan: Plan, device: str) -> list[Any]:
    """The planned checkpoints' models, every one loaded (and fitted strictly) before any is encoded with."""
    from cyclip_bench.models.interop import load_for_eval

    loaded = []
    for planned in plan.checkpoints:
        ckpt = load_for_eval(planned.source, planned.model, device, sha256=planned.sha256, flag=planned.flag)
        ckpt.label = planned.label
        ckpt.record["label"] = planned.label
        ckpt.channels_last = uses_channels_last(plan.config, ckpt.model)
        if ckpt.channels_last:
            ckpt.model.to(memory_format=torch.channels_last)
        loaded.append(ckpt)
    return loaded


class LazyTokenizer:
    """A model's tokenizer, made on its first call."""

    def __init__(self, info: Any) -> None:
        self.info = info
        self._tokenizer: Any = None

    def __call__(self, texts: list[str]) -> torch.Tensor:
        if self._tokenizer is None:
            from cyclip_bench.models import get_tokenizer

            self._tokenizer = get_tokenizer(self.info)
        return self._tokenizer(texts)


def uses_channels_last(cfg: EvalConfig, model: torch.nn.Module) -> bool:
    """``--channels-last`` as given, else on for convolutional image towers (ResNets): NHWC convolution kernels
    encode the `tiny` preset's images ~1.3x and RN50's ~1.3x faster in fp32 on the CPU (bench/README.md), with the
    same features to float rounding (tests/test_eval.py compares both layouts)."""
    from cyclip_bench.models import wants_channels_last

    return wants_channels_last(model, cfg.channels_last)


def _resumable(plan: Plan, planned: CheckpointPlan, sha256: str) -> dict[str, TaskResult]:
    """Tasks already in the checkpoint's result file that --resume keeps: none unless --resume, and none when
    the result is stale (another checkpoint file, another file of this suite version)."""
    cfg, suite, obj = plan.config, plan.suite, planned.previous
    if not cfg.resume or obj is None:
        return {}
    # Stale results (another file of this suite version; another checkpoint under the label only with
    # --overwrite) are not reused: every task is recomputed. ``run.resumed_tasks`` records what was reused.
    if obj["checkpoint"].get("sha256") != sha256 or obj["suite"].get("sha256") != suite.sha256:
        return {}
    names = {t.name for t in suite.tasks}
    try:
        return {t["name"]: TaskResult.from_json(t) for t in obj["tasks"] if t["name"] in names}
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(
            f"--resume: {planned.result_path} has a task record of another form ({type(err).__name__}: {err}); "
            "delete the file or run without --resume"
        ) from None


def _progress(enabled: bool) -> Any:
    """Bars with ETA on a terminal, labelled plain lines at a steady cadence elsewhere (cyclip_bench.progress)."""
    return tracker(enabled, label=current_label() or "eval", transient=True)


def _groups(loaded: list[Any]) -> list[list[int]]:
    """Indices of the loaded checkpoints grouped by PIL stage (``eval.shared.pil_stage_key``), groups in order
    of first appearance: a group's checkpoints read the same decoded pixels."""
    groups: dict[str, list[int]] = {}
    for i, ckpt in enumerate(loaded):
        groups.setdefault(pil_stage_key(ckpt.info.preprocess), []).append(i)
    return list(groups.values())


def run_plan(plan: Plan) -> Outcome:
    """Execute ``plan``: load every checkpoint, run the checkpoint-scope tasks on each (the planned datasets,
    through each model's own preprocessing), then the suite-scope tasks over all of them. Writes nothing.

    Checkpoints of equal PIL stage run one after the other and read each dataset split decoded once for all of
    them (``eval.shared``); texts are tokenised once per tokenizer shared by several checkpoints."""
    from cyclip_bench.models import get_tokenizer

    cfg = plan.config
    dist = init_distributed(cfg.device)  # torchrun/SLURM ranks; rank r on cuda:r under --device auto|cuda
    device = str(dist.device)
    loaded = _load_checkpoints(plan, device)
    done = {p.label: _resumable(plan, p, c.sha256) for p, c in zip(plan.checkpoints, loaded, strict=True)}
    cache = FeatureCache(cfg.resolved_cache_dir)
    tokens = TokenStore()
    # a tokenizer's identity (hashing its whole vocabulary: ~0.5 s) matters only where several models may share it;
    # one model's tokenizer is made when a task first encodes text (~0.1 s; a probe-only suite never does)
    if len(loaded) > 1:
        tokenizers = [get_tokenizer(ckpt.info) for ckpt in loaded]
        identities = [tokens.identity(t) for t in tokenizers]
    else:
        tokenizers, identities = [LazyTokenizer(loaded[0].info)], [None]
    outcomes: dict[str, CheckpointOutcome] = {}
    progress = _progress(cfg.progress and dist.is_main)
    if progress:
        progress.start()
    try:
        for group in _groups(loaded):
            pixels = None
            if len(group) > 1:
                spill = cfg.resolved_cache_dir / "pixels" if cfg.resolved_cache_dir is not None else None
                first = loaded[group[0]].info.preprocess
                pixels = PixelStore(first, workers=cfg.workers, dist=dist, spill_dir=spill, progress=progress)
            try:
                for i in group:
                    planned, ckpt = plan.checkpoints[i], loaded[i]
                    shares_tokens = identities[i] is not None and identities.count(identities[i]) > 1
                    outcomes[planned.label] = _run_checkpoint(
                        plan,
                        planned,
                        ckpt,
                        kept=done[planned.label],
                        encoder=Encoder(
                            model=ckpt.model,
                            tokenizer=tokenizers[i],
                            device=device,
                            precision=cfg.precision,
                            batch_size=cfg.batch_size,
                            workers=cfg.workers,
                            progress=progress,
                            dist=dist,
                            tokens=tokens if shares_tokens else None,
                            channels_last=ckpt.channels_last,
                        ),
                        cache=cache,
                        pixels=pixels,
                        shared_with=[plan.checkpoints[j].label for j in group],
                    )
            finally:
                if pixels is not None:
                    pixels.close()
    finally:
        if progress:
            progress.stop()
    outcomes = {p.label: outcomes[p.label] for p in plan.checkpoints}  # plan order, whatever the groups
    for task in plan.tasks:  # suite-scope kinds see every checkpoint's results
        if task.scope == "suite":
            by_label = {label: outcome.tasks for label, outcome in outcomes.items()}
            for label, result in task.run_suite(by_label).items():
                outcomes[label].tasks[task.spec.name] = result
    return Outcome(checkpoints=outcomes, writes=dist.is_main)


def _run_checkpoint(
    plan: Plan,
    planned: CheckpointPlan,
    ckpt: Any,
    *,
    kept: dict[str, TaskResult],
    encoder: Encoder,
    cache: FeatureCache,
    pixels: PixelStore | None,
    shared_with: list[str],
) -> CheckpointOutcome:
    """The checkpoint-scope tasks of one checkpoint (those ``kept`` from --resume are not rerun)."""
    cfg = plan.config
    started, t0 = _now(), time.perf_counter()
    hits, misses = cache.hits, cache.misses
    decoded, decode_s = (pixels.images_decoded, pixels.seconds) if pixels is not None else (0, 0.0)
    ctx = EvalContext(
        encoder=encoder,
        cache=cache,
        data_root=cfg.data_root,
        transform=_transform(ckpt.info.preprocess),
        checkpoint_sha256=ckpt.sha256,
        preprocess=ckpt.info.preprocess,
        precision=cfg.precision,
        text_model_id={"model": ckpt.info.name, **ckpt.info.tokenizer},  # kind, context, kwargs: the cache key
        planned=plan.datasets,
        pixels=pixels,
    )
    out: dict[str, TaskResult] = {}
    ran = False
    bar = encoder.progress
    if kept and bar is not None:
        say(f"{planned.label}: reusing {len(kept)} cached task(s) of {planned.result_path}", bar.label)
    todo = [t for t in plan.tasks if t.scope == "checkpoint" and t.spec.name not in kept]
    fitting = bar.add_task(f"{planned.label} tasks", total=len(todo), unit="tasks") if bar and todo else None
    for task in plan.tasks:
        if task.spec.name in kept:
            out[task.spec.name] = kept[task.spec.name]
        elif task.scope == "checkpoint":
            out[task.spec.name] = task.run(ctx)
            ran = True
            if fitting is not None:
                bar.advance(fitting)
    if fitting is not None:
        bar.remove_task(fitting)
    total = time.perf_counter() - t0
    if kept and not ran:
        # Nothing of this checkpoint was recomputed (e.g. a resume that only refits suite-scope tasks): the
        # record of the run that produced its numbers — times, versions, cache — stays the provenance.
        record = {**planned.previous["run"], "resumed_tasks": sorted(kept)}
    else:
        record = _run_record(
            cfg, device=encoder.device, dist=encoder.dist, ctx=ctx, started=started, encoder=encoder, total_s=total
        )
        record["cache"].update(hits=cache.hits - hits, misses=cache.misses - misses)  # this checkpoint's
        record["resumed_tasks"] = sorted(kept)
        if pixels is not None:
            record["shared_decoding"] = {
                "checkpoints": shared_with,
                "images_decoded": pixels.images_decoded - decoded,
                "decode_s": round(pixels.seconds - decode_s, 4),
            }
    return CheckpointOutcome(checkpoint=ckpt.record, run=record, tasks=out)


def _result_document(plan: Plan, outcome: CheckpointOutcome) -> Result:
    """The results record of one checkpoint (docs/contracts.md): suite, checkpoint, run, tasks in suite order."""
    suite = plan.suite
    suite_record = {
        "name": suite.name,
        "version": suite.version,
        "sha256": suite.sha256,
        "source": suite.source,
        "path": suite.path,
    }
    return Result(
        schema_version=SCHEMA_VERSION,
        suite=suite_record,
        checkpoint=outcome.checkpoint,
        run=outcome.run,
        tasks=[outcome.tasks[t.spec.name] for t in plan.tasks],
    )


def write_results(plan: Plan, outcome: Outcome) -> list[Path]:
    """One results JSON per checkpoint (atomic) and results.csv over every result in --out (first rank only)."""
    if outcome.writes:
        for planned in plan.checkpoints:
            save(planned.result_path, _result_document(plan, outcome.checkpoints[planned.label]))
        write_results_csv(plan.config.out)
    return plan.result_paths


def evaluate(cfg: EvalConfig) -> list[Path]:
    """Run ``cfg.suite`` over every checkpoint: plan → run → write; returns the result JSON paths (for
    ``cfg.dry_run``, the planned ones: nothing is loaded, encoded or written)."""
    plan = make_plan(cfg)
    if cfg.dry_run:
        return plan.result_paths
    return write_results(plan, run_plan(plan))


def _transform(preprocess: dict) -> Any:
    from cyclip_bench.models import build_transform

    return build_transform(preprocess)


def _run_record(
    cfg: EvalConfig,
    *,
    device: str,
    dist: DistEnv,
    ctx: EvalContext,
    started: str,
    encoder: Encoder,
    total_s: float,
) -> dict:
    encode_s = encoder.seconds
    return {
        "precision": cfg.precision,
        "channels_last": encoder.channels_last,
        "batch_size": cfg.batch_size,
        "device": device,
        "workers": cfg.workers,
        "world_size": dist.world_size,
        "versions": _versions(),
        "git_commit": _git_commit(),
        "templates_sha256": dict(ctx.templates_sha256),
        "cache": {"enabled": cfg.cache, "hits": ctx.cache.hits, "misses": ctx.cache.misses},
        "started": started,
        "finished": _now(),
        "encoded": {"images": encoder.images_encoded, "texts": encoder.texts_encoded},
        "wall_time_s": {
            "encode": round(encode_s, 4),
            "encode_images": round(encoder.image_seconds, 4),
            "encode_texts": round(encoder.text_seconds, 4),
            "tasks": round(total_s - encode_s, 4),
            "total": round(total_s, 4),
        },
    }


__all__ = [
    "CheckpointOutcome",
    "Outcome",
    "evaluate",
    "load_tasks",
    "make_plan",
    "run_plan",
    "suite_datasets",
    "write_results",
]
