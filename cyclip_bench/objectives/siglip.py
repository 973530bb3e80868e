"""SigLIP's pairwise sigmoid loss (Zhai et al. 2023, "Sigmoid Loss for Language Image Pre-Training").

With logits z_jk = s·⟨I_j, T_k⟩ + b and labels y_jk = +1 on the diagonal (the matching pair), −1 elsewhere:

    sigmoid = −(1/N) Σ_j Σ_k log σ(y_jk · z_jk)

Every pair is an independent binary problem, so a rank holding image rows [o, o+n) sums its n×N block
against all N texts; the shares add up over ranks to the global term. The temperature s = exp(t') and the bias b
are learnable, initialised as in the paper: t' = log 10, b = −10 (so every logit starts near −10: the loss starts
close to the ≈ N−1 negatives' ≈ 0 loss plus the positives' ≈ 10, and learning is not swamped by negatives).

Zero-shot and retrieval rank by s·cos + b through a sigmoid, a strictly increasing function of the cosine: the
ranking, hence the argmax, is the cosine's, which is what evaluation computes (docs/evaluation.md).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field

from cyclip_bench.errors import ConfigError
from cyclip_bench.objectives.base import ModelParameter, Objective, Param, RankContext

INIT_LOGIT_SCALE = math.log(10)  # the paper's t' (s = exp(t') = 10)
INIT_LOGIT_BIAS = -10.0
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
LogitScale = Annotated[float, Field(ge=0, le=math.log(100), allow_inf_nan=False)]  # training clamps to this


def sigmoid_terms(
    image: torch.Tensor, text: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None, ctx: RankContext
) -> dict[str, torch.Tensor]:
    if bias is None:
        raise ConfigError("the siglip objective needs a model with a learnable logit_bias (set up by training)")
    rows = image.shape[0]
    logits = scale * ctx.image_text + bias
    # −log σ(−z) = softplus(z) for every negative; −log σ(z) = softplus(z) − z for a positive. So the sum is
    # Σ softplus over the block minus the positives' logits: no ±1 label matrix to build and multiply.
    positives = logits[torch.arange(rows, device=logits.device), ctx.labels(rows)]
    return {"sigmoid": (F.softplus(logits).sum() - positives.sum()) / ctx.total}


_PARAMS = (
    Param(
        "init_logit_scale",
        INIT_LOGIT_SCALE,
        "initial t' of the temperature s = exp(t') (paper: log 10), in [0, ln 100]",
        LogitScale,
    ),
    Param("init_logit_bias", INIT_LOGIT_BIAS, "initial bias b of every logit (paper: -10)", FiniteFloat),
)
_MODEL_PARAMETERS = (
    ModelParameter("logit_scale", "init_logit_scale", "init_logit_scale"),
    ModelParameter("logit_bias", "init_logit_bias", "init_logit_bias"),
)

SIGLIP = Objective(
    name="siglip",
    help="SigLIP's pairwise sigmoid loss with learnable temperature and bias (Zhai et al. 2023).",
    terms=("sigmoid",),
    fn=sigmoid_terms,
    params=_PARAMS,
    model_parameters=_MODEL_PARAMETERS,
)

SIGLIP_CYCLIC = replace(
    SIGLIP,
    name="siglip-cyclic",
    help="SigLIP plus CyCLIP's cyclic terms, λ_in = λ_cross = 0.25 unless given.",
    cyclic_lambda=0.25,
)
