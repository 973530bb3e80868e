"""``make_plan(cfg)``: what an evaluation will do, resolved once and checked before any model is loaded or any
image decoded — the suite and its tasks, every checkpoint (label, file, sha256), every dataset split each task
reads (built without a transform: its files listed, its size known) and where each result goes.

``--dry-run`` prints the plan (``Plan.lines``); a run executes the same object (``eval.runner.run_plan``), so
nothing is resolved twice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.eval.config import EvalConfig, checkpoint_entry
from cyclip_bench.eval.splits import SplitUse, build_needs, describe
from cyclip_bench.eval.suite import SuiteSpec, TaskSpec, load_suite
from cyclip_bench.eval.tasks import TaskKind, make_task
from cyclip_bench.results import read_result, result_filename
from cyclip_bench.validation import check_device_available, check_output_dir


@dataclass(frozen=True)
class CheckpointPlan:
    """One ``--checkpoint``, resolved without reading its weights."""

    label: str  # ``LABEL=`` or the default label (run name / file stem / folder / ORG-REPO / <model>-<tag>)
    source: str  # as given after ``LABEL=``: a file, hf-hub:ORG/REPO, local-dir:DIR, a folder or a pretrained tag
    path: str  # the file, resolved; "hf-hub:ORG/REPO", "local-dir:DIR" or "pretrained:<model>:<tag>"
    sha256: str | None  # the weights file's; None while a released model's weights are still to be downloaded
    model: str | None  # --model (needed for open_clip files and tags; this project's files name their own)
    result_path: Path
    previous: dict | None  # the result already at ``result_path`` (read and checked once), if any
    kind: str = "file"  # "file" | "hf-hub" | "local-dir" | "pretrained"
    where: str = ""  # a released model's weights file (and revision) in the cache or folder, or "not cached: …"
    flag: str = "--checkpoint"  # the flag it was given with (eval's --pretrained TAG too): what messages name


@dataclass(frozen=True)
class Plan:
    """Everything one evaluation reads and writes (``make_plan``); executed by ``eval.runner.run_plan``."""

    config: EvalConfig
    suite: SuiteSpec
    tasks: tuple[TaskKind, ...]
    checkpoints: tuple[CheckpointPlan, ...]
    datasets: Mapping[str, Any]  # every split the tasks read, built with no transform, by ``DataNeed.key``
    uses: tuple[SplitUse, ...]  # (task, split) → its files and size, in task order
    results_csv: Path

    @property
    def result_paths(self) -> list[Path]:
        return [c.result_path for c in self.checkpoints]

    def lines(self) -> list[str]:
        """The plan as ``--dry-run`` prints it: tasks with each split's files and size, checkpoints, outputs."""
        suite = self.suite
        out = [f"suite {suite.name} v{suite.version}: {len(self.tasks)} task(s); the data each one reads:"]
        for task in self.tasks:
            out.append(f"  {task.spec.name} ({task.kind})")
            for use in (u for u in self.uses if u.task == task.spec.name):
                out.append(f"    {use.split:5} {use.dataset}: {use.source} ({use.size} {use.kind.unit})")
        out.append(f"{len(self.checkpoints)} checkpoint(s):")
        for ckpt in self.checkpoints:
            sha = f"sha256 {ckpt.sha256}" if ckpt.sha256 else "sha256 of its weights once loaded"
            model = f", model {ckpt.model}" if ckpt.model else ""
            where = f" — {ckpt.where}" if ckpt.where else ""
            out.append(f"  {ckpt.label}: {ckpt.path} ({sha}{model}){where}")
        out += [f"would write {path}" for path in self.result_paths]
        out.append(f"would write {self.results_csv}")
        return out


def load_tasks(suite_ref: str | SuiteSpec) -> tuple[SuiteSpec, list[TaskKind]]:
    """Load the suite (or take the one given) and instantiate every task (names, kinds, options and
    cross-references checked)."""
    suite = suite_ref if isinstance(suite_ref, SuiteSpec) else load_suite(suite_ref)
    tasks = []
    for i, spec in enumerate(suite.tasks):
        try:
            tasks.append(make_task(spec))
        except ConfigError as err:  # the task's own message (option, value, expectation) plus the file
            raise ConfigError(f"suite {suite.path} tasks[{i}] ({spec.name}): {_without_task(err, spec)}") from None
    for task in tasks:
        task.check_references(suite)
    return suite, tasks


def _without_task(err: ConfigError, spec: TaskSpec) -> str:
    message, prefix = str(err), f"task {spec.name!r} ({spec.kind}): "
    return message[len(prefix) :] if message.startswith(prefix) else message


def suite_datasets(suite_ref: str) -> dict[str, list[str]]:
    """Catalog name → splits of every dataset a suite's tasks read (in task order); datasets given by path are
    left out, a retrieval dataset has the split "test". ``cyclip-bench data fixture --suite`` writes these."""
    names: dict[str, list[str]] = {}
    for task in load_tasks(suite_ref)[1]:
        for need in task.needs():
            if isinstance(need.ref, str):
                splits = names.setdefault(need.ref, [])
                if need.split not in splits:
                    splits.append(need.split)
    return names


def plan_checkpoints(cfg: EvalConfig, suite: SuiteSpec) -> tuple[CheckpointPlan, ...]:
    """Every ``--checkpoint``: its label (two with one label refused), file and sha256, its result path and the
    result already there (another suite version, or another checkpoint under the label, refused unless
    --overwrite). No weights are read or downloaded: a file is hashed; a released model (hf-hub repo, model
    folder, pretrained tag) is found in the cache or on disk and its weights file hashed."""
    from cyclip_bench.models.interop import checkpoint_source

    planned: list[CheckpointPlan] = []
    by_pretrained = {cfg_source for _, cfg_source in map(checkpoint_entry, cfg.pretrained)}
    for label, source in cfg.labelled_checkpoints:
        flag = "--pretrained" if source in by_pretrained else "--checkpoint"
        found = checkpoint_source(source, cfg.architecture, flag=flag)
        label = label or found.label
        other = next((c for c in planned if c.label == label), None)
        if other is not None and other.path == found.path:  # a label would only evaluate it twice
            raise UserError(f"{flag}: {found.path} is given twice (as {label!r}); pass it once")
        if other is not None:
            raise UserError(
                f"--checkpoint: {other.path} and {found.path} share the label {label!r}; "
                f"give one another label: --checkpoint LABEL={found.path}"
            )
        result_path = cfg.out / result_filename(label, suite.name)
        # --overwrite replaces whatever is there, unread; otherwise it is checked below and kept for --resume.
        previous = read_result(result_path) if not cfg.overwrite and result_path.is_file() else None
        planned.append(
            CheckpointPlan(
                label=label,
                source=source,
                path=found.path,
                sha256=found.sha256,
                model=cfg.architecture,
                result_path=result_path,
                previous=previous,
                kind=found.kind,
                where=found.where,
                flag=flag,
            )
        )
    _check_other_versions(cfg, suite, {c.result_path: c.previous for c in planned})
    for ckpt in planned:
        _check_label_owner(cfg, ckpt)
    return tuple(planned)


def _check_other_versions(cfg: EvalConfig, suite: SuiteSpec, read: dict[Path, dict | None]) -> None:
    """Results of another version of this suite in --out are refused unless --overwrite (each file read once)."""
    if cfg.overwrite or not Path(cfg.out).is_dir():
        return
    for path in sorted(Path(cfg.out).glob(f"*__{suite.name}.json")):
        obj = read[path] if read.get(path) is not None else read_result(path)
        if obj["suite"].get("version") != suite.version:
            raise UserError(
                f"--out {cfg.out} holds results of suite {suite.name!r} version {obj['suite'].get('version')} "
                f"({path.name}); this is version {suite.version} — pass --overwrite or another --out"
            )


def _check_label_owner(cfg: EvalConfig, ckpt: CheckpointPlan) -> None:
    """A result in --out belongs to the checkpoint it records: another checkpoint — another sha256 from another
    file — under the same label does not replace it unless --overwrite. The same file changed since (trained
    further) is the same checkpoint: its stale results are recomputed, as with --resume."""
    if cfg.overwrite or ckpt.previous is None:
        return
    old = ckpt.previous["checkpoint"]
    if (ckpt.sha256 is not None and old.get("sha256") == ckpt.sha256) or old.get("path") == ckpt.path:
        return
    raise UserError(
        f"--out: {ckpt.result_path} holds the results of another checkpoint ({old.get('path', 'path not recorded')}) "
        f"under the label {ckpt.label!r}; this run's {ckpt.path} would replace them — give it another label "
        f"(--checkpoint LABEL={ckpt.path}) or pass --overwrite to replace them"
    )


def make_plan(cfg: EvalConfig) -> Plan:
    """The plan of ``cfg``, every check of a run done (suite, tasks, device, output folders, checkpoints and
    labels, results already in --out, every dataset split and the train/test separation), nothing loaded into a
    model and nothing decoded or encoded."""
    if cfg.suite is not None:
        suite, tasks = load_tasks(cfg.suite)
    else:  # --dataset: the suite follows what each dataset holds (eval/dataset_suite.py)
        from cyclip_bench.eval.dataset_suite import dataset_suite

        suite, tasks = load_tasks(dataset_suite(cfg.datasets, cfg.tasks, cfg.data_root))
    if cfg.device != "auto":
        check_device_available(cfg.device)
    check_output_dir(cfg.out, "--out")
    if cfg.resolved_cache_dir is not None:
        check_output_dir(cfg.resolved_cache_dir, "--cache-dir")
    checkpoints = plan_checkpoints(cfg, suite)
    datasets = build_needs(tasks, cfg.data_root)
    return Plan(
        config=cfg,
        suite=suite,
        tasks=tuple(tasks),
        checkpoints=checkpoints,
        datasets=datasets,
        uses=tuple(describe(tasks, datasets)),
        results_csv=Path(cfg.out) / "results.csv",
    )


__all__ = ["CheckpointPlan", "Plan", "load_tasks", "make_plan", "plan_checkpoints", "suite_datasets"]
