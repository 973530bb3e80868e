"""What a task sees while it runs for one checkpoint: datasets and their features, built and encoded lazily
and at most once per run (memoised here, cached on disk by ``FeatureCache``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cyclip_bench.data.catalog import LABELLED, RETRIEVAL
from cyclip_bench.eval.features import Encoder, FeatureCache, cache_key, normalise
from cyclip_bench.eval.needs import DataNeed
from cyclip_bench.eval.shared import PixelStore, texts_sha256
from cyclip_bench.eval.suite import DatasetRef, dataset_label
from cyclip_bench.metrics import class_embeddings

# Prompts encoded per block of the streamed zero-shot head: ~32 MB of features at d = 1024, whatever C × T.
HEAD_BLOCK_PROMPTS = 8192


@dataclass
class RetrievalFeatures:
    images: torch.Tensor  # [I, d] un-normalised
    texts: torch.Tensor  # [Cap, d] un-normalised
    caption_image: torch.Tensor  # [Cap] index into images
    captions: list[str]


@dataclass
class EvalContext:
    """Per checkpoint. ``checkpoint_sha256`` + ``preprocess`` + ``precision`` go into every cache key."""

    encoder: Encoder
    cache: FeatureCache
    data_root: Path | None
    transform: Any
    checkpoint_sha256: str
    preprocess: dict
    precision: str
    text_model_id: dict  # tokenizer identity: model name + context length
    templates_sha256: dict[str, str] = field(default_factory=dict)
    # The run's datasets, built once (transform None) by its plan (``eval.plan``), keyed by ``DataNeed.key``:
    # each checkpoint reads a shallow copy with its own transform instead of listing the files again.
    planned: Mapping[str, Any] = field(default_factory=dict)
    # Pixels decoded once for this checkpoint and the run's others of equal PIL stage (``eval.shared``); None:
    # every split is read through ``transform`` (a one-model run, or no other model with this preprocessing).
    pixels: PixelStore | None = None
    _datasets: dict[str, Any] = field(default_factory=dict)
    _features: dict[str, Any] = field(default_factory=dict)
    # Every string text_features encoded or read this run → (index into _text_blocks, row): a caption that two
    # tasks read (retrieval and compositional sets over one image set) is encoded once.
    _text_rows: dict[str, tuple[int, int]] = field(default_factory=dict)
    _text_blocks: list[torch.Tensor] = field(default_factory=list)

    # --- datasets -------------------------------------------------------------------------------------------
    def dataset(self, need: DataNeed) -> Any:
        """The dataset split ``need`` reads, through this checkpoint's transform: the planned one, or (a context
        made without a plan) built here."""
        if need.key not in self._datasets:
            if need.key in self.planned:
                data = need.kind.with_transform(self.planned[need.key], self.transform)
            else:
                data = need.kind.build(need.ref, self.data_root, need.split, self.transform)
            self._datasets[need.key] = data
        return self._datasets[need.key]

    def labelled(self, ref: DatasetRef, split: str) -> Any:
        """The labelled dataset ``ref``'s ``split`` (images and class labels)."""
        return self.dataset(DataNeed(LABELLED, ref, split))

    def retrieval(self, ref: DatasetRef) -> Any:
        """The retrieval dataset ``ref`` (images and their captions)."""
        return self.dataset(DataNeed(RETRIEVAL, ref))

    # --- features -------------------------------------------------------------------------------------------
    def _cached(self, key: str, compute: Any) -> torch.Tensor:
        if key in self._features:
            return self._features[key]
        tensor = self.cache.get(key)
        # Under torchrun every rank must agree to encode (a collective follows) or to use the cache.
        if not self.encoder.dist.all_true(tensor is not None):
            tensor = None
        if tensor is None:
            tensor = compute()
            if self.encoder.dist.is_main:
                self.cache.put(key, tensor)
        self._features[key] = tensor
        return tensor

    def cached_result(self, compute: Any, **parts: Any) -> Any:
        """A task's own expensive, deterministic by-product (e.g. a fitted probe), cached like features: keyed
        by this checkpoint, precision and preprocessing plus ``parts`` (no collective inside)."""
        key = cache_key(
            kind="result",
            checkpoint=self.checkpoint_sha256,
            preprocess=self.preprocess,
            precision=self.precision,
            **parts,
        )
        value = self.cache.get(key)
        if value is None:
            value = compute()
            if self.encoder.dist.is_main:
                self.cache.put(key, value)
        return value

    def _image_key(self, dataset: Any) -> str:
        return cache_key(
            kind="image",
            checkpoint=self.checkpoint_sha256,
            dataset=dataset.fingerprint(),
            preprocess=self.preprocess,
            precision=self.precision,
        )

    def image_features(self, ref: DatasetRef, split: str) -> torch.Tensor:
        """[N, d] un-normalised image embeddings of a labelled dataset, in dataset order."""
        need = DataNeed(LABELLED, ref, split)
        dataset = self.dataset(need)
        name = getattr(dataset, "name", f"{dataset_label(ref)}/{split}")
        return self._cached(self._image_key(dataset), lambda: self._encode_images(need, dataset, name))

    def need_image_features(self, need: DataNeed) -> torch.Tensor:
        """[N, d] un-normalised embeddings of the images of any dataset ``need`` reads (its kind's ``images``, in
        their order): for kinds other than labelled and retrieval, e.g. compositional sets."""
        dataset = self.dataset(need)
        name = getattr(dataset, "name", dataset_label(need.ref))
        return self._cached(self._image_key(dataset), lambda: self._encode_images(need, dataset, name))

    def _encode_images(self, need: DataNeed, dataset: Any, name: str) -> torch.Tensor:
        """``need``'s images encoded: from the pixels shared with the run's other models of this PIL stage
        where there are any, else read through this checkpoint's transform."""
        if self.pixels is not None:
            pixels = self.pixels.get(need.key, lambda transform: self._images(need, transform), f"decoding {name}")
            if pixels is not None:
                return self.encoder.pixel_images(pixels, self.preprocess, f"images {name}")
        return self.encoder.images(need.kind.images(dataset), f"images {name}")

    def _images(self, need: DataNeed, transform: Any) -> Any:
        """``need``'s images read through ``transform`` (the planned dataset, or built here)."""
        if need.key in self.planned:
            data = need.kind.with_transform(self.planned[need.key], transform)
        else:
            data = need.kind.build(need.ref, self.data_root, need.split, transform)
        return need.kind.images(data)

    def labels(self, ref: DatasetRef, split: str) -> torch.Tensor:
        return torch.as_tensor(list(self.labelled(ref, split).labels), dtype=torch.long)

    def text_features(self, texts: list[str], what: str = "texts") -> torch.Tensor:
        key = cache_key(
            kind="text",
            checkpoint=self.checkpoint_sha256,
            texts=texts_sha256(texts),
            tokenizer=self.text_model_id,
            precision=self.precision,
        )
        features = self._cached(key, lambda: self._encode_texts(texts, what))
        self._remember_texts(texts, features)
        return features

    def _encode_texts(self, texts: list[str], what: str) -> torch.Tensor:
        """[len(texts), d]: the strings this run has not encoded yet are encoded (once each); the rest are the
        rows already made (the model is a function of the string alone)."""
        missing = [text for text in dict.fromkeys(texts) if text not in self._text_rows]
        if len(missing) == len(texts):
            return self.encoder.texts(texts, what)
        if missing:
            self._remember_texts(missing, self.encoder.texts(missing, what))
        rows = [self._text_rows[text] for text in texts]
        return torch.stack([self._text_blocks[block][row] for block, row in rows])

    def _remember_texts(self, texts: list[str], features: torch.Tensor) -> None:
        if all(text in self._text_rows for text in texts):
            return
        self._text_blocks.append(features)
        block = len(self._text_blocks) - 1
        for row, text in enumerate(texts):
            self._text_rows.setdefault(text, (block, row))

    def zeroshot_head(self, metadata: Any, label: str) -> torch.Tensor:
        """[C, d] class embeddings (renormalised mean of normalised template embeddings). Datasets that share
        class names and templates (ImageNet and its variants) share one head: the key is the text content.

        Streamed: the prompts are encoded a block of classes at a time and each block is reduced to its class
        embeddings at once, so the C×T prompt features (ImageNet: 80,000 × d, 330 MB at RN50's d = 1024) never
        exist together; only the [C, d] head is kept and cached."""
        self.templates_sha256[label] = texts_sha256(list(metadata.templates))
        classes, templates = list(metadata.classes), list(metadata.templates)
        texts = [t.replace("{}", c) for c in classes for t in templates]
        digest = texts_sha256(texts)
        key = "head:" + digest
        if key not in self._features:
            disk_key = cache_key(
                kind="head",
                checkpoint=self.checkpoint_sha256,
                texts=digest,
                tokenizer=self.text_model_id,
                precision=self.precision,
            )
            self._features[key] = self._cached(disk_key, lambda: self._encode_head(classes, templates, label))
        return self._features[key]

    def _encode_head(self, classes: list[str], templates: list[str], label: str) -> torch.Tensor:
        # Whole classes per block; where it fits, a block is whole batches (no ragged batch per block).
        step = math.lcm(len(templates), self.encoder.batch_size)
        per_block = (HEAD_BLOCK_PROMPTS // step) * step // len(templates) or max(
            1, HEAD_BLOCK_PROMPTS // len(templates)
        )
        blocks = []
        for start in range(0, len(classes), per_block):
            names = classes[start : start + per_block]
            texts = [t.replace("{}", c) for c in names for t in templates]
            what = f"class prompts {label} ({start + len(names)}/{len(classes)} classes)"
            feats = self.encoder.texts(texts, what)
            blocks.append(class_embeddings(feats.view(len(names), len(templates), -1)))
        return torch.cat(blocks)

    def retrieval_features(self, ref: DatasetRef) -> RetrievalFeatures:
        key = "retrieval-features:" + DataNeed(RETRIEVAL, ref).key
        if key not in self._features:
            need = DataNeed(RETRIEVAL, ref)
            data = self.dataset(need)
            name = getattr(data, "name", dataset_label(ref))
            images = self._cached(self._image_key(data), lambda: self._encode_images(need, data, name))
            captions = list(data.captions)
            texts = self.text_features(captions, f"captions {name}")
            self._features[key] = RetrievalFeatures(
                images=images,
                texts=texts,
                caption_image=torch.as_tensor(list(data.caption_image), dtype=torch.long),
                captions=captions,
            )
        return self._features[key]


__all__ = ["EvalContext", "RetrievalFeatures", "normalise"]
