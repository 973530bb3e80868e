"""`write_report`: results JSON (+ the training runs' metrics.jsonl) → report.md, report.html, plots/ and
per-class/.

A pure function of its inputs: no timestamps, seeded statistics, deterministic figures — the same results give
the same files. Outputs are written atomically; files of an earlier report in the same folder that this one no
longer produces are removed (listed in the folder's manifest), and a folder holding someone else's
report.md/report.html is refused rather than overwritten. What each section holds is in `report/sections/`;
which plots a task gets, in the task-plot registry (`report/task_plots/`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.colors import to_hex

import cyclip_bench.eval.tasks  # noqa: F401  the task kinds declare their metrics (cyclip_bench.results)
from cyclip_bench import __version__
from cyclip_bench.errors import UserError
from cyclip_bench.fileio import atomic_write_json, atomic_write_text
from cyclip_bench.report import paper, plots
from cyclip_bench.report.config import ReportConfig
from cyclip_bench.report.document import DATA_DIR, PLOTS_DIR, FileWriter, ReportContext
from cyclip_bench.report.findings import summary_lines
from cyclip_bench.report.html import render_html
from cyclip_bench.report.markdown import render_markdown
from cyclip_bench.report.robustness import refit_results
from cyclip_bench.report.sections import (
    build_findings,
    findings_section,
    overview_section,
    paper_section,
    provenance_section,
    seeds_section,
    suite_section,
    training_section,
)
from cyclip_bench.results import Result, load_all, ordered_checkpoints, seed_groups, suites
from cyclip_bench.validation import check_output_dir

MANIFEST = ".cyclip-bench-report.json"


def build_report(results: list[Path], out_dir: Path, **options: Any) -> dict[str, Any]:
    """``write_report`` for Python callers: ``options`` are ReportConfig's other fields (title, baseline, …)."""
    return write_report(ReportConfig(results=tuple(Path(p) for p in results), out_dir=Path(out_dir), **options))


def write_report(config: ReportConfig) -> dict[str, Any]:
    out_dir = config.out_dir
    previous = _check_out_dir(out_dir)
    loaded = refit_results(load_all(list(config.results)))  # effective robustness per shift set (robustness.py)
    labels = ordered_checkpoints(loaded)
    groups = seed_groups(loaded)
    colours = plots.checkpoint_colours(labels, groups)
    writer = FileWriter(out_dir)
    context = ReportContext(
        results=loaded,
        baseline=_resolve_baseline(config.baseline, labels, loaded),
        colours=colours,
        writer=writer,
        n_boot=config.n_boot,
        seed=config.seed,
    )

    comparisons = build_findings(context)
    sections = [findings_section(context, comparisons), overview_section(context), seeds_section(context, groups)]
    sections.append(paper_section(context, comparisons))
    sections += [suite_section(context, suite) for suite in suites(loaded)]
    sections += [training_section(context), provenance_section(context)]

    document = {
        "title": config.title,
        "checkpoints": [{"label": label, "colour": to_hex(colours[label])} for label in labels],
        "baseline": context.baseline,
        "sections": [s for s in sections if s is not None],
        "inputs": [str(r.path) for r in loaded],
        "paper_label": paper.PAPER_LABEL,
    }
    markdown_path = out_dir / "report.md"
    html_path = out_dir / "report.html"
    atomic_write_text(markdown_path, render_markdown(document))
    atomic_write_text(html_path, render_html(document))
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
    return {
        "markdown": markdown_path,
        "html": html_path,
        "plots": list(writer.plots),
        "data": list(writer.data),
        "manifest": manifest,
        # the closing lines of a terminal run (``demo``): per comparison its evidence level and first finding
        "summary": summary_lines(comparisons),
        "method_level": bool(comparisons) and all(c.method_level for c in comparisons),
    }


def _check_out_dir(out_dir: Path) -> list[str]:
    """Files the previous report in this folder wrote (from its manifest). Refuses a folder whose report.md,
    report.html, plots/ or per-class/ were not written by this command."""
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
    clashes = [name for name in ("report.md", "report.html", PLOTS_DIR, DATA_DIR) if (out_dir / name).exists()]
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


def _resolve_baseline(requested: str | None, labels: list[str], loaded: list[Result]) -> str:
    if requested is None:
        return labels[0]
    if requested in labels:
        return requested
    matches = [r.label for r in loaded if r.raw_label == requested]
    if matches:
        return matches[0]
    raise UserError(f"--baseline {requested!r}: no such checkpoint label (available: {', '.join(labels)})")
