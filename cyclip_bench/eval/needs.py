"""``DataNeed``: one dataset split a task reads, and the key under which a run builds it once."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cyclip_bench.data.catalog import DataKind
from cyclip_bench.eval.suite import DatasetRef


@dataclass(frozen=True)
class DataNeed:
    """A dataset split a task reads: its ``kind`` (``LABELLED`` or ``RETRIEVAL`` from
    ``cyclip_bench.data.catalog``: how it is built and sized), the suite's reference to it (a catalog name or a
    path table) and the split (a retrieval dataset has only "test")."""

    kind: DataKind
    ref: DatasetRef
    split: str = "test"
    # An optional split is read when it is on disk and skipped otherwise (``eval.splits.build_needs``): the
    # train split of a consistency task with ``skip_without_train``, absent from test-only copies.
    optional: bool = False

    @property
    def dataset_key(self) -> str:
        """The dataset, whatever the split: two needs with one ``dataset_key`` read splits of one dataset."""
        return json.dumps(self.ref, sort_keys=True)

    @property
    def key(self) -> str:
        """This dataset split in a run's memos: built once per key, shared by every task that reads it."""
        return json.dumps([self.ref, self.kind.name, self.split], sort_keys=True)


__all__ = ["DataNeed"]
