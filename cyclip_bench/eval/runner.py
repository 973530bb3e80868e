"""``evaluate(cfg)``: suite → tasks → features (encode once, cache) → metrics → results JSON + CSV."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

from cyclip_bench import __version__
from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.eval.config import EvalConfig
from cyclip_bench.eval.context import EvalContext
from cyclip_bench.eval.features import Encoder, FeatureCache
from cyclip_bench.eval.splits import SplitUse, build_needs, describe, resolve_data
from cyclip_bench.eval.suite import SuiteSpec, load_suite
from cyclip_bench.eval.tasks import TaskKind, make_task
from cyclip_bench.runtime import DistEnv, init_distributed
from cyclip_bench.results import (
    SCHEMA_VERSION,
    Result,
    TaskResult,
    read_result,
    result_filename,
    save,
    write_results_csv,
)
from cyclip_bench.validation import check_device_available, check_output_dir


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


def plan(cfg: EvalConfig) -> tuple[SuiteSpec, list[TaskKind]]:
    """Load the suite and instantiate every task (names, kinds, options and cross-references checked)."""
    suite = load_suite(cfg.suite)
    tasks = []
    for i, spec in enumerate(suite.tasks):
        try:
            tasks.append(make_task(spec))
        except ConfigError as err:  # the task's own message (option, value, expectation) plus the file
            raise ConfigError(f"suite {suite.path} tasks[{i}] ({spec.name}): {_without_task(err, spec)}") from None
    for task in tasks:
        task.validate(suite)
    return suite, tasks


def _without_task(err: ConfigError, spec: Any) -> str:
    message, prefix = str(err), f"task {spec.name!r} ({spec.kind}): "
    return message[len(prefix) :] if message.startswith(prefix) else message


def suite_datasets(suite_ref: str) -> dict[str, list[str]]:
    """Catalog name → splits of every dataset a suite's tasks read (in task order); datasets given by path are
    left out, a retrieval dataset has the split "test". ``cyclip-bench data fixture --suite`` writes these."""
    suite = load_suite(suite_ref)
    names: dict[str, list[str]] = {}
    for spec in suite.tasks:
        for need in make_task(spec).needs():
            if isinstance(need.ref, str):
                splits = names.setdefault(need.ref, [])
                if need.split not in splits:
                    splits.append(need.split)
    return names


def _load_checkpoints(cfg: EvalConfig, device: str) -> list[Any]:
    """Every ``--checkpoint``, under its ``LABEL=`` label where one is given; two with one label are refused."""
    from cyclip_bench.models.interop import load_for_eval

    loaded = []
    for label, source in cfg.labelled_checkpoints:
        ckpt = load_for_eval(source, cfg.model, device)
        if label is not None:
            ckpt.label = label
            ckpt.record["label"] = label
        loaded.append(ckpt)
    for i, ckpt in enumerate(loaded):
        other = next((c for c in loaded[:i] if c.label == ckpt.label), None)
        if other is not None:
            raise UserError(
                f"--checkpoint: {other.record['path']} and {ckpt.record['path']} share the label {ckpt.label!r}; "
                f"give one another label: --checkpoint LABEL={ckpt.record['path']}"
            )
    return loaded


def _check_label_owners(cfg: EvalConfig, loaded: list[Any], paths: list[Path]) -> None:
    """A result in --out belongs to the checkpoint it records: another checkpoint — another sha256 from another
    file — under the same label does not replace it unless --overwrite. The same file changed since (trained
    further) is the same checkpoint: its stale results are recomputed, as with --resume."""
    if cfg.overwrite:
        return
    for ckpt, path in zip(loaded, paths, strict=True):
        if not path.is_file():
            continue
        old = read_result(path)["checkpoint"]
        new_path = ckpt.record["path"]
        if old.get("sha256") == ckpt.sha256 or old.get("path") == new_path:
            continue
        raise UserError(
            f"--out: {path} holds the results of another checkpoint ({old.get('path', 'path not recorded')}) "
            f"under the label {ckpt.label!r}; this run's {new_path} would replace them — give it another label "
            f"(--checkpoint LABEL={new_path}) or pass --overwrite to replace them"
        )


def _existing(cfg: EvalConfig, suite: SuiteSpec, path: Path, sha256: str) -> dict[str, TaskResult]:
    """Tasks already in ``path`` that --resume may keep. Results of another suite version are refused."""
    if cfg.overwrite or not path.is_file():
        return {}
    obj = read_result(path)
    if obj["suite"].get("version") != suite.version:
        raise UserError(
            f"--out {cfg.out} holds results of suite {obj['suite'].get('name')!r} version "
            f"{obj['suite'].get('version')} ({path.name}); this is version {suite.version} — pass "
            f"--overwrite or another --out"
        )
    if not cfg.resume:
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
            f"--resume: {path} has a task record of another form ({type(err).__name__}: {err}); "
            "delete the file or run without --resume"
        ) from None


def _check_other_versions(cfg: EvalConfig, suite: SuiteSpec) -> None:
    if cfg.overwrite or not cfg.out.is_dir():
        return
    for path in cfg.out.glob(f"*__{suite.name}.json"):
        obj = read_result(path)
        if obj["suite"].get("version") != suite.version:
            raise UserError(
                f"--out {cfg.out} holds results of suite {suite.name!r} version "
                f"{obj['suite'].get('version')} "
                f"({path.name}); this is version {suite.version} — pass --overwrite or another --out"
            )


def _progress(enabled: bool) -> Any:
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _prepare(cfg: EvalConfig) -> tuple[SuiteSpec, list[TaskKind], dict[str, Any], str, DistEnv, list, list]:
    """Everything checked before anything is encoded: suite, devices, output folders, checkpoints and their
    labels, results already in --out, every dataset split (built; a task fitting on its test images refused)."""
    suite, tasks = plan(cfg)
    if cfg.device != "auto":
        check_device_available(cfg.device)
    check_output_dir(cfg.out, "--out")
    if cfg.resolved_cache_dir is not None:
        check_output_dir(cfg.resolved_cache_dir, "--cache-dir")
    dist = init_distributed(cfg.device)  # torchrun/SLURM ranks; rank r on cuda:r under --device auto|cuda
    device = str(dist.device)
    loaded = _load_checkpoints(cfg, device)
    paths = [cfg.out / result_filename(c.label, suite.name) for c in loaded]
    _check_other_versions(cfg, suite)
    _check_label_owners(cfg, loaded, paths)
    built = build_needs(tasks, cfg.data_root)
    return suite, tasks, built, device, dist, loaded, paths


def dry_run(cfg: EvalConfig) -> tuple[SuiteSpec, list[SplitUse], list[Path]]:
    """``--dry-run``: every check of a run, encoding nothing → (suite, what each task reads, result paths)."""
    suite, tasks, built, _, _, _, paths = _prepare(cfg)
    return suite, describe(tasks, built), paths


def evaluate(cfg: EvalConfig) -> list[Path]:
    """Run ``cfg.suite`` over every checkpoint; returns the result JSON paths (planned ones for a dry run)."""
    from cyclip_bench.models import get_tokenizer

    suite, tasks, built, device, dist, loaded, paths = _prepare(cfg)
    if cfg.dry_run:
        return paths
    done = {c.label: _existing(cfg, suite, p, c.sha256) for c, p in zip(loaded, paths, strict=True)}
    path_of = {c.label: p for c, p in zip(loaded, paths, strict=True)}

    cache = FeatureCache(cfg.resolved_cache_dir)
    records: dict[str, dict] = {}
    results: dict[str, dict[str, TaskResult]] = {}
    progress = _progress(cfg.progress and dist.is_main)
    if progress:
        progress.start()
    try:
        for ckpt in loaded:
            started, t0 = _now(), time.perf_counter()
            encoder = Encoder(
                ckpt.model,
                get_tokenizer(ckpt.info),
                device,
                cfg.precision,
                cfg.batch_size,
                cfg.workers,
                progress,
                dist,
            )
            ctx = EvalContext(
                encoder=encoder,
                cache=cache,
                data_root=cfg.data_root,
                transform=_transform(ckpt.info.preprocess),
                checkpoint_sha256=ckpt.sha256,
                preprocess=ckpt.info.preprocess,
                precision=cfg.precision,
                text_model_id={"model": ckpt.info.name, "context_length": ckpt.info.context_length},
                prebuilt=built,
            )
            out: dict[str, TaskResult] = {}
            ran = False
            for task in tasks:
                if task.spec.name in done[ckpt.label]:
                    out[task.spec.name] = done[ckpt.label][task.spec.name]
                elif task.scope == "checkpoint":
                    out[task.spec.name] = task.run(ctx)
                    ran = True
            total = time.perf_counter() - t0
            results[ckpt.label] = out
            previous = read_result(path_of[ckpt.label])["run"] if done[ckpt.label] and not ran else None
            if previous is not None:
                # Nothing of this checkpoint was recomputed (e.g. a resume that only refits suite-scope tasks): the
                # record of the run that produced its numbers — times, versions, cache — stays the provenance.
                records[ckpt.label] = {**previous, "resumed_tasks": sorted(done[ckpt.label])}
            else:
                records[ckpt.label] = _run_record(cfg, device, dist, ctx, started, encoder, total)
                records[ckpt.label]["resumed_tasks"] = sorted(done[ckpt.label])
    finally:
        if progress:
            progress.stop()
    for task in tasks:  # suite-scope kinds see every checkpoint's results
        if task.scope == "suite":
            for label, result in task.run_suite(results).items():
                results[label][task.spec.name] = result
    if dist.is_main:
        for ckpt, path in zip(loaded, paths, strict=True):
            suite_record = {
                "name": suite.name,
                "version": suite.version,
                "sha256": suite.sha256,
                "source": suite.source,
                "path": suite.path,
            }
            save(
                path,
                Result(
                    schema_version=SCHEMA_VERSION,
                    suite=suite_record,
                    checkpoint=ckpt.record,
                    run=records[ckpt.label],
                    tasks=[results[ckpt.label][t.spec.name] for t in tasks],
                ),
            )
        write_results_csv(cfg.out)
    return paths


def _transform(preprocess: dict) -> Any:
    from cyclip_bench.models import build_transform

    return build_transform(preprocess)


def _run_record(
    cfg: EvalConfig,
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


__all__ = ["dry_run", "evaluate", "plan", "resolve_data", "suite_datasets"]
