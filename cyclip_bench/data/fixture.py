"""Real-layout fixtures: generated pixels written in the exact on-disk formats of the real benchmark datasets, at
their real class counts and class orders, so that the real-data suites (`zeroshot`, `shifts`, `linear-probe`,
`retrieval`, `consistency`, `all`) run end to end on a machine without the datasets.

What is written under the output folder (the same places the catalog reads, docs/formats.md):

  cifar-10-batches-py/     data_batch_1..5, test_batch, batches.meta   (Python-2 style pickles, as the archive)
  cifar-100-python/        train, test, meta (fine and coarse labels)
  imagenet/val, /train     1,000 wnid folders (or ``--imagenet-layout labels-csv``: flat files + labels.csv)
  imagenetv2-matched-frequency-format-val/   class-index folders 0..999
  imagenet-sketch/sketch/  1,000 wnid folders
  imagenet-a/, imagenet-r/ the real 200 wnid folders of each
  flickr30k/, mscoco/      images + test.csv (image,caption; 5 rows per image) + the Karpathy split JSON
  fixture.json             what was written (counts, options, seed)

With ``--layout wds`` the same images go into CLIP_benchmark's webdataset copy of each dataset instead
(``write_wds_layout``): ``wds_<name>/<split>/0..N-1.tar`` (webp, lossless; keys ``s%07d``; ``--wds-shard-size``
samples a shard), ``nshards.txt``, ``classnames.txt`` and ``zeroshot_classification_templates.txt`` (``{c}``),
``dataset_type.txt`` for the retrieval sets, under the folder names the catalog looks for (``catalog.wds_folder``).

Class lists come from the package metadata the loaders use (``builtin_metadata``, ``imagenet_subset_wnids``), never
from a list of this module. Every image is a pure function of (seed, dataset, index): the same seed writes
byte-identical files whatever the number of worker processes. Each class has its own (shape, colour, size,
background) so that labels are learnable from pixels (a linear probe on pooled pixels beats chance, tested).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import multiprocessing
import os
import pickle
import shutil
import struct
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from cyclip_bench.data.fixture_config import (  # noqa: F401  (re-exported: the fixture's public names)
    CAPTIONS_PER_IMAGE,
    CIFAR_TEST_SIZE,
    CIFAR_TRAIN_SIZE,
    DATASETS,
    DEFAULT_PER_CLASS,
    DEFAULT_RETRIEVAL_IMAGES,
    FIXTURE_VERSION,
    REAL_SIZES,
    FixtureConfig,
    suite_fixture_flags,
)
from cyclip_bench.data.metadata import builtin_metadata, imagenet_subset_wnids

CHUNK = 200  # images per worker job

# What each class looks like: 6 shapes × 12 colours × 3 sizes × 5 backgrounds = 1,080 ≥ 1,000 distinct classes.
SHAPES = ("circle", "square", "triangle", "diamond", "hexagon", "star")
COLOURS = {
    "red": (220, 40, 40),
    "orange": (240, 140, 30),
    "yellow": (235, 215, 40),
    "lime": (150, 220, 50),
    "green": (40, 150, 60),
    "teal": (30, 150, 150),
    "cyan": (60, 210, 230),
    "blue": (40, 80, 210),
    "purple": (130, 60, 190),
    "pink": (235, 120, 180),
    "brown": (130, 80, 40),
    "grey": (130, 130, 130),
}
SIZES = {"small": 0.18, "medium": 0.28, "large": 0.38}
BACKGROUNDS = ("plain", "noise", "gradient", "stripes", "checks")
RENDITIONS = ("art", "cartoon", "deviantart", "embroidery", "graffiti", "graphic", "misc", "origami", "painting")


# --- pixels -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Look:
    """What one image shows; ``class_look`` gives every class its own, captions describe it."""

    shape: int
    colour: int
    size: str
    background: int

    def words(self) -> dict[str, str]:
        return {
            "shape": SHAPES[self.shape],
            "colour": list(COLOURS)[self.colour],
            "size": self.size,
            "background": BACKGROUNDS[self.background],
        }


def class_look(label: int) -> Look:
    n_shapes, n_colours, n_sizes = len(SHAPES), len(COLOURS), len(SIZES)
    return Look(
        label % n_shapes,
        (label // n_shapes) % n_colours,
        list(SIZES)[(label // (n_shapes * n_colours)) % n_sizes],
        (label // (n_shapes * n_colours * n_sizes)) % len(BACKGROUNDS),
    )


def _rng(seed: int, stream: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(stream.encode()), index])


def _background(rng: np.random.Generator, kind: str, width: int, height: int) -> np.ndarray:
    base = rng.uniform(40, 230, 3)
    xx = np.arange(width, dtype=np.float32)[None, :]  # broadcast against yy: no full-size coordinate grids
    yy = np.arange(height, dtype=np.float32)[:, None]
    if kind == "plain":
        out = np.broadcast_to(base, (height, width, 3)).astype(np.float32)
    elif kind == "noise":
        out = base + rng.normal(0, 30, (height, width, 3))
    elif kind == "gradient":
        other = rng.uniform(40, 230, 3)
        t = np.broadcast_to(xx / max(1, width - 1), (height, width))[..., None]
        out = base * (1 - t) + other * t
    else:
        period = max(2, round(min(width, height) / float(rng.uniform(4, 8))))
        on = (xx // period) % 2 == 0 if kind == "stripes" else ((xx // period + yy // period) % 2) == 0
        on = np.broadcast_to(on, (height, width))
        out = np.where(on[..., None], base, 255 - base)
    return np.clip(out, 0, 255).astype(np.float32)


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    corners = {"triangle": 3, "square": 4, "diamond": 4, "hexagon": 6, "star": 10}[shape]
    start = angle + (math.pi / 4 if shape == "square" else -math.pi / 2)
    points = []
    for k in range(corners):
        radius = r * (0.45 if shape == "star" and k % 2 else 1.0)
        theta = start + 2 * math.pi * k / corners
        points.append((cx + radius * math.cos(theta), cy + radius * math.sin(theta)))
    return points


def render(rng: np.random.Generator, look: Look, width: int, height: int, style: str = "photo") -> Image.Image:
    """One image of ``look``; ``style``: "photo", "sketch" (dark outline on white), "rendition" (posterised,
    inverted) or "hard" (small, low contrast, among distractors)."""
    side = min(width, height)
    if style == "sketch":
        canvas = np.full((height, width, 3), 245.0, dtype=np.float32)
    else:
        canvas = _background(rng, BACKGROUNDS[look.background], width, height)
    image = Image.fromarray(canvas.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    colour = np.array(list(COLOURS.values())[look.colour], dtype=np.float32) + rng.normal(0, 12, 3)
    if style == "hard":
        colour = canvas.mean(axis=(0, 1)) + 0.5 * (colour - canvas.mean(axis=(0, 1)))
        for _ in range(int(rng.integers(2, 5))):  # distractors of random looks
            other = class_look(int(rng.integers(1000)))
            _shape(draw, rng, other.shape, 0.12 * side, width, height, tuple(COLOURS.values())[other.colour], None)
    radius = SIZES[look.size] * side * float(rng.uniform(0.85, 1.15)) * (0.6 if style == "hard" else 1.0)
    fill = tuple(int(v) for v in np.clip(colour, 0, 255))
    outline_only = style == "sketch"
    ink = (int(rng.uniform(0, 60)),) * 3
    _shape(draw, rng, look.shape, radius, width, height, None if outline_only else fill, ink if outline_only else None)
    if style == "rendition":
        arr = 255 - np.asarray(image, dtype=np.int16)
        image = Image.fromarray(((arr // 64) * 64 + 32).astype(np.uint8), "RGB")
    return image


def _shape(draw, rng, shape: int, radius: float, width: int, height: int, fill, outline) -> None:  # noqa: ANN001
    cx = float(rng.uniform(radius, max(radius + 1, width - radius)))
    cy = float(rng.uniform(radius, max(radius + 1, height - radius)))
    stroke = max(1, round(min(width, height) / 32))
    name = SHAPES[shape]
    if name == "circle":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=fill, outline=outline, width=stroke)
    else:
        points = _polygon(name, cx, cy, radius, float(rng.uniform(-0.3, 0.3)))
        draw.polygon(points, fill=fill, outline=outline, width=stroke)


# --- one item and the worker jobs ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    """One image to write: ``path`` relative to the fixture root (None: returned as a CIFAR array row)."""

    stream: str  # names the RNG stream: the dataset and split
    index: int
    label: int  # class index for the look; retrieval images use a random look
    style: str = "photo"
    path: str | None = None


def _image(seed: int, item: Item, image_size: int) -> Image.Image:
    rng = _rng(seed, item.stream, item.index)
    look = class_look(item.label) if item.label >= 0 else retrieval_look(seed, item.index, item.stream)
    if item.path is None:  # CIFAR: 32×32 RGB
        return render(rng, look, 32, 32)
    # Real photos are rarely square: the loaders' resize + centre crop see both orientations.
    aspect = float(rng.choice([0.75, 1.0, 4 / 3]))
    width, height = (
        (image_size, round(image_size / aspect)) if aspect >= 1 else (round(image_size * aspect), image_size)
    )
    image = render(rng, look, width, height, item.style)
    # About 2% of ImageNet's JPEGs are greyscale (and more of the sketches): the loaders convert them to RGB.
    if item.style == "sketch" and item.index % 2 or item.index % 50 == 7:
        image = image.convert("L")
    return image


def retrieval_look(seed: int, index: int, stream: str) -> Look:
    rng = _rng(seed, stream + "/look", index)
    return Look(
        int(rng.integers(len(SHAPES))),
        int(rng.integers(len(COLOURS))),
        str(rng.choice(list(SIZES))),
        int(rng.integers(len(BACKGROUNDS))),
    )


def _render_job(args: tuple[int, int, str, list[Item]]) -> np.ndarray | None:
    """Write the job's image files under ``root``; CIFAR items come back as one N×3072 uint8 array instead."""
    seed, image_size, root, items = args
    rows = []
    for item in items:
        image = _image(seed, item, image_size)
        if item.path is None:
            rows.append(np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).reshape(-1))  # R, G, B planes
            continue
        target = Path(root) / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        if target.suffix.lower() == ".png":
            image.save(buffer, format="PNG", compress_level=6)
        else:
            image.save(buffer, format="JPEG", quality=90)
        target.write_bytes(buffer.getvalue())
    return np.stack(rows) if rows else None


# --- Python-2 pickles (the CIFAR "python version" archives) -------------------------------------------------
class Py2Str(bytes):
    """A Python 2 ``str``: read back as ``str`` with ``encoding="latin1"`` (torchvision, this package) and as
    ``bytes`` with ``encoding="bytes"`` (the CIFAR page's own snippet), exactly as in the real archives."""


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table can be extended
    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2str(self, obj: Py2Str) -> None:
        size = len(obj)
        head = pickle.SHORT_BINSTRING + bytes([size]) if size < 256 else pickle.BINSTRING + struct.pack("<i", size)
        self.write(head + bytes(obj))
        self.memoize(obj)

    dispatch[Py2Str] = save_py2str

    def save_global(self, obj: Any, name: str | None = None) -> None:
        # The archives name numpy.core.multiarray (numpy 1.x and 2.x both load it; numpy._core is 2.x only).
        if obj is np.ndarray.__reduce__(np.zeros(0))[0]:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is np.ndarray:  # the pixel bytes as a Python-2 str, as numpy 1.x under Python 2 wrote them
            fn, args, (version, shape, dtype, fortran, raw) = obj.__reduce__()
            return fn, (args[0], args[1], Py2Str(args[2])), (version, shape, dtype, fortran, Py2Str(raw))
        return NotImplemented


def _py2(obj: Any) -> Any:
    if isinstance(obj, str):
        return Py2Str(obj.encode("latin1"))
    if isinstance(obj, dict):
        return {_py2(k): _py2(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_py2(v) for v in obj]
    return obj


def write_py2_pickle(path: Path, obj: dict) -> None:
    """``obj`` pickled (protocol 2) with every ``str`` as a Python-2 string, like the CIFAR archives."""
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(_py2(obj))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


# --- the plan: which items go where ---------------------------------------------------------------------
@dataclass
class Plan:
    files: list[Item]
    cifar: dict[str, tuple[list[Item], Any]]  # "<variant>/<split>" → (items, writer called with the array)
    after: list[Any]  # writers of index files (labels.csv, captions), called once every image is written
    counts: dict[str, dict[str, Any]]


def _shuffled(seed: int, stream: str, n: int) -> np.ndarray:
    return _rng(seed, stream + "/order", 0).permutation(n)


def _class_items(stream: str, labels: Iterable[int], counts: list[int], style: str, path) -> list[Item]:  # noqa: ANN001
    items = []
    for label, count in zip(labels, counts, strict=True):
        for k in range(count):
            index = len(items)
            items.append(Item(stream, index, label, style, path(label, k, index)))
    return items


def _plan_cifar(cfg: FixtureConfig, plan: Plan, variant: str) -> None:
    meta = builtin_metadata(variant)
    num_classes = len(meta.classes)
    folder = "cifar-10-batches-py" if variant == "cifar10" else "cifar-100-python"
    # The archives' names use '_' where the metadata has spaces ('aquarium_fish', 'vehicles_1').
    names = [c.replace(" ", "_") for c in meta.classes]
    coarse_of = meta.superclass_of()
    for split, total in (("train", cfg.cifar_train_count(num_classes)), ("test", cfg.cifar_test_count(num_classes))):
        stream = f"{variant}/{split}"
        order = _shuffled(cfg.seed, stream, total)  # the real batches are in random class order
        items = [Item(stream, i, int(order[i] % num_classes)) for i in range(total)]

        def write(root: Path, array: np.ndarray, items=items, split=split) -> None:  # noqa: ANN001
            labels = [it.label for it in items]
            files = [f"{names[label]}_s_{it.index:06d}.png" for label, it in zip(labels, items, strict=True)]
            if variant == "cifar10":
                parts = np.array_split(np.arange(len(items)), 5) if split == "train" else [np.arange(len(items))]
                for b, rows in enumerate(parts):
                    name = f"data_batch_{b + 1}" if split == "train" else "test_batch"
                    label_text = f"training batch {b + 1} of 5" if split == "train" else "testing batch 1 of 1"
                    batch = {
                        "batch_label": label_text,
                        "labels": [labels[r] for r in rows],
                        "data": np.ascontiguousarray(array[rows]),
                        "filenames": [files[r] for r in rows],
                    }
                    write_py2_pickle(root / folder / name, batch)
                if split == "train":
                    write_py2_pickle(
                        root / folder / "batches.meta",
                        {"num_cases_per_batch": len(parts[0]), "label_names": names, "num_vis": 3072},
                    )
            else:
                batch = {
                    "filenames": files,
                    "batch_label": f"{'training' if split == 'train' else 'testing'} batch 1 of 1",
                    "fine_labels": labels,
                    "coarse_labels": [coarse_of[label] for label in labels],
                    "data": array,
                }
                write_py2_pickle(root / folder / split, batch)
                if split == "train":
                    coarse = [s.replace(" ", "_") for s in meta.superclasses]
                    write_py2_pickle(root / folder / "meta", {"fine_label_names": names, "coarse_label_names": coarse})

        plan.cifar[stream] = (items, write)
    plan.counts[variant] = {
        "path": folder,
        "layout": "released",
        "classes": num_classes,
        "train": cfg.cifar_train_count(num_classes),
        "test": cfg.cifar_test_count(num_classes),
    }


def _labels_csv_writer(folder: str, items: list[Item]) -> Any:
    def write(root: Path) -> None:
        rows = sorted((os.path.relpath(it.path, folder), it.label) for it in items)
        text = "image,label\n" + "".join(f"{path},{label}\n" for path, label in rows)
        (root / folder / "labels.csv").write_text(text, encoding="utf-8")

    return write


def _plan_imagenet(cfg: FixtureConfig, plan: Plan) -> None:
    wnids = builtin_metadata("imagenet").wnids
    assert wnids is not None  # the built-in ImageNet metadata lists them
    classes = range(len(wnids))
    # Validation files are numbered in a shuffled class order, as ILSVRC2012_val_00000001.JPEG.. are.
    val_counts = cfg.counts("imagenet1k", len(wnids))
    order = _shuffled(cfg.seed, "imagenet/val", sum(val_counts))
    flat = cfg.imagenet_layout == "labels-csv"

    def val_path(label: int, k: int, index: int) -> str:
        name = f"ILSVRC2012_val_{int(order[index]) + 1:08d}.JPEG"
        return f"imagenet/val/{name}" if flat else f"imagenet/val/{wnids[label]}/{name}"

    val = _class_items("imagenet/val", classes, val_counts, "photo", val_path)
    train = _class_items(
        "imagenet/train",
        classes,
        [cfg.train_count] * len(wnids),
        "photo",
        lambda label, k, index: f"imagenet/train/{wnids[label]}/{wnids[label]}_{k + 1}.JPEG",
    )
    plan.files += val + train
    if flat:  # the other layout the loaders read: labels.csv beside the images (train keeps its wnid sub-folders)
        plan.after += [
            _labels_csv_writer(f"imagenet/{split}", items) for split, items in (("val", val), ("train", train)) if items
        ]
    plan.counts["imagenet1k"] = {
        "path": "imagenet",
        "layout": "released",
        "classes": len(wnids),
        "test": len(val),
        "train": len(train),
    }


def _plan_imagenet_variants(cfg: FixtureConfig, plan: Plan, name: str) -> None:
    wnids = builtin_metadata("imagenet").wnids
    assert wnids is not None
    index_of = {w: i for i, w in enumerate(wnids)}
    classnames = builtin_metadata("imagenet").classes
    if name == "imagenetv2":
        folder, labels, style = "imagenetv2-matched-frequency-format-val", range(len(wnids)), "photo"

        def path(label: int, k: int, index: int) -> str:  # the real files are named by a sha1
            digest = hashlib.sha1(f"{cfg.seed}/{label}/{k}".encode()).hexdigest()
            return f"{folder}/{label}/{digest}.jpeg"

    elif name == "imagenet-sketch":
        folder, labels, style = "imagenet-sketch/sketch", range(len(wnids)), "sketch"

        def path(label: int, k: int, index: int) -> str:
            return f"{folder}/{wnids[label]}/sketch_{k}.JPEG"

    elif name == "imagenet-a":
        folder, style = "imagenet-a", "hard"
        labels = [index_of[w] for w in imagenet_subset_wnids(name)]

        def path(label: int, k: int, index: int) -> str:
            # ImageNet-A names files like "0.000116_digital clock _ digital clock_0.865662.jpg" (spaces included).
            word = classnames[label].replace("/", "-")
            return f"{folder}/{wnids[label]}/{k / 1e4:.6f}_{word} _ {word}_0.{index % 997:06d}.jpg"

    else:  # imagenet-r
        folder, style = "imagenet-r", "rendition"
        labels = [index_of[w] for w in imagenet_subset_wnids(name)]

        def path(label: int, k: int, index: int) -> str:
            return f"{folder}/{wnids[label]}/{RENDITIONS[k % len(RENDITIONS)]}_{k}.jpg"

    items = _class_items(name, labels, cfg.counts(name, len(labels)), style, path)
    plan.files += items
    plan.counts[name] = {"path": folder, "layout": "released", "classes": len(labels), "test": len(items)}


def captions_for(look: Look, seed: int, stream: str, index: int) -> list[str]:
    """Five different descriptions of one retrieval image (every one names its shape)."""
    w = look.words()
    rng = _rng(seed, stream + "/captions", index)
    forms = [
        f"a {w['colour']} {w['shape']} on a {w['background']} background",
        f"a {w['size']} {w['shape']} coloured {w['colour']}",
        f"there is a {w['shape']} in this picture, it is {w['colour']}",
        f"a photo of a {w['size']} {w['colour']} {w['shape']}",
        f"{w['shape']}, {w['colour']}, {w['size']}, with a {w['background']} backdrop",
        f"the {w['background']} background shows a {w['colour']} {w['shape']}",
    ]
    picked = rng.permutation(len(forms))[:CAPTIONS_PER_IMAGE]
    return [forms[i] for i in sorted(picked)]


def _plan_retrieval(cfg: FixtureConfig, plan: Plan, name: str) -> None:
    items = []
    for i in range(cfg.retrieval_count(name)):
        if name == "flickr30k":  # Flickr ids, as the Karpathy split's file names
            path = f"flickr30k/images/{1000092795 + 7919 * i}.jpg"
        else:
            path = f"mscoco/val2014/COCO_val2014_{391895 + 13 * i:012d}.jpg"
        items.append(Item(name, i, -1, "photo", path))
    plan.files += items

    def write(root: Path) -> None:
        table, images, sentence = io.StringIO(), [], 0
        writer = csv.writer(table, lineterminator="\n")
        writer.writerow(["image", "caption"])
        for item in items:
            captions = captions_for(retrieval_look(cfg.seed, item.index, name), cfg.seed, name, item.index)
            relative = os.path.relpath(item.path, name)
            writer.writerows([relative, c] for c in captions)
            record: dict[str, Any] = {
                "sentids": list(range(sentence, sentence + len(captions))),
                "imgid": item.index,
                "sentences": [
                    {"tokens": c.replace(",", "").split(), "raw": c, "imgid": item.index, "sentid": sentence + j}
                    for j, c in enumerate(captions)
                ],
                "split": "test",
                "filename": Path(item.path).name,
            }
            if name == "mscoco":
                record = {"filepath": "val2014", **record, "cocoid": int(Path(item.path).stem.rsplit("_", 1)[1])}
            images.append(record)
            sentence += len(captions)
        (root / name / "test.csv").write_text(table.getvalue(), encoding="utf-8")
        karpathy = "dataset_flickr30k.json" if name == "flickr30k" else "dataset_coco.json"
        (root / name / karpathy).write_text(json.dumps({"images": images, "dataset": name}) + "\n", encoding="utf-8")

    plan.after.append(write)
    plan.counts[name] = {
        "path": name,
        "layout": "released",
        "images": len(items),
        "captions": len(items) * CAPTIONS_PER_IMAGE,
        "index": "test.csv",
    }


def make_plan(cfg: FixtureConfig) -> Plan:
    plan = Plan([], {}, [], {})
    for name in DATASETS:  # a fixed order whatever the order of --dataset
        if name not in cfg.datasets:
            continue
        if name in ("cifar10", "cifar100"):
            _plan_cifar(cfg, plan, name)
        elif name == "imagenet1k":
            _plan_imagenet(cfg, plan)
        elif name in ("flickr30k", "mscoco"):
            _plan_retrieval(cfg, plan, name)
        else:
            _plan_imagenet_variants(cfg, plan, name)
    return plan


# --- the webdataset layout -------------------------------------------------------------------------------
# Catalog name → its streams (``Item.stream``) by split.
def _wds_streams(name: str) -> dict[str, str]:
    if name in ("cifar10", "cifar100"):
        return {"train": f"{name}/train", "test": f"{name}/test"}
    if name == "imagenet1k":
        return {"train": "imagenet/train", "test": "imagenet/val"}
    return {"test": name}


def _wds_classes(name: str) -> tuple[list[str], list[str], dict[int, int]]:
    """(class names, templates with CLIP_benchmark's ``{c}``, this fixture's label → the copy's label): the
    ImageNet-A/R copies list only their 200 classes, as CLIP_benchmark's do."""
    meta = builtin_metadata(name if name in ("cifar10", "cifar100") else "imagenet")
    templates = [t.replace("{}", "{c}") for t in meta.templates]
    if name in ("imagenet-a", "imagenet-r"):
        assert meta.wnids is not None
        index_of = {w: i for i, w in enumerate(meta.wnids)}
        labels = sorted(index_of[w] for w in imagenet_subset_wnids(name))
        return [meta.classes[c] for c in labels], templates, {c: i for i, c in enumerate(labels)}
    return list(meta.classes), templates, {c: c for c in range(len(meta.classes))}


def _webp_job(args: tuple[int, int, list[Item]]) -> list[bytes]:
    seed, image_size, items = args
    out = []
    for item in items:
        buffer = io.BytesIO()
        _image(seed, item, image_size).convert("RGB").save(buffer, format="webp", lossless=True)
        out.append(buffer.getvalue())
    return out


def write_wds_layout(cfg: FixtureConfig, plan: Plan, tmp: Path, workers: int) -> None:
    """Write every planned dataset as its webdataset copy under ``tmp`` (webdataset's ShardWriter) and point
    ``plan.counts`` at it."""
    from cyclip_bench.data.catalog import DATASETS as CATALOG
    from cyclip_bench.data.wds import WdsSample, write_wds_fixture

    by_stream: dict[str, list[Item]] = {}
    for item in plan.files:
        by_stream.setdefault(item.stream, []).append(item)
    for stream, (items, _) in plan.cifar.items():
        by_stream[stream] = items
    jobs = [
        (stream, s, (cfg.seed, cfg.image_size, items[s : s + CHUNK]))
        for stream, items in by_stream.items()
        for s in range(0, len(items), CHUNK)
    ]
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            encoded = pool.map(_webp_job, [job for _, _, job in jobs], chunksize=1)
    else:
        encoded = [_webp_job(job) for _, _, job in jobs]
    images: dict[str, list[bytes]] = {}
    for (stream, _, _), chunk in zip(jobs, encoded, strict=True):
        images.setdefault(stream, []).extend(chunk)
    for name in list(plan.counts):
        folder = f"wds_{CATALOG.get(name).wds_names[0].replace('/', '-')}"
        splits: dict[str, list[WdsSample]] = {}
        if name in ("flickr30k", "mscoco"):
            classes, templates, kind = [], [], "retrieval"
            for split, stream in _wds_streams(name).items():
                splits[split] = [
                    WdsSample(
                        data, captions=captions_for(retrieval_look(cfg.seed, it.index, name), cfg.seed, name, it.index)
                    )
                    for it, data in zip(by_stream[stream], images[stream], strict=True)
                ]
        else:
            classes, templates, relabel = _wds_classes(name)
            kind = "classification"
            for split, stream in _wds_streams(name).items():
                if by_stream.get(stream):
                    splits[split] = [
                        WdsSample(data, label=relabel[it.label])
                        for it, data in zip(by_stream[stream], images[stream], strict=True)
                    ]
        shards = write_wds_fixture(tmp / folder, kind, classes, templates, cfg.wds_shard_size, splits)
        counts = {k: v for k, v in plan.counts[name].items() if k not in ("path", "index", "layout")}
        plan.counts[name] = {"path": folder, "layout": "wds", **counts, "shards": shards}


# --- writing --------------------------------------------------------------------------------------------
def write_fixture(cfg: FixtureConfig) -> dict:
    """Write the fixture folder and return the content of its fixture.json.

    Built in a temp folder beside ``cfg.out`` and renamed into place: a failed or interrupted run leaves
    nothing half-written, and an existing non-empty folder is only replaced with ``overwrite``."""
    from cyclip_bench.data.synth import _move_into_place, _prepare_out

    out = Path(cfg.out)
    _prepare_out(out, cfg.overwrite)
    plan = make_plan(cfg)
    images = len(plan.files) + sum(len(items) for items, _ in plan.cifar.values())
    workers = cfg.workers or min(2, os.cpu_count() or 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        if cfg.layout == "wds":
            write_wds_layout(cfg, plan, tmp, workers)
            plan = Plan([], {}, [], plan.counts)  # nothing left to write in the released layout
        jobs = [
            (cfg.seed, cfg.image_size, str(tmp), plan.files[s : s + CHUNK]) for s in range(0, len(plan.files), CHUNK)
        ]
        cifar_jobs: list[tuple[str, int]] = []
        for stream, (items, _) in plan.cifar.items():
            for s in range(0, len(items), CHUNK * 5):
                cifar_jobs.append((stream, len(jobs)))
                jobs.append((cfg.seed, cfg.image_size, str(tmp), items[s : s + CHUNK * 5]))
        if workers > 1 and len(jobs) > 1:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                results = pool.map(_render_job, jobs, chunksize=1)
        else:
            results = [_render_job(job) for job in jobs]
        for stream, (_, write) in plan.cifar.items():
            parts = [results[j] for s, j in cifar_jobs if s == stream]
            write(tmp, np.concatenate(parts) if parts else np.zeros((0, 3072), dtype=np.uint8))
        for write in plan.after:
            write(tmp)
        from cyclip_bench.data.fixture_benchmarks import write_benchmarks

        benchmark_counts, benchmark_images = write_benchmarks(cfg, tmp)
        plan.counts.update(benchmark_counts)
        images += benchmark_images
        info = {
            "generator": "cyclip-bench fixture",
            "fixture_version": FIXTURE_VERSION,
            "note": "generated pixels in the real datasets' on-disk layouts and class orders; not real data",
            "seed": cfg.seed,
            "real_sizes": cfg.real_sizes,
            "per_class": None if cfg.real_sizes else cfg.test_per_class,
            "train_per_class": cfg.train_count,
            "cifar_test_size": cfg.cifar_test_size,
            "retrieval_images": None if cfg.real_sizes else cfg.retrieval_count("flickr30k"),
            "image_size": cfg.image_size,
            "imagenet_layout": cfg.imagenet_layout,
            "layout": cfg.layout,
            "datasets": plan.counts,
            "images": images,
        }
        (tmp / "fixture.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o755)
        _move_into_place(tmp, out, cfg.overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info
