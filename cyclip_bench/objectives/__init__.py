"""Training objectives as a registry: CLIP, CyCLIP, SigLIP, SigLIP + cyclic terms, and plugins.

A new objective is one module that builds an ``Objective`` (base.py: its terms, parameters, model parameters
and one function on a rank's rows) and registers it — here for built-ins, or through the entry-point group
``cyclip_bench.objectives`` for third-party packages (``name = package.module:OBJECTIVE``). The DDP sharding,
the cyclic add-on, logging, the training report and its plots all read what they need from the Objective.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.objectives.base import ModelParameter, Objective, ObjectiveFn, Param, RankContext, objective_loss
from cyclip_bench.objectives.clip import CLIP, CYCLIP
from cyclip_bench.objectives.cyclic import CYCLIC_TERMS, NORMALIZATIONS, cyclic_terms
from cyclip_bench.objectives.siglip import SIGLIP, SIGLIP_CYCLIC
from cyclip_bench.registry import Registry

OBJECTIVES: Registry[Objective] = Registry("objective", "cyclip_bench.objectives")
for _objective in (CLIP, CYCLIP, SIGLIP, SIGLIP_CYCLIC):
    OBJECTIVES.add(_objective.name, _objective)


def get_objective(name: str) -> Objective:
    """The registered objective (entry points included); ConfigError with did-you-mean naming ``--loss``."""
    if name not in OBJECTIVES:
        try:
            OBJECTIVES.canonical(name)
        except UserError as err:  # the registry's did-you-mean line
            raise ConfigError(f"--loss {name!r}: {err}") from None
    objective = OBJECTIVES.get(name)
    if not isinstance(objective, Objective):
        raise ConfigError(
            f"--loss {name!r}: the entry point of this name gives a {type(objective).__name__}, not an Objective"
        )
    return objective


def setup_model_parameters(
    model: torch.nn.Module, info: Any, objective: Objective, params: Mapping[str, float], from_weights: bool
) -> None:
    """Give the model the scalars the objective learns, and record them in ``info.config`` so a checkpoint's
    model rebuilds with them (open_clip's ``CLIP(init_logit_bias=…)`` creates ``logit_bias``).

    A parameter the model lacks is created at its initial value. One it has keeps its value when the weights
    came from ``--pretrained`` (they are what the user asked to start from), else is set to the initial value."""
    for spec in objective.model_parameters:
        value = float(params[spec.init_param])
        info.config[spec.config_key] = value
        current = getattr(model, spec.attribute, None)
        if current is None:
            device = next(model.parameters()).device
            setattr(model, spec.attribute, torch.nn.Parameter(torch.tensor(value, device=device)))
        elif not from_weights:
            with torch.no_grad():
                current.fill_(value)


def model_bias(model: torch.nn.Module) -> torch.Tensor | None:
    """The model's learnable logit bias (SigLIP), or None."""
    return getattr(model, "logit_bias", None)


def split_outputs(outputs: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """open_clip's ``model(images, texts)`` → (image features, text features, scale, bias or None): a model
    with a ``logit_bias`` returns it fourth."""
    if isinstance(outputs, dict):
        return (
            outputs["image_features"],
            outputs["text_features"],
            outputs["logit_scale"],
            outputs.get("logit_bias"),
        )
    image, text, scale, *rest = outputs
    return image, text, scale, (rest[0] if rest else None)


__all__ = [
    "CYCLIC_TERMS",
    "NORMALIZATIONS",
    "OBJECTIVES",
    "ModelParameter",
    "Objective",
    "ObjectiveFn",
    "Param",
    "RankContext",
    "cyclic_terms",
    "get_objective",
    "model_bias",
    "objective_loss",
    "setup_model_parameters",
    "split_outputs",
]
