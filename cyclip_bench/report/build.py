"""`build_report`: results JSON (+ the training runs' metrics.jsonl) → report.md, report.html and plots/.

A pure function of its inputs: no timestamps, seeded statistics, deterministic figures — the same results give
the same files. Outputs are written atomically; files of an earlier report in the same folder that this one no
longer produces are removed (listed in the folder's manifest), and a folder holding someone else's
report.md/report.html is refused rather than overwritten.
"""

from __future__ import annotations

import base64
import json
import platform
import re
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Annotated, Any

import jinja2
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex
from pydantic import Field

from cyclip_bench import __version__
from cyclip_bench.errors import UserError
from cyclip_bench.fileio import atomic_write_json, atomic_write_text
from cyclip_bench.report import paper, plots, tables
from cyclip_bench.report.markdown import render_markdown
from cyclip_bench.report.results import Result, load_results
from cyclip_bench.report.stats import bootstrap_ci
from cyclip_bench.report.training import find_training_log
from cyclip_bench.validation import Paths, PathValue, Seed, check_instance, check_output_dir, flag_name

MANIFEST = ".cyclip-bench-report.json"
PLOTS_DIR = "plots"
CONSISTENCY_K = re.compile(r"^consistency@(\d+)$")


@dataclass(frozen=True)
class ReportConfig:
    """Every field declares its type and range (``cyclip_bench.validation``); checked on construction."""

    results: Paths
    out_dir: PathValue
    title: str = "cyclip-bench report"
    baseline: str | None = None  # checkpoint label the paired tests compare against (default: the first)
    n_boot: Annotated[int, Field(ge=100, le=1_000_000)] = 2000
    seed: Seed = 0

    def __post_init__(self) -> None:
        check_instance(self, name=lambda key: {"out_dir": "--out", "results": "RESULTS"}.get(key, flag_name(key)))


@dataclass
class Plot:
    title: str
    caption: str
    png: str  # path relative to the report folder
    svg: str
    data_uri: str


@dataclass
class Section:
    title: str
    anchor: str
    meta: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, tables.Table]] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)  # (summary, preformatted text) blocks


def build_report(
    results: list[Path],
    out_dir: Path,
    *,
    title: str | None = None,
    baseline: str | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Write the report; returns {"markdown": Path, "html": Path, "plots": [Path, ...], "manifest": Path}."""
    config = ReportConfig(
        results=tuple(Path(p) for p in results),
        out_dir=Path(out_dir),
        title=title or "cyclip-bench report",
        baseline=baseline,
        n_boot=n_boot,
        seed=seed,
    )
    return write_report(config)


def write_report(config: ReportConfig) -> dict[str, Any]:
    out_dir = config.out_dir
    previous = _check_out_dir(out_dir)
    loaded = load_results(list(config.results))
    labels = tables.ordered_checkpoints(loaded)
    baseline = _resolve_baseline(config.baseline, labels, loaded)
    seed_groups = tables.seed_groups(loaded)
    colours = plots.checkpoint_colours(labels, seed_groups)
    writer = _PlotWriter(out_dir)

    sections = [_overview_section(loaded, config)]
    seeds = tables.seeds_table(loaded, seed_groups)
    if seeds is not None:
        seed_tables = [("mean ± sd over seeds", seeds)]
        differences = tables.seed_differences_table(loaded, seed_groups, baseline, config.n_boot, config.seed)
        if differences is not None:
            seed_tables.append(("Differences between configurations (across seeds)", differences))
        sections.append(Section("Seeds", "seeds", tables=seed_tables, notes=[]))
    for suite in tables.suites(loaded):
        sections.append(_suite_section(loaded, suite, baseline, colours, writer, config))
    training = _training_section(loaded, colours, writer)
    if training is not None:
        sections.append(training)
    sections.append(_provenance_section(loaded))

    context = {
        "title": config.title,
        "checkpoints": [{"label": label, "colour": to_hex(colours[label])} for label in labels],
        "baseline": baseline,
        "sections": sections,
        "inputs": [str(r.path) for r in loaded],
        "paper_label": paper.PAPER_LABEL,
    }
    markdown_path = out_dir / "report.md"
    html_path = out_dir / "report.html"
    atomic_write_text(markdown_path, render_markdown(context))
    atomic_write_text(html_path, render_html(context))
    written = [markdown_path, html_path, *writer.written]
    _remove_stale(out_dir, previous, written)
    manifest = out_dir / MANIFEST
    atomic_write_json(
        manifest,
        {
            "generator": f"cyclip-bench {__version__}",
            "files": sorted(str(p.relative_to(out_dir)) for p in written),
        },
    )
    return {"markdown": markdown_path, "html": html_path, "plots": list(writer.written), "manifest": manifest}


# ---- output folder ---------------------------------------------------------------------------------------


def _check_out_dir(out_dir: Path) -> list[str]:
    """Files the previous report in this folder wrote (from its manifest). Refuses a folder whose report.md,
    report.html or plots/ were not written by this command."""
    check_output_dir(out_dir, "--out")
    manifest = out_dir / MANIFEST
    if manifest.is_file():
        try:
            files = json.loads(manifest.read_text("utf-8"))["files"]
            return [str(f) for f in files]
        except (ValueError, KeyError, TypeError) as err:
            raise UserError(
                f"{manifest}: unreadable report manifest ({err}); delete it or choose another --out"
            ) from err
    clashes = [name for name in ("report.md", "report.html", PLOTS_DIR) if (out_dir / name).exists()]
    if clashes:
        raise UserError(
            f"--out {out_dir}: already holds {', '.join(clashes)} not written by `cyclip-bench report`; "
            "choose an empty or new folder"
        )
    return []


def _remove_stale(out_dir: Path, previous: list[str], written: list[Path]) -> None:
    keep = {str(p.relative_to(out_dir)) for p in written}
    for name in previous:
        if name in keep or Path(name).is_absolute() or ".." in Path(name).parts:
            continue
        stale = out_dir / name
        if stale.is_file():
            stale.unlink()


class _PlotWriter:
    def __init__(self, out_dir: Path) -> None:
        self.folder = out_dir / PLOTS_DIR
        self.out_dir = out_dir
        self.written: list[Path] = []
        self._stems: set[str] = set()

    def add(self, fig, stem: str, title: str, caption: str) -> Plot | None:
        if fig is None:
            return None
        stem = _slug(stem)
        unique, i = stem, 2
        while unique in self._stems:
            unique, i = f"{stem}-{i}", i + 1
        self._stems.add(unique)
        paths = plots.save_figure(fig, self.folder, unique)
        self.written.extend([paths["png"], paths["svg"]])
        data_uri = "data:image/png;base64," + base64.b64encode(paths["png"].read_bytes()).decode("ascii")
        return Plot(
            title=title,
            caption=caption,
            png=f"{PLOTS_DIR}/{unique}.png",
            svg=f"{PLOTS_DIR}/{unique}.svg",
            data_uri=data_uri,
        )


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return slug[:80] or "plot"


def _resolve_baseline(requested: str | None, labels: list[str], loaded: list[Result]) -> str:
    if requested is None:
        return labels[0]
    if requested in labels:
        return requested
    matches = [r.label for r in loaded if r.raw_label == requested]
    if matches:
        return matches[0]
    raise UserError(f"--baseline {requested!r}: no such checkpoint label (available: {', '.join(labels)})")


# ---- sections --------------------------------------------------------------------------------------------


def _overview_section(loaded: list[Result], config: ReportConfig) -> Section:
    table = tables.overview_table(loaded)
    return Section("Overview", "overview", tables=[("headline metric per task", table)])


def _suite_section(
    loaded: list[Result], suite: str, baseline: str, colours: dict, writer: _PlotWriter, config: ReportConfig
) -> Section:
    versions = sorted({str(r.suite.get("version", "?")) for r in loaded if r.suite_name == suite})
    section = Section(f"Suite {suite}", _slug(f"suite-{suite}"), meta=[("version", ", ".join(versions))])
    labels = [
        label
        for label in tables.ordered_checkpoints(loaded)
        if any(r.label == label and r.suite_name == suite for r in loaded)
    ]
    section.plots.extend(p for p in [_suite_bars(loaded, suite, labels, colours, writer, config)] if p)
    for task_name in tables.suite_tasks(loaded, suite):
        section.children.append(_task_section(loaded, suite, task_name, labels, baseline, colours, writer, config))
    return section


def _ci_triplet(task, metric: str, config: ReportConfig) -> tuple[float, float, float] | None:
    if task is None or task.metrics.get(metric) is None:
        return None
    value = 100 * task.metrics[metric]
    per_example = task.per_example_of(metric)
    if not per_example:
        return (value, float("nan"), float("nan"))
    ci = bootstrap_ci(per_example, n_boot=config.n_boot, seed=config.seed)
    return (value, 100 * ci.low, 100 * ci.high)


def _suite_bars(loaded, suite, labels, colours, writer, config) -> Plot | None:
    groups, series = [], {label: [] for label in labels}
    for task_name in tables.suite_tasks(loaded, suite):
        ref = tables.reference_task(loaded, suite, task_name)
        if ref.kind == "effective_robustness":  # differences, not accuracies: they have their own plot
            continue
        for metric in tables.headline_metrics(ref):
            if ref.unit(metric) != "fraction":
                continue
            groups.append(f"{task_name}\n{metric}")
            for label in labels:
                series[label].append(_ci_triplet(tables.find_task(loaded, label, suite, task_name), metric, config))
    fig = plots.grouped_bars(groups, series, colours, f"suite {suite}: headline metrics", "%")
    return writer.add(
        fig,
        f"bars-{suite}",
        f"Headline metrics of suite {suite}",
        "Bars: value per checkpoint; error bars: 95% bootstrap CI over test examples (where the results "
        "carry per-example correctness).",
    )


def _task_section(loaded, suite, task_name, labels, baseline, colours, writer, config) -> Section:
    ref = tables.reference_task(loaded, suite, task_name)
    section = Section(
        f"{task_name}",
        _slug(f"task-{suite}-{task_name}"),
        meta=[("kind", ref.kind), ("dataset", ref.dataset or "—"), ("split", ref.split or "—")],
    )
    section.tables.append(("metrics", tables.task_table(loaded, suite, task_name, config.n_boot, config.seed)))
    if len(labels) > 1:
        comparison = tables.comparison_table(loaded, suite, task_name, baseline, config.n_boot, config.seed)
        if comparison is not None:
            section.tables.append((f"paired comparison against {baseline}", comparison))
    missing = [label for label in labels if tables.find_task(loaded, label, suite, task_name) is None]
    if missing:
        section.notes.append(f"Not in the results of: {', '.join(missing)}.")
    stem = f"{suite}-{task_name}"
    if ref.kind == "effective_robustness":
        points = tables.effective_robustness_points(loaded, suite, task_name)
        if not points.empty:
            section.tables.append(("points", tables.points_table(points)))
            fit = next(
                (
                    t.extra.get("fit")
                    for label in labels
                    if (t := tables.find_task(loaded, label, suite, task_name)) and t.extra.get("fit")
                ),
                None,
            )
            plot = writer.add(
                plots.effective_robustness(points, fit, colours, f"{task_name}: effective robustness"),
                f"er-{stem}",
                "Effective robustness",
                "In-distribution vs shifted top-1; dotted: y = x; dashed: the logit-space linear fit "
                "over the checkpoints (points above it are effectively robust).",
            )
            section.plots.extend([plot] if plot else [])
    ks = sorted(int(m.group(1)) for metric in ref.metrics if (m := CONSISTENCY_K.match(metric)))
    if ks:
        section.plots.extend(
            p for p in [_consistency_plot(loaded, suite, task_name, ks, labels, colours, writer, config)] if p
        )
    geometry_keys = (
        "modality_gap",
        "inmodal_gap",
        "crossmodal_gap",
        "align_image_text",
        "uniform_image",
        "uniform_joint",
        "inmodal_rank_correlation",
        "crossmodal_rank_correlation",
        "inmodal_gap_normalised",
        "crossmodal_asymmetry_normalised",
        "cone_image",
        "cone_text",
    )
    if any(key in ref.metrics for key in geometry_keys):
        data = {}
        for label in labels:
            task = tables.find_task(loaded, label, suite, task_name)
            if task is not None:
                data[label] = {key: task.metrics.get(key) for key in geometry_keys}
        plot = writer.add(
            plots.geometry_panel(data, colours, f"{task_name}: embedding geometry"),
            f"geometry-{stem}",
            "Embedding geometry",
            "Modality gap (distance between the image and text embedding means), CyCLIP's in-modal and "
            "cross-modal consistency gaps, and Wang & Isola's alignment vs uniformity. Second row (results "
            "that carry them): the scale-free consistency measures — Spearman correlations of IIᵀ with TTᵀ "
            "and of C with Cᵀ, and the gaps divided by the spread of the similarities — beside the cones, "
            "since a narrower cone shrinks the absolute gaps but not these.",
        )
        section.plots.extend([plot] if plot else [])
    if len(labels) > 1:
        section.plots.extend(
            _per_class_plots(loaded, suite, task_name, labels, baseline, colours, writer, section.notes)
        )
    return section


def _consistency_plot(loaded, suite, task_name, ks, labels, colours, writer, config) -> Plot | None:
    ref = tables.reference_task(loaded, suite, task_name)
    series = {}
    for label in labels:
        task = tables.find_task(loaded, label, suite, task_name)
        if task is not None:
            series[label] = [_ci_triplet(task, f"consistency@{k}", config) for k in ks]
    paper_series: dict[str, list[float]] = {}
    numbers = [paper.lookup(ref.kind, ref.dataset, f"consistency@{k}") for k in ks]
    if all(n is not None and not n.analogue for n in numbers):  # only the paper's own dataset, never an analogue
        for model in paper.paper_columns():
            paper_series[f"paper {model} (RN50, CC3M, {numbers[0].display_dataset})"] = [
                n.values[model] for n in numbers
            ]
    return writer.add(
        plots.consistency_curves(ks, series, colours, paper_series, f"{task_name}: consistency@k"),
        f"consistency-{suite}-{task_name}",
        "Consistency@k",
        "Share of test images whose zero-shot label equals the majority label of their k nearest "
        "train images; error bars: 95% bootstrap CI.",
    )


def _per_class_plots(loaded, suite, task_name, labels, baseline, colours, writer, notes) -> list[Plot]:
    base = tables.find_task(loaded, baseline, suite, task_name)
    if base is None:
        return []
    base_acc = tables.per_class_accuracy(base)
    if base_acc is None:
        return []
    out = []
    for label in tables.comparison_labels(loaded, labels, baseline):
        task = tables.find_task(loaded, label, suite, task_name)
        if task is None:
            continue
        acc = tables.per_class_accuracy(task)
        if acc is None or task.per_example.get("label") != base.per_example.get("label"):
            continue
        diff = (acc - base_acc).dropna()
        plot = writer.add(
            plots.per_class_differences(diff, baseline, label, colours, f"{task_name}: per-class top-1"),
            f"per-class-{suite}-{task_name}-{label}",
            f"Per-class accuracy: {label} − {baseline}",
            "Top-1 accuracy per class of the second checkpoint minus the baseline's, in percentage points.",
        )
        if plot:
            out.append(plot)
        else:
            notes.append(f"Per-class top-1: {label} and {baseline} agree on every class.")
    return out


def _training_section(loaded: list[Result], colours: dict, writer: _PlotWriter) -> Section | None:
    logs, notes, rows = {}, [], []
    for label in tables.ordered_checkpoints(loaded):
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
                "metrics file": str(log.path),
            }
        )
    if not logs and not notes:
        return None
    section = Section("Training", "training", notes=notes)
    if rows:
        frame = pd.DataFrame(rows).set_index("checkpoint")
        section.tables.append(("last logged values", tables.Table(frame, None, [], index_name="checkpoint")))
    plot = writer.add(
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


def _provenance_section(loaded: list[Result]) -> Section:
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
    configs = []
    seen = set()
    for res in loaded:
        if res.label in seen:
            continue
        seen.add(res.label)
        configs.append((res.label, res.checkpoint))
    details = []
    for label, ckpt in configs:
        shown = {
            key: ckpt.get(key)
            for key in (
                "path",
                "sha256",
                "run_dir",
                "model_name",
                "train_config",
                "model_config",
                "preprocess",
            )
            if key in ckpt
        }
        details.append((label, json.dumps(shown, indent=2, sort_keys=True, default=str)))
    section.meta = [("report generator", _generator_versions())]
    section.details = details
    return section


def _generator_versions() -> str:
    names = ("numpy", "scipy", "pandas", "matplotlib", "jinja2")
    parts = [f"cyclip-bench {__version__}", f"python {platform.python_version()}"]
    for name in names:
        try:
            parts.append(f"{name} {importlib_metadata.version(name)}")
        except importlib_metadata.PackageNotFoundError:  # pragma: no cover
            continue
    return ", ".join(parts)


# ---- HTML ------------------------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    # Autoescape always on (not only for .html names): every string from results is data, never markup.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("cyclip_bench.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(context: dict[str, Any]) -> str:
    return _environment().get_template("report.html.j2").render(**context)
