"""Every checkpoint's training configuration, one-seed configurations included: what the findings compare.

`cyclip_bench.results.seed_groups` names the configurations with two or more seeds; here every checkpoint
belongs to exactly one configuration. A one-seed configuration is named after its checkpoint, without a
``-s<seed>`` suffix that repeats the run's own seed (``clip-s0`` → ``clip``), so it reads as the method.
"""

from __future__ import annotations

import re

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
