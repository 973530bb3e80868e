"""Every checkpoint's training configuration, one-seed configurations included: what the findings compare.

`cyclip_bench.results.seed_groups` names the configurations with two or more seeds; here every checkpoint
belongs to exactly one configuration. A one-seed configuration is named after its checkpoint, without a
``-s<seed>`` suffix that repeats the run's own seed (``clip-s0`` → ``clip``), so it reads as the method.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cyclip_bench.report.plots import checkpoint_colours
from cyclip_bench.report.stats import seed_mean_interval
from cyclip_bench.results import Result, ordered_checkpoints, seed_groups


def _single_name(res: Result) -> str:
    seed = (res.train_config or {}).get("seed")
    match = re.fullmatch(r"(.+?)[-_]s(?:eed)?[-_]?(\d+)", res.label)
    if match and seed is not None and str(seed) == match.group(2):
        return match.group(1)
    return res.label


def configurations(results: list[Result]) -> dict[str, list[str]]:
    """Configuration name → its checkpoints (report order); one entry per configuration, in the order their
    first checkpoint appears. Checkpoints without a training config are a configuration each."""
    groups = seed_groups(results)
    member_of = {label: name for name, members in groups.items() for label in members}
    by_label = {res.label: res for res in results}
    out: dict[str, list[str]] = {}
    for label in ordered_checkpoints(results):
        if label in member_of:
            out.setdefault(member_of[label], []).append(label)
            continue
        name = _single_name(by_label[label])
        if name in out and name not in groups:  # a name taken by a different configuration: keep the label
            name = label
        out.setdefault(name, []).append(label)
    return out


def configuration_of(configs: dict[str, list[str]], label: str) -> str:
    return next(name for name, members in configs.items() if label in members)


# How a plot drawn by configuration states its error bars.
SEED_BARS = (
    "error bars: 95% t-interval of the mean over seeds (none for a configuration with one seed: its CI over "
    "test examples is in the task's table)"
)


@dataclass(frozen=True)
class SeedSeries:
    """What a plot draws per configuration when some configuration has several seeds: ``series[name][i]`` =
    (mean over its seeds, t-interval low, high) at point i, ``points[name][i]`` the seeds' own values there, one
    colour per configuration (the hue its checkpoints' shades share), names carrying ``(n = seeds)``."""

    series: dict[str, list[tuple[float, float, float] | None]]
    points: dict[str, list[list[float]]]
    colours: dict[str, tuple]


def seed_series(results: list[Result], values: dict[str, list[float | None]]) -> SeedSeries | None:
    """Per-checkpoint values (``values[label][i]``, None where missing) as per-configuration means with their
    95% t-interval over seeds — or None when every configuration among ``values`` has one checkpoint (then a
    plot shows the checkpoints themselves, each with its CI over test examples)."""
    configs = {name: [m for m in members if m in values] for name, members in configurations(results).items()}
    configs = {name: members for name, members in configs.items() if members}
    if not any(len(members) > 1 for members in configs.values()):
        return None
    width = max((len(v) for v in values.values()), default=0)
    hues = checkpoint_colours(list(configs))
    out = SeedSeries({}, {}, {})
    for name, members in configs.items():
        key = f"{name} (n = {len(members)})"
        out.colours[key] = hues[name]
        out.points[key] = [
            [v for m in members if (v := values[m][i]) is not None and not math.isnan(v)] for i in range(width)
        ]
        out.series[key] = [tuple(seed_mean_interval(dots)) if dots else None for dots in out.points[key]]
    return out
