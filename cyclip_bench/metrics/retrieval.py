"""Retrieval R@k with several captions per image (a hit is any of the image's captions in the top k)."""

from __future__ import annotations

import torch


def image_to_text_hits(similarity: torch.Tensor, caption_image: torch.Tensor, k: int) -> torch.Tensor:
    """Bool [images]: one of the image's captions is among its k most similar captions.

    ``similarity``: [images, captions]; ``caption_image``: [captions] index of each caption's image.
    """
    k = max(1, min(int(k), similarity.shape[1]))
    top = similarity.topk(k, dim=1).indices  # [I, k] caption indices
    owners = caption_image[top]  # [I, k] image of each retrieved caption
    return (owners == torch.arange(similarity.shape[0]).view(-1, 1)).any(dim=1)


def text_to_image_hits(similarity: torch.Tensor, caption_image: torch.Tensor, k: int) -> torch.Tensor:
    """Bool [captions]: the caption's image is among its k most similar (unique) images.

    ``similarity``: [images, captions] (the same matrix as for image→text).
    """
    k = max(1, min(int(k), similarity.shape[0]))
    top = similarity.T.topk(k, dim=1).indices  # [Cap, k] image indices
    return (top == caption_image.view(-1, 1)).any(dim=1)
