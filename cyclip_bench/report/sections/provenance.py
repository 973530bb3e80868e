"""The provenance section: where every number came from (checkpoint, suite, eval run, report generator)."""

from __future__ import annotations

import json
import platform
from importlib import metadata as importlib_metadata

import pandas as pd

from cyclip_bench import __version__
from cyclip_bench.report import tables
from cyclip_bench.report.document import ReportContext, Section

CHECKPOINT_DETAILS = ("path", "sha256", "run_dir", "model_name", "train_config", "model_config", "preprocess")


def provenance_section(context: ReportContext) -> Section:
    loaded = context.results
    rows = []
    for res in loaded:
        ckpt, run = res.checkpoint, res.run
        versions = run.get("versions") or {}
        rows.append(
            {
                "checkpoint": res.label,
                "suite": f"{res.suite_name} v{res.suite.get('version', '?')}",
                "checkpoint sha256": str(ckpt.get("sha256") or "—")[:16],
                "format": str(ckpt.get("format") or "—"),
                "model": str(ckpt.get("model_name") or "—"),
                "suite sha256": str(res.suite.get("sha256") or "—")[:16],
                "eval versions": ", ".join(f"{k} {v}" for k, v in versions.items()) or "—",
                "git commit": str(run.get("git_commit") or "—")[:12],
                "device / precision": f"{run.get('device', '—')} / {run.get('precision', '—')}",
                "results file": str(res.path),
            }
        )
    frame = pd.DataFrame(rows).set_index("checkpoint")
    section = Section("Provenance", "provenance")
    section.tables.append(("results", tables.Table(frame, None, [], index_name="checkpoint")))
    details, seen = [], set()
    for res in loaded:  # one block per checkpoint, however many suites it was evaluated on
        if res.label in seen:
            continue
        seen.add(res.label)
        shown = {key: res.checkpoint.get(key) for key in CHECKPOINT_DETAILS if key in res.checkpoint}
        details.append((res.label, json.dumps(shown, indent=2, sort_keys=True, default=str)))
    section.meta = [("report generator", generator_versions())]
    section.details = details
    return section


def generator_versions() -> str:
    names = ("numpy", "scipy", "pandas", "matplotlib", "jinja2")
    parts = [f"cyclip-bench {__version__}", f"python {platform.python_version()}"]
    for name in names:
        try:
            parts.append(f"{name} {importlib_metadata.version(name)}")
        except importlib_metadata.PackageNotFoundError:  # pragma: no cover
            continue
    return ", ".join(parts)
