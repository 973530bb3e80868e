"""The objectives as plain functions on one batch (the library contract, docs/contracts.md).

The objectives themselves, their DDP sharding and the cyclic add-on live in ``cyclip_bench.objectives``; these
wrappers keep the documented entry points. Notation (docs/paper.md): I, T are N×d L2-normalised embeddings of the
*global* batch, s the logit multiplier, b SigLIP's bias.
- contrastive  = ½ [CE(s·I·Tᵀ) + CE(s·T·Iᵀ)]  (mean over the N rows)
- sigmoid      = −(1/N) Σ_jk log σ(y_jk (s·⟨I_j,T_k⟩ + b)),  y = +1 on the diagonal, −1 elsewhere
- inmodal  L_I = (1/N) Σ_jk (⟨I_j,I_k⟩ − ⟨T_j,T_k⟩)²
- crossmodal L_C = (1/N) Σ_jk (⟨I_j,T_k⟩ − ⟨I_k,T_j⟩)²
- loss = contrastive (or sigmoid) + λ_in·L_I + λ_cross·L_C
"""

from __future__ import annotations

import torch

from cyclip_bench.objectives import NORMALIZATIONS, get_objective, objective_loss

LOSS_KEYS = get_objective("clip").logged_terms  # the CLIP/CyCLIP keys (other objectives: .logged_terms)
__all__ = ["LOSS_KEYS", "NORMALIZATIONS", "cyclip_loss", "distributed_cyclip_loss", "siglip_loss"]


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
    return _clip_objective(
        image_features, text_features, logit_scale, lambda_inmodal, lambda_crossmodal, normalization, False
    )


def distributed_cyclip_loss(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale: torch.Tensor | float,
    lambda_inmodal: float = 0.0,
    lambda_crossmodal: float = 0.0,
    normalization: str = "paper",
) -> dict[str, torch.Tensor]:
    """The global-batch CyCLIP objective when each rank holds n rows (see ``objectives.objective_loss``)."""
    return _clip_objective(
        image_features, text_features, logit_scale, lambda_inmodal, lambda_crossmodal, normalization, True
    )


def _clip_objective(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale: torch.Tensor | float,
    lambda_inmodal: float,
    lambda_crossmodal: float,
    normalization: str,
    distributed: bool,
) -> dict[str, torch.Tensor]:
    _check(normalization, lambda_inmodal, lambda_crossmodal)
    return objective_loss(
        get_objective("clip"),
        image_features,
        text_features,
        logit_scale,
        None,
        lambda_inmodal=lambda_inmodal,
        lambda_crossmodal=lambda_crossmodal,
        normalization=normalization,
        distributed=distributed,
    )


def siglip_loss(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale: torch.Tensor | float,
    logit_bias: torch.Tensor | float,
    lambda_inmodal: float = 0.0,
    lambda_crossmodal: float = 0.0,
    normalization: str = "paper",
    distributed: bool = False,
) -> dict[str, torch.Tensor]:
    """SigLIP (+ cyclic terms when λ > 0) on one batch; ``distributed=True``: the sharded global-batch form.
    Returns ``loss``, ``sigmoid``, ``inmodal``, ``crossmodal``."""
    _check(normalization, lambda_inmodal, lambda_crossmodal)
    return objective_loss(
        get_objective("siglip"),
        image_features,
        text_features,
        logit_scale,
        logit_bias,
        lambda_inmodal=lambda_inmodal,
        lambda_crossmodal=lambda_crossmodal,
        normalization=normalization,
        distributed=distributed,
    )
