"""Compositional consistency: does the model bind attributes to objects, and do its two retrieval directions agree?

- hard-negative choices (SugarCrepe's format): an image, its caption and a caption with one attribute, object or
  relation replaced, swapped or added; hit = the image is closer to its caption (``image_to_text/<subset>``);
- 2×2 groups (Winoground's format): two images, two captions; text score = each image picks its caption, image
  score = each caption picks its image, group score = both (Thrush et al. 2022). The two choices of each
  (image k, caption k) pair — caption for the image (image→text) and image for the caption (text→image) — are
  reported separately, and ``disagreement`` is the fraction of pairs where exactly one of them is right: a model
  that picks the right caption for an image but the wrong image for that caption is inconsistent.

Scores are cosines of normalised embeddings; an equal score counts against the model (docs/evaluation.md, Ties).
"""

from __future__ import annotations

from typing import Any

import torch

from cyclip_bench.data.compositional import COMPOSITIONAL
from cyclip_bench.eval.context import EvalContext
from cyclip_bench.eval.needs import DataNeed
from cyclip_bench.eval.tasks.base import TASKS, TaskKind, as_int_list, fraction
from cyclip_bench.results import MetricInfo, MetricSpec, MetricTable, TaskResult

COMPOSITIONAL_METRICS = MetricTable(
    MetricSpec("image_to_text/*", True, "fraction"),
    MetricSpec("image_to_text_mean", True, "fraction"),
    MetricSpec("text_score", True, "fraction"),
    MetricSpec("image_score", True, "fraction"),
    MetricSpec("group_score", True, "fraction"),
    MetricSpec("group_image_to_text", True, "fraction"),
    MetricSpec("group_text_to_image", True, "fraction"),
    MetricSpec("disagreement", False, "fraction"),
)


HEADLINE_ORDER = ("image_to_text_mean", "group_score", "text_score", "image_score", "disagreement")


def choice_hits(
    images: torch.Tensor, texts: torch.Tensor, image: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor
) -> torch.Tensor:
    """Bool [M]: for choice m, cos(image m, its positive caption) > cos(image m, its negative caption) (strictly:
    a tie is a miss). ``images`` and ``texts`` are L2-normalised rows; the other three are index tensors [M]."""
    chosen = images[image]
    return (chosen * texts[positive]).sum(dim=1) > (chosen * texts[negative]).sum(dim=1)


def group_choices(images: torch.Tensor, texts: torch.Tensor, pairs: torch.Tensor) -> dict[str, torch.Tensor]:
    """The choices of G 2×2 groups (``pairs`` [G, 2, 2]: [g, 0] the two image indices, [g, 1] the two caption
    indices, caption k describing image k), with S[k, l] = cos(image k, caption l):

    ``image_to_text`` [G, 2]: S[k, k] > S[k, 1−k] (image k picks its caption); ``text_to_image`` [G, 2]:
    S[k, k] > S[1−k, k] (caption k picks its image); ``text``/``image``/``group`` [G]: Winoground's scores (both
    image→text, both text→image, all four); ``disagreement`` [G, 2]: exactly one of the pair's two choices right."""
    im, tx = images[pairs[:, 0]], texts[pairs[:, 1]]  # [G, 2, d]
    sims = torch.einsum("gkd,gld->gkl", im, tx)  # [G, image k, caption l]
    diag = torch.diagonal(sims, dim1=1, dim2=2)  # S[k, k]
    i2t = diag > sims.flip(2).diagonal(dim1=1, dim2=2)  # S[k, 1−k]
    t2i = diag > sims.flip(1).diagonal(dim1=1, dim2=2)  # S[1−k, k]
    text, image = i2t.all(dim=1), t2i.all(dim=1)
    return {
        "image_to_text": i2t,
        "text_to_image": t2i,
        "text": text,
        "image": image,
        "group": text & image,
        "disagreement": i2t != t2i,
    }


@TASKS.register("compositional")
class Compositional(TaskKind):
    metrics = COMPOSITIONAL_METRICS

    def needs(self) -> list[DataNeed]:
        return [DataNeed(COMPOSITIONAL, self.spec.dataset, self.spec.split)]

    def run(self, ctx: EvalContext) -> TaskResult:
        need = self.needs()[0]
        data = ctx.dataset(need)
        images = torch.nn.functional.normalize(ctx.need_image_features(need).double(), dim=-1)
        texts = torch.nn.functional.normalize(
            ctx.text_features(list(data.captions), f"captions {data.name}").double(), dim=-1
        )
        metrics: dict[str, float] = {}
        info: dict[str, MetricInfo] = {}
        per_example: dict[str, list] = {}
        # Each per-example array's length (results/read.py checks them by these keys).
        extra: dict[str, Any] = {"num_groups": len(data.groups), "num_pairs": 2 * len(data.groups)}

        def put(name: str, hits: torch.Tensor) -> None:
            metrics[name], info[name], per_example[name] = (
                fraction(hits),
                self.metric_info(name, name),
                as_int_list(hits.flatten()),
            )

        subsets = list(dict.fromkeys(c.subset for c in data.choices))
        for subset in subsets:
            chosen = [c for c in data.choices if c.subset == subset]
            index = {f: torch.tensor([getattr(c, f) for c in chosen]) for f in ("image", "positive", "negative")}
            put(f"image_to_text/{subset}", choice_hits(images, texts, **index))
            extra[f"num_{subset}"] = len(chosen)
        if subsets:
            metrics["image_to_text_mean"] = sum(metrics[f"image_to_text/{s}"] for s in subsets) / len(subsets)
            info["image_to_text_mean"] = self.metric_info("image_to_text_mean")
        if data.groups:
            pairs = torch.tensor([[list(g.images), list(g.captions)] for g in data.groups])
            scores = group_choices(images, texts, pairs)
            for name, key in (("text_score", "text"), ("image_score", "image"), ("group_score", "group")):
                put(name, scores[key])
            put("group_image_to_text", scores["image_to_text"])
            put("group_text_to_image", scores["text_to_image"])
            put("disagreement", scores["disagreement"])
            tags = sorted({g.tag for g in data.groups if g.tag})
            if tags:
                extra["group_tags"] = {t: sum(g.tag == t for g in data.groups) for t in tags}
        # Summary numbers first: a summary table shows a task's first metric when its kind names none.
        first = [m for m in HEADLINE_ORDER if m in metrics]
        metrics = {m: metrics[m] for m in [*first, *(m for m in metrics if m not in first)]}
        return self.result(metrics, info, per_example=per_example, extra=extra)
