"""Class metadata: class names, prompt templates and optional superclasses, stored as JSON data files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cyclip_bench.errors import DataError, UserError
from cyclip_bench.registry import did_you_mean

# Keys a class-metadata JSON may hold; anything else is a typo we report rather than ignore.
_KNOWN_KEYS = {"classes", "templates", "superclasses", "wnids", "source", "main_metric"}
# The metrics a dataset may name as its main one (the anchors' headline number; docs/evaluation.md, "Metrics as
# the anchors define them"): the names the zero-shot task writes. DataComp's acc1 is top1.
MAIN_METRICS = (
    "top1",
    "top5",
    "mean_per_class_recall",
    "map_11point",
    "mean_average_precision",
    "worst_group_top1",
    "worst_group_top5",
    "macro_f1",
)
DEFAULT_MAIN_METRIC = "top1"
# Package data files in the metadata folder that are not one dataset's class metadata.
_NOT_DATASETS = {"imagenet_subsets"}


@dataclass(frozen=True)
class ClassMetadata:
    classes: list[str]
    templates: list[str]
    superclasses: dict[str, list[int]] | None = None
    # ImageNet only: the WordNet id of every class, in class-index order (maps wnid folders onto class
    # indices).
    wnids: list[str] | None = field(default=None, compare=False)
    # Where the names and templates come from (a shipped file's "source"), and the dataset's headline metric
    # (None: the file does not say; ``dataset_main_metric`` then answers top1).
    source: str | None = field(default=None, compare=False)
    main_metric: str | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.classes)

    def prompts(self, class_index: int) -> list[str]:
        """Every template filled with one class name."""
        return [t.replace("{}", self.classes[class_index]) for t in self.templates]

    def superclass_of(self) -> list[int] | None:
        """Superclass index (order of ``superclasses``) of every class, or None without superclasses."""
        if self.superclasses is None:
            return None
        out = [-1] * len(self.classes)
        for s, members in enumerate(self.superclasses.values()):
            for c in members:
                out[c] = s
        return out

    def to_json(self) -> dict:
        out: dict = {"classes": list(self.classes), "templates": list(self.templates)}
        if self.superclasses is not None:
            out["superclasses"] = {k: list(v) for k, v in self.superclasses.items()}
        if self.wnids is not None:
            out["wnids"] = list(self.wnids)
        if self.source is not None:
            out["source"] = self.source
        if self.main_metric is not None:
            out["main_metric"] = self.main_metric
        return out


def metadata_from_dict(obj: object, source: str) -> ClassMetadata:
    """Validate a parsed class-metadata JSON object; ``source`` names the file in error messages."""
    if not isinstance(obj, dict):
        raise DataError(f"{source}: class metadata must be a JSON object with 'classes' and 'templates'")
    unknown = sorted(set(obj) - _KNOWN_KEYS)
    if unknown:
        raise DataError(
            f"{source}: unknown key(s) {', '.join(map(repr, unknown))} in class metadata; "
            f"expected {', '.join(sorted(_KNOWN_KEYS))}"
        )
    classes = obj.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c for c in classes):
        raise DataError(f"{source}: 'classes' must be a non-empty list of class-name strings")
    # Duplicate names are allowed: CLIP's ImageNet names repeat two ('missile', 'sunglasses') on purpose.
    templates = obj.get("templates", ["a photo of a {}."])
    if not isinstance(templates, list) or not templates or not all(isinstance(t, str) for t in templates):
        raise DataError(f"{source}: 'templates' must be a non-empty list of strings")
    bad = [t for t in templates if "{}" not in t]
    if bad:
        raise DataError(f"{source}: template {bad[0]!r} has no '{{}}' placeholder for the class name")
    superclasses = obj.get("superclasses")
    if superclasses is not None:
        if not isinstance(superclasses, dict) or not superclasses:
            raise DataError(f"{source}: 'superclasses' must map superclass names to lists of class indices")
        seen: dict[int, str] = {}
        for name, members in superclasses.items():
            if not isinstance(members, list) or not members or not all(isinstance(i, int) for i in members):
                raise DataError(f"{source}: superclass {name!r} must list class indices (integers)")
            for i in members:
                if not 0 <= i < len(classes):
                    raise DataError(
                        f"{source}: superclass {name!r} lists class index {i}, outside 0..{len(classes) - 1}"
                    )
                if i in seen:
                    raise DataError(f"{source}: class index {i} is in superclasses {seen[i]!r} and {name!r}")
                seen[i] = name
        superclasses = {str(k): list(v) for k, v in superclasses.items()}
    wnids = obj.get("wnids")
    if wnids is not None and (not isinstance(wnids, list) or len(wnids) != len(classes)):
        raise DataError(f"{source}: 'wnids' must list one WordNet id per class ({len(classes)} classes)")
    origin = obj.get("source")
    if origin is not None and (not isinstance(origin, str) or not origin.strip()):
        raise DataError(f"{source}: 'source' must be a non-empty string naming where the names and templates come from")
    main = obj.get("main_metric")
    if main is not None and main not in MAIN_METRICS:
        raise DataError(
            f"{source}: 'main_metric' {main!r} is not a known metric.{did_you_mean(str(main), list(MAIN_METRICS))} "
            f"Known: {', '.join(MAIN_METRICS)}"
        )
    return ClassMetadata(list(classes), list(templates), superclasses, wnids, origin, main)


def load_class_metadata(path: str | Path, expected_classes: int | None = None) -> ClassMetadata:
    """Read a class-metadata JSON file. ``expected_classes`` checks the count against the dataset's labels."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"class metadata file {path} not found (expected JSON with 'classes' and 'templates')")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err})") from None
    meta = metadata_from_dict(obj, str(path))
    if expected_classes is not None and expected_classes != len(meta.classes):
        raise DataError(f"{path}: lists {len(meta.classes)} classes but the dataset has {expected_classes}")
    return meta


IMAGENET_SUBSETS = ("imagenet-a", "imagenet-r")


def imagenet_subset_wnids(name: str) -> list[str]:
    """The 200 wnids (sorted = ImageNet class order) of the real ImageNet-A or ImageNet-R class folders."""
    if name not in IMAGENET_SUBSETS:
        raise UserError(f"unknown ImageNet subset {name!r}; known: {', '.join(IMAGENET_SUBSETS)}")
    path = resources.files("cyclip_bench.data").joinpath("metadata", "imagenet_subsets.json")
    return list(json.loads(path.read_text(encoding="utf-8"))[name])


def builtin_names() -> list[str]:
    """The dataset metadata files shipped in cyclip_bench/data/metadata/, by file stem."""
    folder = resources.files("cyclip_bench.data").joinpath("metadata")
    stems = (p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))
    return sorted(s for s in stems if s not in _NOT_DATASETS)


BUILTIN_NAMES = tuple(builtin_names())


def builtin_metadata(name: str) -> ClassMetadata:
    """Class metadata shipped with the package, by file stem: 'cifar10', 'cifar100' (with 20 superclasses),
    'imagenet', 'food101', ... (``builtin_names()``; ``dataset_metadata`` also takes the anchors' dataset names)."""
    if name not in BUILTIN_NAMES:
        raise UserError(
            f"unknown built-in class metadata {name!r}.{did_you_mean(name, list(BUILTIN_NAMES))} "
            f"Known: {', '.join(BUILTIN_NAMES)}"
        )
    text = resources.files("cyclip_bench.data").joinpath("metadata", f"{name}.json").read_text(encoding="utf-8")
    return metadata_from_dict(json.loads(text), f"built-in metadata {name}.json")


# ---- dataset names as the anchors spell them -------------------------------------------------------------------
# CLIP_benchmark and DataComp name a dataset "wds/vtab/pets", "vtab/pets", "wilds/fmow", "fairness/geode"...: the
# prefixes say where a copy comes from, not which classes it has, so they are dropped before the lookup.
_NAME_PREFIXES = ("wds/", "vtab/", "tfds/", "wilds/", "fairness/")
# Names whose classes are another file's (ImageNet's variants share its 1,000 classes) or spelt otherwise.
_ALIASES = {
    "imagenet1k": "imagenet",
    "imagenetv2": "imagenet",
    "imagenet-v2": "imagenet",
    "imagenet_sketch": "imagenet",
    "imagenet-sketch": "imagenet",
    "imagenet-w": "imagenet",
    "imagenet_a": "imagenet-a",
    "imagenet_r": "imagenet-r",
    "imagenet_o": "imagenet-o",
    "oxford_pets": "pets",
    "oxford_flowers": "flowers",
    "stanford_cars": "cars",
    "patch_camelyon": "pcam",
    "rendered_sst2": "renderedsst2",
}
# DataComp tasks whose class names exist only in their wds copy (classnames.txt, DataComp's own class lists):
# no public list in the label order of those copies could be checked, so none ships; their main metrics do.
WDS_ONLY_MAIN_METRIC = {
    "iwildcam": "macro_f1",
    "dollar_street": "worst_group_top5",
    "geode": "worst_group_top1",
}


def metadata_key(name: str) -> str:
    """The metadata file stem for a dataset name in any of the anchors' spellings ('wds/vtab/pets' → 'pets')."""
    key = name.strip().lower()
    stripped = True
    while stripped:
        stripped = False
        for prefix in _NAME_PREFIXES:
            if key.startswith(prefix):
                key, stripped = key[len(prefix) :], True
    return _ALIASES.get(key, key)


def dataset_names() -> list[str]:
    """Every name ``dataset_metadata`` knows, without prefixes: the shipped files' stems and their aliases."""
    return sorted({*BUILTIN_NAMES, *_ALIASES})


def dataset_metadata(name: str) -> ClassMetadata:
    """The shipped class names, templates, source and main metric of dataset ``name`` ('food101', 'vtab/pets',
    'wds/vtab/cifar10', 'imagenetv2', 'wilds/fmow', ...). An unknown name is an error with a did-you-mean; a
    DataComp task whose names exist only in its wds copy says so."""
    key = metadata_key(name)
    if key in BUILTIN_NAMES:
        return builtin_metadata(key)
    if key in WDS_ONLY_MAIN_METRIC:
        raise DataError(
            f"dataset {name!r}: no class names ship for it — its names come only from its wds copy's classnames.txt "
            "and zeroshot_classification_templates.txt (or give a class-metadata JSON)"
        )
    known = dataset_names()
    raise UserError(f"no class metadata for dataset {name!r}.{did_you_mean(key, known)} Known: {', '.join(known)}")


def dataset_main_metric(name: str) -> str:
    """The main metric of dataset ``name`` (its metadata's ``main_metric``; DataComp's choice for wds-only sets)."""
    key = metadata_key(name)
    if key in WDS_ONLY_MAIN_METRIC:
        return WDS_ONLY_MAIN_METRIC[key]
    return dataset_metadata(name).main_metric or DEFAULT_MAIN_METRIC
