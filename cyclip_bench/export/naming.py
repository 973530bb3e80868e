"""How a result's checkpoint and datasets are named in the other tools' files.

A checkpoint becomes CLIP_benchmark's (``model``, ``pretrained``) pair, the two words open_clip loads a model by:
``model`` is the architecture the checkpoint record names (``model_name``), ``pretrained`` what open_clip would be
given to load the weights — the pretrained tag, the ``hf-hub:ORG/REPO`` name, or the weights file's path.

Datasets keep their catalog name except where the other tool knows the same dataset by another name (the tables
below: names only; a number is comparable across tools only when the protocol is the same too, docs/export.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from cyclip_bench.results import Result
from cyclip_bench.validation import safe_label

# Our catalog name → CLIP_benchmark's dataset name (its `--dataset` argument and the "dataset" of its files).
CLIP_BENCHMARK_DATASETS = {
    "imagenet-sketch": "imagenet_sketch",
    "mscoco": "mscoco_captions",
}


@dataclass(frozen=True)
class DataCompTask:
    """DataComp's entry for a dataset it evaluates: its task key, its display name (the "dataset" of its jsonl
    lines) and the metric it summarises the task by (``main_metric``)."""

    key: str
    name: str
    main_metric: str


# Our catalog name → DataComp's task (tasklist.yml), for the datasets both evaluate the same way (zero-shot
# classification; retrieval for the caption sets).
DATACOMP_TASKS = {
    "cifar10": DataCompTask("cifar10", "CIFAR-10", "acc1"),
    "cifar100": DataCompTask("vtab/cifar100", "CIFAR-100", "acc1"),
    "imagenet1k": DataCompTask("imagenet1k", "ImageNet 1k", "acc1"),
    "imagenetv2": DataCompTask("imagenetv2", "ImageNet v2", "acc1"),
    "imagenet-sketch": DataCompTask("imagenet_sketch", "ImageNet Sketch", "acc1"),
    "imagenet-a": DataCompTask("imagenet-a", "ImageNet-A", "acc1"),
    "imagenet-r": DataCompTask("imagenet-r", "ImageNet-R", "acc1"),
    "flickr30k": DataCompTask("retrieval/flickr_1k_test_image_text_retrieval", "Flickr", "mean_recall@1"),
    "mscoco": DataCompTask("retrieval/mscoco_2014_5k_test_image_text_retrieval", "MSCOCO", "mean_recall@1"),
}

_TAG_PREFIX = "pretrained:"  # "pretrained:<model>:<tag>", the path eval records for an open_clip pretrained tag
_NAMED_SOURCES = ("hf-hub:", "local-dir:")  # names open_clip (or eval) resolves itself: kept as written


@dataclass(frozen=True)
class ModelName:
    """A checkpoint as CLIP_benchmark names it. ``is_file``: ``pretrained`` is a weights file's path (file names
    then use its base name, as CLIP_benchmark's default output template does)."""

    model: str
    pretrained: str
    is_file: bool

    @property
    def fullname(self) -> str:
        """CLIP_benchmark's ``model_fullname`` column: model and pretrained, space-separated."""
        return f"{self.model} {self.pretrained}"


def model_name(result: Result) -> ModelName:
    """``model`` and ``pretrained`` from the checkpoint record: an explicit ``pretrained`` entry when the record
    has one, else read from ``path`` (a tag's ``pretrained:<model>:<tag>``, an ``hf-hub:``/``local-dir:`` name, or
    the file). ``model`` is ``model_name``, falling back to the label for a record without one."""
    record = result.checkpoint
    model = str(record.get("model_name") or result.raw_label)
    explicit = record.get("pretrained")
    if isinstance(explicit, str) and explicit:
        return ModelName(model, explicit, is_file=False)
    path = str(record.get("path") or result.raw_label)
    if path.startswith(_TAG_PREFIX):
        return ModelName(model, path.rsplit(":", 1)[-1], is_file=False)
    if path.startswith(_NAMED_SOURCES):
        return ModelName(model, path, is_file=False)
    return ModelName(model, path, is_file=True)


def slug(text: str) -> str:
    """A name made one file-name component the way CLIP_benchmark's templates do (``/`` → ``_``), and safe here
    (control characters replaced, an over-long name cut and given a hash: ``validation.safe_label``)."""
    return safe_label(text.replace("/", "_").replace("\\", "_"))


def pretrained_slug(name: ModelName, full_path: bool) -> str:
    """``pretrained`` as it goes into a file name: a file's base name (CLIP_benchmark's ``{pretrained}``), or with
    ``full_path`` the whole path with separators replaced (its ``{pretrained_full_path}``), else the name itself."""
    if name.is_file and not full_path:
        return slug(PurePath(name.pretrained).name)
    return slug(name.pretrained)
