"""Image preprocessing from a model's ``preprocess`` entry: resize the shortest side, centre crop, normalise —
split into a cacheable PIL stage and a bit-exact normalisation of uint8 pixels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torchvision import transforms

_INTERPOLATIONS = {
    "bicubic": transforms.InterpolationMode.BICUBIC,
    "bilinear": transforms.InterpolationMode.BILINEAR,
    "nearest": transforms.InterpolationMode.NEAREST,
}


def build_transform(preprocess: dict, train: bool = False) -> Callable:
    """PIL image → normalised tensor: resize the shortest side (bicubic), centre crop, normalise.

    ``train`` gives the same transform: the generated world's captions name positions and sizes, which random
    crops would falsify, and the paper trains with the evaluation transform too. Being deterministic, it splits
    into a PIL stage (``build_pil_stage``) whose uint8 output can be cached and ``normalize_uint8``.
    """
    return transforms.Compose(
        [
            build_pil_stage(preprocess),
            transforms.ToTensor(),
            transforms.Normalize(preprocess["mean"], preprocess["std"]),
        ]
    )


def build_pil_stage(preprocess: dict) -> Callable:
    """The geometric part of ``build_transform``: PIL image → resized, centre-cropped RGB PIL image."""
    size = int(preprocess["image_size"])
    interpolation = _INTERPOLATIONS[preprocess.get("interpolation", "bicubic")]
    return transforms.Compose(
        [
            transforms.Resize(size, interpolation=interpolation),
            transforms.CenterCrop(size),
            transforms.Lambda(_to_rgb),
        ]
    )


def normalize_uint8(images: torch.Tensor, preprocess: dict) -> torch.Tensor:
    """uint8 [..., 3, H, W] → what ``build_transform`` gives for those pixels, bit for bit (ToTensor, Normalize)."""
    mean = torch.tensor(preprocess["mean"], dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(preprocess["std"], dtype=torch.float32).view(3, 1, 1)
    return images.to(torch.float32).div(255).sub_(mean).div_(std)


def _to_rgb(image: Any) -> Any:
    return image.convert("RGB") if getattr(image, "mode", "RGB") != "RGB" else image
