"""CyCLIP's cyclic consistency terms (docs/paper.md), an add-on to any objective.

- inmodal  L_I = (1/N) Σ_jk (⟨I_j,I_k⟩ − ⟨T_j,T_k⟩)²
- crossmodal L_C = (1/N) Σ_jk (⟨I_j,T_k⟩ − ⟨I_k,T_j⟩)²

Raw cosines, no temperature. The paper's 1/N normalisation grows linearly with N (a sum of N² terms over N);
``normalization="pair"`` divides by N² instead (a per-pair mean, independent of the batch size).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from cyclip_bench.objectives.base import RankContext

NORMALIZATIONS = ("paper", "pair")
CYCLIC_TERMS = ("inmodal", "crossmodal")


def cyclic_terms(
    image: torch.Tensor,
    text: torch.Tensor,
    ctx: RankContext,
    normalization: str,
    with_grad: tuple[bool, bool],
) -> dict[str, torch.Tensor]:
    """This rank's rows of L_I and L_C (n×N blocks), divided by the global normaliser.

    A term whose λ is 0 is still reported; ``with_grad`` False computes it without autograd, which keeps a step
    of an objective without cyclic terms as cheap as the objective alone."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    norm = ctx.total if normalization == "paper" else ctx.total * ctx.total
    with torch.set_grad_enabled(torch.is_grad_enabled() and with_grad[0]):
        inmodal = ((image @ ctx.all_image.T) - (text @ ctx.all_text.T)).square().sum() / norm
    with torch.set_grad_enabled(torch.is_grad_enabled() and with_grad[1]):
        # ⟨I_j, T_k⟩ − ⟨T_j, I_k⟩ for local j, all k (the blocks the objective may already have computed)
        crossmodal = (ctx.image_text - ctx.text_image).square().sum() / norm
    return {"inmodal": inmodal, "crossmodal": crossmodal}
