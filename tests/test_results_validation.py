"""The strict results reader refuses internally inconsistent results (one line, exit 2, naming the file, the task
and the field) and accepts what `eval` writes, including files written before counts were stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import cli
from tiny_inputs import minimal_result

from cyclip_bench.errors import DataError
from cyclip_bench.eval.tasks.base import fraction_counts
from cyclip_bench.results import MetricInfo, TaskResult, compact_json, parse_result
from cyclip_bench.results import load as load_result

CLASSES = [f"c{i}" for i in range(10)]


def _zeroshot_task() -> dict:
    """A zero-shot task as `eval` writes it: 360 examples, top-1 338/360, top-5, labels and predictions."""
    labels = [i % 10 for i in range(360)]
    top1 = [1] * 338 + [0] * 22
    prediction = [y if hit else (y + 1) % 10 for y, hit in zip(labels, top1, strict=True)]
    top5 = [1] * 350 + [0] * 10
    info = {"top1": MetricInfo(True, "fraction", "top1"), "top5": MetricInfo(True, "fraction", "top5")}
    info["mean_per_class_recall"] = MetricInfo(True, "fraction", None)
    per_example = {"top1": top1, "top5": top5, "label": labels, "prediction": prediction}
    # the float32 means the tasks used to store; fraction_counts turns them into hits / n
    metrics, counts = fraction_counts(
        {"top1": 0.9388889074325562, "top5": 0.9722222089767456, "mean_per_class_recall": 0.93}, info, per_example
    )
    task = TaskResult(
        name="shapes-zeroshot",
        kind="zeroshot",
        dataset="world-shapes",
        split="test",
        metrics=metrics,
        metric_info=info,
        per_example=per_example,
        class_names=CLASSES,
        extra={"num_classes": 10, "num_examples": 360, "k_capped_at": 10},
        counts=counts,
    )
    return json.loads(compact_json(task.to_json()))


def _retrieval_task() -> dict:
    i2t, t2i = [1, 0, 1], [1, 1, 0, 0, 1, 0]
    info = {"image_to_text_R@1": MetricInfo(True, "fraction", "image_to_text_R@1")}
    info["text_to_image_R@1"] = MetricInfo(True, "fraction", "text_to_image_R@1")
    per_example = {"image_to_text_R@1": i2t, "text_to_image_R@1": t2i}
    metrics, counts = fraction_counts({"image_to_text_R@1": 2 / 3, "text_to_image_R@1": 0.5}, info, per_example)
    task = TaskResult("retrieval", "retrieval", "world-retrieval", "test", metrics, info, per_example, None, {}, counts)
    doc = task.to_json()
    doc["extra"] = {"num_images": 3, "num_captions": 6}
    return doc


def _doc(*tasks: dict) -> dict:
    doc = minimal_result()
    doc["tasks"] = list(tasks)
    return doc


def _parse(doc: dict, path: str = "r.json"):
    return parse_result(json.loads(json.dumps(doc)), Path(path))


def test_what_eval_writes_is_accepted_with_exact_fractions_and_counts():
    zs = _zeroshot_task()
    assert zs["metrics"]["top1"] == 0.9388888888888889  # 338/360 in float64, not 0.9388889074
    assert zs["counts"] == {"top1": {"hits": 338, "n": 360}, "top5": {"hits": 350, "n": 360}}
    result = _parse(_doc(zs, _retrieval_task()))
    assert result.tasks[0].counts["top1"] == {"hits": 338, "n": 360}
    assert result.tasks[1].counts["text_to_image_R@1"] == {"hits": 3, "n": 6}


def test_older_files_without_counts_and_with_float32_fractions_still_load():
    zs = _zeroshot_task()
    del zs["counts"]
    zs["metrics"]["top1"] = 0.9388889074325562  # as float32 means were stored
    assert _parse(_doc(zs)).tasks[0].counts == {}


# ---- the four cases, through `cyclip-bench report` -------------------------------------------------


def _short(task: dict) -> None:  # every array one entry short of extra.num_examples, headline consistent
    for key in task["per_example"]:
        task["per_example"][key] = task["per_example"][key][:-1]
    task.pop("counts")
    task["metrics"]["top1"] = sum(task["per_example"]["top1"]) / 359
    task["metrics"]["top5"] = sum(task["per_example"]["top5"]) / 359


def _unequal(task: dict) -> None:  # no stated count: the arrays disagree with each other
    task["extra"].pop("num_examples")
    task["per_example"]["label"] = task["per_example"]["label"][:300]


def _label_999(task: dict) -> None:
    task["per_example"]["label"][5] = 999


def _top1_7_5(task: dict) -> None:
    task["per_example"]["top1"] = [7.5] * 360
    task.pop("counts")


CASES = {
    "short": (_short, "per_example['top1'] has 359 entries, expected 360 (extra.num_examples)"),
    "unequal": (_unequal, "per_example['label'] has 300 entries but per_example['top1'] has 360"),
    "label_999": (_label_999, "per_example['label'] holds 999; expected a class index 0..9 (10 classes"),
    "top1_7_5": (_top1_7_5, "per_example['top1'] holds 7.5; the per-example array of fraction metric 'top1'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_inconsistent_results_are_one_line_exit_2_naming_file_task_and_field(tmp_path, case):
    change, message = CASES[case]
    task = _zeroshot_task()
    change(task)
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(_doc(task)))
    result = cli("report", str(path), "--out", str(tmp_path / "out"))
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"error: {path}: tasks[0] (shapes-zeroshot): "), lines[0]
    assert message in lines[0], lines[0]
    assert not (tmp_path / "out").exists()
    with pytest.raises(DataError):
        load_result(path)


# ---- the other rules ---------------------------------------------------------------------------------------


def _refused(doc: dict, message: str) -> None:
    with pytest.raises(DataError) as err:
        _parse(doc)
    assert message in str(err.value), str(err.value)
    assert str(err.value).startswith("r.json: tasks[")


def test_headline_must_be_the_mean_of_its_array():
    zs = _zeroshot_task()
    zs.pop("counts")
    zs["metrics"]["top1"] = 0.11
    _refused(_doc(zs), "metric 'top1' = 0.11 but the mean of per_example['top1'] is 0.93888")


def test_counts_must_match_the_metric_and_the_array():
    zs = _zeroshot_task()
    zs["counts"]["top1"] = {"hits": 337, "n": 360}
    _refused(_doc(zs), "counts['top1'] = 337/360 = 0.936")
    zs = _zeroshot_task()
    zs["counts"]["top1"] = {"hits": 169, "n": 180}  # the same fraction, another n
    _refused(_doc(zs), "counts['top1'] = 169/180 but per_example['top1'] has 338 hits in 360 entries")
    for bad, message in (
        ({"hits": 5}, "exactly 'hits' and 'n'"),
        ({"hits": 3, "n": 2}, "0 ≤ hits ≤ n"),
        ({"hits": 1.5, "n": 2}, "expected integers"),
    ):
        zs = _zeroshot_task()
        zs["counts"]["top1"] = bad
        _refused(_doc(zs), message)
    zs = _zeroshot_task()
    zs["counts"]["nope"] = {"hits": 1, "n": 2}
    _refused(_doc(zs), "no metric 'nope'")


def test_retrieval_arrays_have_one_entry_per_image_or_per_caption():
    _parse(_doc(_retrieval_task()))  # 3 and 6 entries: one group each
    task = _retrieval_task()
    task["extra"]["num_captions"] = 5
    _refused(_doc(task), "per_example['text_to_image_R@1'] has 6 entries, expected 5 (extra.num_captions)")
    task = _retrieval_task()
    task["extra"] = {}
    _parse(_doc(task))  # no stated counts: each direction is its own group
    task["per_example"]["image_to_text_R@5"] = [1, 1]
    task["metrics"]["image_to_text_R@5"] = 1.0
    _refused(_doc(task), "per_example['image_to_text_R@5'] has 2 entries but per_example['image_to_text_R@1'] has 3")


def test_predictions_must_be_class_indices():
    zs = _zeroshot_task()
    zs["per_example"]["prediction"][0] = -1
    _refused(_doc(zs), "per_example['prediction'] holds -1")
    zs = _zeroshot_task()
    zs["per_example"]["label"][0] = 2.5
    _refused(_doc(zs), "per_example['label'] holds 2.5")
    zs = _zeroshot_task()  # without class names the count comes from extra.num_classes
    zs.pop("class_names")
    zs["per_example"]["label"][0] = 10
    _refused(_doc(zs), "expected a class index 0..9 (10 classes in extra.num_classes)")


def test_nan_metric_only_with_an_empty_array():
    doc = minimal_result()
    task = doc["tasks"][0]
    task["per_example"]["top1"], task["metrics"]["top1"] = [], float("nan")
    _parse(doc)
    task["per_example"]["top1"] = [1, 0]
    _refused(doc, "metric 'top1' = None but the mean of per_example['top1'] is 0.5")
