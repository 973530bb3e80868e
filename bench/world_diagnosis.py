"""Why does (or doesn't) a model learn the generated world? Measurements behind docs/world.md.

For a world folder:
- caption statistics over the first N training captions (re-derived from the generator, which is a pure function of
  (seed, part, index)): how often the shape is named, by its class name or a synonym, how often a caption names
  another shape too (a distractor: ambiguous for a bag of words), how often the colour is named;
For each checkpoint given (e.g. the epoch checkpoints of a run trained with ``--save-every 1``):
- zero-shot top-1 on the 10 shapes (shapes/test) and on the 8 colours (fine/test, colour names as classes), and
  on the 80 colour×shape classes, fine (colour given the shape) accuracy;
- a linear probe for shape on the image features (shapes/train → shapes/test, C chosen on a validation split):
  is the shape in the image tower at all?

    python bench/world_diagnosis.py WORLD [CHECKPOINT …] [--captions 2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from cyclip_bench.data import synth
from cyclip_bench.data.metadata import load_class_metadata
from cyclip_bench.data.world_stats import caption_statistics
from cyclip_bench.eval.tasks.linear_probe import fit_logistic_regression, predict, search_C
from cyclip_bench.metrics import class_embeddings, fine_correct
from cyclip_bench.models import build_transform, get_tokenizer, load_checkpoint, model_from_checkpoint

COLOUR_TEMPLATES = ["a {} shape.", "a {} object.", "a photo of something {}.", "a {} thing."]


def _load_images(folder: Path, transform) -> tuple[torch.Tensor, torch.Tensor]:
    rows = (folder / "labels.csv").read_text().splitlines()[1:]
    paths, labels = zip(*(r.rsplit(",", 1) for r in rows), strict=True)
    images = torch.stack([transform(Image.open(folder / p).convert("RGB")) for p in paths])
    return images, torch.tensor([int(v) for v in labels])


@torch.no_grad()
def _encode_images(model, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([model.encode_image(images[i : i + 500]) for i in range(0, len(images), 500)])


@torch.no_grad()
def _head(model, tokenizer, classes: list[str], templates: list[str]) -> torch.Tensor:
    emb = model.encode_text(tokenizer([t.format(c) for c in classes for t in templates]))
    emb = F.normalize(emb, dim=-1).view(len(classes), len(templates), -1)
    return class_embeddings(emb)


def checkpoint_measures(world: Path, checkpoint: Path) -> dict[str, float]:
    model, info = model_from_checkpoint(load_checkpoint(checkpoint))
    model.eval()
    transform, tokenizer = build_transform(info.preprocess), get_tokenizer(info)
    shapes_meta = load_class_metadata(world / "shapes" / "classes.json")
    fine_meta = load_class_metadata(world / "fine" / "classes.json")
    out: dict[str, float] = {}
    test_x, test_y = _load_images(world / "shapes" / "test", transform)
    train_x, train_y = _load_images(world / "shapes" / "train", transform)
    fine_x, fine_y = _load_images(world / "fine" / "test", transform)
    test_f, train_f, fine_f = (_encode_images(model, x) for x in (test_x, train_x, fine_x))
    shape_head = _head(model, tokenizer, shapes_meta.classes, shapes_meta.templates)
    out["zeroshot_shapes"] = float(((F.normalize(test_f, dim=-1) @ shape_head.T).argmax(1) == test_y).float().mean())
    colour_head = _head(model, tokenizer, synth.COLOUR_NAMES, COLOUR_TEMPLATES)
    colour_y = fine_y // len(synth.SHAPES)
    out["zeroshot_colours"] = float(
        ((F.normalize(fine_f, dim=-1) @ colour_head.T).argmax(1) == colour_y).float().mean()
    )
    fine_logits = F.normalize(fine_f, dim=-1) @ _head(model, tokenizer, fine_meta.classes, fine_meta.templates).T
    out["zeroshot_fine80"] = float((fine_logits.argmax(1) == fine_y).float().mean())
    out["fine_given_shape"] = float(fine_correct(fine_logits, fine_y, fine_meta.superclasses).float().mean())
    C, _history, init = search_C(train_f, train_y, len(shapes_meta.classes))
    w, b = fit_logistic_regression(train_f, train_y, len(shapes_meta.classes), C, init=init)
    out["linear_probe_shapes"] = float((predict(test_f, w, b) == test_y).float().mean())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("world", type=Path)
    parser.add_argument("checkpoints", type=Path, nargs="*")
    parser.add_argument("--captions", type=int, default=2000, help="training captions to analyse (0: none)")
    parser.add_argument("--json", type=Path, help="also write the measures here")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    report: dict = {"world": str(args.world)}
    if args.captions:
        report["captions"] = caption_statistics(args.world, args.captions)
        print("captions:", json.dumps({k: round(v, 3) for k, v in report["captions"].items()}))
    report["checkpoints"] = {}
    for ckpt in args.checkpoints:
        measures = checkpoint_measures(args.world, ckpt)
        report["checkpoints"][str(ckpt)] = measures
        print(ckpt, json.dumps({k: round(v, 3) for k, v in measures.items()}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
