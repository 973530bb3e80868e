"""Task plots: the registry and the built-ins (importing this package registers them)."""

from cyclip_bench.report.task_plots.registry import TASK_PLOTS, TaskPlot, TaskView, plot_text, plots_for, task_plot

from cyclip_bench.report.task_plots import effective_robustness as _effective_robustness  # noqa: F401  isort: skip
from cyclip_bench.report.task_plots import consistency as _consistency  # noqa: F401  isort: skip
from cyclip_bench.report.task_plots import geometry as _geometry  # noqa: F401  isort: skip
from cyclip_bench.report.task_plots import per_class as _per_class  # noqa: F401  isort: skip

__all__ = ["TASK_PLOTS", "TaskPlot", "TaskView", "plot_text", "plots_for", "task_plot"]
