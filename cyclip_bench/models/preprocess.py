"""Image preprocessing from a model's ``preprocess`` entry, as open_clip's eval transform does it — resize
(``resize_mode``: the shortest side then a centre crop; the longest side then padding with ``fill_color``; or
squashing to a square), with the model's interpolation, then normalise with its mean/std — split into a cacheable
PIL stage and a bit-exact normalisation of uint8 pixels."""

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
    """PIL image → normalised tensor: resize (the model's resize mode and interpolation), normalise.

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
    """The geometric part of ``build_transform``: PIL image → resized RGB PIL image of the model's size."""
    size = int(preprocess["image_size"])
    interpolation = _INTERPOLATIONS[preprocess.get("interpolation", "bicubic")]
    mode = preprocess.get("resize_mode", "shortest")
    return transforms.Compose([*_RESIZE[mode](size, interpolation, preprocess), transforms.Lambda(_to_rgb)])


def _shortest(size: int, interpolation: Any, _: dict) -> list[Callable]:
    return [transforms.Resize(size, interpolation=interpolation), transforms.CenterCrop(size)]


def _longest(size: int, interpolation: Any, preprocess: dict) -> list[Callable]:
    from open_clip.transform import CenterCropOrPad, ResizeKeepRatio

    fill = int(preprocess.get("fill_color", 0))
    return [ResizeKeepRatio(size, interpolation=interpolation, longest=1), CenterCropOrPad(size, fill=fill)]


def _squash(size: int, interpolation: Any, _: dict) -> list[Callable]:
    return [transforms.Resize((size, size), interpolation=interpolation)]


# resize_mode → the resize steps (open_clip.transform.image_transform, eval branch)
_RESIZE: dict[str, Callable[[int, Any, dict], list[Callable]]] = {
    "shortest": _shortest,
    "longest": _longest,
    "squash": _squash,
}


def normalize_uint8(images: torch.Tensor, preprocess: dict) -> torch.Tensor:
    """uint8 [..., 3, H, W] → what ``build_transform`` gives for those pixels, bit for bit (ToTensor, Normalize)."""
    mean = torch.tensor(preprocess["mean"], dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(preprocess["std"], dtype=torch.float32).view(3, 1, 1)
    return images.to(torch.float32).div(255).sub_(mean).div_(std)


def _to_rgb(image: Any) -> Any:
    return image.convert("RGB") if getattr(image, "mode", "RGB") != "RGB" else image
