"""`cyclip-bench export`: results in CLIP_benchmark's layout (one JSON per model, dataset and task, named by its
default output template, and the CSV its `build` makes) and DataComp's (eval_results.jsonl), read back with pandas
the way those tools read them. The expected names are written out here from the tools' sources, not derived from
the exporter."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import cli
from test_report_helpers import make_result, write_results

from cyclip_bench.results import load

# CLIP_benchmark's result file keys (clip_benchmark/cli.py, `run`: the dict it dumps), in its order.
CB_KEYS = ["dataset", "model", "pretrained", "task", "metrics", "language"]
# Its metric names per task (metrics/zeroshot_classification.py, zeroshot_retrieval.py, linear_probe.py).
CB_ZEROSHOT = {"acc1", "acc5", "mean_per_class_recall"}
CB_RETRIEVAL = {f"{what}_retrieval_recall@{k}" for what in ("image", "text") for k in (1, 5, 10)}
CB_LINEAR_PROBE = {"lp_acc1", "lp_acc5", "lp_mean_per_class_recall"}
# `build`: the metrics, the file's other keys, and model_fullname.
CB_BUILD_COLUMNS = CB_ZEROSHOT | CB_RETRIEVAL | CB_LINEAR_PROBE | set(CB_KEYS) - {"metrics"} | {"model_fullname"}


def _cb_files(folder: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def _equal(ours: float | None, theirs: float | None) -> bool:
    if ours is None or (isinstance(ours, float) and math.isnan(ours)):
        return theirs is None or math.isnan(theirs)
    return theirs == ours


def test_real_eval_results_in_clip_benchmark_layout(eval_results, tmp_path):
    out = tmp_path / "cb"
    run = cli("export", *map(str, eval_results), "--format", "clip_benchmark", "--out", str(out))
    assert run.returncode == 0, run.stderr
    results = [load(p) for p in eval_results]
    files = _cb_files(out)
    expected = {}
    for res in results:
        path = res.checkpoint["path"]
        for task in res.tasks:
            cb_task = {"zeroshot": "zeroshot_classification", "retrieval": "zeroshot_retrieval"}.get(task.kind)
            cb_task = cb_task or {"linear_probe": "linear_probe"}.get(task.kind)
            if cb_task is None:
                continue
            # Every run's final checkpoint is latest.pt: the file names carry the whole path ({pretrained_full_path})
            name = f"{task.dataset}_{path.replace('/', '_')}_{res.checkpoint['model_name']}_en_{cb_task}.json"
            expected[name] = (res, task)
    assert set(files) == set(expected)  # one file per (model, dataset, task), CLIP_benchmark's name
    kinds = set()
    for name, doc in files.items():
        res, task = expected[name]
        kinds.add(task.kind)
        assert list(doc) == CB_KEYS
        assert (doc["model"], doc["pretrained"], doc["dataset"], doc["language"]) == (
            res.checkpoint["model_name"],
            res.checkpoint["path"],
            task.dataset,
            "en",
        )
        m = task.metrics
        if task.kind == "zeroshot":
            assert set(doc["metrics"]) == CB_ZEROSHOT
            pairs = [("acc1", "top1"), ("acc5", "top5"), ("mean_per_class_recall", "mean_per_class_recall")]
        elif task.kind == "retrieval":
            assert set(doc["metrics"]) == CB_RETRIEVAL
            # CLIP_benchmark's image retrieval is a caption finding its image: our text→image.
            pairs = [(f"image_retrieval_recall@{k}", f"text_to_image_R@{k}") for k in (1, 5, 10)]
            pairs += [(f"text_retrieval_recall@{k}", f"image_to_text_R@{k}") for k in (1, 5, 10)]
        else:
            assert set(doc["metrics"]) == CB_LINEAR_PROBE
            pairs = [("lp_acc1", "top1"), ("lp_mean_per_class_recall", "mean_per_class_recall")]
            assert math.isnan(doc["metrics"]["lp_acc5"])  # our probe reports no top-5: NaN, as CLIP_benchmark writes
        for theirs, ours in pairs:
            assert _equal(m.get(ours), doc["metrics"][theirs]), (name, theirs)  # fractions, as both store them
    assert kinds == {"zeroshot", "retrieval", "linear_probe"}
    assert "left out consistency tasks" in run.stderr and "left out effective_robustness tasks" in run.stderr

    table = pd.read_csv(out / "benchmark.csv")
    assert set(table.columns) == CB_BUILD_COLUMNS
    assert len(table) == len(files)
    assert (table["model_fullname"] == table["model"] + " " + table["pretrained"]).all()
    for name, doc in files.items():
        row = table[(table.dataset == doc["dataset"]) & (table.task == doc["task"])]
        row = row[row.pretrained == doc["pretrained"]]
        assert len(row) == 1, name
        for metric, value in doc["metrics"].items():
            assert _equal(value, float(row.iloc[0][metric])), (name, metric)


def test_synthetic_results_names_extras_and_datasets(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    records = {  # as eval records an open_clip pretrained tag, an hf-hub name and a weights file
        "tag": {"path": "pretrained:ViT-B-32:laion2b_s34b_b79k", "model_name": "ViT-B-32"},
        "hub": {"path": "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "model_name": "ViT-B-32"},
        "file": {"path": "/weights/my_clip.pt", "model_name": "tiny"},
    }
    for seed, (label, record) in enumerate(records.items()):
        doc = make_result(label, "clip", 0.5, seed, None)
        doc["checkpoint"].update(record)
        doc["tasks"][0]["dataset"] = "mscoco" if label == "tag" else doc["tasks"][0]["dataset"]
        (folder / f"{label}__world.json").write_text(json.dumps(doc))
    run = cli("export", str(folder), "--out", str(tmp_path / "cb"), "--extras")
    assert run.returncode == 0, run.stderr
    files = _cb_files(tmp_path / "cb")
    tag = files["world-shapes_laion2b_s34b_b79k_ViT-B-32_en_linear_probe.json"]
    assert (tag["model"], tag["pretrained"]) == ("ViT-B-32", "laion2b_s34b_b79k")
    assert tag["metrics"]["cyclip_bench_C"] == 0.316  # the probe's regularisation, under our own name
    assert "mscoco_captions_laion2b_s34b_b79k_ViT-B-32_en_zeroshot_classification.json" in files  # CB's name for it
    hub = files["world-shapes_hf-hub:laion_CLIP-ViT-B-32-laion2B-s34B-b79K_ViT-B-32_en_zeroshot_classification.json"]
    assert hub["pretrained"] == "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
    plain = files["world-shapes_my_clip.pt_tiny_en_zeroshot_classification.json"]  # a file: its base name
    assert plain["pretrained"] == "/weights/my_clip.pt"
    assert plain["metrics"]["cyclip_bench_top3"] == load(folder / "file__world.json").tasks[0].metrics["top3"]
    consistency = files["world-shapes_my_clip.pt_tiny_en_cyclip_bench_consistency.json"]
    assert consistency["task"] == "cyclip_bench_consistency"
    assert all(k.startswith("cyclip_bench_") for k in consistency["metrics"])
    table = pd.read_csv(tmp_path / "cb" / "benchmark.csv")
    assert len(table) == len(files) and "cyclip_bench_consistency@1" in table.columns

    # Without --extras: CLIP_benchmark's names only, and a note for what was left out.
    run = cli("export", str(folder), "--out", str(tmp_path / "plain"))
    assert run.returncode == 0 and "left out zeroshot metrics CLIP_benchmark has no name for (top3)" in run.stderr
    columns = set(pd.read_csv(tmp_path / "plain" / "benchmark.csv").columns)
    assert columns == CB_BUILD_COLUMNS


def test_the_csv_covers_earlier_exports_in_the_folder_as_build_does(tmp_path):
    write_results(tmp_path / "results")
    out = tmp_path / "cb"
    first = cli("export", str(tmp_path / "results" / "clip-s0__world.json"), "--out", str(out))
    assert first.returncode == 0, first.stderr
    second = cli("export", str(tmp_path / "results" / "cyclip-s0__world.json"), "--out", str(out))
    assert second.returncode == 0 and "also covers" in second.stderr
    table = pd.read_csv(out / "benchmark.csv")
    assert len(table) == len(list(out.glob("*.json"))) and table.pretrained.nunique() == 2
    again = cli("export", str(tmp_path / "results" / "cyclip-s0__world.json"), "--out", str(out))
    assert again.returncode == 0  # its own files are replaced
    assert pd.read_csv(out / "benchmark.csv").equals(table)
    assert not list(out.glob(".*.tmp"))


def test_datacomp_jsonl(tmp_path):
    write_results(tmp_path / "results")
    out = tmp_path / "dc"
    run = cli("export", str(tmp_path / "results"), "--format", "datacomp", "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jsonl")) == [
        "clip-s0/eval_results.jsonl",
        "cyclip-s0/eval_results.jsonl",
    ]
    frame = pd.read_json(out / "clip-s0" / "eval_results.jsonl", lines=True)
    assert list(frame.columns) == ["key", "dataset", "metrics"]
    # as DataComp's aggregate_scores.py reads it: the metrics expanded into columns
    frame = pd.concat([frame.drop(["metrics"], axis=1), frame["metrics"].apply(pd.Series)], axis=1)
    rows = frame.set_index("key")
    world = load(tmp_path / "results" / "clip-s0__world.json")
    paper = load(tmp_path / "results" / "clip-s0__paper-sets.json")
    shapes = world.task("shapes-zeroshot").metrics
    # pandas' default JSON parser (the one DataComp's aggregate_scores.py uses) may round the last digit: the
    # file holds the exact values (json module below), pandas reads them to 1e-15.
    same = lambda v: pytest.approx(v, rel=1e-15, abs=0)  # noqa: E731
    assert rows.loc["world-shapes", "acc1"] == same(shapes["top1"]) and rows.loc["world-shapes", "main_metric"] == same(
        shapes["top1"]
    )
    assert rows.loc["world-shapes", "mean_per_class_recall"] == same(shapes["mean_per_class_recall"])
    lines = [json.loads(line) for line in (out / "clip-s0" / "eval_results.jsonl").read_text().splitlines()]
    exact = next(line["metrics"] for line in lines if line["key"] == "world-shapes")
    assert exact["mean_per_class_recall"] == shapes["mean_per_class_recall"] and exact["acc1"] == shapes["top1"]
    assert pd.isna(rows.loc["world-shapes", "acc5"])  # no top-5: null, as DataComp writes it
    imagenet = next(t for t in paper.tasks if t.dataset == "imagenet1k" and t.kind == "zeroshot")
    assert rows.loc["imagenet1k", "dataset"] == "ImageNet 1k" and rows.loc["imagenet1k", "acc1"] == same(
        imagenet.metrics["top1"]
    )
    retrieval = world.task("retrieval").metrics
    line = rows.loc["retrieval/world-retrieval"]
    assert line["image_retrieval_recall@5"] == same(retrieval["text_to_image_R@5"])
    mean_r1 = 0.5 * (retrieval["image_to_text_R@1"] + retrieval["text_to_image_R@1"])
    assert line["mean_recall@1"] == same(mean_r1) and line["main_metric"] == line["mean_recall@1"]
    assert not any(k.startswith("cyclip_bench/") for k in rows.index)
    assert "left out consistency tasks" in run.stderr

    extras = cli("export", str(tmp_path / "results"), "--format", "datacomp", "--out", str(tmp_path / "x"), "--extras")
    assert extras.returncode == 0
    frame = pd.read_json(tmp_path / "x" / "clip-s0" / "eval_results.jsonl", lines=True).set_index("key")
    own = frame.loc["cyclip_bench/consistency/world-shapes", "metrics"]
    assert own["main_metric"] is None  # DataComp's "no summary metric": its averages skip the line
    assert own["cyclip_bench_consistency@1"] == same(world.task("shapes-consistency").metrics["consistency@1"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "clip-bench"], "unknown export format 'clip-bench'. Did you mean 'clip-benchmark'?"),
        (["--language", "a/b"], "--language"),
    ],
)
def test_bad_flags_exit_2(tmp_path, args, message):
    write_results(tmp_path / "results")
    run = cli("export", str(tmp_path / "results"), "--out", str(tmp_path / "o"), *args)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and message in run.stderr, run.stderr
    assert not (tmp_path / "o").exists()


def test_bad_input_exit_2_and_nothing_written(tmp_path):
    write_results(tmp_path / "results")
    notes = tmp_path / "notes.json"
    notes.write_text('{"hello": 1}')
    run = cli("export", str(notes), "--out", str(tmp_path / "o"))
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "missing 'schema_version'" in run.stderr
    assert str(notes) in run.stderr and not (tmp_path / "o").exists()

    a_file = tmp_path / "file"
    a_file.write_text("x")
    run = cli("export", str(tmp_path / "results"), "--out", str(a_file))
    assert (
        run.returncode == 2
        and run.stderr == f"error: --out {a_file} is a file; expected a folder for the exported files\n"
    )

    # A file of someone else's in the folder: `clip_benchmark build OUT` would read it; refused before writing.
    out = tmp_path / "cb"
    out.mkdir()
    (out / "mine.json").write_text('{"mine": true}')
    run = cli("export", str(tmp_path / "results"), "--out", str(out))
    assert run.returncode == 2 and "mine.json: not a CLIP_benchmark result file" in run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["mine.json"]

    # A folder in the way of benchmark.csv: checked before any file is written.
    (out / "mine.json").unlink()
    (out / "benchmark.csv").mkdir()
    run = cli("export", str(tmp_path / "results"), "--out", str(out))
    assert run.returncode == 2 and "a folder is in the way" in run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["benchmark.csv"]

    # A foreign benchmark.csv is not replaced.
    (out / "benchmark.csv").rmdir()
    (out / "benchmark.csv").write_text("a,b\n1,2\n")
    run = cli("export", str(tmp_path / "results"), "--out", str(out))
    assert run.returncode == 2 and "is not a clip_benchmark file" in run.stderr
    assert (out / "benchmark.csv").read_text() == "a,b\n1,2\n"


def test_two_results_for_one_file_are_refused(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    for suite in ("world", "world-again"):  # the same checkpoint's shapes zero-shot in two suites
        doc = make_result("clip", "clip", 0.5, 0, None)
        doc["suite"]["name"] = suite
        (folder / f"clip__{suite}.json").write_text(json.dumps(doc))
    for fmt in ("clip_benchmark", "datacomp"):
        run = cli("export", str(folder), "--format", fmt, "--out", str(tmp_path / fmt))
        assert run.returncode == 2 and run.stderr.count("\n") == 1 and "export them separately" in run.stderr
        assert not (tmp_path / fmt).exists()


def test_the_bench_check_finds_a_differing_cell_or_column(tmp_path):
    """bench/clip_benchmark_export_check.py compares CLIP_benchmark's `build` CSV with ours (clip-benchmark is not
    installed in CI; bench/README.md has the measured run): its comparison sees what it is for."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "cb_check", Path(__file__).parents[1] / "bench" / "clip_benchmark_export_check.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    write_results(tmp_path / "results")
    assert cli("export", str(tmp_path / "results"), "--out", str(tmp_path / "cb")).returncode == 0
    ours = pd.read_csv(tmp_path / "cb" / "benchmark.csv")
    same = module.compare(ours, ours.iloc[::-1].reset_index(drop=True))  # `build`'s row order is the folder's
    assert same["same_columns"] and same["mismatched_cells"] == 0
    changed = ours.copy()
    changed.loc[0, "acc1"] = 0.123
    assert module.compare(ours, changed)["mismatched_cells"] == 1
    missing = module.compare(ours, ours.drop(columns=["acc5"]))
    assert not missing["same_columns"] and missing["only_ours"] == ["acc5"]


@pytest.mark.parametrize("fmt", ["clip_benchmark", "datacomp"])
def test_nothing_the_format_holds_is_one_line_and_no_empty_files(tmp_path, fmt):
    """Results whose tasks the other tool has no name for (consistency only) are refused with the note saying what
    was left out and that --extras exports it — not an empty benchmark.csv / eval_results.jsonl and exit 0. In a
    DataComp export of several checkpoints, one with nothing DataComp has gets no file."""
    folder = tmp_path / "results"
    folder.mkdir()
    for seed, label in enumerate(("only-consistency", "full")):
        doc = make_result(label, "clip", 0.5, seed, None)
        if label == "only-consistency":
            doc["tasks"] = [t for t in doc["tasks"] if t["kind"] == "consistency"]
            assert doc["tasks"]
        (folder / f"{label}__world.json").write_text(json.dumps(doc))
    out = tmp_path / "out"
    run = cli("export", str(folder / "only-consistency__world.json"), "--format", fmt, "--out", str(out))
    assert run.returncode == 2 and not out.exists(), run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(f"error: nothing to export in the {fmt} format: left out consistency tasks (")
    assert "--extras exports them" in line
    extras = cli("export", str(folder / "only-consistency__world.json"), "--format", fmt, "--out", str(out), "--extras")
    assert extras.returncode == 0, extras.stderr
    if fmt == "datacomp":
        both = cli("export", str(folder), "--format", fmt, "--out", str(tmp_path / "both"))
        assert both.returncode == 0, both.stderr
        assert [p.parent.name for p in (tmp_path / "both").rglob("eval_results.jsonl")] == ["full"]
