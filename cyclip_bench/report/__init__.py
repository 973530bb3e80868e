"""Reports: results JSON → Markdown + self-contained HTML with tables (pandas), statistics (scipy) and plots
(matplotlib). `build_report` is the entry point; see docs/reports.md."""

from cyclip_bench.report.build import ReportConfig, build_report, write_report

__all__ = ["ReportConfig", "build_report", "write_report"]
