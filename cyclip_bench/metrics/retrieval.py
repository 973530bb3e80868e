"""Retrieval R@k with several captions per image (a hit is any of the image's captions in the top k).

Ties are pessimistic (``cyclip_bench.metrics.ranking``): a correct item goes after every wrong item with the
same similarity, so duplicate captions cannot turn a tie into a hit, and the result does not depend on the order
of the captions or on ``torch.topk``. One rank per query serves every k.
"""

from __future__ import annotations

import torch

from cyclip_bench.metrics.ranking import as_threshold, count_at_least_per_column, count_at_least_per_row


def _own_scores(similarity: torch.Tensor, caption_image: torch.Tensor) -> torch.Tensor:
    """[captions] each caption's similarity to its own image."""
    captions = torch.arange(similarity.shape[1], device=similarity.device)
    return similarity[caption_image.to(similarity.device).long(), captions]


def image_to_text_ranks(similarity: torch.Tensor, caption_image: torch.Tensor) -> torch.Tensor:
    """Long [images]: how many *other* images' captions score at least as high as the image's best caption
    (its pessimistic 0-based rank; an image without captions ranks after every caption). Hit at k ⇔ rank < k.

    ``similarity``: [images, captions]; ``caption_image``: [captions] index of each caption's image.
    """
    owner = caption_image.to(similarity.device).long()
    own = _own_scores(similarity, owner)
    best = torch.full((similarity.shape[0],), float("-inf"), dtype=similarity.dtype, device=similarity.device)
    best = best.scatter_reduce(0, owner, as_threshold(own), reduce="amax")
    at_least = count_at_least_per_row(similarity, best)
    # The image's own captions counted above (those not below its best score) are not competitors.
    own_counted = torch.zeros_like(at_least).scatter_add_(0, owner, (~(own < best[owner])).long())
    return at_least - own_counted


def text_to_image_ranks(similarity: torch.Tensor, caption_image: torch.Tensor) -> torch.Tensor:
    """Long [captions]: how many *other* images score at least as high as the caption's own image (its
    pessimistic 0-based rank). Hit at k ⇔ rank < k.

    ``similarity``: [images, captions] (the same matrix as for image→text).
    """
    own = as_threshold(_own_scores(similarity, caption_image))
    return count_at_least_per_column(similarity, own) - 1  # the own image is never below its own score


def image_to_text_hits(similarity: torch.Tensor, caption_image: torch.Tensor, k: int) -> torch.Tensor:
    """Bool [images]: one of the image's captions is among its k most similar captions, ties pessimistic.
    k is capped at the number of captions (an image without captions ranks after all of them: never a hit)."""
    return image_to_text_ranks(similarity, caption_image) < min(int(k), similarity.shape[1])


def text_to_image_hits(similarity: torch.Tensor, caption_image: torch.Tensor, k: int) -> torch.Tensor:
    """Bool [captions]: the caption's image is among its k most similar (unique) images, ties pessimistic."""
    return text_to_image_ranks(similarity, caption_image) < int(k)
