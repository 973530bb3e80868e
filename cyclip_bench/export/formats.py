"""The export formats by name (``--format``): a registry, so a format is chosen by lookup and a mistyped name gets
a did-you-mean; other packages add theirs through the ``cyclip_bench.export_formats`` entry-point group (an
`ExportFormat`)."""

from __future__ import annotations

from cyclip_bench.export import clip_benchmark, datacomp
from cyclip_bench.export.output import ExportFormat
from cyclip_bench.registry import Registry

EXPORT_FORMATS: Registry[ExportFormat] = Registry("export format", "cyclip_bench.export_formats")
EXPORT_FORMATS.add(clip_benchmark.FORMAT.name, clip_benchmark.FORMAT, aliases=("clip-benchmark",))
EXPORT_FORMATS.add(datacomp.FORMAT.name, datacomp.FORMAT)
