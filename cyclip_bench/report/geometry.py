"""Which metrics of a task describe the embedding geometry, which caption pairs they were measured on, and what
role each plays in the geometry story (absolute gap, scale-free measure, cone).

Geometry metrics are found, not listed: a task that records the caption pairs it measured on
(``extra["pairs"]``, as the consistency task does) has as geometry every metric without a per-example array —
so measures a task kind adds later (declared in its `MetricTable`) are picked up without an edit here. For older
results without ``extra["pairs"]`` the built-in names below are recognised. Two tasks that measured on the same
caption pairs hold the same geometry; the report shows it once per caption set, under the first such task.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from enum import Enum

from cyclip_bench.results import Result, TaskResult, find_task, ordered_checkpoints, suite_tasks

# The geometry metrics cyclip-bench's consistency task wrote before it recorded its caption pairs.
KNOWN_GEOMETRY = (
    "modality_gap",
    "inmodal_gap",
    "crossmodal_gap",
    "inmodal_loss_per_pair",
    "crossmodal_loss_per_pair",
    "align_image_text",
    "uniform_image",
    "uniform_text",
    "uniform_joint",
    "inmodal_rank_correlation",
    "crossmodal_rank_correlation",
    "inmodal_gap_normalised",
    "crossmodal_asymmetry_normalised",
    "cone_image",
    "cone_text",
)


class Role(Enum):
    """What a geometry metric says about consistency."""

    ABSOLUTE_GAP = "absolute gap"  # CyCLIP's gaps in cosine units: shrink when the cone narrows
    SCALE_FREE = "scale-free"  # unchanged by a narrower or wider cone
    CONE = "cone"  # mean off-diagonal cosine: higher = a narrower cone
    OTHER = "other"


# Roles by name (fnmatch patterns, first match wins), then by declared unit; anything else is OTHER.
ROLE_BY_NAME: tuple[tuple[str, Role], ...] = (
    ("inmodal_gap", Role.ABSOLUTE_GAP),
    ("crossmodal_gap", Role.ABSOLUTE_GAP),
    ("cone_*", Role.CONE),
)
SCALE_FREE_UNITS = frozenset({"rank correlation", "similarity std"})


def role(task: TaskResult, metric: str) -> Role:
    """The metric's role in the geometry story."""
    for pattern, found in ROLE_BY_NAME:
        if fnmatch.fnmatchcase(metric, pattern):
            return found
    return Role.SCALE_FREE if task.unit(metric) in SCALE_FREE_UNITS else Role.OTHER


def geometry_metrics(task: TaskResult) -> list[str]:
    """The task's geometry metrics, in the task's order (empty for a task that measures none)."""
    has_pairs = isinstance(task.extra.get("pairs"), dict)
    return [
        metric
        for metric in task.metrics
        if task.per_example_of(metric) is None and (has_pairs or metric in KNOWN_GEOMETRY)
    ]


def caption_set(task: TaskResult) -> str | None:
    """A key naming the caption pairs the geometry was measured on, or None when the task does not say."""
    pairs = task.extra.get("pairs")
    if not isinstance(pairs, dict):
        return None
    return json.dumps(pairs, sort_keys=True, default=str)


def caption_set_name(task: TaskResult) -> str:
    """The caption pairs in words: 'world-retrieval (1,000 pairs)' or 'this task's caption pairs'."""
    pairs = task.extra.get("pairs")
    if not isinstance(pairs, dict) or "dataset" not in pairs:
        return "this task's caption pairs"
    count = pairs.get("num_pairs")
    return f"{pairs['dataset']} ({count:,} pairs)" if isinstance(count, int) else str(pairs["dataset"])


@dataclass(frozen=True)
class GeometryHome:
    """Where a task's geometry is shown: ``owner`` is the first task of the suite measured on the same caption
    pairs (the task itself when it is the first)."""

    owner: str
    caption_set: str  # in words


def geometry_home(results: list[Result], suite: str, task_name: str) -> GeometryHome | None:
    """None when the task has no geometry metrics. Two tasks share a caption set only when every checkpoint
    that has both records the same pairs for both."""
    labels = ordered_checkpoints(results)
    tasks = [t for label in labels if (t := find_task(results, label, suite, task_name)) is not None]
    if not tasks or not any(geometry_metrics(t) for t in tasks):
        return None
    own_key = caption_set(tasks[0])
    for other in suite_tasks(results, suite):
        if other == task_name:
            break
        if own_key is None:
            continue
        if all(
            (a := find_task(results, label, suite, other)) is not None
            and (b := find_task(results, label, suite, task_name)) is not None
            and caption_set(a) == caption_set(b) == own_key
            and geometry_metrics(a)
            for label in labels
            if find_task(results, label, suite, task_name) is not None
        ):
            return GeometryHome(other, caption_set_name(tasks[0]))
    return GeometryHome(task_name, caption_set_name(tasks[0]))


def shows_geometry(results: list[Result], suite: str, task_name: str) -> bool:
    """True when this task's section (and its overview rows) carry its geometry: it is the first task measured
    on its caption pairs."""
    home = geometry_home(results, suite, task_name)
    return home is not None and home.owner == task_name
