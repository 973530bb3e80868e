"""The main job: generate the world, train CLIP and CyCLIP variants, evaluate every world suite, write the report.

Every stage reuses what an earlier run left in the output folder (the world, finished or interrupted training runs,
cached features and finished eval tasks), so re-running continues instead of starting over; ``fresh`` starts over.
The same function produces the committed reference run (more objectives, more seeds, a longer budget)."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator
from rich.console import Console

from cyclip_bench import progress
from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.objective_names import NAMED_OBJECTIVES
from cyclip_bench.options import option
from cyclip_bench.validation import (
    Names,
    NonEmptyStr,
    NonNegativeInt,
    PathValue,
    PositiveFloat,
    PositiveInt,
    Seed,
    at_least,
    check_instance,
    lists_as_tuples,
)

# objective name → (--loss, λ_in, λ_cross): the names `train --loss` takes too (cyclip_bench.objective_names).
OBJECTIVES: dict[str, tuple[str, float, float]] = {
    n.name: (n.loss, n.lambda_inmodal, n.lambda_crossmodal) for n in NAMED_OBJECTIVES.values()
}


@dataclass(frozen=True)
class Budget:
    """World size and training budget of one demo flavour (measured to fit its time target on 2 cores).

    The `tiny` preset (a small ResNet) learns the world's shapes with batch 64 at lr 1e-3: on generator v2, CLIP
    reaches ~82% zero-shot shape accuracy after 8 epochs of the default world (2,000 steps; seeds 0–2: 82.4, 85.6,
    84.5%; the committed reference run's seeds 0–4: 82.6 ± 5.6%) and 52–55% after 6 epochs of the half-size world of
    ``--quick`` (750 steps). 6 epochs left a seed-dependent plateau: 74.3 ± 11.4% over seeds 0–4. The budget was
    chosen on CLIP alone (docs/world.md §5), before any other objective was run at it."""

    world_size: float
    epochs: int
    batch_size: int = 64
    lr: float = 1e-3
    warmup: int = 50


# The demo's last summary line when a comparison rests on one training seed per objective.
ONE_SEED_HINT = (
    "for a method-level comparison run ≥ 2 seeds per objective, e.g. --seeds 0,1,2 (reports/README.md: the "
    "pre-registered 20-seed comparison)"
)

BUDGETS = {
    "quick": Budget(world_size=0.5, epochs=6),
    "default": Budget(world_size=1.0, epochs=8),
}


def parse_int_list(text: str | None, flag: str = "--seeds") -> tuple[int, ...] | None:
    """``0,1,2`` → (0, 1, 2); None stays None (the flag was not given)."""
    if text is None or isinstance(text, tuple):
        return text
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{flag}: expected a comma list of integers such as 0,1,2 (got {text!r})") from None


def parse_names(text: str | None) -> tuple[str, ...] | None:
    """``clip, cyclip`` → ("clip", "cyclip"); None stays None."""
    if text is None or isinstance(text, tuple):
        return text
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class DemoConfig:
    """``cyclip-bench demo``: every field declares its type and range (``cyclip_bench.validation``, checked on
    construction like the other commands' configs) and, where it is a flag, its help (``option``; the command is
    derived from these fields). The training and evaluation values are checked again by their own configs."""

    quick: bool = option(False, "The ~2.5-minute version: a half-size world (750 training steps per run).")
    out: PathValue | None = option(
        None,
        "Folder for the world, runs, results, cache and report.",
        default_help="demo-out, or demo-out-quick with --quick, so the two never collide",
    )
    objectives: Names = option(
        ("clip", "cyclip"),
        f"Comma list of objectives: {', '.join(OBJECTIVES)}.",
        cli_type=str,
        parse=parse_names,
        default_help="clip,cyclip",
    )
    seeds: Annotated[tuple[Seed, ...], BeforeValidator(lists_as_tuples)] = option(
        (0,),
        "Comma list of training seeds (each objective × each seed).",
        cli_type=str,
        parse=parse_int_list,
        default_help="0",
    )
    world_seed: Seed = option(0, "Seed of the generated world.")
    world_size: PositiveFloat | None = option(None, "World size knob.", default_help="1.0, --quick: 0.5")
    image_size: PositiveInt = option(32, "Image side of the world in pixels.", cli=False)
    model: NonEmptyStr = option("tiny", "Model preset trained.", cli=False)
    epochs: PositiveInt | None = option(None, "Training epochs per run.", default_help="the flavour's budget")
    batch_size: at_least(2, "a contrastive batch needs negatives") | None = option(  # type: ignore[valid-type]
        None, "Training batch size.", default_help="64"
    )
    lr: PositiveFloat | None = option(None, "Peak learning rate.", default_help="1e-3")
    suite: NonEmptyStr = option("world", "Suite to evaluate (a world suite name or a TOML file).")
    fresh: bool = option(False, "Start over instead of reusing runs, results and cache.")
    workers: NonNegativeInt = option(0, "Data-loading worker processes per run.", cli=False)
    jobs: PositiveInt | None = option(
        None,
        "Training runs at once, each with an equal share of the CPU cores.",
        default_help="one per core on a CPU machine, 1 on a GPU",
    )
    progress: bool = option(True, "Progress bars / plain log lines.")
    title: str | None = option(None, "Report title.")
    extra_train: dict[str, Any] = option(
        default_factory=dict, help="More TrainConfig values for every run (Python callers).", cli=False
    )

    def __post_init__(self) -> None:
        check_instance(self)
        if self.out is None:  # the quick and full demos get their own folders unless one is given
            object.__setattr__(self, "out", Path("demo-out-quick" if self.quick else "demo-out"))
        if Path(self.out).exists() and not Path(self.out).is_dir():
            raise ConfigError(f"--out {self.out}: exists and is not a folder")
        unknown = [o for o in self.objectives if o not in OBJECTIVES]
        if unknown or not self.objectives:
            raise ConfigError(
                f"--objectives: unknown {', '.join(unknown) or '(none given)'}; expected a comma list of "
                f"{', '.join(OBJECTIVES)}"
            )
        if not self.seeds:
            raise ConfigError("--seeds: expected a comma list of non-negative integers, e.g. 0,1,2")

    def training_jobs(self) -> tuple[int, int]:
        """(runs trained at once, torch threads per run). On CPU the tiny models scale poorly past one thread
        (measured: two one-thread runs side by side finish ~1.5x sooner than the same two runs one after the other
        with two threads each), so by default each core trains its own run; on a GPU, runs go one at a time."""
        return self.jobs_for(len(self.objectives) * len(self.seeds))

    def jobs_for(self, runs: int) -> tuple[int, int]:
        """(processes at once, torch threads each) for ``runs`` independent trainings or evaluations."""
        cores = available_cores()
        device = str(self.extra_train.get("device", "auto"))
        on_gpu = device.startswith("cuda") or (device == "auto" and _cuda_available())
        jobs = self.jobs if self.jobs is not None else (1 if on_gpu else cores)
        jobs = max(1, min(jobs, runs))
        return jobs, max(1, cores // jobs)

    @property
    def budget(self) -> Budget:
        base = BUDGETS["quick" if self.quick else "default"]
        return Budget(
            world_size=self.world_size if self.world_size is not None else base.world_size,
            epochs=self.epochs if self.epochs is not None else base.epochs,
            batch_size=self.batch_size if self.batch_size is not None else base.batch_size,
            lr=self.lr if self.lr is not None else base.lr,
            warmup=base.warmup,
        )


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def run_name(objective: str, seed: int) -> str:
    return f"{objective}-s{seed}"


def _stage(console: Console, text: str) -> None:
    progress.rule(console, text)


def _ensure_world(cfg: DemoConfig, console: Console) -> Path:
    """Generate the world unless the same one (seed, size, image size) is already there."""
    from cyclip_bench.data.synth import generate_world

    world = cfg.out / "world"
    meta_path = world / "world.json"
    want = {"seed": cfg.world_seed, "size": cfg.budget.world_size, "image_size": cfg.image_size}
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if all(meta.get(k) == v for k, v in want.items()):
            console.print(f"reusing the world in {world}")
            return world
        if not cfg.fresh:
            raise UserError(
                f"{world} holds another world ({ {k: meta.get(k) for k in want} }); "
                f"pass --fresh to replace it or choose another --out"
            )
    started = time.perf_counter()
    generate_world(
        world,
        seed=cfg.world_seed,
        size=cfg.budget.world_size,
        image_size=cfg.image_size,
        overwrite=world.exists(),
        progress=cfg.progress,
    )
    console.print(f"generated the world in {world} ({time.perf_counter() - started:.0f} s)")
    return world


def _train_one(cfg: DemoConfig, world: Path, objective: str, seed: int, console: Console | None = None) -> Path:
    """Train (or finish, or reuse) one run; the trainer's exact resume makes a continued run equal a fresh one."""
    from cyclip_bench.train import TrainConfig, train

    loss, lambda_in, lambda_cross = OBJECTIVES[objective]
    budget = cfg.budget
    logs = cfg.out / "runs"
    name = run_name(objective, seed)
    latest = logs / name / "checkpoints" / "latest.pt"
    train_cfg = TrainConfig.from_sources(
        None,
        train_data=str(world / "captions" / "train.csv"),
        val_data=str(world / "captions" / "val.csv"),
        model=cfg.model,
        loss=loss,
        lambda_inmodal=lambda_in,
        lambda_crossmodal=lambda_cross,
        epochs=budget.epochs,
        batch_size=budget.batch_size,
        lr=budget.lr,
        warmup=budget.warmup,
        seed=seed,
        name=name,
        logs=str(logs),
        resume="latest" if latest.is_file() else None,
        workers=cfg.workers,
        progress=cfg.progress,
        **cfg.extra_train,
    )
    console = console or progress.make_console()  # a worker process makes its own
    previous = progress.current_label()
    progress.set_label(name)  # every line of this run says which run it is (runs train side by side)
    try:
        # markup=False: rich would take the "[clip-s0]" label for a style tag and drop it
        console.print(
            progress.labelled(f"{objective} (λ_in={lambda_in}, λ_cross={lambda_cross}), seed {seed}"), markup=False
        )
        return Path(train(train_cfg))
    finally:
        progress.set_label(previous)


def _with_threads(threads: int, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a worker process with ``threads`` torch threads; its progress is labelled plain lines
    (the workers share one terminal, where live bars would overwrite each other)."""
    import torch

    torch.set_num_threads(threads)
    progress.set_plain_only()
    return fn(*args)


def _in_workers(jobs: int, threads: int, fn: Callable[..., Any], calls: list[tuple]) -> list[Any]:
    """``fn(*args)`` for every ``args`` in ``calls``, ``jobs`` worker processes at a time with ``threads`` torch
    threads each; the results in the order of ``calls``. An error in one cancels those not yet started."""
    # spawn, not fork: a forked child inherits torch's thread pools and locks mid-state.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_with_threads, threads, fn, *args) for args in calls]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _train_all(cfg: DemoConfig, world: Path, console: Console) -> list[Path]:
    """Train every (seed, objective) run, ``jobs`` at a time; checkpoints come back in (seed, objective) order."""
    plan = [(objective, seed) for seed in cfg.seeds for objective in cfg.objectives]
    jobs, threads = cfg.training_jobs()
    if jobs == 1:
        return [_train_one(cfg, world, objective, seed, console) for objective, seed in plan]
    console.print(f"training {len(plan)} runs, {jobs} at a time with {threads} thread(s) each (--jobs)")
    # Each worker writes labelled plain progress lines (_with_threads): bars of several processes would collide.
    return _in_workers(jobs, threads, _train_one, [(cfg, world, o, s) for o, s in plan])


def _evaluate(cfg: DemoConfig, world: Path, checkpoints: list[Path], label: str | None = None) -> list[Path]:
    """Evaluate ``checkpoints`` on the suite; ``label`` names this evaluation's progress lines."""
    from cyclip_bench.eval import EvalConfig, evaluate

    if label is not None:
        progress.set_label(label)

    eval_cfg = EvalConfig(
        checkpoints=tuple(str(p) for p in checkpoints),
        suite=cfg.suite,
        out=cfg.out / "results",
        data_root=world,
        cache_dir=cfg.out / "cache",
        resume=True,
        workers=cfg.workers,
        progress=cfg.progress,
    )
    return [Path(p) for p in evaluate(eval_cfg)]


def _evaluate_all(cfg: DemoConfig, world: Path, checkpoints: list[Path], console: Console) -> list[Path]:
    """Evaluate every checkpoint, ``jobs`` at a time in worker processes (the linear probes' solver is single-
    threaded, so one process per core keeps both busy), then once more over all of them together: that pass
    resumes every per-checkpoint task from its result file and runs the suite-scope tasks (which compare
    checkpoints) over the whole set, and writes results.csv."""
    jobs, threads = cfg.jobs_for(len(checkpoints))
    if jobs > 1:
        console.print(f"evaluating {len(checkpoints)} checkpoints, {jobs} at a time with {threads} thread(s) each")
        calls = [(cfg, world, [c], f"eval {c.parent.parent.name}") for c in checkpoints]
        _in_workers(jobs, threads, _evaluate, calls)
    return _evaluate(cfg, world, checkpoints)


def run_demo(
    cfg: DemoConfig, console: Console | None = None, on_stage: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run the whole pipeline; returns {"world", "checkpoints", "results", "report": {...}, "summary": [lines],
    "seconds"}."""
    from cyclip_bench.report import ReportConfig, write_report

    console = console or progress.make_console()
    started = time.perf_counter()
    if cfg.fresh and cfg.out.exists():
        for part in ("runs", "results", "cache", "report"):
            shutil.rmtree(cfg.out / part, ignore_errors=True)
    cfg.out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    def stage(name: str) -> None:
        timings[name] = time.perf_counter()
        if on_stage:
            on_stage(name)

    total_runs = len(cfg.objectives) * len(cfg.seeds)
    _stage(console, "1/4 world")
    stage("world")
    world = _ensure_world(cfg, console)
    _stage(console, f"2/4 training {total_runs} run(s) on {world / 'captions' / 'train.csv'}")
    stage("train")
    checkpoints = _train_all(cfg, world, console)
    _stage(console, f"3/4 evaluating {len(checkpoints)} checkpoint(s) on suite {cfg.suite!r}")
    stage("eval")
    results = _evaluate_all(cfg, world, checkpoints, console)
    _stage(console, "4/4 report")
    stage("report")
    title = cfg.title or f"cyclip-bench demo: {', '.join(cfg.objectives)} on the generated world"
    baseline = run_name(cfg.objectives[0], cfg.seeds[0])
    report = write_report(
        ReportConfig(results=tuple(results), out_dir=cfg.out / "report", title=title, baseline=baseline)
    )
    stage("end")
    names = list(timings)
    seconds = {a: round(timings[b] - timings[a], 1) for a, b in zip(names, names[1:], strict=False)}
    seconds["total"] = round(time.perf_counter() - started, 1)
    summary = list(report["summary"])
    if not report["method_level"]:
        summary.append(ONE_SEED_HINT)
    return {
        "world": world,
        "checkpoints": checkpoints,
        "results": results,
        "report": report,
        "summary": summary,
        "seconds": seconds,
    }
