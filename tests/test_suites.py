"""Suite specs: every built-in suite loads strictly and plans; bad specs fail with one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.eval import TASKS, builtin_suite_names, load_suite, load_tasks
from cyclip_bench.eval.splits import SplitUse, build_needs, describe

WORLD_SUITES = [
    "world",
    "world-compositional",
    "world-consistency",
    "world-linear-probe",
    "world-retrieval",
    "world-shifts",
    "world-zeroshot",
]
REAL_SUITES = ["all", "compositional", "consistency", "linear-probe", "retrieval", "shifts", "zeroshot"]


def test_builtin_suites_are_the_documented_set():
    assert set(WORLD_SUITES + REAL_SUITES) <= set(builtin_suite_names())


@pytest.mark.parametrize("name", sorted(set(WORLD_SUITES + REAL_SUITES)))
def test_every_builtin_suite_loads_and_plans(name, tmp_path):
    suite = load_suite(name)
    assert suite.name == name and isinstance(suite.version, int) and suite.source == "builtin"
    assert len(suite.sha256) == 64 and suite.tasks
    _, tasks = load_tasks(name)
    assert all(t.kind in TASKS for t in tasks)


def test_world_covers_every_builtin_task_kind():
    kinds = {t.kind for t in load_suite("world").tasks}
    assert {"zeroshot", "effective_robustness", "linear_probe", "retrieval", "consistency", "compositional"} <= kinds


@pytest.mark.parametrize("name", WORLD_SUITES)
def test_world_suites_resolve_every_dataset(name, world_dir, tmp_path):
    _, tasks = load_tasks(name)
    uses = _reads(name, world_dir)
    assert uses and all(use.size > 0 for use in uses)
    # every task that reads data is listed, each split with the file or folder it was read from
    assert {use.task for use in uses} == {t.spec.name for t in tasks if t.needs()}
    assert all(Path(use.source).exists() for use in uses)


def _reads(suite: str, data_root: Path | None) -> list[SplitUse]:
    """What each task of ``suite`` reads, split by split, as a run's plan resolves it (built, not decoded)."""
    tasks = load_tasks(suite)[1]
    return describe(tasks, build_needs(tasks, data_root))


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
    [use] = _reads(path, None)
    assert (use.task, use.split, use.size) == ("z", "test", 50)
    assert use.source == str(world_dir / "shapes" / "test" / "labels.csv")


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
            BASE + '[[tasks]]\nname = "a"\nkind = "zeroshot"\ndataset = "world-shapes"\noptions = { topk = 3 }\n',
            "option 'topk' 3: expected a list",
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
        load_tasks(_write(tmp_path, text))


def test_unknown_kind_and_suite_say_did_you_mean(tmp_path):
    path = _write(tmp_path, BASE + '[[tasks]]\nname = "a"\nkind = "zeroshoot"\ndataset = "world-shapes"\n')
    with pytest.raises(UserError, match="unknown task kind 'zeroshoot'. Did you mean 'zeroshot'"):
        load_tasks(path)
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
        load_tasks(path)


def test_unknown_dataset_says_did_you_mean(world_dir, tmp_path):
    path = _write(tmp_path, BASE + '[[tasks]]\nname = "a"\nkind = "zeroshot"\ndataset = "world-shape"\n')
    with pytest.raises(UserError, match="Did you mean 'world-shapes'"):
        _reads(path, world_dir)


def test_cli_suites_lists_every_suite():
    from typer.testing import CliRunner

    from cyclip_bench.cli import app

    result = CliRunner().invoke(app, ["suites"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in WORLD_SUITES + REAL_SUITES:
        assert name in result.output


# --- the real-data suites resolve against small folders in the real layouts --------------------------------


def _png(path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (120, 30, 200)).save(path, format="PNG")


def _cifar(root: Path, n: int = 4) -> None:
    import pickle

    import numpy as np

    data = np.zeros((n, 3072), dtype=np.uint8)
    c10 = root / "cifar-10-batches-py"
    c10.mkdir(parents=True)
    with open(c10 / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)], "num_cases_per_batch": n}, f)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(c10 / name, "wb") as f:
            pickle.dump({b"labels": [i % 10 for i in range(n)], b"data": data}, f)
    c100 = root / "cifar-100-python"
    c100.mkdir(parents=True)
    with open(c100 / "meta", "wb") as f:
        pickle.dump(
            {
                "fine_label_names": [f"c{i}" for i in range(100)],
                "coarse_label_names": [f"s{i}" for i in range(20)],
            },
            f,
        )
    for split in ("train", "test"):
        with open(c100 / split, "wb") as f:
            pickle.dump({"data": data, "fine_labels": list(range(n)), "coarse_labels": [0] * n}, f)


@pytest.fixture(scope="module")
def real_root(tmp_path_factory) -> Path:
    from cyclip_bench.data.metadata import builtin_metadata, imagenet_subset_wnids

    root = tmp_path_factory.mktemp("real")
    _cifar(root)
    wnids = builtin_metadata("imagenet").wnids
    for wnid in wnids[:3]:
        _png(root / "imagenet" / "val" / wnid / "a.JPEG")
        _png(root / "imagenet" / "train" / wnid / "b.JPEG")
        _png(root / "imagenet-sketch" / "sketch" / wnid / "a.JPEG")
    for name in ("imagenet-a", "imagenet-r"):  # folders of the release's 200 classes only
        for wnid in imagenet_subset_wnids(name)[:3]:
            _png(root / name / wnid / "a.jpg")
    for wnid in wnids[3:]:
        (root / "imagenet" / "val" / wnid).mkdir(parents=True)
        (root / "imagenet" / "train" / wnid).mkdir(parents=True)
        (root / "imagenet-sketch" / "sketch" / wnid).mkdir(parents=True)
    for i in range(1000):
        (root / "imagenetv2-matched-frequency-format-val" / str(i)).mkdir(parents=True)
    _png(root / "imagenetv2-matched-frequency-format-val" / "0" / "a.jpeg")
    for name in ("flickr30k", "mscoco"):
        _png(root / name / "images" / "1.jpg")
        (root / name / "test.csv").write_text("image,caption\nimages/1.jpg,a dog\nimages/1.jpg,a brown dog\n")
    from cyclip_bench.data.compositional import write_sugarcrepe_fixture, write_winoground_fixture

    write_sugarcrepe_fixture(root / "sugarcrepe", per_subset=1, image_size=16)
    write_winoground_fixture(root / "winoground", groups=1, image_size=16)
    return root


@pytest.mark.parametrize("name", REAL_SUITES)
def test_real_suites_resolve_against_fixture_layouts(name, real_root, tmp_path):
    uses = _reads(name, real_root)
    assert uses and all(use.size > 0 for use in uses)


def test_imagenet_consistency_reads_the_train_split(real_root, tmp_path):
    reads = {(u.split, u.source) for u in _reads("consistency", real_root) if u.dataset == "imagenet1k"}
    assert reads == {("train", f"{real_root / 'imagenet' / 'train'}/"), ("test", f"{real_root / 'imagenet' / 'val'}/")}


def test_real_suite_missing_folder_names_path_and_layout(tmp_path):
    with pytest.raises(UserError, match="imagenet"):
        _reads("shifts", tmp_path)
