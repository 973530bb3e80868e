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
    sizes = {label: _batch_sizes(loaded, label) for label in logs}
    plot = writer.add_plot(
        plots.training_curves(logs, colours, sizes),
        "training-curves",
        "Training curves",
        "From each run's metrics.jsonl: the train loss, the validation loss, the loss parts, the "
        "learning-rate schedule and the learned logit scale. Train and val loss have separate axes because "
        "they are not on one scale: a contrastive loss is computed over the pairs of one batch and grows "
        "with their number (chance is log N), and the training batches and the held-out validation chunks "
        "differ in size (each panel's title gives them); compare each curve with itself over steps.",
    )
    section.plots.extend([plot] if plot else [])
    return section


def _batch_sizes(loaded, label: str) -> tuple[int | None, int | None]:
    """(training batch size, validation chunk size) from the checkpoint's training config, None where unknown."""
    config = next((r.train_config for r in loaded if r.label == label and r.train_config), None) or {}
    train, val = config.get("batch_size"), config.get("val_batch_size")
    return (train if isinstance(train, int) else None, val if isinstance(val, int) else None)


def _fmt(value, pattern: str = "{:.4g}") -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return pattern.format(value)
