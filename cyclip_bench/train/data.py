"""Training batches: a caption table (map-style, an epoch-seeded sampler) or webdataset tar shards (streamed).

Both sources are deterministic functions of (seed, epoch, rank), and both can start an epoch after ``skip``
batches without decoding the skipped ones: that makes a resumed run bitwise-equal to an uninterrupted one.
"""

from __future__ import annotations

import glob
import io
import os
import random
import re
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from cyclip_bench import progress as progress_lines
from cyclip_bench.data.captions import CaptionDataset
from cyclip_bench.data.images import probe_image
from cyclip_bench.errors import DataError
from cyclip_bench.train.config import is_shards
from cyclip_bench.train.memcache import MemoryCache, cache_bytes, use_memory_cache
from cyclip_bench.train.memcache import batches as memory_batches

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
SHUFFLE_BUFFER = 1000


def expand_braces(pattern: str) -> list[str]:
    """'a/{000..003}.tar' → a/000.tar … a/003.tar (zero padding kept); '{a,b}' lists; groups combine."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if not match:
        return [pattern]
    head, tail, body = pattern[: match.start()], pattern[match.end() :], match.group(1)
    span = re.fullmatch(r"(\d+)\.\.(\d+)", body)
    if span:
        lo, hi = span.groups()
        options = [str(i).zfill(len(lo)) for i in range(int(lo), int(hi) + 1)]
    else:
        options = body.split(",")
    return [out for opt in options for out in expand_braces(head + opt + tail)]


def shard_paths(spec: str) -> list[str]:
    """Every shard named by ``spec`` (brace ranges, globs, '::'-separated lists); all must exist."""
    paths: list[str] = []
    for part in spec.split("::"):
        for item in expand_braces(part):
            found = sorted(glob.glob(item)) if any(c in item for c in "*?[") else [item]
            paths.extend(found)
    missing = [p for p in paths if not os.path.isfile(p)]
    if not paths or missing:
        raise DataError(f"--train-data {spec!r}: shard(s) not found: {', '.join(missing[:3]) or spec}")
    return paths


class EpochSampler(torch.utils.data.Sampler[int]):
    """This rank's indices for one epoch: a permutation seeded by (seed, epoch), cut to whole global batches.

    Global batch b holds permutation entries [b·G, (b+1)·G); rank r takes the r-th slice of n = G / world.
    """

    def __init__(self, size: int, per_rank: int, world: int, rank: int, seed: int, epoch: int, skip: int = 0):
        self.size, self.per_rank, self.world, self.rank = size, per_rank, world, rank
        self.seed, self.epoch, self.skip = seed, epoch, skip

    def batches_per_epoch(self) -> int:
        return self.size // (self.per_rank * self.world)

    def __len__(self) -> int:
        return (self.batches_per_epoch() - self.skip) * self.per_rank

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=gen).tolist()
        glob_batch = self.per_rank * self.world
        for b in range(self.skip, self.batches_per_epoch()):
            start = b * glob_batch + self.rank * self.per_rank
            yield from order[start : start + self.per_rank]


def _tar_samples(path: str) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {ext: bytes}) per sample of a webdataset tar (files sharing a basename up to the first dot)."""
    key, parts = None, {}
    with tarfile.open(path, "r|*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            base = os.path.basename(member.name)
            stem, _, ext = base.partition(".")
            sample_key = os.path.join(os.path.dirname(member.name), stem)
            if key is not None and sample_key != key:
                yield key, parts
                parts = {}
            key = sample_key
            parts[ext.lower()] = tar.extractfile(member).read()
    if key is not None:
        yield key, parts


def count_shard_samples(paths: list[str]) -> int:
    """Samples with an image and a caption over all shards (reads tar headers and the small text members)."""
    return sum(1 for p in paths for _, parts in _tar_samples(p) if _usable(parts))


def _usable(parts: dict[str, bytes]) -> bool:
    return "txt" in parts and any(ext in parts for ext in IMAGE_EXTS)


class ShardStream(torch.utils.data.IterableDataset):
    """Endless stream of this (rank, worker)'s collated batches from tar shards, starting at pass ``epoch``.

    Each pass shuffles the shard list with (seed, pass); consumer c of C = world × workers reads shards
    c, c+C, … (or, with fewer shards than consumers, every C-th sample of all shards). Samples go through a
    seeded shuffle buffer. DataLoader interleaves workers' batches round-robin, so skipping k batches means
    stream w skips the batches k' < k with k' % workers == w, before decoding them.
    """

    def __init__(self, paths, per_rank, world, rank, seed, epoch, skip, transform, tokenizer, workers):
        self.paths, self.per_rank, self.world, self.rank = paths, per_rank, world, rank
        self.seed, self.epoch, self.skip = seed, epoch, skip
        self.transform, self.tokenizer, self.workers = transform, tokenizer, max(workers, 1)

    def _raw(self, worker: int) -> Iterator[dict[str, bytes]]:
        consumers, me = self.world * self.workers, self.rank * self.workers + worker
        for pass_ in range(self.epoch, 1 << 30):
            rng = random.Random(self.seed * 1_000_003 + pass_)
            order = list(self.paths)
            rng.shuffle(order)
            by_shard = len(order) >= consumers
            mine = order[me::consumers] if by_shard else order
            buffer: list[dict[str, bytes]] = []
            index = 0
            for path in mine:
                for _, parts in _tar_samples(path):
                    index += 1
                    if not _usable(parts) or (not by_shard and (index - 1) % consumers != me):
                        continue
                    buffer.append(parts)
                    if len(buffer) >= SHUFFLE_BUFFER:
                        yield buffer.pop(rng.randrange(len(buffer)))
            rng.shuffle(buffer)
            yield from buffer

    def _decode(self, parts: dict[str, bytes]) -> tuple[torch.Tensor, torch.Tensor]:
        ext = next(e for e in IMAGE_EXTS if e in parts)
        image = Image.open(io.BytesIO(parts[ext])).convert("RGB")
        caption = parts["txt"].decode("utf-8").strip()
        return self.transform(image), self.tokenizer([caption])[0]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        # A new DataLoader starts its round-robin at worker 0, so worker w continues the stream of the worker
        # that would have produced batch number `skip + w`.
        stream = (worker + self.skip) % self.workers
        to_skip = sum(1 for k in range(self.skip) if k % self.workers == stream)
        raw = self._raw(stream)
        while True:
            chunk = [next(raw) for _ in range(self.per_rank)]
            if to_skip:
                to_skip -= 1
                continue
            images, texts = zip(*(self._decode(p) for p in chunk), strict=True)
            yield torch.stack(images), torch.stack(texts)


@dataclass
class TrainData:
    """A training source: how many batches one epoch has, and a loader for (epoch, batches already done)."""

    batches_per_epoch: int
    num_pairs: int
    make_loader: Callable[[int, int], Any]
    source: str = "streamed"  # or "memory": decoded once into a MemoryCache
    preparer: Callable[[], Any] | None = None  # the decoding a "memory" source needs before its first batch

    def prepare(self) -> None:
        """Do the up-front work (decode into memory) now; a run that has nothing left to train never calls it."""
        if self.preparer is not None:
            self.preparer()
            self.preparer = None


def _loader_kwargs(workers: int, device: torch.device) -> dict[str, Any]:
    return {"num_workers": workers, "pin_memory": device.type == "cuda", "persistent_workers": False}


def build_train_data(
    cfg, env, transform, tokenizer, preprocess: dict, say: Callable[[str], Any] = lambda _: None
) -> TrainData:
    """Caption table or shards → TrainData for this rank (per-rank batch ``cfg.batch_size``).

    A caption table is decoded once into memory when ``cfg.data_cache`` allows it (memcache.py); the batches
    are the same either way.
    """
    if is_shards(cfg.train_data):
        paths = shard_paths(cfg.train_data)
        total = cfg.train_num_samples or count_shard_samples(paths)
        per_epoch = total // (cfg.batch_size * env.world_size)

        def shard_loader(epoch: int, skip: int) -> Any:
            stream = ShardStream(
                paths,
                cfg.batch_size,
                env.world_size,
                env.rank,
                cfg.seed,
                epoch,
                skip,
                transform,
                tokenizer,
                cfg.workers,
            )
            return torch.utils.data.DataLoader(stream, batch_size=None, **_loader_kwargs(cfg.workers, env.device))

        return _checked(TrainData(per_epoch, total, shard_loader), cfg, env.world_size)
    dataset = CaptionDataset(
        cfg.train_data, transform, tokenizer, cfg.image_key, cfg.caption_key, cfg.delimiter, cfg.bad_rows
    )
    per_epoch = len(dataset) // (cfg.batch_size * env.world_size)
    context = int(tokenizer(["a"]).shape[-1])
    if use_memory_cache(cfg.data_cache, len(dataset), int(preprocess["image_size"]), context):
        mib = cache_bytes(len(dataset), int(preprocess["image_size"]), context) / 2**20
        held: list[MemoryCache] = []

        def decode() -> None:
            say(f"decoding {len(dataset)} pairs into memory ({mib:.0f} MiB, --data-cache {cfg.data_cache}) …")
            start = time.perf_counter()
            with progress_lines.Tracker(enabled=cfg.progress and env.is_main, transient=True) as bar:
                task = bar.add_task("decode", total=len(dataset), unit="pairs")
                held.append(
                    MemoryCache.build(
                        dataset, preprocess, tokenizer, cfg.workers, lambda done, _: bar.update(task, completed=done)
                    )
                )
            say(f"decoded in {time.perf_counter() - start:.1f} s; batches now come from memory")

        def cached_loader(epoch: int, skip: int) -> Any:
            if not held:
                decode()
            sampler = EpochSampler(len(held[0]), cfg.batch_size, env.world_size, env.rank, cfg.seed, epoch, skip)
            return memory_batches(held[0], sampler, cfg.batch_size)

        data = TrainData(per_epoch, len(dataset), cached_loader, "memory", preparer=decode)
        return _checked(data, cfg, env.world_size)

    def table_loader(epoch: int, skip: int) -> Any:
        sampler = EpochSampler(len(dataset), cfg.batch_size, env.world_size, env.rank, cfg.seed, epoch, skip)
        return torch.utils.data.DataLoader(
            dataset,
            batch_size=cfg.batch_size,
            sampler=sampler,
            drop_last=True,
            **_loader_kwargs(cfg.workers, env.device),
        )

    return _checked(TrainData(per_epoch, len(dataset), table_loader), cfg, env.world_size)


def _checked(data: TrainData, cfg, world_size: int) -> TrainData:
    _check_step_fits(data.num_pairs, cfg, world_size)
    return data


def _check_step_fits(num_pairs: int, cfg, world_size: int) -> None:
    """One optimiser step takes ``accum_steps`` batches of ``batch_size × world_size`` pairs: an epoch must hold
    at least that many."""
    batches_per_epoch = num_pairs // (cfg.batch_size * world_size)
    if batches_per_epoch < cfg.accum_steps:
        lower = "--batch-size or --accum-steps" if cfg.accum_steps > 1 else "--batch-size"
        raise DataError(
            f"--train-data {cfg.train_data}: {num_pairs} pairs make {batches_per_epoch} batch(es) of "
            f"{cfg.batch_size * world_size} (--batch-size {cfg.batch_size} × {world_size} rank(s)) per epoch; one "
            f"optimiser step needs {cfg.accum_steps} (--accum-steps {cfg.accum_steps}): add pairs or lower {lower}"
        )


def val_dataset(cfg, transform, tokenizer) -> CaptionDataset | None:
    if cfg.val_data is None:
        return None
    if is_shards(cfg.val_data):
        raise DataError(f"--val-data {cfg.val_data}: validation reads a caption CSV/TSV, not shards")
    return CaptionDataset(
        cfg.val_data, transform, tokenizer, cfg.image_key, cfg.caption_key, cfg.delimiter, cfg.bad_rows
    )


def check_train_data(cfg, world_size: int) -> None:
    """Refuse bad training input before a rank starts or a status line is printed (`train` calls it in the
    launching process): the checks build_train_data and val_dataset make — tables that parse and name existing
    images, shards that exist, enough pairs for one optimiser step on ``world_size`` ranks — plus each listed
    image's header, which a rank would otherwise first read when it decodes that image, after its status lines.
    An image damaged past its header is still found by the rank that decodes it."""
    val = val_dataset(cfg, None, None)  # in a rank's order: the validation table first
    if val is not None:
        _probe_headers(val, cfg.bad_rows)
    if is_shards(cfg.train_data):
        total = cfg.train_num_samples or count_shard_samples(shard_paths(cfg.train_data))
    else:
        table = CaptionDataset(cfg.train_data, None, None, cfg.image_key, cfg.caption_key, cfg.delimiter, cfg.bad_rows)
        _probe_headers(table, cfg.bad_rows)
        total = len(table)
    _check_step_fits(total, cfg, world_size)


def _probe_headers(table: CaptionDataset, bad_rows: str) -> None:
    """The first image whose header does not read, as the DataError a rank would raise (``--bad-rows skip``
    tables have probed their images and dropped the bad ones already)."""
    if bad_rows != "error":
        return
    first_rows = {}
    for row, image in enumerate(table.images, 1):
        first_rows.setdefault(image, row)
    for image, row in first_rows.items():
        problem = probe_image(image)
        if problem is not None:
            raise DataError(f"{table.path}: row {row}: image file {image} {problem}")
