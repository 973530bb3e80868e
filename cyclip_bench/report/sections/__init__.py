"""The report's sections, one module each; `cyclip_bench.report.build` puts them in order."""

from cyclip_bench.report.sections.findings import build_findings, findings_section, paper_section
from cyclip_bench.report.sections.overview import overview_section, seeds_section
from cyclip_bench.report.sections.provenance import provenance_section
from cyclip_bench.report.sections.suite import suite_section, task_section
from cyclip_bench.report.sections.training import training_section

__all__ = [
    "build_findings",
    "findings_section",
    "paper_section",
    "overview_section",
    "provenance_section",
    "seeds_section",
    "suite_section",
    "task_section",
    "training_section",
]
