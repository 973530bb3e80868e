"""What an objective is, and the one place where any objective is sharded across ranks.

An objective is data plus one function: ``fn(image, text, scale, bias, ctx) -> {term: this rank's share}``.
``image``/``text`` are this rank's n L2-normalised rows, ``ctx`` holds the gathered global batch (N rows, with
gradient) and this rank's offset in it. Every term the function returns must be a sum over the rows this rank
holds, divided by a normaliser of the *global* batch — so the global term is the sum of the ranks' shares. That
is the whole contract; ``objective_loss`` turns it into the global-batch loss and gradient under DDP.

The CyCLIP cyclic terms (``cyclic.py``) are an add-on computed for every objective:
``loss = Σ objective terms + λ_in·inmodal + λ_cross·crossmodal``; with λ = 0 they are still logged, without
autograd, so they cost one matrix product each.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from cyclip_bench.distributed import all_gather_with_grad, all_reduce_sum, world_info
from cyclip_bench.errors import ConfigError
from cyclip_bench.objectives.cyclic import CYCLIC_TERMS, cyclic_terms
from cyclip_bench.validation import check_value


@dataclass(frozen=True)
class RankContext:
    """Where this rank's rows sit in the global batch, and the objective's parameter values.

    ``image_text``/``text_image`` are the n×N cosine blocks, computed once per step and shared by the objective
    and the cyclic terms (CLIP's loss and L_C use the same two products: no extra matrix product, no extra
    backward)."""

    image: torch.Tensor  # n×d, this rank's rows
    text: torch.Tensor
    all_image: torch.Tensor  # N×d, the global batch in rank order (gathered with gradient)
    all_text: torch.Tensor
    offset: int  # this rank's first row in the global batch
    params: Mapping[str, float] = field(default_factory=dict)
    _products: dict[str, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)

    @property
    def image_text(self) -> torch.Tensor:
        """⟨I_j, T_k⟩ for this rank's rows j and every k (n×N)."""
        if "image_text" not in self._products:
            self._products["image_text"] = self.image @ self.all_text.T
        return self._products["image_text"]

    @property
    def text_image(self) -> torch.Tensor:
        """⟨T_j, I_k⟩ for this rank's rows j and every k (n×N)."""
        if "text_image" not in self._products:
            self._products["text_image"] = self.text @ self.all_image.T
        return self._products["text_image"]

    @property
    def total(self) -> int:
        """N, the global batch size."""
        return int(self.all_image.shape[0])

    def labels(self, rows: int) -> torch.Tensor:
        """Global indices of this rank's rows: the matching column of each row in an n×N block."""
        return torch.arange(self.offset, self.offset + rows, device=self.all_image.device)


class ObjectiveFn(Protocol):
    def __call__(
        self,
        image: torch.Tensor,
        text: torch.Tensor,
        scale: torch.Tensor,
        bias: torch.Tensor | None,
        ctx: RankContext,
    ) -> dict[str, torch.Tensor]: ...


@dataclass(frozen=True)
class Param:
    """A number the objective reads from ``ctx.params``: its type and range are a ``cyclip_bench.validation``
    alias (e.g. ``NonNegativeFloat``); set with ``--loss-param NAME=VALUE`` or ``[train.loss_params]``."""

    name: str
    default: float
    help: str
    type: Any = float


@dataclass(frozen=True)
class ModelParameter:
    """A learnable scalar of the model that the objective sets up before training.

    ``config_key`` is the open_clip ``CLIP(...)`` argument that builds it (``init_logit_bias`` creates the
    ``logit_bias`` parameter, ``init_logit_scale`` initialises ``logit_scale``): it goes into the model config
    stored in the checkpoint, so evaluation rebuilds a model with the same parameters and loads it strictly.
    ``init_param`` names the objective Param that holds its initial value."""

    attribute: str
    config_key: str
    init_param: str


@dataclass(frozen=True)
class Objective:
    """One training objective. ``terms`` are the names it logs, in order; the loss is their sum plus the
    λ-weighted cyclic terms. ``cyclic_lambda`` is λ_in = λ_cross when the flags are not given;
    ``cyclic_variant`` names the objective to use instead when λ > 0 is given (so ``--loss clip`` with
    cyclic terms is refused in favour of ``--loss cyclip``, whose name then says what was trained)."""

    name: str
    help: str
    terms: tuple[str, ...]
    fn: ObjectiveFn
    params: tuple[Param, ...] = ()
    model_parameters: tuple[ModelParameter, ...] = ()
    cyclic_lambda: float = 0.0
    cyclic_variant: str | None = None

    @property
    def logged_terms(self) -> tuple[str, ...]:
        """Every number a step logs: the total, this objective's terms, the cyclic terms (before λ)."""
        return ("loss", *self.terms, *CYCLIC_TERMS)

    def resolve_params(self, given: Mapping[str, Any], where: Callable[[str], str]) -> dict[str, float]:
        """Defaults overridden by ``given``, each value checked against its Param's type; an unknown name is a
        ConfigError listing the known ones."""
        known = {p.name: p for p in self.params}
        for name in given:
            if name not in known:
                listed = ", ".join(known) or "none"
                raise ConfigError(
                    f"{where(name)}: objective {self.name!r} has no parameter {name!r} (it has: {listed})"
                )
        return {name: check_value(given.get(name, p.default), p.type, where(name)) for name, p in sorted(known.items())}


def _check_terms(objective: Objective, parts: Mapping[str, torch.Tensor]) -> None:
    if tuple(parts) != objective.terms:
        raise RuntimeError(
            f"objective {objective.name!r} returned terms {tuple(parts)}, but declares {objective.terms}"
        )


def objective_loss(
    objective: Objective,
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    scale: torch.Tensor | float,
    bias: torch.Tensor | float | None = None,
    *,
    lambda_inmodal: float = 0.0,
    lambda_crossmodal: float = 0.0,
    normalization: str = "paper",
    params: Mapping[str, float] | None = None,
    distributed: bool = True,
) -> dict[str, torch.Tensor]:
    """The objective on the global batch, whether it lives in one process or is sharded over the ranks.

    Each rank holds n rows (equal n on every rank) and computes its n×N blocks against the batch gathered *with*
    gradient. Every returned value equals the global-batch value on every rank, and its gradient is
    world_size × the gradient of this rank's share, so that once DDP averages the parameter gradients over ranks
    they equal the gradient of the global loss. ``distributed=False`` (or one rank) computes on this process's
    rows alone (validation chunks, the single-process contract ``losses.cyclip_loss``).
    """
    if lambda_inmodal < 0 or lambda_crossmodal < 0 or not math.isfinite(lambda_inmodal + lambda_crossmodal):
        raise ValueError("the cyclic weights λ must be finite and >= 0")
    rank, world = world_info() if distributed else (0, 1)
    # Half-precision features (autocast) are promoted: the loss is computed in float32 (float64 stays float64).
    dtype = torch.promote_types(image_features.dtype, torch.float32)
    image, text = image_features.to(dtype), text_features.to(dtype)
    scale = torch.as_tensor(scale, device=image.device).to(dtype)
    if bias is not None:
        bias = torch.as_tensor(bias, device=image.device).to(dtype)
    all_image = all_gather_with_grad(image) if world > 1 else image
    all_text = all_gather_with_grad(text) if world > 1 else text
    if params is None:
        params = objective.resolve_params({}, str)
    ctx = RankContext(image, text, all_image, all_text, rank * image.shape[0], params)
    parts = dict(objective.fn(image, text, scale, bias, ctx))
    _check_terms(objective, parts)
    grads = (lambda_inmodal > 0, lambda_crossmodal > 0)
    parts.update(cyclic_terms(image, text, ctx, normalization, grads))
    loss = sum(parts[t] for t in objective.terms)
    if lambda_inmodal:
        loss = loss + lambda_inmodal * parts["inmodal"]
    if lambda_crossmodal:
        loss = loss + lambda_crossmodal * parts["crossmodal"]
    share = {"loss": loss, **parts}
    if world == 1:
        return share
    keys = objective.logged_terms
    totals = all_reduce_sum(torch.stack([share[k].detach() for k in keys]))
    # value = the global sum; gradient = world × this rank's share (DDP's average gives the global gradient).
    return {k: world * share[k] + (totals[i] - world * share[k]).detach() for i, k in enumerate(keys)}
