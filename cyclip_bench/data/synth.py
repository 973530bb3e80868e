"""The generated benchmark world: procedurally rendered shapes with noisy, partial captions.

Every item is a pure function of (seed, part, index): its RNG is seeded from those three numbers, so the
world is
byte-identical for a seed whatever the number of worker processes. Images are drawn at 4x and box-downsampled
(antialiasing); PNGs are written with fixed settings and no timestamps. This module does not import torch, so
worker processes start fast.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import multiprocessing
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from cyclip_bench import progress as progress_lines
from cyclip_bench.errors import UserError

GENERATOR_VERSION = 2  # docs/formats.md: what changed in each version and why
DEFAULT_SIZE = 1.0
SS = 4  # supersampling factor

SHAPES = ["circle", "square", "triangle", "star", "cross", "heart", "hexagon", "diamond", "arrow", "crescent"]
SHAPE_WORDS = {
    "circle": ["circle", "circle", "disc", "round dot", "round shape"],
    "square": ["square", "square", "box", "block"],
    "triangle": ["triangle", "triangle", "triangular shape", "pyramid shape"],
    "star": ["star", "star", "pentagram", "five-pointed star"],
    "cross": ["cross", "cross", "plus sign", "plus"],
    "heart": ["heart", "heart", "love heart", "heart shape"],
    "hexagon": ["hexagon", "hexagon", "six-sided shape", "hex"],
    "diamond": ["diamond", "diamond", "rhombus", "lozenge"],
    "arrow": ["arrow", "arrow", "pointer", "arrow sign"],
    "crescent": ["crescent", "crescent", "crescent moon", "moon"],
}
COLOURS = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 30),
    "green": (40, 170, 50),
    "cyan": (30, 200, 210),
    "blue": (30, 60, 220),
    "purple": (140, 40, 180),
    "pink": (250, 120, 190),
}
COLOUR_NAMES = list(COLOURS)
COLOUR_WORDS = {
    "red": ["red", "red", "crimson", "scarlet"],
    "orange": ["orange", "orange", "tangerine", "amber"],
    "yellow": ["yellow", "yellow", "golden", "lemon"],
    "green": ["green", "green", "emerald", "lime"],
    "cyan": ["cyan", "cyan", "teal", "turquoise"],
    "blue": ["blue", "blue", "navy", "azure"],
    "purple": ["purple", "purple", "violet", "lilac"],
    "pink": ["pink", "pink", "magenta", "rose"],
}
SIZES = {"small": (0.17, 0.22), "medium": (0.24, 0.30), "large": (0.32, 0.40)}
SIZE_WORDS = {
    "small": ["small", "tiny", "little"],
    "medium": ["medium", "medium-sized", "mid-size"],
    "large": ["big", "large", "huge"],
}
POSITIONS = {
    "center": (0.5, 0.5),
    "top left": (0.3, 0.3),
    "top right": (0.7, 0.3),
    "bottom left": (0.3, 0.7),
    "bottom right": (0.7, 0.7),
}
POSITION_WORDS = {
    "center": ["in the center", "in the middle", "centered"],
    "top left": ["in the top left", "in the upper left corner", "in the corner"],
    "top right": ["in the top right", "in the upper right corner", "in the corner"],
    "bottom left": ["in the bottom left", "in the lower left corner", "in the corner"],
    "bottom right": ["in the bottom right", "in the lower right corner", "in the corner"],
}
FILLS = ["solid", "outline", "striped", "dotted"]
FILL_WORDS = {
    "solid": ["solid", "filled", "solid-colour"],
    "outline": ["outlined", "hollow", "line-drawn"],
    "striped": ["striped", "stripy", "banded"],
    "dotted": ["dotted", "spotted", "polka-dot"],
}
BACKGROUNDS = ["plain", "gradient", "noise"]
BACKGROUND_WORDS = {
    "plain": ["on a plain background", "on a blank background", "on a solid background", "isolated"],
    "gradient": ["on a gradient background", "on a fading background", "on a gradient"],
    "noise": ["on a noisy background", "on static", "on a grainy background"],
}
PREFIXES = [
    "",
    "",
    "",
    "a photo of ",
    "an image of ",
    "picture of ",
    "a drawing of ",
    "clip art of ",
    "a render of ",
    "illustration: ",
    "a picture showing ",
    "photo: ",
]
SUFFIXES = [
    "",
    "",
    "",
    "",
    "",
    " - stock image",
    " | free clipart",
    " (icon)",
    " #art",
    ", digital art",
    " wallpaper",
    ", high quality",
]
SHAPE_TEMPLATES = [
    "a photo of a {}.",
    "a drawing of a {}.",
    "a picture of the {}.",
    "an image of a {}.",
    "a {} shape.",
    "a rendering of a {}.",
    "a small {}.",
    "a big {}.",
    "a {} icon.",
    "clip art of a {}.",
]
FINE_TEMPLATES = [
    "a photo of a {}.",
    "a drawing of a {}.",
    "a picture of the {}.",
    "an image of a {}.",
    "a {}.",
    "a rendering of a {}.",
    "a small {}.",
    "a big {}.",
    "clip art of a {}.",
]

# Parts of the world: (folder, kind, base count at size 1.0). Kinds pick the sampling/rendering style.
PARTS = [
    ("captions/train", "captions", 16000),
    ("captions/val", "captions", 1000),
    ("shapes/train", "shapes", 2000),
    ("shapes/test", "shapes", 1000),
    ("fine/train", "fine", 4000),
    ("fine/test", "fine", 1600),
    ("shifts/resampled", "resampled", 1000),
    ("shifts/sketch", "sketch", 1000),
    ("shifts/rendition", "rendition", 1000),
    ("shifts/hard", "hard", 1000),
    ("shifts/noise", "noise", 1000),
    ("shifts/blur", "blur", 1000),
    ("retrieval", "retrieval", 500),
]
CAPTIONS_PER_RETRIEVAL_IMAGE = 5


@dataclass(frozen=True)
class Obj:
    shape: int
    colour: int
    size: str
    radius: float  # fraction of the image side
    cx: float
    cy: float
    angle: float
    fill: str
    position: str


# --- geometry (unit coordinates, centre 0, radius ~1) -------------------------------------------------------
def _regular(n: int, start: float = -math.pi / 2, r: float = 1.0) -> list[tuple[float, float]]:
    return [(r * math.cos(start + 2 * math.pi * k / n), r * math.sin(start + 2 * math.pi * k / n)) for k in range(n)]


def _star() -> list[tuple[float, float]]:
    pts = []
    for k in range(10):
        r = 1.0 if k % 2 == 0 else 0.42
        a = -math.pi / 2 + math.pi * k / 5
        pts.append((r * math.cos(a), r * math.sin(a)))
    return pts


def _heart() -> list[tuple[float, float]]:
    pts = []
    for k in range(48):
        t = 2 * math.pi * k / 48
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        pts.append((x / 17.0, (y + 2.5) / 17.0))
    return pts


POLYGONS: dict[str, list[tuple[float, float]]] = {
    "circle": _regular(48),
    "square": [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)],
    "triangle": [(0.0, -1.0), (0.95, 0.75), (-0.95, 0.75)],
    "star": _star(),
    "cross": [
        (-0.3, -1),
        (0.3, -1),
        (0.3, -0.3),
        (1, -0.3),
        (1, 0.3),
        (0.3, 0.3),
        (0.3, 1),
        (-0.3, 1),
        (-0.3, 0.3),
        (-1, 0.3),
        (-1, -0.3),
        (-0.3, -0.3),
    ],
    "heart": _heart(),
    "hexagon": _regular(6, start=0.0),
    "diamond": [(0.0, -1.0), (0.6, 0.0), (0.0, 1.0), (-0.6, 0.0)],
    "arrow": [(-1, -0.25), (0.2, -0.25), (0.2, -0.65), (1, 0), (0.2, 0.65), (0.2, 0.25), (-1, 0.25)],
}


def _transform(pts: list[tuple[float, float]], cx: float, cy: float, r: float, angle: float) -> list[tuple]:
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + r * (x * c - y * s), cy + r * (x * s + y * c)) for x, y in pts]


def _shape_mask(obj: Obj, side: int) -> Image.Image:
    """Anti-aliasing happens later: this is the 4x binary mask of the filled shape."""
    mask = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(mask)
    cx, cy, r = obj.cx * side, obj.cy * side, obj.radius * side
    name = SHAPES[obj.shape]
    if name == "crescent":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        dx, dy = 0.45 * r * math.cos(obj.angle), 0.45 * r * math.sin(obj.angle)
        draw.ellipse([cx + dx - 0.85 * r, cy + dy - 0.85 * r, cx + dx + 0.85 * r, cy + dy + 0.85 * r], fill=0)
    else:
        draw.polygon(_transform(POLYGONS[name], cx, cy, r, obj.angle), fill=255)
    return mask


def _alpha(obj: Obj, side: int, fill: str, stroke: int) -> np.ndarray:
    mask = _shape_mask(obj, side)
    m = np.asarray(mask, dtype=np.float32) / 255.0
    if fill == "solid":
        return m
    inner = np.asarray(mask.filter(ImageFilter.MinFilter(2 * stroke + 1)), dtype=np.float32) / 255.0
    edge = m - inner
    if fill == "outline":
        return edge
    yy, xx = np.mgrid[0:side, 0:side]
    if fill == "striped":
        period = 4 * SS
        pattern = (((xx + yy) // (period // 2)) % 2 == 0).astype(np.float32)
    else:  # dotted
        period = 4 * SS
        pattern = ((xx % period) - period / 2) ** 2 + ((yy % period) - period / 2) ** 2 < (period * 0.3) ** 2
        pattern = pattern.astype(np.float32)
    return np.maximum(edge, inner * pattern)


# --- sampling -------------------------------------------------------------------------------------------
def _rng(seed: int, part: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(part.encode()), index])


# Colour under varied lighting (v2): a per-object illumination gain and a jitter, so neighbouring colour names
# overlap as they do in photos (nearest-colour accuracy ~92% instead of ~99.7%), which keeps the colour×shape
# task below its ceiling. docs/world.md has the measurements.
ILLUMINATION = (0.7, 1.2)
COLOUR_JITTER = 28.0


def _colour(rng: np.random.Generator, colour: int) -> np.ndarray:
    base = np.array(COLOURS[COLOUR_NAMES[colour]], dtype=np.float32)
    return np.clip(base * rng.uniform(*ILLUMINATION) + rng.normal(0, COLOUR_JITTER, 3), 0, 255)


def _sample_object(
    rng: np.random.Generator, shape: int, colour: int, size: str | None = None, fill: str | None = None
) -> Obj:
    size = size or str(rng.choice(list(SIZES)))
    radius = float(rng.uniform(*SIZES[size]))
    position = str(rng.choice(list(POSITIONS))) if radius < 0.3 else "center"
    px, py = POSITIONS[position]
    # Keep the shape inside the image whatever the position.
    cx = float(np.clip(px + rng.uniform(-0.06, 0.06), radius + 0.02, 0.98 - radius))
    cy = float(np.clip(py + rng.uniform(-0.06, 0.06), radius + 0.02, 0.98 - radius))
    angle = float(rng.uniform(-0.3, 0.3))
    if SHAPES[shape] == "crescent":
        angle = float(rng.uniform(0, 2 * math.pi))
    fill = fill or str(rng.choice(FILLS, p=[0.55, 0.15, 0.15, 0.15]))
    return Obj(shape, colour, size, radius, cx, cy, angle, fill, position)


def _sample_distractors(rng: np.random.Generator, main: Obj, count: int, scale: float = 0.14) -> list[Obj]:
    out = []
    for _ in range(count):
        shape = int(rng.choice([s for s in range(len(SHAPES)) if s != main.shape]))
        colour = int(rng.integers(len(COLOURS)))
        radius = float(rng.uniform(0.08, scale))
        for _try in range(8):  # place away from the main object when we can
            cx, cy = (float(v) for v in rng.uniform(radius + 0.02, 0.98 - radius, 2))
            if math.hypot(cx - main.cx, cy - main.cy) > main.radius + radius * 0.8:
                break
        out.append(Obj(shape, colour, "small", radius, cx, cy, float(rng.uniform(-0.3, 0.3)), "solid", "center"))
    return out


# --- rendering ------------------------------------------------------------------------------------------
def _background(rng: np.random.Generator, kind: str, n: int, side: int) -> np.ndarray:
    light = rng.random() < 0.7
    base = rng.uniform(205, 250) if light else rng.uniform(15, 60)
    tint = rng.normal(0, 10, 3)
    colour = np.clip(base + tint, 0, 255).astype(np.float32)
    if kind == "plain":
        return np.broadcast_to(colour, (side, side, 3)).copy()
    if kind == "gradient":
        other = np.clip(colour + rng.uniform(-90, 90, 3) * (1 if not light else -1) * rng.choice([-1, 1]), 0, 255)
        direction = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
        t = (xx - 0.5) * math.cos(direction) + (yy - 0.5) * math.sin(direction) + 0.5
        t = np.clip(t, 0, 1)[..., None]
        return colour * (1 - t) + other * t
    noise = rng.normal(0, 22, (n, n, 3)).astype(np.float32)
    noise = np.kron(noise, np.ones((SS, SS, 1), dtype=np.float32))  # constant per output pixel
    return np.clip(colour + noise, 0, 255)


def _compose(canvas: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    a = alpha[..., None]
    canvas *= 1 - a
    canvas += a * colour


def _downsample(canvas: np.ndarray, n: int) -> Image.Image:
    img = Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), mode="RGB")
    return img.resize((n, n), Image.Resampling.BOX)


def _render(
    rng: np.random.Generator,
    objects: list[Obj],
    background: str,
    n: int,
    contrast: float = 1.0,
    sketch: bool = False,
) -> Image.Image:
    side = n * SS
    stroke = max(1, round(SS * n / 32))  # ~1 output pixel at 32 px
    if sketch:
        canvas = np.full((side, side, 3), 250.0, dtype=np.float32)
    else:
        canvas = _background(rng, background, n, side)
    for obj in objects:
        if sketch:
            alpha = _alpha(obj, side, "outline", stroke)
            colour = np.full(3, float(rng.uniform(0, 70)), dtype=np.float32)
        else:
            alpha = _alpha(obj, side, obj.fill, stroke)
            colour = _colour(rng, obj.colour)
            if contrast < 1.0:  # low contrast: pull the object's colour toward the local background mean
                bg = canvas.reshape(-1, 3).mean(axis=0)
                colour = bg + contrast * (colour - bg)
        _compose(canvas, alpha, colour)
    return _downsample(canvas, n)


def _pixel_art(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The 'rendition' style: half-resolution pixel art with a posterised, inverted palette."""
    n = img.size[0]
    small = img.resize((n // 2, n // 2), Image.Resampling.BOX)
    arr = 255 - np.asarray(small, dtype=np.int16)  # inverted palette
    arr = (arr // 64) * 64 + 32  # 4 levels per channel
    out = Image.fromarray(arr.astype(np.uint8), mode="RGB")
    return out.resize((n, n), Image.Resampling.NEAREST)


def _corrupt(img: Image.Image, rng: np.random.Generator, kind: str) -> Image.Image:
    if kind == "noise":
        arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 40, (*img.size[::-1], 3))
        return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), mode="RGB")
    return img.filter(ImageFilter.GaussianBlur(radius=img.size[0] / 32 * 1.3))


# --- captions -------------------------------------------------------------------------------------------
def _pick(rng: np.random.Generator, words: list[str]) -> str:
    return words[int(rng.integers(len(words)))]


def _article(phrase: str) -> str:
    return ("an " if phrase[:1] in "aeiou" else "a ") + phrase


# How often a training caption names the shape at all, by its class name rather than a synonym, and names the
# colour (v2; v1: 0.88, ~0.45 and 0.7). Colour in three captions of four let contrastive training match batches by
# colour and learn shape late; naming it less was the change that made the world learnable (docs/world.md).
NAMED = 0.96
CLASS_NAME = 0.65
COLOUR_NAMED = 0.25


def _shape_noun(rng: np.random.Generator, shape: str) -> str:
    """The class name with probability CLASS_NAME, otherwise one of its synonyms (a long tail, as on the web)."""
    if rng.random() < CLASS_NAME:
        return shape
    return _pick(rng, [w for w in SHAPE_WORDS[shape] if w != shape])


def _caption(rng: np.random.Generator, obj: Obj, background: str, distractors: list[Obj], rich: bool = False) -> str:
    """Alt-text-like: a random subset of the attributes, synonyms, sometimes no shape name at all."""
    p = 1.6 if rich else 1.0
    shape = SHAPES[obj.shape]
    words = []
    if rng.random() < 0.3 * p:
        words.append(_pick(rng, SIZE_WORDS[obj.size]))
    if rng.random() < 0.25 * p:
        words.append(_pick(rng, FILL_WORDS[obj.fill]))
    if rng.random() < COLOUR_NAMED * p:
        words.append(_pick(rng, COLOUR_WORDS[COLOUR_NAMES[obj.colour]]))
    named = rng.random() < (0.99 if rich else NAMED)
    if named:
        noun = _shape_noun(rng, shape)
    else:
        noun = _pick(rng, ["shape", "thing", "object", "something", "figure"])
        if not words:
            words.append(_pick(rng, COLOUR_WORDS[COLOUR_NAMES[obj.colour]]))
    if named and not words and rng.random() < 0.35:
        return noun  # a bare label, like a lot of alt-text
    phrase = " ".join([*words, noun]) if noun != "something" else " ".join(["something", *words])
    if noun != "something" and rng.random() < 0.8:
        phrase = _article(phrase)
    tail = []
    if rng.random() < 0.2 * p:
        tail.append(_pick(rng, POSITION_WORDS[obj.position]))
    if rng.random() < 0.2 * p:
        tail.append(_pick(rng, BACKGROUND_WORDS[background]))
    if distractors and rng.random() < 0.3 * p:
        d = distractors[0]
        other = f"{_pick(rng, COLOUR_WORDS[COLOUR_NAMES[d.colour]])} {_shape_noun(rng, SHAPES[d.shape])}"
        tail.append(f"next to {_article(other)}")
    prefix = _pick(rng, PREFIXES)
    text = prefix + " ".join([phrase, *tail]) + _pick(rng, SUFFIXES)
    return text if rng.random() < 0.7 else text.capitalize()


# --- one item -------------------------------------------------------------------------------------------
def _item(seed: int, part: str, kind: str, index: int, n: int) -> tuple[bytes, list[str], int]:
    """(PNG bytes, captions, label) of item ``index`` of a part; label is the shape (fine: colour*10 +
    shape)."""
    rng = _rng(seed, part, index)
    shape = int(rng.integers(len(SHAPES)))
    colour = int(rng.integers(len(COLOURS)))
    if kind in ("shapes", "fine", "resampled", "noise", "blur"):
        # Balanced classes for the labelled sets: the class cycles with the index.
        if kind == "fine":
            shape, colour = index % len(SHAPES), (index // len(SHAPES)) % len(COLOURS)
        else:
            shape = index % len(SHAPES)
    if kind in ("sketch", "rendition", "hard"):
        shape = index % len(SHAPES)
    background = str(rng.choice(BACKGROUNDS, p=[0.5, 0.25, 0.25]))
    if kind == "hard":
        obj = _sample_object(rng, shape, colour, size="small")
        obj = Obj(
            obj.shape,
            obj.colour,
            obj.size,
            float(rng.uniform(0.12, 0.17)),
            obj.cx,
            obj.cy,
            obj.angle,
            obj.fill,
            obj.position,
        )
        distractors = _sample_distractors(rng, obj, int(rng.integers(2, 5)), scale=0.16)
        img = _render(
            rng,
            [*distractors, obj],
            "noise" if rng.random() < 0.5 else background,
            n,
            contrast=float(rng.uniform(0.35, 0.55)),
        )
    elif kind == "sketch":
        obj = _sample_object(rng, shape, colour, fill="outline")
        img = _render(rng, [obj], "plain", n, sketch=True)
        distractors = []
    else:
        obj = _sample_object(rng, shape, colour)
        n_distractors = int(rng.choice([0, 0, 1, 2])) if rng.random() < 0.5 else 0
        distractors = _sample_distractors(rng, obj, n_distractors)
        img = _render(rng, [*distractors, obj], background, n)
        if kind == "rendition":
            img = _pixel_art(img, rng)
        elif kind in ("noise", "blur"):
            img = _corrupt(img, rng, kind)
    captions: list[str] = []
    if kind == "captions":
        captions = [_caption(rng, obj, background, distractors)]
    elif kind == "retrieval":
        captions = [_caption(rng, obj, background, distractors, rich=True) for _ in range(CAPTIONS_PER_RETRIEVAL_IMAGE)]
    label = obj.colour * len(SHAPES) + obj.shape if kind == "fine" else obj.shape
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)  # no tIME chunk: bytes depend on pixels only
    return buf.getvalue(), captions, label


def _render_chunk(args: tuple[int, str, str, int, int, int, str]) -> list[tuple[str, list[str], int]]:
    seed, part, kind, start, stop, n, out_dir = args
    rows = []
    images = Path(out_dir) / part / "images"
    for index in range(start, stop):
        png, captions, label = _item(seed, part, kind, index, n)
        name = f"{index:06d}.png"
        (images / name).write_bytes(png)
        rows.append((f"images/{name}", captions, label))
    return rows


# --- the world ------------------------------------------------------------------------------------------
def world_counts(size: float) -> dict[str, int]:
    """Items per part for a size knob (1.0 = the default world)."""
    return {
        part: max(CAPTIONS_PER_RETRIEVAL_IMAGE if kind == "retrieval" else 20, round(base * size))
        for part, kind, base in PARTS
    }


def _class_metadata() -> tuple[dict, dict]:
    shapes = {"classes": list(SHAPES), "templates": list(SHAPE_TEMPLATES)}
    fine_classes = [f"{c} {s}" for c in COLOUR_NAMES for s in SHAPES]
    superclasses = {s: [c * len(SHAPES) + k for c in range(len(COLOUR_NAMES))] for k, s in enumerate(SHAPES)}
    fine = {"classes": fine_classes, "templates": list(FINE_TEMPLATES), "superclasses": superclasses}
    return shapes, fine


def _write_csv(path: Path, header: list[str], rows: Iterable[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _prepare_out(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise UserError(f"{out_dir}: folder exists and is not empty (pass --overwrite to replace it)")


def generate_world(
    out_dir: str | os.PathLike,
    seed: int = 0,
    size: float = DEFAULT_SIZE,
    image_size: int = 32,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Write the world folder (layout in docs/contracts.md) and return the content of its world.json.

    The folder is built in a temp folder beside ``out_dir`` and renamed into place, so a failed or interrupted
    run never leaves a half-written world. ``workers`` processes render in parallel (default: up to 2);
    ``progress`` shows the images rendered so far (cyclip_bench.progress)."""
    out_dir = Path(out_dir)
    if not isinstance(seed, int) or seed < 0:
        raise UserError(f"--seed must be a non-negative integer, not {seed!r}")
    if not size > 0:
        raise UserError(f"--size must be positive, not {size!r}")
    if image_size < 16 or image_size % 8:
        raise UserError(f"--image-size must be a multiple of 8 and at least 16, not {image_size}")
    _prepare_out(out_dir, overwrite)
    counts = world_counts(size)
    workers = workers or min(2, os.cpu_count() or 1)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        kinds = {part: kind for part, kind, _ in PARTS}
        jobs = []
        chunk = 250
        for part, count in counts.items():
            (tmp / part / "images").mkdir(parents=True)
            jobs += [
                (seed, part, kinds[part], s, min(s + chunk, count), image_size, str(tmp))
                for s in range(0, count, chunk)
            ]
        label = progress_lines.current_label() or "world"
        with progress_lines.Tracker(label, enabled=progress, transient=True) as bar:
            task = bar.add_task("images", total=sum(counts.values()), unit="images")
            results = []
            with contextlib.ExitStack() as stack:
                if workers > 1:
                    pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(workers))
                    rendered = pool.imap(_render_chunk, jobs, chunksize=1)  # in order, as each chunk ends
                else:
                    rendered = map(_render_chunk, jobs)
                for result in rendered:
                    results.append(result)
                    bar.advance(task, len(result))
        rows: dict[str, list] = {part: [] for part in counts}
        for job, result in zip(jobs, results, strict=True):
            rows[job[1]].extend(result)
        _write_parts(tmp, rows, kinds)
        info = {
            "generator": "cyclip-bench world",
            "generator_version": GENERATOR_VERSION,
            "seed": seed,
            "size": size,
            "image_size": image_size,
            "counts": counts,
            "captions": {
                "train": counts["captions/train"],
                "val": counts["captions/val"],
                "retrieval": counts["retrieval"] * CAPTIONS_PER_RETRIEVAL_IMAGE,
            },
            "shapes": list(SHAPES),
            "colours": list(COLOUR_NAMES),
        }
        (tmp / "world.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o755)
        _move_into_place(tmp, out_dir, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def _write_parts(tmp: Path, rows: dict[str, list], kinds: dict[str, str]) -> None:
    shapes_meta, fine_meta = _class_metadata()
    for part, part_rows in rows.items():
        kind = kinds[part]
        if kind == "captions":
            split = part.split("/")[1]
            # Caption images live under captions/images/<split>/; the CSV sits in captions/.
            (tmp / part / "images").rename(tmp / "captions" / f"images-{split}")
            _write_csv(
                tmp / "captions" / f"{split}.csv",
                ["image", "caption"],
                ([f"images/{split}/{Path(img).name}", caps[0]] for img, caps, _ in part_rows),
            )
        elif kind == "retrieval":
            _write_csv(
                tmp / part / "captions.csv",
                ["image", "caption"],
                ([img, c] for img, caps, _ in part_rows for c in caps),
            )
        else:
            _write_csv(tmp / part / "labels.csv", ["image", "label"], ([img, label] for img, _, label in part_rows))
    # Move caption images to the documented place: captions/images/<split>/.
    for split in ("train", "val"):
        src = tmp / "captions" / f"images-{split}"
        (tmp / "captions" / "images").mkdir(exist_ok=True)
        src.rename(tmp / "captions" / "images" / split)
        (tmp / "captions" / split).rmdir()
    (tmp / "shapes" / "classes.json").write_text(json.dumps(shapes_meta, indent=1) + "\n", encoding="utf-8")
    # The shift sets share the shape classes; a copy beside them lets a shift folder be checked/used on its
    # own.
    (tmp / "shifts" / "classes.json").write_text(json.dumps(shapes_meta, indent=1) + "\n", encoding="utf-8")
    (tmp / "fine" / "classes.json").write_text(json.dumps(fine_meta, indent=1) + "\n", encoding="utf-8")


def _move_into_place(tmp: Path, out_dir: Path, overwrite: bool) -> None:
    if out_dir.is_dir():
        if any(out_dir.iterdir()) and not overwrite:  # checked again: someone may have written it meanwhile
            raise UserError(f"{out_dir}: folder exists and is not empty (pass --overwrite to replace it)")
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out_dir)
