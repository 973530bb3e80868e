"""The training section: each run's metrics.jsonl as curves and the last logged values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cyclip_bench.report import plots, tables
from cyclip_bench.report.document import ReportContext, Section
from cyclip_bench.report.training import find_training_log
from cyclip_bench.results import ordered_checkpoints


def training_section(context: ReportContext) -> Section | None:
    loaded, colours, writer = context.results, context.colours, context.writer
    logs, notes, rows = {}, [], []
    for label in ordered_checkpoints(loaded):
        res = next(r for r in loaded if r.label == label)
        log, note = find_training_log(res.run_dir)
        if note:
            notes.append(f"{label}: {note}")
        if log is None:
            continue
        logs[label] = log
        if log.skipped_lines:
            notes.append(f"{label}: skipped {log.skipped_lines} unreadable line(s) of {log.path}")
        last = log.train.dropna(subset=["loss"]).tail(1)
        last_val = log.val.dropna(subset=["loss"]).tail(1)
        rows.append(
            {
                "checkpoint": label,
                "steps": _fmt(last["step"].iloc[0] if not last.empty else None, "{:.0f}"),
                "final train loss": _fmt(last["loss"].iloc[0] if not last.empty else None),
                "final val loss": _fmt(last_val["loss"].iloc[0] if not last_val.empty else None),
                "final logit scale": _fmt(last["logit_scale"].iloc[0] if not last.empty else None),
                "final logit bias": _fmt(last["logit_bias"].iloc[0] if not last.empty else None),
                "metrics file": str(log.path),
            }
        )
    if not logs and not notes:
        return None
    section = Section("Training", "training", notes=notes)
    if rows:
        frame = pd.DataFrame(rows).set_index("checkpoint")
        if (frame["final logit bias"] == _fmt(None)).all():
            frame = frame.drop(columns="final logit bias")  # only objectives with a bias (SigLIP) log one
        section.tables.append(("last logged values", tables.Table(frame, None, [], index_name="checkpoint")))
    plot = writer.add_plot(
        plots.training_curves(logs, colours),
        "training-curves",
        "Training curves",
        "From each run's metrics.jsonl: total loss (train solid, val dashed), the loss parts, the "
        "learning-rate schedule and the learned logit scale.",
    )
    section.plots.extend([plot] if plot else [])
    return section


def _fmt(value, pattern: str = "{:.4g}") -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return pattern.format(value)
