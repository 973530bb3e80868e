"""Readers of the released layouts of DataComp's and CLIP_benchmark's datasets (as torchvision reads them with
``download=False``), into ``LabelledDataset``: labels index the shipped class metadata, images are PIL RGB, and
the fingerprint covers every file id and label. Nothing is downloaded; a missing file is a ``DataError``
naming the expected path.

``RELEASED_LAYOUTS`` maps a catalog name to its ``ReleasedLayout``: where it lives under DATA_ROOT, the paths
whose presence marks each split, and its reader. docs/formats.md describes each layout and the split used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cyclip_bench.data.labelled import LabelledDataset
from cyclip_bench.data.metadata import ClassMetadata, builtin_metadata

Reader = Callable[[Path, str, ClassMetadata, str], LabelledDataset]


@dataclass(frozen=True)
class ReleasedLayout:
    """A released layout: ``location`` (for messages and listings), ``released`` (per split, the paths under
    DATA_ROOT whose presence says the split is there) and ``read(root, split, metadata, name)``."""

    location: str
    released: Mapping[str, tuple[str, ...]]
    read: Reader

    def builder(self, name: str) -> Callable[[Path, str, Any], LabelledDataset]:
        """The catalog builder of dataset ``name``: its shipped metadata, the images read through ``transform``."""

        def build(root: Path, split: str, transform: Any = None) -> LabelledDataset:
            data = self.read(Path(root), split, builtin_metadata(name), f"{name}/{split}")
            data.transform = transform
            return data

        return build


RELEASED_LAYOUTS: dict[str, ReleasedLayout] = {}
