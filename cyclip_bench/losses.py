"""CLIP and CyCLIP objectives (PAPER.md), single-process and sharded across ranks.

Notation: I, T are N×d L2-normalised image/text embeddings of the *global* batch, s the logit multiplier.
- contrastive  = ½ [CE(s·I·Tᵀ) + CE(s·T·Iᵀ)]  (mean over the N rows)
- inmodal  L_I = (1/N) Σ_jk (⟨I_j,I_k⟩ − ⟨T_j,T_k⟩)²
- crossmodal L_C = (1/N) Σ_jk (⟨I_j,T_k⟩ − ⟨I_k,T_j⟩)²
- loss = contrastive + λ_in·L_I + λ_cross·L_C

The paper's 1/N normalisation grows linearly with N (a sum of N² terms over N); ``normalization="pair"``
divides by N² instead (a per-pair mean, independent of the batch size), for comparing runs across batch sizes.

Every term is a sum over rows j, so a rank holding rows [o, o+n) computes its n×N blocks against the gathered
batch (memory O(n·N)); the global loss is the sum of the ranks' partial sums.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cyclip_bench.distributed import all_gather_with_grad, all_reduce_sum, world_info

NORMALIZATIONS = ("paper", "pair")
LOSS_KEYS = ("loss", "contrastive", "inmodal", "crossmodal")


def _partial_terms(
    image: torch.Tensor,
    text: torch.Tensor,
    all_image: torch.Tensor,
    all_text: torch.Tensor,
    offset: int,
    logit_scale: torch.Tensor,
    cyclic_grad: tuple[bool, bool],
    normalization: str,
) -> dict[str, torch.Tensor]:
    """Rows [offset, offset+n) of each term, summed and divided by the global normaliser (not yet reduced)."""
    n, total = image.shape[0], all_image.shape[0]
    image_text = image @ all_text.T  # ⟨I_j, T_k⟩ for local j, all k
    text_image = text @ all_image.T  # ⟨T_j, I_k⟩ = ⟨I_k, T_j⟩
    labels = torch.arange(offset, offset + n, device=image.device)
    contrastive = 0.5 * (
        F.cross_entropy(logit_scale * image_text, labels, reduction="sum")
        + F.cross_entropy(logit_scale * text_image, labels, reduction="sum")
    )
    cyclic_norm = total if normalization == "paper" else total * total
    # A term with λ = 0 is still reported; computing it without autograd keeps a CLIP step as cheap as CLIP.
    with torch.set_grad_enabled(torch.is_grad_enabled() and cyclic_grad[0]):
        inmodal = ((image @ all_image.T) - (text @ all_text.T)).square().sum() / cyclic_norm
    with torch.set_grad_enabled(torch.is_grad_enabled() and cyclic_grad[1]):
        crossmodal = (image_text - text_image).square().sum() / cyclic_norm
    return {"contrastive": contrastive / total, "inmodal": inmodal, "crossmodal": crossmodal}


def _combine(parts: dict[str, torch.Tensor], lambda_inmodal: float, lambda_crossmodal: float) -> dict:
    loss = parts["contrastive"]
    if lambda_inmodal:
        loss = loss + lambda_inmodal * parts["inmodal"]
    if lambda_crossmodal:
        loss = loss + lambda_crossmodal * parts["crossmodal"]
    return {"loss": loss, **parts}


def _check(normalization: str, lambda_inmodal: float, lambda_crossmodal: float) -> None:
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if lambda_inmodal < 0 or lambda_crossmodal < 0:
        raise ValueError("the cyclic weights λ must be >= 0")


def cyclip_loss(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale: torch.Tensor | float,
    lambda_inmodal: float = 0.0,
    lambda_crossmodal: float = 0.0,
    normalization: str = "paper",
) -> dict[str, torch.Tensor]:
    """CyCLIP on one batch in one process (λ = 0: CLIP); returns the loss and its parts (L_I, L_C pre-λ)."""
    _check(normalization, lambda_inmodal, lambda_crossmodal)
    image, text = image_features.float(), text_features.float()
    scale = torch.as_tensor(logit_scale, dtype=torch.float32, device=image.device)
    parts = _partial_terms(
        image, text, image, text, 0, scale, (lambda_inmodal > 0, lambda_crossmodal > 0), normalization
    )
    return _combine(parts, lambda_inmodal, lambda_crossmodal)


def distributed_cyclip_loss(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale: torch.Tensor | float,
    lambda_inmodal: float = 0.0,
    lambda_crossmodal: float = 0.0,
    normalization: str = "paper",
) -> dict[str, torch.Tensor]:
    """The global-batch objective when each rank holds n rows (equal n on every rank).

    Features are gathered *with* gradient; each rank computes its n×N blocks. Every returned value equals
    the global-batch loss on every rank, and its gradient is world_size × the gradient of this rank's partial
    sum, so that after DDP averages the parameter gradients over ranks they equal the gradient of the global
    loss.
    Falls back to `cyclip_loss` when torch.distributed is not initialised or has one rank.
    """
    rank, world = world_info()
    if world == 1:
        return cyclip_loss(image_features, text_features, logit_scale, lambda_inmodal, lambda_crossmodal, normalization)
    _check(normalization, lambda_inmodal, lambda_crossmodal)
    image, text = image_features.float(), text_features.float()
    scale = torch.as_tensor(logit_scale, dtype=torch.float32, device=image.device)
    all_image, all_text = all_gather_with_grad(image), all_gather_with_grad(text)
    parts = _partial_terms(
        image,
        text,
        all_image,
        all_text,
        rank * image.shape[0],
        scale,
        (lambda_inmodal > 0, lambda_crossmodal > 0),
        normalization,
    )
    partial = _combine(parts, lambda_inmodal, lambda_crossmodal)
    totals = all_reduce_sum(torch.stack([partial[k].detach() for k in LOSS_KEYS]))
    # value = the global sum; gradient = world × local partial (DDP's average gives the global gradient).
    return {k: world * partial[k] + (totals[i] - world * partial[k]).detach() for i, k in enumerate(LOSS_KEYS)}
