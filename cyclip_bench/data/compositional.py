"""Compositional image–text data: hard-negative caption selection (SugarCrepe, Hsieh et al. 2023) and 2×2 groups of
two images and two captions (Winoground, Thrush et al. 2022), read from their public formats, and the generated
world's analogue of both (captions with a colour or shape replaced or swapped).

Formats (docs/formats.md, "Compositional sets"):
  sugarcrepe    a folder with the release's seven ``<subset>.json`` files (``{"<id>": {"filename",
                "caption", "negative_caption"}}``) and ``val2017/`` (the COCO val2017 images; a link is fine)
  winoground    a folder with ``examples.jsonl`` (one object a line: ``id``, ``image_0``, ``image_1``,
                ``caption_0``, ``caption_1``, optional ``tag``) and ``images/<image_k>.png``
  world         DATA_ROOT = a world folder: ``retrieval/captions.csv``, its captions rewritten (``world_items``)
Catalog names (``COMPOSITIONAL``'s own): ``sugarcrepe`` (DATA_ROOT/sugarcrepe), ``winoground``
(DATA_ROOT/winoground), ``world-compositional`` (DATA_ROOT = a world folder). A path table takes ``format``
"sugarcrepe" or "winoground" and ``path`` the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cyclip_bench.data.captions import read_caption_table
from cyclip_bench.data.catalog import DataKind, images_with_transform
from cyclip_bench.data.labelled import _ImageList
from cyclip_bench.errors import DataError, UserError
from cyclip_bench.registry import Registry

SUGARCREPE_SUBSETS = ("add_att", "add_obj", "replace_att", "replace_obj", "replace_rel", "swap_att", "swap_obj")
WORLD_SUBSETS = ("replace_att", "replace_obj", "swap_att", "swap_obj")
WINOGROUND_FILE = "examples.jsonl"
REF_FORMATS = ("sugarcrepe", "winoground")
REF_KEYS = ("path", "format", "name")


@dataclass(frozen=True)
class Choice:
    """One hard-negative item: image ``image`` with its ``positive`` and ``negative`` caption (indices into the
    dataset's ``captions``), from ``subset``."""

    image: int
    positive: int
    negative: int
    subset: str


@dataclass(frozen=True)
class Group:
    """A 2×2 group: caption ``captions[k]`` describes image ``images[k]`` (indices into the dataset's lists)."""

    images: tuple[int, int]
    captions: tuple[int, int]
    tag: str = ""


class CompositionalDataset:
    """Unique images (``.images``: a Dataset of transformed images), unique ``captions``, and the ``choices``
    and ``groups`` over them. ``path`` is the annotation file or folder read."""

    def __init__(
        self,
        name: str,
        path: Path,
        image_files: list[str],
        captions: list[str],
        choices: list[Choice],
        groups: list[Group],
        transform: Any = None,
    ) -> None:
        if not choices and not groups:
            raise DataError(f"{path}: no items (no hard-negative choices and no 2x2 groups) to evaluate")
        self.name, self.path = name, Path(path)
        self.image_files, self.captions = image_files, captions
        self.choices, self.groups = choices, groups
        self.images = _ImageList(image_files, transform)

    def fingerprint(self) -> str:
        """sha256 over the images (path relative to the annotations, size) and every item: changes with the data."""
        digest = hashlib.sha256()
        root = self.path if self.path.is_dir() else self.path.parent
        for f in self.image_files:
            digest.update(f"{os.path.relpath(f, root)}\t{os.path.getsize(f)}\n".encode())
        for caption in self.captions:
            digest.update(f"{caption}\n".encode())
        for c in self.choices:
            digest.update(f"c\t{c.image}\t{c.positive}\t{c.negative}\t{c.subset}\n".encode())
        for g in self.groups:
            digest.update(f"g\t{g.images}\t{g.captions}\t{g.tag}\n".encode())
        return digest.hexdigest()

    def __repr__(self) -> str:
        return (
            f"CompositionalDataset({self.name!r}, {len(self.image_files)} images, {len(self.choices)} choices, "
            f"{len(self.groups)} groups)"
        )


class _Builder:
    """Unique images and captions in first-seen order while items are read."""

    def __init__(self) -> None:
        self.images: dict[str, int] = {}
        self.captions: dict[str, int] = {}

    def image(self, path: Path, where: str) -> int:
        key = str(path)
        if key not in self.images:
            if not path.is_file():
                raise DataError(f"{where}: image file {path} not found")
            self.images[key] = len(self.images)
        return self.images[key]

    def caption(self, text: str) -> int:
        return self.captions.setdefault(text, len(self.captions))

    def build(self, name: str, path: Path, choices: list[Choice], groups: list[Group], transform: Any) -> Any:
        return CompositionalDataset(name, path, list(self.images), list(self.captions), choices, groups, transform)


def _text(record: Mapping[str, Any], key: str, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: {key!r} must be a non-empty string, found {value!r}")
    return value


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err})") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from None


def load_sugarcrepe(
    folder: str | os.PathLike,
    transform: Any = None,
    subsets: tuple[str, ...] = SUGARCREPE_SUBSETS,
    name: str | None = None,
) -> CompositionalDataset:
    """SugarCrepe's ``<subset>.json`` files in ``folder`` (every one of ``subsets``), images in
    ``folder/val2017/<filename>``: one `Choice` per entry, in file order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found (expected SugarCrepe's {', '.join(SUGARCREPE_SUBSETS)} .json)")
    images_dir = folder / "val2017"
    if not images_dir.is_dir():
        raise DataError(f"{images_dir}: folder not found (expected the COCO val2017 images SugarCrepe uses)")
    builder, choices = _Builder(), []
    for subset in subsets:
        path = folder / f"{subset}.json"
        entries = _read_json(path)
        if not isinstance(entries, dict) or not entries:
            raise DataError(f'{path}: expected a non-empty JSON object of entries ({{"0": {{...}}, ...}})')
        for key, entry in entries.items():
            where = f"{path}: entry {key!r}"
            if not isinstance(entry, dict):
                raise DataError(f"{where}: expected an object with filename, caption, negative_caption")
            filename, positive, negative = (_text(entry, k, where) for k in ("filename", "caption", "negative_caption"))
            if Path(filename).name != filename:
                raise DataError(f"{where}: 'filename' must be a file name in val2017/, found {filename!r}")
            image = builder.image(images_dir / filename, where)
            choices.append(Choice(image, builder.caption(positive), builder.caption(negative), subset))
    return builder.build(name or "sugarcrepe", folder, choices, [], transform)


def _winoground_image(images_dir: Path, value: str, where: str) -> Path:
    if Path(value).name != value:
        raise DataError(f"{where}: image names must be file names in {images_dir}, found {value!r}")
    return images_dir / (value if Path(value).suffix else f"{value}.png")


def load_winoground(folder: str | os.PathLike, transform: Any = None, name: str | None = None) -> CompositionalDataset:
    """Winoground's ``examples.jsonl`` in ``folder`` and its images in ``folder/images/`` (``image_0`` names
    ``images/<image_0>.png``; a name with an extension is the file itself): one `Group` per line."""
    folder = Path(folder)
    path = folder / WINOGROUND_FILE
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected Winoground's {WINOGROUND_FILE} and images/)")
    images_dir = folder / "images"
    builder, groups = _Builder(), []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{where}: not valid JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected an object with image_0, image_1, caption_0, caption_1")
        images = tuple(builder.image(_winoground_image(images_dir, _text(record, k, where), where), where) for k in
                       ("image_0", "image_1"))  # fmt: skip
        captions = tuple(builder.caption(_text(record, k, where)) for k in ("caption_0", "caption_1"))
        if images[0] == images[1] or captions[0] == captions[1]:
            raise DataError(f"{where}: a group needs two different images and two different captions")
        tag = record.get("tag", "")
        groups.append(Group(images, captions, tag if isinstance(tag, str) else str(tag)))  # type: ignore[arg-type]
    if not groups:
        raise DataError(f"{path}: has no examples")
    return builder.build(name or "winoground", path, [], groups, transform)


# --- the world's analogue ---------------------------------------------------------------------------------------
def _pattern(words: Mapping[str, list[str]]) -> tuple[re.Pattern, dict[str, str]]:
    """A regex matching any of the words (longest first, whole words: not inside 'polka-dot') and word → class."""
    owner = {w: cls for cls, ws in words.items() for w in ws}
    alternatives = "|".join(re.escape(w) for w in sorted(owner, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])"), owner


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    cls: str


@dataclass(frozen=True)
class _Parsed:
    """What a world caption says of its main object (before "next to") and of the distractor after it."""

    colour: _Span | None
    shape: _Span | None
    other_colour: _Span | None
    other_shape: _Span | None


def _one(pattern: re.Pattern, owner: dict[str, str], text: str, offset: int) -> _Span | None:
    found = list(pattern.finditer(text))
    if len(found) != 1:
        return None  # none, or ambiguous
    m = found[0]
    return _Span(m.start() + offset, m.end() + offset, owner[m.group(0)])


def _parse(caption: str, colours: tuple, shapes: tuple) -> _Parsed:
    lower = caption.lower()
    cut = lower.find(" next to ")
    head, tail = (lower, "") if cut < 0 else (lower[:cut], lower[cut:])
    offset = len(head)
    return _Parsed(
        _one(*colours, head, 0),
        _one(*shapes, head, 0),
        _one(*colours, tail, offset) if tail else None,
        _one(*shapes, tail, offset) if tail else None,
    )


_ARTICLE = re.compile(r"(?:^|(?<=\s))(an?|An?) $")


def _rewrite(caption: str, replacements: list[tuple[_Span, str]]) -> str:
    """``caption`` with each span replaced (right to left), an article right before a replaced word agreeing with
    it ("a orange" would give the negative away), capitalisation of a replaced first word kept."""
    text = caption
    for span, word in sorted(replacements, key=lambda r: r[0].start, reverse=True):
        if text[span.start : span.start + 1].isupper():
            word = word[:1].upper() + word[1:]
        before = text[: span.start]
        m = _ARTICLE.search(before)
        if m:
            article = "an" if word[:1].lower() in "aeiou" else "a"
            if m.group(1)[0].isupper():
                article = article.capitalize()
            before = before[: m.start(1)] + article + " "
        text = before + word + text[span.end :]
    return text


def world_items(
    captions: list[str], caption_image: list[int], colour_words: Mapping[str, list[str]],
    shape_words: Mapping[str, list[str]],
) -> tuple[list[tuple[int, str, str, str]], list[tuple[int, int, str, str, str]]]:  # fmt: skip
    """Hard negatives and 2×2 groups from a world's captions (``caption_image[j]``: the image of caption j).

    Each caption naming exactly one colour and one shape word for its main object (the words before "next to")
    gives, where it can: ``replace_att`` (the colour word → another colour's name), ``replace_obj`` (the shape
    word → another shape's name), and with a distractor named after "next to", ``swap_att`` / ``swap_obj`` (the
    two objects' colour / shape words exchanged, when they differ). A replacement takes the colour (shape) of a
    partner image — the next image, in index order, whose captions name another colour (shape) and the same shape
    (colour) as this one, when this caption names it — so that the negative describes the partner: the
    (image, partner, caption, negative) 2×2 group. Without a partner the next colour (shape) in the world's list
    is used and no group is made. Returns (choices as (image, positive, negative, subset), groups as (image,
    partner, caption, negative, tag)); deterministic."""
    colours, shapes = _pattern(colour_words), _pattern(shape_words)
    colour_names, shape_names = list(colour_words), list(shape_words)
    parsed = [_parse(c, colours, shapes) for c in captions]
    n_images = max(caption_image, default=-1) + 1
    known_colour: list[str | None] = [None] * n_images
    known_shape: list[str | None] = [None] * n_images
    for p, image in zip(parsed, caption_image, strict=True):
        if p.colour is not None and known_colour[image] is None:
            known_colour[image] = p.colour.cls
        if p.shape is not None and known_shape[image] is None:
            known_shape[image] = p.shape.cls

    def partner(image: int, differ: list, same: list, value: str, keep: str | None) -> int | None:
        for step in range(1, n_images):
            other = (image + step) % n_images
            if differ[other] is not None and differ[other] != value and (keep is None or same[other] == keep):
                return other
        return None

    choices, groups = [], []
    for caption, p, image in zip(captions, parsed, caption_image, strict=True):
        for subset, span, names, differ, same, keep in (
            ("replace_att", p.colour, colour_names, known_colour, known_shape, p.shape),
            ("replace_obj", p.shape, shape_names, known_shape, known_colour, p.colour),
        ):
            if span is None:
                continue
            other = partner(image, differ, same, span.cls, keep.cls if keep is not None else None)
            target = differ[other] if other is not None else names[(names.index(span.cls) + 1) % len(names)]
            negative = _rewrite(caption, [(span, target)])
            choices.append((image, caption, negative, subset))
            if other is not None:
                groups.append((image, other, caption, negative, subset))
        for subset, mine, theirs in (
            ("swap_att", p.colour, p.other_colour),
            ("swap_obj", p.shape, p.other_shape),
        ):
            if mine is not None and theirs is not None and mine.cls != theirs.cls:
                words = caption[mine.start : mine.end], caption[theirs.start : theirs.end]
                choices.append((image, caption, _rewrite(caption, [(mine, words[1]), (theirs, words[0])]), subset))
    return choices, groups


def load_world_compositional(root: str | os.PathLike, transform: Any = None) -> CompositionalDataset:
    """The world analogue of SugarCrepe and Winoground from ``root/retrieval/captions.csv`` (``world_items``)."""
    from cyclip_bench.data.synth import COLOUR_WORDS, SHAPE_WORDS

    path = Path(root) / "retrieval" / "captions.csv"
    if not path.is_file():
        raise DataError(f"{path}: not found — is {root} a world folder written by `cyclip-bench data synth`?")
    table = read_caption_table(path)
    builder = _Builder()
    image_index = [builder.image(Path(p), f"{path}: row {i + 1}") for i, p in enumerate(table["image"])]
    raw_choices, raw_groups = world_items(list(table["caption"]), image_index, COLOUR_WORDS, SHAPE_WORDS)
    choices = [Choice(i, builder.caption(pos), builder.caption(neg), s) for i, pos, neg, s in raw_choices]
    groups = [Group((a, b), (builder.caption(pos), builder.caption(neg)), tag) for a, b, pos, neg, tag in raw_groups]
    return builder.build("world-compositional", path, choices, groups, transform)


# --- the data kind and its catalog ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CompositionalEntry:
    """A catalog name of ``COMPOSITIONAL``: where it lives under DATA_ROOT and its builder (root, transform)."""

    location: str
    build: Callable[[Path, Any], CompositionalDataset]
    description: str = ""


COMPOSITIONAL_DATASETS: Registry[CompositionalEntry] = Registry("compositional dataset")
COMPOSITIONAL_DATASETS.add(
    "sugarcrepe",
    CompositionalEntry(
        "DATA_ROOT/sugarcrepe/<subset>.json + val2017/", lambda root, t: load_sugarcrepe(root / "sugarcrepe", t),
        "SugarCrepe: seven hard-negative subsets over COCO val2017",
    ),
)  # fmt: skip
COMPOSITIONAL_DATASETS.add(
    "winoground",
    CompositionalEntry(
        "DATA_ROOT/winoground/examples.jsonl + images/", lambda root, t: load_winoground(root / "winoground", t),
        "Winoground: 400 2x2 groups",
    ),
)  # fmt: skip
COMPOSITIONAL_DATASETS.add(
    "world-compositional",
    CompositionalEntry(
        "DATA_ROOT/retrieval/captions.csv", load_world_compositional,
        "generated world: captions with a colour or shape replaced or swapped, and 2x2 groups",
    ),
)  # fmt: skip


def build_compositional(
    ref: str | Mapping[str, Any], data_root: str | os.PathLike | None, transform: Any = None
) -> CompositionalDataset:
    """A compositional set by catalog name (``COMPOSITIONAL_DATASETS``) or path table ``{path, format, name}``."""
    if isinstance(ref, Mapping):
        unknown = sorted(set(ref) - set(REF_KEYS))
        if unknown:
            raise UserError(f"dataset reference: unknown key(s) {', '.join(unknown)} (expected {', '.join(REF_KEYS)})")
        fmt = ref.get("format")
        if fmt not in REF_FORMATS:
            raise UserError(
                f"dataset reference {ref.get('path')!r}: a compositional task reads format "
                f"{' or '.join(map(repr, REF_FORMATS))}, not {fmt!r}"
            )
        path = Path(ref["path"])
        if not path.is_absolute() and data_root is not None:
            path = Path(data_root) / path
        loader = load_sugarcrepe if fmt == "sugarcrepe" else load_winoground
        return loader(path, transform, name=ref.get("name"))
    entry = COMPOSITIONAL_DATASETS.get(ref)
    if data_root is None:
        raise UserError(f"dataset {ref!r} needs --data-root (it lives at {entry.location})")
    return entry.build(Path(data_root), transform)


class _Compositional(DataKind):
    name, unit, splits = "compositional", "items", ("test",)

    def build(
        self, ref: str | Mapping[str, Any], data_root: str | os.PathLike | None, split: str, transform: Any = None
    ) -> CompositionalDataset:
        if split not in self.splits:
            raise UserError(f"dataset {ref!r}: a compositional set has the split 'test' only, not {split!r}")
        return build_compositional(ref, data_root, transform)

    def with_transform(self, data: Any, transform: Any) -> Any:
        return images_with_transform(data, transform)

    def size(self, data: Any) -> int:
        return len(data.choices) + len(data.groups)

    def images(self, data: Any) -> Any:
        return data.images


COMPOSITIONAL: DataKind = _Compositional()


__all__ = [
    "COMPOSITIONAL",
    "COMPOSITIONAL_DATASETS",
    "SUGARCREPE_SUBSETS",
    "WORLD_SUBSETS",
    "Choice",
    "CompositionalDataset",
    "Group",
    "build_compositional",
    "load_sugarcrepe",
    "load_winoground",
    "load_world_compositional",
    "world_items",
]


# --- fixtures in the released formats ---------------------------------------------------------------------------
_FIXTURE_COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (40, 170, 50), "yellow": (240, 220, 30)}
_FIXTURE_SHAPES = ("circle", "square", "triangle")


def _draw(objects: list[tuple[str, str]], size: int) -> Any:
    """An image with the (colour, shape) objects side by side, left to right, on grey."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    width = size / len(objects)
    for k, (colour, shape) in enumerate(objects):
        x0, y0, x1, y1 = k * width + width * 0.15, size * 0.3, (k + 1) * width - width * 0.15, size * 0.7
        fill = _FIXTURE_COLOURS[colour]
        if shape == "circle":
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        elif shape == "square":
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        else:
            draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=fill)
    return image


def _fixture_object(seed: int, index: int) -> tuple[str, str, str, str]:
    """(colour, shape, another colour, another shape) of fixture item ``index``: a pure function of both."""
    colours, shapes = list(_FIXTURE_COLOURS), _FIXTURE_SHAPES
    c, s = (seed + index) % len(colours), (seed + 2 * index) % len(shapes)
    return colours[c], shapes[s], colours[(c + 1) % len(colours)], shapes[(s + 1) % len(shapes)]


def write_sugarcrepe_fixture(out: str | os.PathLike, seed: int = 0, per_subset: int = 4, image_size: int = 64) -> dict:
    """SugarCrepe's layout under ``out``: the seven ``<subset>.json`` files (``per_subset`` entries each, keys
    "0", "1", …) and ``val2017/`` JPEGs named like COCO's (``000000xxxxxx.jpg``). Captions and pictures agree
    (the positive describes the drawing; the negative replaces, swaps or adds an attribute, object or
    relation). Returns the counts written."""
    out = Path(out)
    (out / "val2017").mkdir(parents=True, exist_ok=True)
    written = set()
    for s, subset in enumerate(SUGARCREPE_SUBSETS):
        entries = {}
        for k in range(per_subset):
            index = s * per_subset + k
            colour, shape, colour2, shape2 = _fixture_object(seed, index)
            two = subset.startswith("swap") or subset == "replace_rel"
            objects = [(colour, shape), (colour2, shape2)] if two else [(colour, shape)]
            filename = f"{397133 + index:012d}.jpg"
            if filename not in written:
                _draw(objects, image_size).save(out / "val2017" / filename, format="JPEG", quality=95)
                written.add(filename)
            positive = {
                "add_att": f"a {shape}",
                "add_obj": f"a {colour} {shape}",
                "replace_att": f"a {colour} {shape}",
                "replace_obj": f"a {colour} {shape}",
                "replace_rel": f"a {colour} {shape} left of a {colour2} {shape2}",
                "swap_att": f"a {colour} {shape} and a {colour2} {shape2}",
                "swap_obj": f"a {colour} {shape} left of a {colour2} {shape2}",
            }[subset]
            negative = {
                "add_att": f"a {colour2} {shape}",
                "add_obj": f"a {colour} {shape} and a {shape2}",
                "replace_att": f"a {colour2} {shape}",
                "replace_obj": f"a {colour} {shape2}",
                "replace_rel": f"a {colour} {shape} right of a {colour2} {shape2}",
                "swap_att": f"a {colour2} {shape} and a {colour} {shape2}",
                "swap_obj": f"a {colour} {shape2} left of a {colour2} {shape}",
            }[subset]
            entries[str(k)] = {"filename": filename, "caption": positive, "negative_caption": negative}
        (out / f"{subset}.json").write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    return {"subsets": len(SUGARCREPE_SUBSETS), "entries": per_subset * len(SUGARCREPE_SUBSETS), "images": len(written)}


def write_winoground_fixture(out: str | os.PathLike, seed: int = 0, groups: int = 4, image_size: int = 64) -> dict:
    """Winoground's layout under ``out``: ``examples.jsonl`` (``groups`` lines with its keys: id, image_0,
    image_1, caption_0, caption_1, tag, secondary_tag, num_main_preds, collapsed_tag) and ``images/ex_<id>_img_<k>
    .png``. Each group is two objects in either order with the captions "a X left of a Y" and "a Y left of a X"."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for g in range(groups):
        colour, shape, colour2, shape2 = _fixture_object(seed, g)
        first, second = (colour, shape), (colour2, shape2)
        names = []
        for k, objects in enumerate(([first, second], [second, first])):
            names.append(f"ex_{g}_img_{k}")
            _draw(objects, image_size).save(out / "images" / f"{names[-1]}.png", format="PNG")
        record = {
            "id": g,
            "image_0": names[0],
            "image_1": names[1],
            "caption_0": f"a {colour} {shape} left of a {colour2} {shape2}",
            "caption_1": f"a {colour2} {shape2} left of a {colour} {shape}",
            "tag": "Object",
            "secondary_tag": "",
            "num_main_preds": 1,
            "collapsed_tag": "Object",
        }
        lines.append(json.dumps(record))
    (out / WINOGROUND_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"groups": groups, "images": 2 * groups}
