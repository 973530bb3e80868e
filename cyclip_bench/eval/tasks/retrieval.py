"""Retrieval: image→text and text→image R@k with several captions per image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cyclip_bench.eval.features import normalise
from cyclip_bench.eval.results import MetricInfo, TaskResult
from cyclip_bench.eval.tasks.base import TASKS, DataNeed, TaskKind, as_int_list
from cyclip_bench.metrics import image_to_text_hits, text_to_image_hits
from cyclip_bench.validation import PositiveInts


@dataclass(frozen=True)
class RetrievalOptions:
    recall_at: PositiveInts = (1, 5, 10)


@TASKS.register("retrieval")
class Retrieval(TaskKind):
    Options = RetrievalOptions

    def needs(self) -> list[DataNeed]:
        return [DataNeed("retrieval", self.spec.dataset)]

    def run(self, ctx: Any) -> TaskResult:
        feats = ctx.retrieval_features(self.spec.dataset)
        similarity = normalise(feats.images) @ normalise(feats.texts).T
        metrics, info, per_example = {}, {}, {}
        for k in self.options.recall_at:
            for name, hits in (
                (f"image_to_text_R@{k}", image_to_text_hits(similarity, feats.caption_image, k)),
                (f"text_to_image_R@{k}", text_to_image_hits(similarity, feats.caption_image, k)),
            ):
                metrics[name] = float(hits.float().mean())
                info[name] = MetricInfo(True, "fraction", name)
                per_example[name] = as_int_list(hits)
        extra = {"num_images": int(feats.images.shape[0]), "num_captions": len(feats.captions)}
        return self.result(metrics, info, per_example=per_example, extra=extra)
