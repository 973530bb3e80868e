"""Class metadata: class names, prompt templates and optional superclasses, stored as JSON data files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cyclip_bench.errors import DataError, UserError
from cyclip_bench.registry import did_you_mean

# Keys a class-metadata JSON may hold; anything else is a typo we report rather than ignore.
_KNOWN_KEYS = {"classes", "templates", "superclasses", "wnids", "source"}
BUILTIN_NAMES = ("cifar10", "cifar100", "imagenet")


@dataclass(frozen=True)
class ClassMetadata:
    classes: list[str]
    templates: list[str]
    superclasses: dict[str, list[int]] | None = None
    # ImageNet only: the WordNet id of every class, in class-index order (maps wnid folders onto class
    # indices).
    wnids: list[str] | None = field(default=None, compare=False)

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
    return ClassMetadata(list(classes), list(templates), superclasses, wnids)


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


def builtin_metadata(name: str) -> ClassMetadata:
    """Class metadata shipped with the package: 'cifar10', 'cifar100' (with 20 superclasses), 'imagenet'."""
    if name not in BUILTIN_NAMES:
        raise UserError(
            f"unknown built-in class metadata {name!r}.{did_you_mean(name, list(BUILTIN_NAMES))} "
            f"Known: {', '.join(BUILTIN_NAMES)}"
        )
    text = resources.files("cyclip_bench.data").joinpath("metadata", f"{name}.json").read_text(encoding="utf-8")
    return metadata_from_dict(json.loads(text), f"built-in metadata {name}.json")
