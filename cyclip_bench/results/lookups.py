"""Lookups over a list of loaded results (one per checkpoint and suite): the checkpoints, suites and tasks in the
order they first appear, one task of one checkpoint, and the seeds of one training configuration."""

from __future__ import annotations

import json
import math

from cyclip_bench.results.model import Result, TaskResult

# Keys of a training config that identify a run rather than a configuration: two checkpoints whose configs
# differ only in these are seeds of one configuration.
RUN_IDENTITY_KEYS = frozenset(
    {
        "seed",
        "name",
        "logs",
        "logs_dir",
        "log_dir",
        "run_dir",
        "out",
        "out_dir",
        "output_dir",
        "checkpoint_dir",
        "resume",
        "workers",
        "num_workers",
        "nproc",
        "device",
        "log_every",
        "save_every",
        "save_frequency",
        "data_cache",  # in-memory or streamed batches are bit-identical
        "channels_last",  # a memory layout: the same model to float rounding
    }
)


def ordered_checkpoints(results: list[Result]) -> list[str]:
    """Checkpoint display labels in the order they first appear."""
    labels: list[str] = []
    for res in results:
        if res.label not in labels:
            labels.append(res.label)
    return labels


def suites(results: list[Result]) -> list[str]:
    """Suite names in the order they first appear."""
    names: list[str] = []
    for res in results:
        if res.suite_name not in names:
            names.append(res.suite_name)
    return names


def suite_tasks(results: list[Result], suite: str) -> list[str]:
    """Task names of a suite in the order they first appear across the checkpoints' results."""
    names: list[str] = []
    for res in results:
        if res.suite_name == suite:
            names.extend(t.name for t in res.tasks if t.name not in names)
    return names


def find_task(results: list[Result], label: str, suite: str, task_name: str) -> TaskResult | None:
    """Task ``task_name`` of checkpoint ``label`` on ``suite``, or None where that checkpoint lacks it."""
    for res in results:
        if res.label == label and res.suite_name == suite:
            return res.task(task_name)
    return None


def reference_task(results: list[Result], suite: str, task_name: str) -> TaskResult:
    """The first checkpoint's record of a task: its kind, dataset and metric infos describe the row."""
    return next(t for res in results if res.suite_name == suite for t in res.tasks if t.name == task_name)


def seed_values(results: list[Result], members: list[str], suite: str, task_name: str, metric: str) -> list[float]:
    """The values of one metric over the checkpoints ``members`` (missing and NaN left out)."""
    tasks = (find_task(results, m, suite, task_name) for m in members)
    values = [t.metrics.get(metric) for t in tasks if t is not None]
    return [float(v) for v in values if v is not None and not math.isnan(v)]


def same_examples(a: TaskResult, b: TaskResult, metric: str) -> bool:
    """Paired only when both arrays cover the same examples: equal lengths, and equal labels where recorded.
    (Arrays of one task may differ in length, e.g. retrieval's image→text vs text→image.)"""
    if len(a.per_example_of(metric) or ()) != len(b.per_example_of(metric) or ()):
        return False
    if "label" in a.per_example and "label" in b.per_example:
        return a.per_example["label"] == b.per_example["label"]
    return True


def configuration_key(config: dict) -> str:
    """A training config without its run-identity keys: equal for the seeds of one configuration."""
    return json.dumps({k: v for k, v in config.items() if k not in RUN_IDENTITY_KEYS}, sort_keys=True, default=str)


def seed_groups(results: list[Result]) -> dict[str, list[str]]:
    """Configuration → checkpoint labels, for configurations trained with two or more different seeds."""
    by_key: dict[str, dict[str, object]] = {}
    for res in results:
        config = res.train_config
        if not config or "seed" not in config:
            continue
        by_key.setdefault(configuration_key(config), {})[res.label] = config["seed"]
    groups = {}
    for members in by_key.values():
        if len(set(map(str, members.values()))) >= 2:
            labels = list(members)
            groups[_group_name(labels)] = labels
    return groups


def comparison_labels(results: list[Result], labels: list[str], baseline: str) -> list[str]:
    """The checkpoints compared class by class with the baseline: one per other configuration.

    Seeds of one configuration are represented by the member trained with the baseline's seed (else the first),
    and the baseline's own seed-mates are left out: per-class plots of seed against seed show noise, and with
    many seeds they would fill the report (the seed table covers them)."""
    groups = seed_groups(results)
    member_of = {label: name for name, members in groups.items() for label in members}
    seed_of = {r.label: (r.train_config or {}).get("seed") for r in results}
    chosen, seen_groups = [], {member_of.get(baseline)} - {None}
    for label in labels:
        group = member_of.get(label)
        if label == baseline or group in seen_groups:
            continue
        if group is not None:
            members = groups[group]
            same_seed = [m for m in members if seed_of.get(m) == seed_of.get(baseline)]
            label = (same_seed or members)[0]
            seen_groups.add(group)
        chosen.append(label)
    return chosen


def _group_name(labels: list[str]) -> str:
    prefix = labels[0]
    for label in labels[1:]:
        while not label.startswith(prefix):
            prefix = prefix[:-1]
    prefix = prefix.rstrip("-_ .s0123456789") if prefix else ""
    return prefix or " + ".join(labels)
