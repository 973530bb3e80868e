"""The `shifts` suite end to end at the real class counts, through the CLI: `data fixture` writes ImageNet val, V2,
Sketch, A and R in their real layouts (1 image per class: 3,400 images), `eval --suite shifts` runs the real text
head (1,000 classes × 80 templates = 80,000 prompts, encoded once for the five sets) and the 200-class masks, and
`report` reads the results. Keeps the path a researcher runs on the real datasets from silently breaking.

The model is the `tiny` preset with a narrower text tower (width 32, 1 layer) so that 80,000 prompts fit the time
budget. Rerun alone: `OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q tests/test_real_layout_e2e.py` (~40 s on 2
cores).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from cli_runner import cli

from cyclip_bench.data.metadata import builtin_metadata, imagenet_subset_wnids
from cyclip_bench.eval.features import Encoder

SETS = {  # task → (dataset, examples, classes the predictions may take)
    "imagenet1k-zeroshot": ("imagenet1k", 1000, 1000),
    "imagenetv2-zeroshot": ("imagenetv2", 1000, 1000),
    "imagenet-sketch-zeroshot": ("imagenet-sketch", 1000, 1000),
    "imagenet-a-zeroshot": ("imagenet-a", 200, 200),
    "imagenet-r-zeroshot": ("imagenet-r", 200, 200),
}


@pytest.fixture(scope="module")
def narrow_text_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cyclip_bench.models import create_model, create_model_from_config, model_payload, save_checkpoint

    torch.manual_seed(0)
    _, info = create_model("tiny")
    config = copy.deepcopy(info.config)
    config["text_cfg"].update(width=32, heads=2, layers=1)
    model, narrow = create_model_from_config("tiny-narrow-text", config, info.preprocess)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, model_payload(model, narrow))
    return path


def test_shifts_suite_and_report_on_the_real_layouts(
    narrow_text_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, out, report = tmp_path / "data", tmp_path / "results", tmp_path / "report"
    made = cli("data", "fixture", str(data), "--suite", "shifts", "--per-class", "1", "--image-size", "32")
    assert made.returncode == 0, made.stderr

    prompts: list[int] = []
    distinct_per_call: list[int] = []
    original = Encoder.texts

    def counting(self, texts, what):  # noqa: ANN001
        prompts.append(len(texts))
        distinct_per_call.append(len(set(texts)))
        return original(self, texts, what)

    monkeypatch.setattr(Encoder, "texts", counting)
    args = ["--checkpoint", str(narrow_text_checkpoint), "--suite", "shifts", "--data-root", str(data)]
    ran = cli("eval", *args, "--out", str(out), "--workers", "0", "--no-cache", "--quiet")
    assert ran.returncode == 0, ran.stderr
    assert sum(prompts) == 1000 * 80 and max(prompts) <= 8192  # one head for the five sets, streamed in blocks

    doc = json.loads((out / "tiny__shifts.json").read_text())
    tasks = {t["name"]: t for t in doc["tasks"]}
    assert list(tasks) == [*SETS, "effective-robustness"]
    imagenet = builtin_metadata("imagenet")
    for name, (dataset, examples, allowed) in SETS.items():
        task = tasks[name]
        assert task["dataset"] == dataset and task["class_names"] == imagenet.classes
        assert task["extra"]["num_classes"] == 1000 and task["extra"]["num_examples"] == examples
        assert task["extra"]["k_capped_at"] == allowed
        per = task["per_example"]
        assert len(per["label"]) == len(per["prediction"]) == len(per["top1"]) == examples
        assert all(0.0 <= task["metrics"][m] <= 1.0 for m in ("top1", "top3", "top5", "mean_per_class_recall"))
        if allowed == 200:  # predictions stay inside the real 200 classes
            subset = sorted(imagenet.wnids.index(w) for w in imagenet_subset_wnids(dataset))
            assert task["extra"]["class_subset"] == subset and sorted(per["label"]) == subset
            assert set(per["prediction"]) <= set(subset)
        else:
            assert sorted(per["label"]) == list(range(1000))
    robustness = tasks["effective-robustness"]["metrics"]
    assert sorted(robustness) == sorted(f"{d}/effective_robustness" for d, _, _ in list(SETS.values())[1:])
    assert doc["run"]["templates_sha256"]["imagenet1k/test"] == doc["run"]["templates_sha256"]["imagenet-r/test"]
    # a string repeated within one block of prompts is encoded once: ImageNet's class names repeat ("crane",
    # "maillot"), so a block holding both classes of a name encodes its 80 prompts once
    assert len(set(imagenet.classes)) < 1000 and sum(distinct_per_call) < 80_000
    assert doc["run"]["encoded"] == {"images": 3400, "texts": sum(distinct_per_call)}
    seconds = doc["run"]["wall_time_s"]
    assert seconds["encode_images"] > 0 and seconds["encode_texts"] > 0
    assert seconds["encode_images"] + seconds["encode_texts"] == pytest.approx(seconds["encode"], rel=0.02, abs=0.05)
    # Compact per-example arrays: the whole file stays small at 1,000 classes (~125 KB for 3,400 examples).
    assert (out / "tiny__shifts.json").stat().st_size < 400_000

    reported = cli("report", str(out / "tiny__shifts.json"), "--out", str(report))
    assert reported.returncode == 0, reported.stderr
    markdown = (report / "report.md").read_text()
    assert (report / "report.html").is_file() and "imagenet-r" in markdown and "imagenet-sketch" in markdown
