"""Suites that include suites: `world` and `all` are the unions of their parts (the same tasks, options and order
as the hand-copied files they replaced), overrides, and the strict refusals (unknown suite, cycle, clash)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclip_bench.errors import ConfigError
from cyclip_bench.eval.suite import TaskSpec, load_suite

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"

# (name, kind, dataset, split, options) of every task of world.toml and all.toml as they were written out by hand
# before they became includes: the includes must give exactly these, in this order.
PAIRS = {"path": "captions/val.csv", "format": "captions", "name": "world-captions/val"}
SHIFTS = ["resampled-zeroshot", "sketch-zeroshot", "rendition-zeroshot", "hard-zeroshot", "noise-zeroshot"]
WORLD_BEFORE = [
    ("shapes-zeroshot", "zeroshot", "world-shapes", "test", {}),
    ("fine-zeroshot", "zeroshot", "world-fine", "test", {}),
    ("resampled-zeroshot", "zeroshot", "world-resampled", "test", {}),
    ("sketch-zeroshot", "zeroshot", "world-sketch", "test", {}),
    ("rendition-zeroshot", "zeroshot", "world-rendition", "test", {}),
    ("hard-zeroshot", "zeroshot", "world-hard", "test", {}),
    ("noise-zeroshot", "zeroshot", "world-noise", "test", {}),
    ("blur-zeroshot", "zeroshot", "world-blur", "test", {}),
    (
        "effective-robustness",
        "effective_robustness",
        None,
        "test",
        {"id_task": "shapes-zeroshot", "shift_tasks": [*SHIFTS, "blur-zeroshot"]},
    ),
    ("shapes-linear-probe", "linear_probe", "world-shapes", "test", {"train_split": "train"}),
    ("fine-linear-probe", "linear_probe", "world-fine", "test", {"train_split": "train"}),
    ("retrieval", "retrieval", "world-retrieval", "test", {}),
    (
        "shapes-consistency",
        "consistency",
        "world-shapes",
        "test",
        {"train_split": "train", "k": [1, 3, 5, 10], "pairs": PAIRS},
    ),
    (
        "fine-consistency",
        "consistency",
        "world-fine",
        "test",
        {"train_split": "train", "k": [1, 3, 5, 10], "pairs": PAIRS},
    ),
    ("compositional", "compositional", "world-compositional", "test", {}),  # issue 25: added after the split
]
COCO_PAIRS = {"train_split": "train", "k": [1, 3, 5, 10], "pairs": "mscoco"}
ALL_BEFORE = [
    ("cifar10-zeroshot", "zeroshot", "cifar10", "test", {}),
    ("cifar100-zeroshot", "zeroshot", "cifar100", "test", {}),
    ("imagenet1k-zeroshot", "zeroshot", "imagenet1k", "test", {}),
    ("imagenetv2-zeroshot", "zeroshot", "imagenetv2", "test", {}),
    ("imagenet-sketch-zeroshot", "zeroshot", "imagenet-sketch", "test", {}),
    ("imagenet-a-zeroshot", "zeroshot", "imagenet-a", "test", {}),
    ("imagenet-r-zeroshot", "zeroshot", "imagenet-r", "test", {}),
    (
        "effective-robustness",
        "effective_robustness",
        None,
        "test",
        {
            "id_task": "imagenet1k-zeroshot",
            "shift_tasks": [
                "imagenetv2-zeroshot",
                "imagenet-sketch-zeroshot",
                "imagenet-a-zeroshot",
                "imagenet-r-zeroshot",
            ],
        },
    ),
    ("cifar10-linear-probe", "linear_probe", "cifar10", "test", {"train_split": "train"}),
    ("cifar100-linear-probe", "linear_probe", "cifar100", "test", {"train_split": "train"}),
    ("flickr30k-retrieval", "retrieval", "flickr30k", "test", {}),
    ("mscoco-retrieval", "retrieval", "mscoco", "test", {}),
    ("cifar10-consistency", "consistency", "cifar10", "test", COCO_PAIRS),
    ("cifar100-consistency", "consistency", "cifar100", "test", COCO_PAIRS),
    ("imagenet1k-consistency", "consistency", "imagenet1k", "test", COCO_PAIRS),
]
PARTS = {
    "world": [
        "world-zeroshot",
        "world-shifts",
        "world-linear-probe",
        "world-retrieval",
        "world-consistency",
        "world-compositional",
    ],
    "all": ["zeroshot", "shifts", "linear-probe", "retrieval", "consistency"],
}


def _rows(tasks: tuple[TaskSpec, ...]) -> list[tuple]:
    return [(t.name, t.kind, t.dataset, t.split, t.options) for t in tasks]


@pytest.mark.parametrize(("name", "before"), [("world", WORLD_BEFORE), ("all", ALL_BEFORE)])
def test_world_and_all_are_the_tasks_they_held_before(name: str, before: list[tuple]) -> None:
    suite = load_suite(name)
    assert _rows(suite.tasks) == before
    assert (suite.name, suite.version) == (name, 1)


@pytest.mark.parametrize("name", ["world", "all"])
def test_world_and_all_are_the_union_of_their_parts(name: str) -> None:
    union: dict[str, TaskSpec] = {}
    for part in PARTS[name]:
        for task in load_suite(part).tasks:
            assert union.setdefault(task.name, task) == task  # a task in two parts is defined alike in both
    assert load_suite(name).tasks == tuple(union.values())
    # and every task of the parts is in it: nothing of a part is left out of the whole
    assert {t.name for part in PARTS[name] for t in load_suite(part).tasks} == set(union)


@pytest.mark.parametrize("name", ["world", "all"])
def test_world_and_all_files_are_includes_not_copies(name: str) -> None:
    text = (SUITES_DIR / f"{name}.toml").read_text()
    assert "[[tasks]]" not in text and "include = [" in text


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _suite(name: str, body: str) -> str:
    return f'name = "{name}"\nversion = 1\n{body}'


TASK_A = '[[tasks]]\nname = "a"\nkind = "zeroshot"\ndataset = "world-shapes"\n'


def test_includes_by_name_and_path_with_overrides_and_own_tasks(tmp_path: Path) -> None:
    _write(tmp_path, "part.toml", _suite("part", TASK_A + 'options = { topk = [1, 3], templates = "default" }\n'))
    path = _write(
        tmp_path,
        "mine.toml",
        _suite(
            "mine",
            'include = ["world-retrieval", "part.toml"]\n'
            "[overrides.a]\noptions = { topk = [1] }\n"  # merged key by key: templates stays
            '[overrides.retrieval]\ndataset = { path = "captions", format = "captions" }\nsplit = "val"\n'
            '[[tasks]]\nname = "own"\nkind = "zeroshot"\ndataset = "world-fine"\n',
        ),
    )
    suite = load_suite(path)
    assert _rows(suite.tasks) == [
        ("retrieval", "retrieval", {"path": "captions", "format": "captions"}, "val", {}),
        ("a", "zeroshot", "world-shapes", "test", {"topk": [1], "templates": "default"}),
        ("own", "zeroshot", "world-fine", "test", {}),
    ]
    assert (suite.name, suite.source, suite.path) == ("mine", "path", str(path.resolve()))


def test_includes_nest_and_a_task_reached_twice_is_one_task(tmp_path: Path) -> None:
    # inner includes world-zeroshot; outer includes inner and world-shifts (both hold shapes-zeroshot)
    _write(tmp_path, "inner.toml", _suite("inner", 'include = ["world-zeroshot"]\n'))
    path = _write(tmp_path, "outer.toml", _suite("outer", 'include = ["inner.toml", "world-shifts"]\n'))
    names = [t.name for t in load_suite(path).tasks]
    assert names == [t.name for t in load_suite("world-zeroshot").tasks] + [
        t.name for t in load_suite("world-shifts").tasks if t.name != "shapes-zeroshot"
    ]


def test_the_fingerprint_is_of_the_resolved_suite_not_the_files(tmp_path: Path) -> None:
    included = load_suite(_write(tmp_path, "a.toml", _suite("s", 'include = ["world-zeroshot"]\n')))
    copied = "".join(
        f'[[tasks]]\nname = "{t.name}"\nkind = "{t.kind}"\ndataset = "{t.dataset}"\n'
        for t in load_suite("world-zeroshot").tasks
    )
    written_out = load_suite(_write(tmp_path, "b.toml", "# a comment\n" + _suite("s", 'description = "x"\n' + copied)))
    assert included.sha256 == written_out.sha256 and len(included.sha256) == 64
    changed = load_suite(
        _write(
            tmp_path, "c.toml", _suite("s", 'include = ["world-zeroshot"]\n[overrides.fine-zeroshot]\nsplit = "val"\n')
        )
    )
    assert changed.sha256 != included.sha256
    assert load_suite("world").sha256 == load_suite("world").sha256


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"s.toml": 'include = ["world-zershot"]\n'},
            "include: unknown suite 'world-zershot'. Did you mean 'world-zeroshot'?",
        ),
        ({"s.toml": 'include = ["nope.toml"]\n'}, "include 'nope.toml': suite file .*nope.toml not found"),
        ({"s.toml": 'include = ["s.toml"]\n'}, "suite include cycle: .*s.toml → .*s.toml$"),
        (
            {
                "s.toml": 'include = ["b.toml"]\n',
                "b.toml": 'include = ["c.toml"]\n',
                "c.toml": 'include = ["b.toml"]\n',
            },
            "suite include cycle: .*b.toml → .*c.toml → .*b.toml$",
        ),
        (
            {
                "s.toml": 'include = ["world-zeroshot"]\n'
                + TASK_A.replace('"a"', '"fine-zeroshot"').replace("world-shapes", "world-fine")
            },
            "task 'fine-zeroshot' is already included from world-zeroshot.toml; change it with an "
            "\\[overrides.fine-zeroshot\\] table",
        ),
        (
            {"s.toml": 'include = ["world-zeroshot", "b.toml"]\n', "b.toml": TASK_A.replace('"a"', '"fine-zeroshot"')},
            "task 'fine-zeroshot' is included from world-zeroshot.toml and from .*b.toml with different definitions",
        ),
        ({"s.toml": 'include = ["world-zeroshot", "world-zeroshot"]\n'}, "include lists 'world-zeroshot' twice"),
        (
            {"s.toml": 'include = ["world-zeroshot"]\n[overrides.fine-zeroshoot]\nsplit = "val"\n'},
            "overrides.fine-zeroshoot: no included task 'fine-zeroshoot' to override. Did you mean 'fine-zeroshot'?",
        ),
        (
            {"s.toml": 'include = ["world-zeroshot"]\n[overrides.fine-zeroshot]\nkind = "retrieval"\n'},
            "overrides.fine-zeroshot: unknown key 'kind'",
        ),
        ({"s.toml": 'include = ["world-zeroshot"]\n[overrides.fine-zeroshot]\n'}, "changes nothing"),
        (
            {"s.toml": 'include = ["world-zeroshot"]\n[overrides.fine-zeroshot]\nsplit = "../x"\n'},
            "key 'split' = '../x'",
        ),
        ({"s.toml": "include = 3\n"}, "key 'include' = 3: expected a list"),
        ({"s.toml": 'inclde = ["world"]\n'}, "unknown key 'inclde'. Did you mean 'include'?"),
        ({"s.toml": ""}, "no tasks: give \\[\\[tasks\\]\\] tables or include"),
    ],
)
def test_bad_includes_are_one_line(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, body in files.items():
        _write(tmp_path, name, _suite(Path(name).stem, body))
    with pytest.raises(ConfigError, match=message):
        load_suite(tmp_path / "s.toml")
