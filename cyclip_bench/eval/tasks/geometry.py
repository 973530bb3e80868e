"""Geometry of a retrieval set's embeddings: the consistency task's gap, modality-gap, cone and
alignment/uniformity measurements (``space_metrics``) over its image-caption pairs, each image with its first
caption — what ``eval --dataset`` runs as "consistency" on a retrieval dataset, where no labels exist."""

from __future__ import annotations

from cyclip_bench.data.catalog import RETRIEVAL
from cyclip_bench.eval.context import EvalContext
from cyclip_bench.eval.tasks.base import TASKS, DataNeed, TaskKind
from cyclip_bench.eval.tasks.consistency import CONSISTENCY_METRICS, first_caption_pairs, space_metrics
from cyclip_bench.results import TaskResult


@TASKS.register("geometry")
class Geometry(TaskKind):
    metrics = CONSISTENCY_METRICS

    def needs(self) -> list[DataNeed]:
        return [DataNeed(RETRIEVAL, self.spec.dataset)]

    def run(self, ctx: EvalContext) -> TaskResult:
        feats = ctx.retrieval_features(self.spec.dataset)
        captions = first_caption_pairs(feats.caption_image, feats.images.shape[0])
        metrics, info = {}, {}
        for name, (value, metric_info) in space_metrics(feats.images, feats.texts[captions]).items():
            metrics[name], info[name] = value, metric_info
        extra = {"num_pairs": int(feats.images.shape[0]), "num_captions": len(feats.captions)}
        return self.result(metrics, info, extra=extra)
