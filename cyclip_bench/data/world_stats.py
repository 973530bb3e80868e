"""Caption statistics of a generated world: how informative its training captions are about the shape.

The labels of caption images are not written to disk; the generator is a pure function of (seed, part, index),
so they are re-derived here. Used by ``bench/world_diagnosis.py`` and the world's tests (docs/world.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cyclip_bench.data import synth


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z ]", " ", text.lower()) + " "


def caption_statistics(world: str | Path, count: int = 2000) -> dict[str, float]:
    """Fractions over the first ``count`` training captions of a world folder.

    ``class_name``: the shape's class name (the word zero-shot prompts use) is in the caption;
    ``synonym_only``: only a synonym is; ``unnamed``: neither; ``other_shape_named``: another shape is named too
    (a distractor — ambiguous for a bag of words); ``colour_named``: any colour word is present."""
    world = Path(world)
    info = json.loads((world / "world.json").read_text())
    synonyms = {s: set(synth.SHAPE_WORDS[s]) for s in synth.SHAPES}
    colour_words = {w for ws in synth.COLOUR_WORDS.values() for w in ws}
    stats = dict.fromkeys(("class_name", "synonym_only", "unnamed", "other_shape_named", "colour_named"), 0)
    n = min(count, info["counts"]["captions/train"])
    for index in range(n):
        _png, captions, shape = synth._item(info["seed"], "captions/train", "captions", index, info["image_size"])
        text, name = _words(captions[0]), synth.SHAPES[shape]
        if f" {name} " in text:
            stats["class_name"] += 1
        elif any(f" {w} " in text for w in synonyms[name]):
            stats["synonym_only"] += 1
        else:
            stats["unnamed"] += 1
        if any(f" {w} " in text for s in synth.SHAPES if s != name for w in synonyms[s]):
            stats["other_shape_named"] += 1
        if any(f" {w} " in text for w in colour_words):
            stats["colour_named"] += 1
    return {k: v / n for k, v in stats.items()} | {"captions": n}
