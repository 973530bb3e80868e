"""`cyclip-bench eval --dataset NAME …` without a suite file (cyclip_bench/eval/dataset_suite.py), end to end
through the CLI on webdataset copies written by webdataset's own ShardWriter (webp, several shards): the tasks
follow what each dataset holds, --task narrows them, the results file is named after the datasets, a suite file
naming the same wds dataset gives the same numbers, and bad combinations are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import cli

from cyclip_bench.data.wds import synthetic_wds_samples, write_wds_fixture
from cyclip_bench.eval.dataset_suite import dataset_suite, suite_name

pytest.importorskip("webdataset")

CLASSES = ["red circle", "blue square", "green star"]


@pytest.fixture(scope="module")
def wds_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """wds_vtab-cifar10 (3 classes, train 12 / test 9, 4 samples a shard), wds_mscoco_captions (6 images, 2
    captions each) and a test-only copy, wds_imagenet-o_test (DataComp's folder name)."""
    root = tmp_path_factory.mktemp("wds") / "root"
    splits = {
        "train": synthetic_wds_samples("classification", 12, 3, seed=1),
        "test": synthetic_wds_samples("classification", 9, 3, seed=2),
    }
    write_wds_fixture(root / "wds_vtab-cifar10", "classification", CLASSES, ["a photo of a {c}."], 4, splits)
    write_wds_fixture(
        root / "wds_mscoco_captions", "retrieval", [], [], 4, {"test": synthetic_wds_samples("retrieval", 6)}
    )
    test_only = {"test": synthetic_wds_samples("classification", 4, 3, seed=3, image_ext="png")}
    write_wds_fixture(root / "wds_imagenet-o_test", "classification", CLASSES, ["{c}"], 4, test_only)
    return root


def _run(*args: str) -> object:
    return cli("eval", "--workers", "0", "-q", *args)


def test_dataset_flag_end_to_end_and_same_numbers_as_a_suite(
    wds_root: Path, same_label_checkpoints: dict, tmp_path: Path
) -> None:
    ckpt = f"m={same_label_checkpoints['exp1']}"
    common = ["-c", ckpt, "--data-root", str(wds_root), "--cache-dir", str(tmp_path / "cache")]
    result = _run(*common, "--dataset", "wds/vtab/cifar10", "--dataset", "mscoco", "--out", str(tmp_path / "a"))
    assert result.returncode == 0, result.stderr
    path = tmp_path / "a" / "m__datasets-wds-vtab-cifar10+mscoco.json"
    doc = json.loads(path.read_text())
    tasks = {t["name"]: t for t in doc["tasks"]}
    assert [(t["name"], t["kind"]) for t in doc["tasks"]] == [
        ("wds-vtab-cifar10-zeroshot", "zeroshot"),
        ("wds-vtab-cifar10-linear_probe", "linear_probe"),
        ("wds-vtab-cifar10-consistency", "consistency"),
        ("mscoco-retrieval", "retrieval"),
        ("mscoco-geometry", "geometry"),
    ]
    assert doc["suite"]["source"] == "datasets" and "--dataset wds/vtab/cifar10" in doc["suite"]["path"]
    zeroshot = tasks["wds-vtab-cifar10-zeroshot"]
    assert zeroshot["dataset"] == "wds/vtab/cifar10" and zeroshot["extra"]["num_examples"] == 9
    assert zeroshot["class_names"] == CLASSES
    assert tasks["mscoco-retrieval"]["extra"] == {"num_images": 6, "num_captions": 12}
    assert tasks["mscoco-geometry"]["extra"]["num_pairs"] == 6
    assert "modality_gap" in tasks["mscoco-geometry"]["metrics"]
    assert "consistency@1" in tasks["wds-vtab-cifar10-consistency"]["metrics"]

    # The same dataset named in a suite file: the same number.
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "mine"\nversion = 1\n[[tasks]]\nname = "z"\nkind = "zeroshot"\ndataset = "wds/vtab/cifar10"\n'
    )
    result = _run(*common, "--suite", str(suite), "--out", str(tmp_path / "b"))
    assert result.returncode == 0, result.stderr
    other = json.loads((tmp_path / "b" / "m__mine.json").read_text())["tasks"][0]
    assert other["metrics"] == zeroshot["metrics"] and other["per_example"] == zeroshot["per_example"]


def test_tasks_follow_the_data_and_task_narrows(wds_root: Path, same_label_checkpoints: dict, tmp_path: Path) -> None:
    suite = dataset_suite(["wds/imagenet-o", "wds/vtab/cifar10"], (), wds_root)  # no train split: zero-shot only
    assert [t.kind for t in suite.tasks] == ["zeroshot", "zeroshot", "linear_probe", "consistency"]
    assert suite.name == "datasets-wds-imagenet-o+wds-vtab-cifar10"
    narrowed = dataset_suite(["wds/vtab/cifar10", "wds/mscoco_captions"], ("consistency",), wds_root)
    assert [(t.name, t.kind) for t in narrowed.tasks] == [
        ("wds-vtab-cifar10-consistency", "consistency"),
        ("wds-mscoco_captions-geometry", "geometry"),
    ]
    assert dataset_suite(["wds/vtab/cifar10"], ("zeroshot",), wds_root).sha256 != suite.sha256
    # The name is stable and a file name whatever the number of datasets.
    many = [f"set{i}" for i in range(40)]
    assert suite_name(many) == suite_name(list(many)) and len(suite_name(many)) <= 120 and "/" not in suite_name(many)
    # imagefolder:PATH — the test split only (no train/ folder), classes from the folder names.
    folder = tmp_path / "shapes"
    for c in ("circle", "square"):
        (folder / c).mkdir(parents=True)
        (folder / c / "a.png").write_bytes(_png())
    result = _run(
        "-c", str(same_label_checkpoints["exp1"]), "--dataset", f"imagefolder:{folder}", "--out",
        str(tmp_path / "out"), "--no-cache", "--dry-run",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "imagefolder-shapes-zeroshot (zeroshot)" in result.stdout and "linear_probe" not in result.stdout
    assert f"would write {tmp_path / 'out' / 'clip__datasets-imagefolder-shapes.json'}" in result.stdout


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, format="png")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "wds/vtab/cifar10", "--suite", "zeroshot"], "--suite and --dataset: give one of them"),
        ([], "neither was given"),
        (["--dataset", "cifar1O"], "unknown dataset 'cifar1O'. Did you mean 'cifar10'?"),
        (["--dataset", "mscoco_captions"], "Did you mean 'wds/mscoco_captions'?"),
        (["--dataset", "wds/vtab/cifar10", "--task", "zeroshoot"], "--task 'zeroshoot': unknown. Did you mean"),
        (["--dataset", "wds/mscoco_captions", "--task", "zeroshot"], "holds images with captions: --task zeroshot"),
        (["--dataset", "wds/imagenet-o", "--task", "linear_probe"], "--task linear_probe on --dataset wds/imagenet-o"),
        (["--dataset", "wds/vtab/cifar10", "--dataset", "wds/vtab/cifar10"], "given twice"),
        (["--dataset", "wds/vtab/pets"], "wds_vtab-pets/test/nshards.txt"),
        (["--dataset", "imagefolder:"], "nothing after 'imagefolder:'"),
        (["--dataset", "wds/../etc"], "wds dataset name 'wds/../etc'"),
    ],
)
def test_bad_dataset_flags_are_one_line(
    wds_root: Path, same_label_checkpoints: dict, tmp_path: Path, args: list[str], message: str
) -> None:
    ckpt = str(same_label_checkpoints["exp1"])
    result = _run("-c", ckpt, "--data-root", str(wds_root), "--out", str(tmp_path / "out"), "--no-cache", *args)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
