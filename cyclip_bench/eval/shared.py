"""What the checkpoints of one run share (a zoo sweep): every dataset split decoded once per distinct PIL stage —
the geometric part of a model's preprocessing (``models.build_pil_stage``) — into uint8 pixels, and every list
of texts tokenised once per distinct tokenizer.

Each model of a group then normalises the same pixels (``models.normalize_uint8``: bit for bit what its own
``build_transform`` gives) in the batches its own DataLoader would have made, so its features, and so its
results, equal those of the model evaluated alone. Decoded pixels are held in memory up to
``PIXELS_LIMIT_BYTES`` per group; a split that would go over is written to a memory-mapped file under the
feature-cache folder (removed when the group is done), or, with ``--no-cache``, streamed through each model's
transform as in a one-model run (decoded once per model)."""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from cyclip_bench.runtime import DistEnv

# Decoded pixels one group of checkpoints holds in memory at once (all splits of the suite together); above it a
# split is memory-mapped under the cache folder. ImageNet val at 224 px is 7.5 GB of uint8 pixels.
PIXELS_LIMIT_BYTES = 4 << 30
DECODE_BATCH = 256
# Preprocessing keys that ``normalize_uint8`` applies after the PIL stage; every other key decides the pixels.
NORMALISATION_KEYS = frozenset({"mean", "std"})


def texts_sha256(texts: list[str]) -> str:
    """The identity of a list of texts (prompts, captions): sha256 of its JSON."""
    return hashlib.sha256(json.dumps(list(texts)).encode()).hexdigest()


def pil_stage_key(preprocess: dict) -> str:
    """Checkpoints whose keys are equal get the same uint8 pixels from the PIL stage (mean/std apply later)."""
    return json.dumps({k: v for k, v in preprocess.items() if k not in NORMALISATION_KEYS}, sort_keys=True)


class _ToUint8:
    """PIL image → uint8 [3, H, W] after the PIL stage: what ``ToTensor`` reads, before it scales."""

    def __init__(self, stage: Callable) -> None:
        self.stage = stage

    def __call__(self, image: Any) -> torch.Tensor:
        pixels = np.array(self.stage(image), dtype=np.uint8, copy=True)
        return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


def _collate(batch: list) -> torch.Tensor:
    return torch.stack([item[0] if isinstance(item, (tuple, list)) else item for item in batch])


@dataclass(frozen=True)
class Pixels:
    """One dataset split's decoded pixels: rows ``shard`` of the dataset (this rank's block), in order."""

    data: torch.Tensor  # uint8 [len(shard), 3, S, S]
    shard: range


class PixelStore:
    """The decoded pixels of the dataset splits read by one group of checkpoints (equal ``pil_stage_key``).

    ``get`` decodes a split on first use (DataLoader ``workers``; under torchrun only this rank's block) and
    keeps it for the group's other checkpoints; ``close`` frees it all."""

    def __init__(
        self,
        preprocess: dict,
        *,
        workers: int,
        dist: DistEnv,
        spill_dir: Path | None,
        limit_bytes: int | None = None,
        progress: Any = None,
    ) -> None:
        from cyclip_bench.models import build_pil_stage

        self.preprocess = preprocess
        self.size = int(preprocess["image_size"])
        self.transform = _ToUint8(build_pil_stage(preprocess))
        self.workers, self.dist, self.progress = workers, dist, progress
        self.spill_dir = spill_dir
        self.limit_bytes = PIXELS_LIMIT_BYTES if limit_bytes is None else limit_bytes
        self.held_bytes = 0
        self.images_decoded = 0
        self.seconds = 0.0
        self.spilled: list[str] = []  # keys written to a memory-mapped file
        self._pixels: dict[str, Pixels | None] = {}
        self._spill_folder: Path | None = None

    def get(self, key: str, images: Callable[[Any], Dataset], what: str) -> Pixels | None:
        """The pixels of split ``key``; ``images(transform)`` gives the split's images through ``transform``.
        None when they fit neither in memory nor on disk (no cache folder): the caller streams the split."""
        if key not in self._pixels:
            self._pixels[key] = self._decode(key, images(self.transform), what)
        return self._pixels[key]

    def _buffer(self, key: str, rows: int) -> torch.Tensor | None:
        shape = (rows, 3, self.size, self.size)
        nbytes = int(np.prod(shape))
        if self.held_bytes + nbytes <= self.limit_bytes:
            self.held_bytes += nbytes
            return torch.empty(shape, dtype=torch.uint8)
        if self.spill_dir is None:
            return None
        if self._spill_folder is None:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            self._spill_folder = Path(tempfile.mkdtemp(prefix="pixels-", dir=self.spill_dir))
        name = hashlib.sha256(key.encode()).hexdigest()[:16]
        array = np.memmap(self._spill_folder / f"{name}.u8", dtype=np.uint8, mode="w+", shape=shape)
        self.spilled.append(key)
        return torch.from_numpy(array)

    def _decode(self, key: str, images: Dataset, what: str) -> Pixels | None:
        start = time.perf_counter()
        shard = self.dist.shard(len(images))
        out = self._buffer(key, len(shard))
        if out is None:
            return None
        data = images if self.dist.world_size == 1 else Subset(images, list(shard))
        loader = DataLoader(data, batch_size=DECODE_BATCH, num_workers=self.workers, collate_fn=_collate)
        task = self.progress.add_task(what, total=len(loader)) if self.progress else None
        done = 0
        for batch in loader:
            out[done : done + len(batch)] = batch
            done += len(batch)
            if task is not None:
                self.progress.advance(task)
        if task is not None:
            self.progress.remove_task(task)
        self.images_decoded += done
        self.seconds += time.perf_counter() - start
        return Pixels(data=out, shard=shard)

    def close(self) -> None:
        """Free the pixels (and remove the memory-mapped files)."""
        self._pixels.clear()
        self.held_bytes = 0
        if self._spill_folder is not None:
            shutil.rmtree(self._spill_folder, ignore_errors=True)
            self._spill_folder = None


def tokenizer_identity(tokenizer: Any) -> str | None:
    """A description equal only for tokenizers that give equal ids for every text: open_clip's BPE tokenizer
    (vocabulary, merges, context length, cleaning) and its Hugging Face wrapper (tokenizer name or folder, context
    length, options); None for any other kind (its texts are tokenised per model)."""
    kind = f"{type(tokenizer).__module__}.{type(tokenizer).__qualname__}"
    if kind == "open_clip.tokenizer.SimpleTokenizer":
        vocab = hashlib.sha256(json.dumps(sorted(tokenizer.encoder.items())).encode())
        vocab.update(json.dumps(sorted((list(k), v) for k, v in tokenizer.bpe_ranks.items())).encode())
        parts = {
            "context_length": tokenizer.context_length,
            "special": list(tokenizer.all_special_ids),
            "sot": tokenizer.sot_token_id,
            "eot": tokenizer.eot_token_id,
            "pattern": tokenizer.pat.pattern,
            "vocab": vocab.hexdigest(),
        }
    elif kind == "open_clip.tokenizer.HFTokenizer":
        parts = {
            "name": getattr(tokenizer.tokenizer, "name_or_path", None),
            "context_length": tokenizer.context_length,
            "strip_sep_token": tokenizer.strip_sep_token,
            "mode": getattr(tokenizer, "tokenizer_mode", None),
        }
        if not parts["name"]:
            return None
    else:
        return None
    functions = {name: _qualname(getattr(tokenizer, name, None)) for name in ("clean_fn", "reduction_fn")}
    return json.dumps({"kind": kind, **parts, **functions}, sort_keys=True)


def _qualname(fn: Any) -> str | None:
    if fn is None:
        return None
    if isinstance(fn, functools.partial):
        return f"partial({_qualname(fn.func)}, {fn.args!r}, {sorted(fn.keywords.items())!r})"
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"


class TokenStore:
    """Token ids of the texts a run encodes, made once per tokenizer identity and kept for the run: stored as
    the batches the encoder feeds (this rank's block, ``batch_size`` texts each), so a tokenizer that pads to
    the longest text of a batch gives every model the ids it would have made itself."""

    def __init__(self) -> None:
        self._batches: dict[tuple, list[torch.Tensor]] = {}
        self._identities: dict[int, str | None] = {}
        self.texts_tokenised = 0

    def identity(self, tokenizer: Any) -> str | None:
        if id(tokenizer) not in self._identities:
            self._identities[id(tokenizer)] = tokenizer_identity(tokenizer)
        return self._identities[id(tokenizer)]

    def batches(self, tokenizer: Any, texts: list[str], shard: range, batch_size: int) -> list[torch.Tensor]:
        identity = self.identity(tokenizer)
        key = (identity, texts_sha256(texts), shard.start, shard.stop, batch_size)
        if identity is None or key not in self._batches:
            block = texts[shard.start : shard.stop]
            made = [tokenizer(block[i : i + batch_size]) for i in range(0, len(block), batch_size)]
            self.texts_tokenised += len(block)
            if identity is None:
                return made
            self._batches[key] = made
        return self._batches[key]


__all__ = [
    "PIXELS_LIMIT_BYTES",
    "PixelStore",
    "Pixels",
    "TokenStore",
    "pil_stage_key",
    "texts_sha256",
    "tokenizer_identity",
]
