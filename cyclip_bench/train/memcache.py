"""An in-memory copy of a caption table's decoded images (uint8) and token ids, for data that fits in RAM.

The training transform is deterministic (``models.build_transform``), so a pair's tensors are the same in every
epoch: decoding each image and tokenizing each caption once, instead of once per epoch in DataLoader workers,
gives bit-identical batches and frees the CPU time the workers took from the model (on the 2-core machine that
is ~0.5 ms per pair, a quarter of a tiny-model step). A batch is then an index into two tensors plus one
normalisation — no worker processes needed. Tar shards (CC3M-sized data) always stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from cyclip_bench.data.captions import CaptionDataset
from cyclip_bench.data.images import load_image
from cyclip_bench.models import build_pil_stage, normalize_uint8

AUTO_LIMIT_BYTES = 4 << 30  # `auto` caches a table whose decoded images take at most this much per process


def cache_bytes(num_pairs: int, image_size: int, context_length: int) -> int:
    """Memory the cache of ``num_pairs`` pairs takes: uint8 RGB images plus int64 token ids."""
    return num_pairs * (3 * image_size * image_size + 8 * context_length)


def use_memory_cache(mode: str, num_pairs: int, image_size: int, context_length: int) -> bool:
    """``memory``: always; ``off``: never; ``auto``: when the cache fits in ``AUTO_LIMIT_BYTES``."""
    if mode == "auto":
        return cache_bytes(num_pairs, image_size, context_length) <= AUTO_LIMIT_BYTES
    return mode == "memory"


class _Decode(torch.utils.data.Dataset):
    """Row i → (uint8 [3, H, W] image after the PIL stage, token ids): what the workers compute once."""

    def __init__(self, table: CaptionDataset, pil_stage: Callable, tokenizer: Callable) -> None:
        self.table, self.pil_stage, self.tokenizer = table, pil_stage, tokenizer

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.pil_stage(load_image(self.table.images[index]))
        pixels = torch.from_numpy(np.array(image, dtype=np.uint8, copy=True)).permute(2, 0, 1).contiguous()
        return pixels, self.tokenizer([self.table.captions[index]])[0]


class MemoryCache(torch.utils.data.Dataset):
    """Decoded pairs held as two tensors; indexed by a list of rows it returns a whole (images, texts) batch."""

    def __init__(self, images: torch.Tensor, texts: torch.Tensor, preprocess: dict) -> None:
        self.images, self.texts, self.preprocess = images, texts, preprocess

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(rows, dtype=torch.long)
        return normalize_uint8(self.images[index], self.preprocess), self.texts[index]

    @classmethod
    def build(
        cls,
        table: CaptionDataset,
        preprocess: dict,
        tokenizer: Callable,
        workers: int,
        on_progress: Callable[[int, int], Any] | None = None,
    ) -> MemoryCache:
        """Decode every row once (in ``workers`` processes), in file order."""
        size = int(preprocess["image_size"])
        decode = _Decode(table, build_pil_stage(preprocess), tokenizer)
        loader = torch.utils.data.DataLoader(decode, batch_size=256, num_workers=workers)
        images: torch.Tensor | None = None
        texts: torch.Tensor | None = None
        done = 0
        for pixels, tokens in loader:
            if images is None or texts is None:
                images = torch.empty((len(table), 3, size, size), dtype=torch.uint8)
                texts = torch.empty((len(table), tokens.shape[1]), dtype=tokens.dtype)
            images[done : done + len(pixels)] = pixels
            texts[done : done + len(tokens)] = tokens
            done += len(pixels)
            if on_progress is not None:
                on_progress(done, len(table))
        if images is None or texts is None:
            raise ValueError("cannot cache an empty caption table")
        return cls(images, texts, preprocess)


def batches(cache: MemoryCache, sampler: torch.utils.data.Sampler[int], batch_size: int) -> Any:
    """A loader over ``cache`` yielding the sampler's indices ``batch_size`` at a time (incomplete last dropped)."""
    return torch.utils.data.DataLoader(
        cache,
        batch_size=None,
        sampler=torch.utils.data.BatchSampler(sampler, batch_size, drop_last=True),
        num_workers=0,
    )
