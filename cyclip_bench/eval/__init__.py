"""The evaluation engine: suites (TOML data) of tasks (registered kinds) over checkpoints, features encoded
once and cached, metrics from pure functions, results with provenance (docs/contracts.md)."""

from cyclip_bench.eval.config import EvalConfig
from cyclip_bench.eval.runner import evaluate, plan, resolve_data, suite_datasets
from cyclip_bench.eval.suite import SuiteSpec, TaskSpec, builtin_suite_names, builtin_suites, load_suite
from cyclip_bench.eval.tasks import TASKS, DataNeed, TaskKind

__all__ = [
    "TASKS",
    "DataNeed",
    "EvalConfig",
    "SuiteSpec",
    "TaskKind",
    "TaskSpec",
    "builtin_suite_names",
    "builtin_suites",
    "evaluate",
    "load_suite",
    "plan",
    "resolve_data",
    "suite_datasets",
]
