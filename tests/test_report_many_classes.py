"""A report on ImageNet-sized results (1,000 classes, per-example arrays in the real results-JSON format) stays
small: the per-class plot shows the largest gains and losses beside a histogram, every class goes to a CSV, and
report.md/report.html do not grow with the class count."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from tiny_inputs import minimal_result, minimal_task

from cyclip_bench.report import build_report

N_CLASSES = 1000
PER_CLASS = 5  # examples per class: 5,000 test images


def _class_names() -> list[str]:
    names = [f"class-{i:04d} {'long ' * (i % 4)}name" for i in range(N_CLASSES)]
    names[134] = names[517] = "crane"  # ImageNet lists some names twice (a bird and a machine)
    return names


def _write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    labels = np.repeat(np.arange(N_CLASSES), PER_CLASS)
    paths = []
    for i, (label, p) in enumerate((("rn50-clip", 0.55), ("rn50-cyclip", 0.6))):
        rng = np.random.default_rng(i)
        top1 = (rng.random(labels.size) < p).astype(int)
        top5 = np.maximum(top1, (rng.random(labels.size) < 0.5).astype(int))
        task = minimal_task()
        task.update(
            name="imagenet-zeroshot",
            dataset="imagenet1k",
            metrics={"top1": float(top1.mean()), "top5": float(top5.mean())},
            metric_info={
                key: {"higher_is_better": True, "unit": "fraction", "per_example": key} for key in ("top1", "top5")
            },
            per_example={
                "top1": top1.tolist(),
                "top5": top5.tolist(),
                "label": labels.tolist(),
                "prediction": np.where(top1 == 1, labels, (labels + 1) % N_CLASSES).tolist(),
            },
            class_names=_class_names(),
            extra={"num_classes": N_CLASSES, "num_examples": int(labels.size)},
        )
        doc = minimal_result()
        doc["suite"] = {"name": "zeroshot", "version": 1}
        doc["checkpoint"] = {"label": label, "sha256": str(i) * 64}
        doc["tasks"] = [task]
        paths.append(folder / f"{label}__zeroshot.json")
        paths[-1].write_text(json.dumps(doc))
    return paths


def test_a_thousand_classes_keep_the_report_small(tmp_path):
    results = _write(tmp_path / "results")
    assert sum(p.stat().st_size for p in results) > 100_000  # the inputs do carry 1,000-class arrays
    out = build_report(results, tmp_path / "out", n_boot=200)

    # the per-class plot is drawn, at a size that does not depend on the class count
    plots = {p.name: p for p in out["plots"]}
    png = plots["per-class-zeroshot-imagenet-zeroshot-rn50-cyclip.png"]
    assert png.stat().st_size < 150_000
    md = out["markdown"].read_text()
    assert "the 15 largest gains and losses as bars, every class in the histogram" in md

    # every class, both duplicated names included, is in the CSV linked from the task's section
    (csv_path,) = out["data"]
    assert f"]({csv_path.relative_to(tmp_path / 'out').as_posix()})" in md
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == N_CLASSES
    assert [r["class"] for r in rows if r["class"] == "crane"] == ["crane", "crane"]
    assert {r["examples"] for r in rows} == {str(PER_CLASS)}
    assert set(rows[0]) == {"class_index", "class", "examples", "top1 rn50-clip", "top1 rn50-cyclip"}

    # neither report grows with the classes: a few kB of Markdown, the HTML is mostly the two embedded PNGs
    html = out["html"].read_text()
    assert len(md.encode()) < 20_000, len(md.encode())
    assert len(html.encode()) < 400_000, len(html.encode())
    names_in_md = sum(name in md for name in set(_class_names()))
    assert names_in_md == 0  # class names are in the plot and the CSV, not in a 1,000-row table


def test_per_class_csv_when_checkpoints_have_different_test_sets():
    from cyclip_bench.report.task_plots.per_class import per_class_csv, per_class_top1
    from cyclip_bench.results import TaskResult as Task

    def task(labels, correct):
        return Task(
            "t", "zeroshot", "d", "test", {"top1": 0.5}, {}, {"top1": correct, "label": labels}, list("abc"), {}
        )

    frame = per_class_csv(
        {"x": per_class_top1(task([0, 0, 1], [1, 0, 1])), "y": per_class_top1(task([0, 2, 2], [1, 1, 0]))}
    )
    assert frame.to_csv(index=False, lineterminator="\n") == (
        "class_index,class,examples x,examples y,top1 x,top1 y\n0,a,2,1,0.5,1.0\n1,b,1,,1.0,\n2,c,,2,,0.5\n"
    )


def test_a_repeated_class_name_gets_its_class_index_in_the_per_class_plot():
    """ImageNet names two classes "crane": each bar keeps its own label, and the index stays unique (error bars
    of a seed-pair mean are looked up by it)."""
    import pandas as pd

    from cyclip_bench.report.task_plots.per_class import _named

    named = _named(pd.Series([0.1, 0.2, 0.3], index=[0, 1, 2]), pd.DataFrame({"class": ["crane", "cat", "crane"]}))
    assert list(named.index) == ["crane (class 0)", "cat", "crane (class 2)"] and named.index.is_unique
    assert list(named) == [0.1, 0.2, 0.3]
