"""Reports: results JSON → Markdown + self-contained HTML with tables (pandas), statistics (scipy) and plots
(matplotlib). `write_report(ReportConfig(...))` is the entry point; see docs/reports.md.

The report's code is imported on first use, so that reading the config (as the CLI does) stays light."""

from __future__ import annotations

from typing import Any

from cyclip_bench.report.config import ReportConfig

__all__ = ["ReportConfig", "build_report", "write_report"]


def __getattr__(name: str) -> Any:
    if name in ("build_report", "write_report"):
        from cyclip_bench.report import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
