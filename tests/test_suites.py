"""Suite specs: every built-in suite loads strictly and plans; bad specs fail with one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.eval import TASKS, builtin_suite_names, load_suite, plan
from cyclip_bench.eval.config import EvalConfig
from cyclip_bench.eval.runner import resolve_data

WORLD_SUITES = [
    "world",
    "world-consistency",
    "world-linear-probe",
    "world-retrieval",
    "world-shifts",
    "world-zeroshot",
]
REAL_SUITES = ["all", "consistency", "linear-probe", "retrieval", "shifts", "zeroshot"]


def test_builtin_suites_are_the_documented_set():
    assert set(WORLD_SUITES + REAL_SUITES) <= set(builtin_suite_names())


@pytest.mark.parametrize("name", sorted(set(WORLD_SUITES + REAL_SUITES)))
def test_every_builtin_suite_loads_and_plans(name, tmp_path):
    suite = load_suite(name)
    assert suite.name == name and isinstance(suite.version, int) and suite.source == "builtin"
    assert len(suite.sha256) == 64 and suite.tasks
    _, tasks = plan(EvalConfig(checkpoints=("x",), suite=name, out=tmp_path))
    assert all(t.kind in TASKS for t in tasks)


def test_world_covers_every_builtin_task_kind():
    kinds = {t.kind for t in load_suite("world").tasks}
    assert {"zeroshot", "effective_robustness", "linear_probe", "retrieval", "consistency"} <= kinds


@pytest.mark.parametrize("name", WORLD_SUITES)
def test_world_suites_resolve_every_dataset(name, world_dir, tmp_path):
    cfg = EvalConfig(checkpoints=("x",), suite=name, out=tmp_path, data_root=world_dir)
    _, tasks = plan(cfg)
    datasets = resolve_data(cfg, tasks)
    assert datasets and all(size > 0 for _, _, size in datasets)


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return str(path)


BASE = 'name = "mine"\nversion = 2\n'


def test_user_suite_with_custom_dataset(world_dir, tmp_path):
    path = _write(
        tmp_path,
        BASE + f'[[tasks]]\nname = "z"\nkind = "zeroshot"\n'
        f'dataset = {{ path = "{world_dir / "shapes" / "test"}", format = "labels-csv" }}\n',
    )
    suite = load_suite(path)
    assert suite.source == "path" and suite.version == 2
    cfg = EvalConfig(checkpoints=("x",), suite=path, out=tmp_path)
    assert resolve_data(cfg, plan(cfg)[1])[0][2] == 50


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            BASE + 'colour = 1\n[[tasks]]\nname = "a"\nkind = "zeroshot"\ndataset = "world-shapes"\n',
            "unknown key 'colour'",
        ),
        (
            BASE + '[[tasks]]\nname = "a"\nkind = "zeroshot"\ndatset = "world-shapes"\n',
            "unknown key 'datset'. Did you mean 'dataset'?",
        ),
        (
            BASE
            + '[[tasks]]\nname = "a"\nkind = "zeroshot"\ndataset = "world-shapes"\n'
            + "options = { topp = [1] }\n",
            "unknown option 'topp'",
        ),
        (
            BASE
            + '[[tasks]]\nname = "a"\nkind = "zeroshot"\ndataset = "world-shapes"\noptions = { topk = 3 }\n',
            "option 'topk' must be",
        ),
        ('name = "x"\n[[tasks]]\nname = "a"\nkind = "zeroshot"\n', "missing required key 'version'"),
        (
            BASE + '[[tasks]]\nname = "a"\nkind = "zeroshot"\ndataset = "d"\n[[tasks]]\nname = "a"\n'
            'kind = "retrieval"\ndataset = "d"\n',
            "task name 'a' appears twice",
        ),
        (BASE + '[[tasks]]\nname = "a"\nkind = "zeroshot"\n', "needs a 'dataset'"),
        (BASE + "tasks = [1", "invalid TOML"),
    ],
)
def test_bad_specs_name_the_problem(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("?", r"\?").replace("(", r"\(")):
        plan(EvalConfig(checkpoints=("x",), suite=_write(tmp_path, text), out=tmp_path))


def test_unknown_kind_and_suite_say_did_you_mean(tmp_path):
    path = _write(tmp_path, BASE + '[[tasks]]\nname = "a"\nkind = "zeroshoot"\ndataset = "world-shapes"\n')
    with pytest.raises(UserError, match="unknown task kind 'zeroshoot'. Did you mean 'zeroshot'"):
        plan(EvalConfig(checkpoints=("x",), suite=path, out=tmp_path))
    with pytest.raises(UserError, match="Did you mean 'world-shifts'"):
        load_suite("world-shift")


def test_effective_robustness_references_are_checked(tmp_path):
    path = _write(
        tmp_path,
        BASE + '[[tasks]]\nname = "id"\nkind = "zeroshot"\ndataset = "world-shapes"\n'
        '[[tasks]]\nname = "er"\nkind = "effective_robustness"\n'
        'options = { id_task = "id", shift_tasks = ["idd"] }\n',
    )
    with pytest.raises(UserError, match="no task 'idd'"):
        plan(EvalConfig(checkpoints=("x",), suite=path, out=tmp_path))


def test_unknown_dataset_says_did_you_mean(world_dir, tmp_path):
    path = _write(tmp_path, BASE + '[[tasks]]\nname = "a"\nkind = "zeroshot"\ndataset = "world-shape"\n')
    cfg = EvalConfig(checkpoints=("x",), suite=path, out=tmp_path, data_root=world_dir)
    with pytest.raises(UserError, match="Did you mean 'world-shapes'"):
        resolve_data(cfg, plan(cfg)[1])


def test_cli_suites_lists_every_suite():
    from typer.testing import CliRunner

    from cyclip_bench.cli import app

    result = CliRunner().invoke(app, ["suites"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in WORLD_SUITES + REAL_SUITES:
        assert name in result.output
