"""Features: every (checkpoint, dataset, split) is encoded once per run, whatever number of tasks use it, and
cached on disk under a key of everything that decides the numbers (checkpoint sha256, dataset fingerprint,
preprocessing, precision; for texts the exact strings and the tokenizer). Under torchrun each rank encodes a
contiguous shard and the shards are gathered in order, so the features equal a 1-process run's."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset

from cyclip_bench.eval.shared import Pixels, TokenStore
from cyclip_bench.fileio import atomic_open
from cyclip_bench.runtime import DistEnv, autocast

CACHE_VERSION = 1


def cache_key(**parts: Any) -> str:
    """sha256 of a canonical JSON of the parts (any change of any part is a different key)."""
    text = json.dumps({"cache_version": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class FeatureCache:
    """Tensors on disk, one file per key (written atomically). ``None`` folder = no cache."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Any:
        if self.folder is None:
            return None
        path = self.folder / key[:2] / f"{key}.pt"
        if not path.is_file():
            self.misses += 1
            return None
        self.hits += 1
        return torch.load(path, map_location="cpu", weights_only=True)

    def put(self, key: str, value: Any) -> None:
        """A tensor, or plain data (dicts/lists of tensors, numbers, strings: loadable with weights_only)."""
        if self.folder is None:
            return
        with atomic_open(self.folder / key[:2] / f"{key}.pt", "wb") as handle:
            torch.save(value.contiguous() if isinstance(value, torch.Tensor) else value, handle)


def _first(item: Any) -> Any:
    return item[0] if isinstance(item, (tuple, list)) else item


def _collate_images(batch: list) -> torch.Tensor:
    return torch.stack([_first(item) for item in batch])


class _TextList(Dataset):
    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> str:
        return self.texts[i]


@dataclass
class Encoder:
    """Runs one model over datasets: batched, DataLoader workers, autocast precision (``runtime.PRECISIONS``),
    rich progress."""

    model: torch.nn.Module
    tokenizer: Callable[[list[str]], torch.Tensor]
    device: str = "cpu"
    precision: str = "fp32"
    batch_size: int = 256
    workers: int = 0
    progress: Any = None  # a rich Progress, or None
    dist: DistEnv = field(default_factory=DistEnv)  # this rank's shard; its gather; cache agreement
    tokens: TokenStore | None = None  # token ids shared with the run's other models of this tokenizer
    channels_last: bool = False  # image batches in NHWC (the model's weights were converted by the runner)
    seconds: float = 0.0  # time spent encoding (for the results' wall_time_s)
    # Split by modality, with the number of items encoded (not read from the cache): images/s and prompts/s.
    image_seconds: float = 0.0
    text_seconds: float = 0.0
    images_encoded: int = 0
    texts_encoded: int = 0

    def _run(self, dataset: Dataset, encode: Callable, collate: Callable, what: str, workers: int) -> torch.Tensor:
        shard = self.dist.shard(len(dataset))
        data = dataset if self.dist.world_size == 1 else Subset(dataset, list(shard))
        loader = DataLoader(
            data,
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=workers,
            collate_fn=collate,
            persistent_workers=False,
        )
        return self._encode_batches(loader, len(loader), encode, what)

    def _encode_batches(self, batches: Iterable, count: int, encode: Callable, what: str) -> torch.Tensor:
        """Encode this rank's ``count`` batches in order and gather every rank's rows (rank order)."""
        start = time.perf_counter()
        task = self.progress.add_task(what, total=count) if self.progress else None
        chunks = []
        with torch.inference_mode(), autocast(self.precision, self.device):
            for batch in batches:
                chunks.append(encode(batch).float().cpu())
                if task is not None:
                    self.progress.advance(task)
        if task is not None:
            self.progress.remove_task(task)
        local = torch.cat(chunks) if chunks else torch.empty(0, 0)
        out = self.dist.gather(local)
        self.seconds += time.perf_counter() - start
        return out

    def _image_batch(self, batch: torch.Tensor) -> torch.Tensor:
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        return batch.to(self.device, memory_format=layout)

    def images(self, dataset: Dataset, what: str) -> torch.Tensor:
        def encode(batch: torch.Tensor) -> torch.Tensor:
            return self.model.encode_image(self._image_batch(batch))

        start = time.perf_counter()
        out = self._run(dataset, encode, _collate_images, what, self.workers)
        self.image_seconds += time.perf_counter() - start
        self.images_encoded += len(dataset)
        return out

    def pixel_images(self, pixels: Pixels, preprocess: dict, what: str) -> torch.Tensor:
        """Like ``images`` for a split decoded once for several models (``eval.shared``): this rank's block of
        uint8 pixels, normalised per batch with ``preprocess``'s mean/std — the batches ``images`` would make,
        bit for bit."""
        from cyclip_bench.models import normalize_uint8

        rows, size = len(pixels.data), self.batch_size
        batches = (normalize_uint8(pixels.data[i : i + size], preprocess) for i in range(0, rows, size))

        def encode(batch: torch.Tensor) -> torch.Tensor:
            return self.model.encode_image(self._image_batch(batch))

        start = time.perf_counter()
        out = self._encode_batches(batches, -(-rows // size), encode, what)
        self.image_seconds += time.perf_counter() - start
        self.images_encoded += len(out)
        return out

    def texts(self, texts: list[str], what: str) -> torch.Tensor:
        """One row per string of ``texts`` (in order). A string listed more than once (the same caption for
        several images, a repeated prompt) is encoded once and its row repeated: the model is a function of
        the string alone."""
        distinct = list(dict.fromkeys(texts))
        if len(distinct) == len(texts):
            return self._distinct_texts(texts, what)
        row = {text: i for i, text in enumerate(distinct)}
        return self._distinct_texts(distinct, what)[torch.tensor([row[text] for text in texts], dtype=torch.long)]

    def _distinct_texts(self, texts: list[str], what: str) -> torch.Tensor:
        def encode(batch: list[str]) -> torch.Tensor:
            return self.model.encode_text(self.tokenizer(batch).to(self.device))

        # Tokenising is cheap: no worker processes for text. A run of several models with one tokenizer
        # tokenises each list once (``tokens``), in the batches this loop would have made.
        start = time.perf_counter()
        if self.tokens is not None:
            shard = self.dist.shard(len(texts))
            batches = self.tokens.batches(self.tokenizer, texts, shard, self.batch_size)

            def encode_ids(ids: torch.Tensor) -> torch.Tensor:
                return self.model.encode_text(ids.to(self.device))

            out = self._encode_batches(batches, len(batches), encode_ids, what)
        else:
            out = self._run(_TextList(texts), encode, list, what, 0)
        self.text_seconds += time.perf_counter() - start
        self.texts_encoded += len(texts)
        return out


def normalise(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x.float(), dim=-1)
