"""CLIP's symmetric InfoNCE (docs/paper.md): contrastive = ½ [CE(s·I·Tᵀ) + CE(s·T·Iᵀ)], mean over the N rows.

A rank holding rows [o, o+n) computes the cross-entropy of its n rows against all N columns in both directions;
the sums divided by the global N add up over ranks to the global term."""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from cyclip_bench.objectives.base import Objective, RankContext


def clip_terms(
    image: torch.Tensor, text: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None, ctx: RankContext
) -> dict[str, torch.Tensor]:
    labels = ctx.labels(image.shape[0])
    image_text = scale * ctx.image_text  # s·⟨I_j, T_k⟩ for local j, all k
    text_image = scale * ctx.text_image  # s·⟨T_j, I_k⟩
    contrastive = 0.5 * (
        F.cross_entropy(image_text, labels, reduction="sum") + F.cross_entropy(text_image, labels, reduction="sum")
    )
    return {"contrastive": contrastive / ctx.total}


CLIP = Objective(
    name="clip",
    help="CLIP's symmetric InfoNCE (softmax over the batch, learnable temperature).",
    terms=("contrastive",),
    fn=clip_terms,
    cyclic_variant="cyclip",
)

CYCLIP = replace(
    CLIP,
    name="cyclip",
    help="CLIP plus CyCLIP's cyclic terms, λ_in = λ_cross = 0.25 unless given (Goel et al. 2022).",
    cyclic_lambda=0.25,  # the CyCLIP README's λ1 = λ2
    cyclic_variant=None,
)
