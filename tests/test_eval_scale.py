"""Memory and size guards of the evaluation at real class counts (issue 10): the zero-shot head is streamed a
block of classes at a time and cached as [C, d], the 200-class mask of ImageNet-A/R is applied in place, and
per-example arrays are written one line each in the results JSON.

Rerun alone: `OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q tests/test_eval_scale.py` (~10 s on 2 cores).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from tiny_inputs import minimal_result

import cyclip_bench.eval.context as context_module
from cyclip_bench.data.metadata import ClassMetadata, builtin_metadata
from cyclip_bench.eval.context import EvalContext
from cyclip_bench.eval.features import FeatureCache
from cyclip_bench.eval.tasks.zeroshot import zeroshot_logits
from cyclip_bench.metrics import class_embeddings
from cyclip_bench.results import compact_json, from_json, read_result, save


@dataclass
class FakeEncoder:
    """Text features that are a fixed function of each string (crc32-seeded), and a record of every call's size."""

    batch_size: int = 256
    dim: int = 8
    calls: list[int] = field(default_factory=list)
    dist: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(all_true=lambda flag: flag, is_main=True))

    def texts(self, texts: list[str], what: str) -> torch.Tensor:
        self.calls.append(len(texts))
        rows = [torch.randn(self.dim, generator=torch.Generator().manual_seed(zlib.crc32(t.encode()))) for t in texts]
        return torch.stack(rows)


def _context(encoder: FakeEncoder, cache: FeatureCache) -> EvalContext:
    return EvalContext(
        encoder=encoder,  # type: ignore[arg-type]
        cache=cache,
        data_root=None,
        transform=None,
        checkpoint_sha256="0" * 64,
        preprocess={},
        precision="fp32",
        text_model_id={"model": "fake", "context_length": 32},
    )


def test_imagenet_head_is_streamed_in_whole_batches_and_equals_the_full_computation(tmp_path: Path) -> None:
    meta = builtin_metadata("imagenet")
    encoder = FakeEncoder()
    ctx = _context(encoder, FeatureCache(tmp_path / "cache"))
    head = ctx.zeroshot_head(meta, "imagenet1k/test")
    assert head.shape == (1000, encoder.dim)
    # 96 classes × 80 templates = 7,680 prompts = 30 batches of 256 per block; never all 80,000 at once.
    assert encoder.calls == [7680] * 10 + [40 * 80]
    assert max(encoder.calls) <= context_module.HEAD_BLOCK_PROMPTS
    texts = [t.replace("{}", c) for c in meta.classes for t in meta.templates]
    full = class_embeddings(FakeEncoder().texts(texts, "all").view(1000, 80, -1))
    assert torch.equal(head, full)
    # Cached as the head itself: [C, d] on disk, not the C×T prompt features.
    files = list((tmp_path / "cache").rglob("*.pt"))
    assert len(files) == 1 and torch.load(files[0], weights_only=True).shape == (1000, encoder.dim)
    again = _context(FakeEncoder(), FeatureCache(tmp_path / "cache"))
    assert torch.equal(again.zeroshot_head(meta, "imagenetv2/test"), head) and again.encoder.calls == []
    assert again.cache.hits == 1


def test_a_head_whose_templates_do_not_tile_the_batch_still_takes_whole_classes(tmp_path: Path) -> None:
    meta = ClassMetadata([f"class {i}" for i in range(7)], ["a {}.", "the {}!", "one {}"])
    encoder = FakeEncoder(batch_size=4)
    context_module_block = context_module.HEAD_BLOCK_PROMPTS
    try:
        context_module.HEAD_BLOCK_PROMPTS = 10  # lcm(3, 4) = 12 > 10: three classes (9 prompts) per block
        head = _context(encoder, FeatureCache(None)).zeroshot_head(meta, "x")
    finally:
        context_module.HEAD_BLOCK_PROMPTS = context_module_block
    assert encoder.calls == [9, 9, 3]
    texts = [t.replace("{}", c) for c in meta.classes for t in meta.templates]
    assert torch.equal(head, class_embeddings(FakeEncoder().texts(texts, "all").view(7, 3, -1)))


def test_subset_mask_is_applied_in_place_and_keeps_the_subset_logits() -> None:
    images, head = torch.randn(5, 4), torch.nn.functional.normalize(torch.randn(10, 4), dim=-1)
    dataset = SimpleNamespace(labels=[1, 3, 3, 8, 1], metadata=SimpleNamespace(classes=list("abcdefghij")))
    dataset.class_subset = [1, 3, 8]
    ctx = SimpleNamespace(
        labelled=lambda ref, split: dataset,
        zeroshot_head=lambda meta, label: head,
        image_features=lambda ref, split: images,
        labels=lambda ref, split: torch.tensor(dataset.labels),
    )
    logits, labels, _ = zeroshot_logits(ctx, "d", "test", "d/test")
    reference = torch.nn.functional.normalize(images, dim=-1) @ head.T
    assert torch.equal(logits[:, [1, 3, 8]], reference[:, [1, 3, 8]])
    assert torch.isneginf(logits[:, [0, 2, 4, 5, 6, 7, 9]]).all()
    assert set(logits.argmax(dim=1).tolist()) <= {1, 3, 8}


def test_results_json_per_example_arrays_are_one_line_each(tmp_path: Path) -> None:
    doc = minimal_result()
    n = 50_000  # ImageNet val
    task = doc["tasks"][0]
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 1000, (n,), generator=gen).tolist()
    hits = (torch.rand(n, generator=gen) < 0.3).int().tolist()
    task["per_example"] = {"top1": hits, "top3": hits, "top5": hits, "label": labels, "prediction": labels}
    task["metrics"]["top1"] = sum(hits) / n  # the reader checks the headline against its per-example array
    task["class_names"] = builtin_metadata("imagenet").classes
    path = tmp_path / "a__s.json"
    save(path, from_json(doc))
    assert read_result(path) == doc  # the report's strict reader accepts it; nothing changed on the way
    text = path.read_text()
    size, indented = len(text.encode()), len(json.dumps(doc, indent=2).encode())
    # ~2 bytes per 0/1 and ~4 per label: ~0.7 MB for 5 arrays × 50,000, where one element per line was ~2.7 MB.
    assert size < 0.8e6 and indented > 3 * size, (size, indented)
    assert any(line.strip().startswith('"top1": [') and line.endswith("],") for line in text.splitlines())


@pytest.mark.parametrize(
    "obj",
    [
        {"a": [], "b": {}, "c": [[1, 2], [3]], "d": [{"x": None}], "e": 'é\n"', "f": 1.5, "g": [True, None, "s"]},
        [],
        [{"a": [1]}],
        "plain",
    ],
)
def test_compact_json_reads_back_as_the_same_object(obj) -> None:  # noqa: ANN001
    assert json.loads(compact_json(obj)) == obj


def test_a_string_two_tasks_read_is_encoded_once_per_run(tmp_path: Path) -> None:
    """Retrieval and compositional sets over one image set read the same captions: each string reaches the
    encoder once per run, and every task still gets one row per string it asked for, equal to a fresh run's."""
    seen: list[list[str]] = []

    class Recording(FakeEncoder):
        def texts(self, texts: list[str], what: str) -> torch.Tensor:
            seen.append(list(texts))
            return super().texts(texts, what)

    ctx = _context(Recording(), FeatureCache(None))
    first = ctx.text_features(["a red circle", "a blue star", "a red circle"], "captions")
    second = ctx.text_features(["a blue star", "a green cross", "a red circle"], "negatives")
    assert seen[0] == ["a red circle", "a blue star"]  # each distinct string once
    assert seen[1:] == [["a green cross"]]  # only what the run had not encoded
    reference = FakeEncoder().texts(["a red circle", "a blue star", "a green cross"], "all")
    assert torch.equal(first, reference[[0, 1, 0]]) and torch.equal(second, reference[[1, 2, 0]])
    # asked again: the run's memo, no encoder call
    assert torch.equal(ctx.text_features(["a green cross"], "again"), reference[[2]]) and len(seen) == 2


def test_the_encoder_encodes_each_distinct_string_of_a_call_once() -> None:
    from cyclip_bench.eval.features import Encoder

    batches: list[list[str]] = []

    class Model(torch.nn.Module):
        def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
            return ids[:, :2].float()

    def tokenizer(texts: list[str]) -> torch.Tensor:
        batches.append(list(texts))
        return torch.tensor([[len(t), zlib.crc32(t.encode()) % 1000] for t in texts])

    encoder = Encoder(model=Model(), tokenizer=tokenizer, device="cpu", precision="fp32", batch_size=2, workers=0)
    out = encoder.texts(["b", "aa", "b", "ccc", "aa"], "texts")
    assert [t for batch in batches for t in batch] == ["b", "aa", "ccc"]
    expected = torch.tensor([[len(t), zlib.crc32(t.encode()) % 1000] for t in ["b", "aa", "b", "ccc", "aa"]]).float()
    assert torch.equal(out, expected) and encoder.texts_encoded == 3
