"""Task kinds: the registry and the built-ins (importing this package registers them)."""

from cyclip_bench.eval.tasks.base import TASKS, DataNeed, TaskKind, make_task, parse_options

from cyclip_bench.eval.tasks import zeroshot as _zeroshot  # noqa: F401  isort: skip
from cyclip_bench.eval.tasks import robustness as _robustness  # noqa: F401  isort: skip
from cyclip_bench.eval.tasks import linear_probe as _linear_probe  # noqa: F401  isort: skip
from cyclip_bench.eval.tasks import retrieval as _retrieval  # noqa: F401  isort: skip
from cyclip_bench.eval.tasks import consistency as _consistency  # noqa: F401  isort: skip
from cyclip_bench.eval.tasks import compositional as _compositional  # noqa: F401  isort: skip
from cyclip_bench.eval.tasks import geometry as _geometry  # noqa: F401  isort: skip
from cyclip_bench.eval.tasks import association as _association  # noqa: F401  isort: skip
from cyclip_bench.eval.tasks import aggregate as _aggregate  # noqa: F401  isort: skip

__all__ = ["TASKS", "DataNeed", "TaskKind", "make_task", "parse_options"]
