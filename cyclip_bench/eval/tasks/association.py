"""WinoGAViL association (DataComp's ``misc/winogavil``): for each cue, pick as many candidate images as it has
associations — the highest cosine between the cue's prompt and each candidate, ties pessimistic — and score the
pick by its Jaccard index against the true associations (``metrics.association``).

The cue's prompt is DataComp's: "An <cue>" when the lower-cased cue starts with a vowel, else "A <cue>".
Metrics: ``jaccard_10-12`` (the mean over instances with 10 or 12 candidates: DataComp's main metric,
``jaccard_score_10-12``), ``jaccard_5-6`` (5 or 6 candidates) and ``jaccard_mean`` (every instance); a group
without instances is NaN (stored null)."""

from __future__ import annotations

import torch

from cyclip_bench.data.winogavil import ASSOCIATION
from cyclip_bench.eval.context import EvalContext
from cyclip_bench.eval.features import normalise
from cyclip_bench.eval.tasks.base import TASKS, DataNeed, TaskKind
from cyclip_bench.metrics import association_jaccard
from cyclip_bench.results import MetricSpec, MetricTable, TaskResult

MAIN_METRIC = "jaccard_10-12"
# metric → (fewest, most) candidates of the instances it averages over
GROUPS = {"jaccard_10-12": (10, 12), "jaccard_5-6": (5, 6), "jaccard_mean": (0, 10**9)}


def cue_prompt(cue: str) -> str:
    """DataComp's prompt for a WinoGAViL cue."""
    cue = cue.lower()
    return f"An {cue}" if cue[:1] in "aeiou" and cue else f"A {cue}"


@TASKS.register("association", aliases=("winogavil",))
class Association(TaskKind):
    metrics = MetricTable(MetricSpec("jaccard_*", True, "fraction"))

    def needs(self) -> list[DataNeed]:
        return [DataNeed(ASSOCIATION, self.spec.dataset)]

    def run(self, ctx: EvalContext) -> TaskResult:
        need = DataNeed(ASSOCIATION, self.spec.dataset)
        data = ctx.dataset(need)
        images = normalise(ctx.need_image_features(need))
        cues = normalise(ctx.text_features([cue_prompt(i.cue) for i in data.instances], f"cues {data.name}"))
        scores, sizes = [], []
        for n, item in enumerate(data.instances):
            similarity = images[list(item.candidates)] @ cues[n]
            scores.append(association_jaccard(similarity, torch.tensor(item.truth)))
            sizes.append(len(item.candidates))
        metrics, info = {}, {}
        for name, (low, high) in GROUPS.items():
            chosen = [s for s, k in zip(scores, sizes, strict=True) if low <= k <= high]
            metrics[name] = sum(chosen) / len(chosen) if chosen else float("nan")
            info[name] = self.metric_info(name)
        extra = {"main_metric": MAIN_METRIC, "num_instances": len(scores), "num_images": len(data.image_files)}
        per_example = {"jaccard": scores, "num_candidates": sizes}
        return self.result(metrics, info, per_example=per_example, extra=extra)
