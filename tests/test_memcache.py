"""The in-memory training cache gives the very tensors the streamed path gives; channels_last is chosen per tower."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from train_helpers import train_config

from cyclip_bench.data.captions import CaptionDataset
from cyclip_bench.errors import ConfigError
from cyclip_bench.models import build_transform, create_model, get_tokenizer, normalize_uint8
from cyclip_bench.train import TrainConfig, train
from cyclip_bench.train.data import EpochSampler
from cyclip_bench.train.loop import use_channels_last
from cyclip_bench.train.memcache import MemoryCache, batches, cache_bytes, use_memory_cache

PREPROCESS = {"image_size": 32, "mean": [0.48, 0.45, 0.40], "std": [0.26, 0.26, 0.27], "interpolation": "bicubic"}


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    """40 pairs of odd-sized RGB, greyscale and palette images (so resizing, cropping and RGB conversion run)."""
    root = tmp_path_factory.mktemp("cache")
    rng = np.random.default_rng(3)
    rows = ["image,caption"]
    for i in range(40):
        pixels = rng.integers(0, 256, (17 + i % 5, 45 - i % 7, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
        image = image.convert(["RGB", "L", "P"][i % 3])
        image.save(root / f"{i}.png")
        rows.append(f'{i}.png,"caption {i}: a {["red", "blue"][i % 2]} thing, {"very " * (i % 9)}long"')
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    return root / "train.csv"


def test_normalize_uint8_is_bitwise_the_transform():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    pixels = torch.from_numpy(np.array(image)).permute(2, 0, 1)
    assert torch.equal(normalize_uint8(pixels[None], PREPROCESS)[0], build_transform(PREPROCESS)(image))


@pytest.mark.parametrize("workers", [0, 2])
def test_cache_holds_exactly_what_the_dataset_gives(table, workers):
    tokenizer = get_tokenizer(create_model("tiny")[1])
    streamed = CaptionDataset(table, build_transform(PREPROCESS, train=True), tokenizer)
    cache = MemoryCache.build(streamed, PREPROCESS, tokenizer, workers)
    assert len(cache) == len(streamed) == 40
    rows = [7, 0, 39, 12]
    images, texts = cache[rows]
    for k, row in enumerate(rows):
        image, text = streamed[row]
        assert torch.equal(images[k], image) and torch.equal(texts[k], text)


def test_cached_batches_follow_the_sampler(table):
    tokenizer = get_tokenizer(create_model("tiny")[1])
    streamed = CaptionDataset(table, build_transform(PREPROCESS, train=True), tokenizer)
    cache = MemoryCache.build(streamed, PREPROCESS, tokenizer, 0)
    sampler = EpochSampler(len(cache), 8, world=2, rank=1, seed=5, epoch=2, skip=1)
    order = list(sampler)
    got = list(batches(cache, sampler, 8))
    assert len(got) == len(order) // 8 == 1  # 40 rows = 2 global batches of 16; the first is skipped
    assert torch.equal(got[0][1], torch.stack([streamed[i][1] for i in order]))


def test_auto_caches_what_fits():
    assert cache_bytes(1000, 32, 77) == 1000 * (3 * 32 * 32 + 8 * 77)
    assert use_memory_cache("auto", 16_000, 32, 77)
    assert not use_memory_cache("auto", 3_300_000, 224, 77)  # CC3M at 224 px streams
    assert use_memory_cache("memory", 3_300_000, 224, 77) and not use_memory_cache("off", 10, 32, 77)


def test_bad_cache_flags_name_the_flag():
    with pytest.raises(ConfigError, match="--data-cache 'disk'"):
        TrainConfig.from_sources(None, train_data="a.csv", data_cache="disk")
    with pytest.raises(ConfigError, match="always stream"):
        TrainConfig.from_sources(None, train_data="s/{0..3}.tar", data_cache="memory")


def _run(table: Path, logs: Path, name: str, **kw) -> list[dict]:
    cfg = train_config(table, logs, epochs=2, loss="cyclip", name=name, **kw)
    train(cfg)
    return [json.loads(line) for line in (logs / name / "metrics.jsonl").read_text().splitlines()]


def test_training_from_memory_equals_streaming(table, tmp_path):
    streamed = _run(table, tmp_path, "off", data_cache="off")
    cached = _run(table, tmp_path, "memory", data_cache="memory")
    assert len(streamed) == len(cached) == 10
    for a, b in zip(streamed, cached, strict=True):
        assert (a["step"], a["loss"], a["inmodal"], a["logit_scale"]) == (
            b["step"],
            b["loss"],
            b["inmodal"],
            b["logit_scale"],
        )
    resolved = json.loads((tmp_path / "memory" / "config.json").read_text())["resolved"]
    assert resolved["data_source"] == "memory" and resolved["channels_last"] is True
    off = json.loads((tmp_path / "off" / "config.json").read_text())["resolved"]
    assert off["data_source"] == "streamed"


def test_channels_last_for_convolutional_towers_only():
    cfg = TrainConfig.from_sources(None, train_data="a.csv")
    assert use_channels_last(cfg, create_model("tiny")[0])  # a ResNet
    assert not use_channels_last(cfg, create_model("tiny-vit")[0])  # one conv: the patch embedding
    forced = TrainConfig.from_sources(None, train_data="a.csv", channels_last=False)
    assert not use_channels_last(forced, create_model("tiny")[0])


def test_channels_last_trains_to_the_same_losses(table, tmp_path):
    nchw = _run(table, tmp_path, "nchw", channels_last=False)
    nhwc = _run(table, tmp_path, "nhwc", channels_last=True)
    for a, b in zip(nchw, nhwc, strict=True):  # other kernels, other rounding: equal to float tolerance
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4, abs=1e-4)
