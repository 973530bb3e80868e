"""The paper beside us: CyCLIP's published RN50/CC3M numbers (templates/paper_numbers.json, from
docs/paper.md).

A task gets the paper's number when its dataset is one the paper reports (exact match, shown plainly) or when
it is a generated-world set that stands in for one (shown with "≈ <dataset>", since the absolute numbers are
not comparable — only the direction of the CLIP → CyCLIP change is).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

PAPER_LABEL = "paper (RN50, CC3M)"


@dataclass(frozen=True)
class PaperNumber:
    dataset: str  # the paper's dataset key, e.g. "cifar10"
    display_dataset: str  # e.g. "CIFAR-10"
    metric: str
    values: dict[str, float]  # model ("CLIP", "CyCLIP", …) -> percent
    analogue: bool  # True when the task's dataset only stands in for the paper's

    def cell(self, model: str) -> str:
        value = self.values.get(model)
        if value is None:
            return ""
        return f"{value:.2f} (≈ {self.display_dataset})" if self.analogue else f"{value:.2f}"


@functools.lru_cache(maxsize=1)
def paper_numbers() -> dict[str, Any]:
    text = resources.files("cyclip_bench.report").joinpath("templates/paper_numbers.json").read_text("utf-8")
    return json.loads(text)


def paper_columns() -> list[str]:
    return list(paper_numbers()["columns"])


def normalise_dataset(name: str) -> str:
    """'ImageNet-Sketch', 'imagenet_sketch', 'imagenet-sketch/test' → 'imagenetsketch'."""
    name = name.split("/")[0].lower()
    if name in ("imagenet", "imagenet-1k", "imagenet_1k"):
        name = "imagenet1k"
    return re.sub(r"[^a-z0-9]", "", name)


def lookup(kind: str, dataset: str, metric: str) -> PaperNumber | None:
    """The paper's number for (task kind, dataset, metric), exact or via the generated world's analogue."""
    doc = paper_numbers()
    key = normalise_dataset(dataset)
    analogues = {normalise_dataset(k): v for k, v in doc["analogues"].items()}
    candidates = [(key, False)]
    if key in analogues:
        candidates.append((normalise_dataset(analogues[key]), True))
    for wanted, is_analogue in candidates:
        for entry in doc["entries"]:
            if entry["metric"] != metric or entry["kind"] not in ("*", kind):
                continue
            if normalise_dataset(entry["dataset"]) == wanted:
                display = doc["display_names"].get(entry["dataset"], entry["dataset"])
                return PaperNumber(
                    dataset=entry["dataset"],
                    display_dataset=display,
                    metric=metric,
                    values=dict(entry["values"]),
                    analogue=is_analogue,
                )
    return None
