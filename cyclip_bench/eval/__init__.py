"""The evaluation engine: suites (TOML data) of tasks (registered kinds) over checkpoints, planned once
(``make_plan``), run (features encoded once and cached, metrics from pure functions) and written as results with
provenance (docs/contracts.md).

Everything but ``EvalConfig`` (and torch with it) loads on first use, so the command line reads the config's
flags without them."""

from importlib import import_module
from typing import Any

from cyclip_bench.eval.config import EvalConfig

_HOMES = {
    "Plan": "plan",
    "load_tasks": "plan",
    "make_plan": "plan",
    "suite_datasets": "plan",
    "evaluate": "runner",
    "run_plan": "runner",
    "write_results": "runner",
    "SuiteSpec": "suite",
    "TaskSpec": "suite",
    "builtin_suite_names": "suite",
    "builtin_suites": "suite",
    "load_suite": "suite",
    "TASKS": "tasks",
    "DataNeed": "tasks",
    "TaskKind": "tasks",
}

__all__ = ["EvalConfig", *sorted(_HOMES)]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"cyclip_bench.eval.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'cyclip_bench.eval' has no attribute {name!r}")
