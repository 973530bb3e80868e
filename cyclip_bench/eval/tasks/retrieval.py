"""Retrieval: image→text and text→image R@k with several captions per image."""

from __future__ import annotations

from dataclasses import dataclass

from cyclip_bench.data.catalog import RETRIEVAL
from cyclip_bench.eval.context import EvalContext
from cyclip_bench.eval.features import normalise
from cyclip_bench.eval.tasks.base import TASKS, DataNeed, TaskKind, as_int_list, fraction
from cyclip_bench.metrics import image_to_text_ranks, text_to_image_ranks
from cyclip_bench.results import MetricSpec, MetricTable, TaskResult
from cyclip_bench.validation import PositiveInts


@dataclass(frozen=True)
class RetrievalOptions:
    recall_at: PositiveInts = (1, 5, 10)


@TASKS.register("retrieval")
class Retrieval(TaskKind):
    Options = RetrievalOptions
    metrics = MetricTable(
        MetricSpec("image_to_text_R@*", True, "fraction"),
        MetricSpec("text_to_image_R@*", True, "fraction"),
    )

    def needs(self) -> list[DataNeed]:
        return [DataNeed(RETRIEVAL, self.spec.dataset)]

    def run(self, ctx: EvalContext) -> TaskResult:
        feats = ctx.retrieval_features(self.spec.dataset)
        similarity = normalise(feats.images) @ normalise(feats.texts).T
        metrics, info, per_example = {}, {}, {}
        # One pessimistic rank per query serves every k (ties: docs/evaluation.md, "Ties").
        ranks = {
            "image_to_text": (image_to_text_ranks(similarity, feats.caption_image), similarity.shape[1]),
            "text_to_image": (text_to_image_ranks(similarity, feats.caption_image), similarity.shape[0]),
        }
        for k in self.options.recall_at:
            for direction, (rank, candidates) in ranks.items():
                name = f"{direction}_R@{k}"
                hits = rank < min(k, candidates)
                metrics[name] = fraction(hits)
                info[name] = self.metric_info(name, name)
                per_example[name] = as_int_list(hits)
        extra = {"num_images": int(feats.images.shape[0]), "num_captions": len(feats.captions)}
        return self.result(metrics, info, per_example=per_example, extra=extra)
