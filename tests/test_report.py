"""`cyclip-bench report` / `build_report` on realistic results (tests/test_report_helpers.py) and, when the
eval engine's session fixture exists, on real results of two briefly trained tiny checkpoints."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_report_helpers import make_result, write_results

from cyclip_bench.cli import main
from cyclip_bench.errors import UserError
from cyclip_bench.report import build_report
from cyclip_bench.report.paper import lookup

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def fixture_report(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("report")
    write_results(root / "results")
    paths = build_report([root / "results"], root / "out", title="fixture report")
    return root, paths


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.imgs: list[dict] = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "img":
            self.imgs.append(dict(attrs))


def _parse(html: str) -> _Collector:
    parser = _Collector()
    parser.feed(html)
    return parser


def test_report_files_and_plots(fixture_report):
    root, paths = fixture_report
    out = root / "out"
    assert paths["markdown"] == out / "report.md" and paths["html"] == out / "report.html"
    names = {p.name for p in paths["plots"]}
    for stem in (
        "bars-world",
        "bars-paper-sets",
        "er-world-shapes-robustness",
        "consistency-world-shapes-consistency",
        "geometry-world-shapes-consistency",
        "per-class-world-shapes-zeroshot-cyclip-s0",
        "training-curves",
    ):
        assert f"{stem}.png" in names and f"{stem}.svg" in names, stem
    # fine-consistency measured its geometry on the same caption pairs: shown once, under shapes-consistency
    assert "geometry-world-fine-consistency.png" not in names
    for plot in paths["plots"]:
        assert plot.is_file() and plot.stat().st_size > 1000
        if plot.suffix == ".png":
            assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # no temp files left behind by the atomic writes
    assert not [p for p in out.rglob("*.tmp")]


def test_html_is_self_contained(fixture_report):
    root, paths = fixture_report
    html = paths["html"].read_text()
    parsed = _parse(html)
    assert "script" not in parsed.tags
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "no network resources"
    assert parsed.imgs and all(img["src"].startswith("data:image/png;base64,") for img in parsed.imgs)
    assert len(parsed.imgs) == len([p for p in paths["plots"] if p.suffix == ".png"])
    assert parsed.tags["table"] >= 10


def test_overview_best_marked_and_the_paper_in_its_own_table(fixture_report):
    root, paths = fixture_report
    md = paths["markdown"].read_text()
    overview = md.split("## Overview")[1].split("\n## ")[0]
    assert "paper (RN50, CC3M)" not in overview  # the paper's numbers are not mixed into our rows
    assert re.search(r"\*\*\d+\.\d\d\*\*", overview)  # best per row in bold
    html = paths["html"].read_text()
    assert 'class="best' in html
    # The gaps CyCLIP optimises and their scale-free forms are headline rows (↓ / ↑ as their direction says).
    for metric, direction in (
        ("inmodal_gap", "↓"),
        ("crossmodal_gap", "↓"),
        ("inmodal_rank_correlation", "↑"),
        ("crossmodal_asymmetry_normalised", "↓"),
    ):
        assert f"shapes-consistency · {metric} {direction}" in overview.replace("\\_", "_"), metric
    paper = md.split("## The paper beside us")[1].split("\n## ")[0]
    header = next(line for line in paper.splitlines() if line.startswith("| suite"))
    assert "paper (RN50, CC3M) CLIP" in header and "direction agrees?" in header
    row = next(line for line in paper.splitlines() if "imagenet1k-zeroshot" in line)
    assert "20.03" in row and "22.08" in row and "+2.05" in row  # the published zero-shot ImageNet1K numbers
    cells = [c.strip() for c in row.strip("|").split("|")]
    columns = [c.strip() for c in header.strip("|").split("|")]
    ours = float(cells[columns.index("our change")].split()[0])
    assert cells[columns.index("direction agrees?")] == ("yes" if ours > 0 else "no")
    row = next(line for line in paper.splitlines() if "shapes-consistency · consistency@1 " in line)
    assert "CIFAR-10 (analogue)" in row and "44.60" in row  # analogue, labelled as such


def test_statistics_sections(fixture_report):
    root, paths = fixture_report
    md = paths["markdown"].read_text()
    assert "paired comparison against clip-s0" in md
    assert "McNemar exact" in md
    assert "significant (p = " in md
    assert re.search(r"\d+\.\d\d \\\[\d+\.\d\d, \d+\.\d\d\\\]", md), "value with a bootstrap CI"
    assert "## Training" in md and "training-curves.png" in md
    assert "## Provenance" in md and "report generator" in md


def test_not_significant_written_out(tmp_path):
    write_results(tmp_path / "results")
    # Make the two checkpoints agree on every shapes-zeroshot example but one: p = 1.
    files = sorted((tmp_path / "results").glob("*__world.json"))
    docs = [json.loads(f.read_text()) for f in files]
    task_a, task_b = (d["tasks"][0] for d in docs)
    task_b["per_example"]["top1"] = list(task_a["per_example"]["top1"])
    task_b["per_example"]["top1"][0] = 1 - task_b["per_example"]["top1"][0]
    task_b["metrics"]["top1"] = sum(task_b["per_example"]["top1"]) / len(task_b["per_example"]["top1"])
    for f, d in zip(files, docs, strict=True):
        f.write_text(json.dumps(d))
    paths = build_report(files, tmp_path / "out")
    md = paths["markdown"].read_text()
    section = md.split("### shapes-zeroshot")[1].split("### ")[0]
    assert "not significant (p = 1)" in section


def test_escaping_of_labels_and_class_names(tmp_path):
    write_results(tmp_path / "results", label_cyclip=EVIL, class_names=[f"{EVIL}{i}" for i in range(9)] + ["$x$"])
    paths = build_report([tmp_path / "results"], tmp_path / "out", title=f"title {EVIL}")
    html = paths["html"].read_text()
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "script" not in _parse(html).tags
    md = paths["markdown"].read_text()
    outside_fences = re.sub(r"~~~~json\n.*?\n~~~~\n", "", md, flags=re.S)
    # backslash escapes (CommonMark), not HTML entities: the raw Markdown reads as the text it shows
    assert EVIL not in outside_fences and "\\<script>alert(1)\\</script>" in md
    assert not re.search(r"&(lt|gt|amp|quot);", md)
    # plot file names are slugs, inside plots/
    assert all(p.parent == tmp_path / "out" / "plots" for p in paths["plots"])


def test_deterministic(tmp_path, fixture_report):
    root, paths = fixture_report
    again = build_report([root / "results"], tmp_path / "again", title="fixture report")
    assert again["markdown"].read_text() == paths["markdown"].read_text()
    assert again["html"].read_bytes() == paths["html"].read_bytes()


def test_seeds_aggregated(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    for label, loss, p, seed in (
        ("clip-s0", "clip", 0.5, 0),
        ("clip-s1", "clip", 0.6, 1),
        ("cyclip", "cyclip", 0.7, 2),
    ):
        doc = make_result(label, loss, p, seed, None)
        (folder / f"{label}__world.json").write_text(json.dumps(doc))
    md = build_report([folder], tmp_path / "out")["markdown"].read_text()
    seeds = md.split("## Seeds")[1].split("## ")[0]
    assert "| clip |" not in seeds.splitlines()[0]
    assert "(n = 2)" in seeds and "±" in seeds
    assert "clip-s0, clip-s1" in seeds


def _seed_results(folder: Path, values: dict[str, tuple[list[float], list[float]]]) -> None:
    """clip-s0..2 and cyclip-s0..2 (three seeds per configuration) with chosen headline values:
    values[task] = (clip's top1 per seed, cyclip's top1 per seed)."""
    folder.mkdir()
    for loss, offset in (("clip", 0), ("cyclip", 1)):
        for seed in range(3):
            label = f"{loss}-s{seed}"
            doc = make_result(label, loss, 0.5, 100 * offset + seed, None)  # train_config seed = seed
            for task in doc["tasks"]:
                if task["name"] in values:
                    # the per-example array must agree with the headline (the reader checks it)
                    value, n = values[task["name"]][offset][seed], len(task["per_example"]["top1"])
                    hits = round(value * n)
                    assert hits / n == pytest.approx(value)
                    task["metrics"]["top1"] = value
                    task["per_example"]["top1"] = [1] * hits + [0] * (n - hits)
            (folder / f"{label}__world.json").write_text(json.dumps(doc))


def test_differences_between_configurations_across_seeds(tmp_path):
    from scipy import stats as sps

    from cyclip_bench.report.stats import bootstrap_seed_difference

    clip_zs, cyclip_zs = [0.50, 0.52, 0.54], [0.60, 0.62, 0.64]  # +10 pp, sd 2 pp each
    clip_lp, cyclip_lp = [0.60, 0.65, 0.70], [0.61, 0.66, 0.71]  # +1 pp, sd 5 pp each
    _seed_results(
        tmp_path / "results", {"shapes-zeroshot": (clip_zs, cyclip_zs), "shapes-linear-probe": (clip_lp, cyclip_lp)}
    )
    paths = build_report([tmp_path / "results"], tmp_path / "out", baseline="clip-s1", n_boot=2000, seed=0)
    md = paths["markdown"].read_text()
    seeds = md.split("## Seeds")[1].split("\n## ")[0]
    assert "**Differences between configurations (across seeds)**" in seeds
    lines = [line.split(" | ") for line in seeds.splitlines() if " | cyclip | " in line]
    rows = {cells[0].lstrip("| "): cells for cells in lines}
    # Welch by hand: d = 10 pp, se = 2·sqrt(2/3) = 1.633 pp, df = 4, t_.975,4 = 2.776 → [5.47, 14.53], p = 0.0036.
    # MDD = 3.0709 · sd (two groups of three, 80% power) = 6.14 pp; 2 pp at sd 2 pp (δ/sd = 1) needs 17 seeds each.
    zs = rows["world · shapes-zeroshot · top1 (%)"]
    ci = sps.ttest_ind(cyclip_zs, clip_zs, equal_var=False).confidence_interval()
    assert (round(100 * ci.low, 2), round(100 * ci.high, 2)) == (5.47, 14.53)
    boot = bootstrap_seed_difference(clip_zs, cyclip_zs, n_boot=2000, seed=0)
    assert zs[1:] == [
        "cyclip",
        "3 / 3",
        "52.00",
        "62.00",
        "+10.00 pp",
        "\\[+5.47, +14.53\\]",
        f"\\[{100 * boot.low:+.2f}, {100 * boot.high:+.2f}\\]",
        "0.0036",
        "6.14 pp",
        "17 for 2 pp",
        "detected |",
    ]
    # +1 pp under 5 pp seed noise: CI [−10.33, +12.33], MDD 15.35 pp, 100 seeds each for 2 pp (δ/sd = 0.4):
    # never written up as "no effect".
    lp = rows["world · shapes-linear-probe · top1 (%)"]
    assert lp[5:7] == ["+1.00 pp", "\\[-10.33, +12.33\\]"]
    assert lp[8:] == ["0.819", "15.35 pp", "100 for 2 pp", "not detectable at this power |"]
    # Metrics in other units: seeds needed for a difference the size of the observed one.
    gap = rows["world · shapes-consistency · modality\\_gap"]
    assert gap[5] == "-0.24" and gap[10] == "2 for 0.24 (observed)" and gap[-1] == "detected |"
    assert "not evidence that there is none" in seeds and "pooled sd" in seeds
    html = paths["html"].read_text()
    assert "Differences between configurations (across seeds)" in html
    assert ">[+5.47, +14.53]</td>" in html and ">not detectable at this power</td>" in html


def test_differences_across_seeds_need_a_baseline_with_seeds(tmp_path):
    _seed_results(tmp_path / "results", {})
    doc = make_result("single", "cyclip", 0.6, 7, None)
    doc["checkpoint"]["train_config"]["lr"] = 0.1  # another configuration, one seed
    (tmp_path / "results" / "single__world.json").write_text(json.dumps(doc))
    md = build_report([tmp_path / "results"], tmp_path / "out", baseline="single")["markdown"].read_text()
    seeds = md.split("## Seeds")[1].split("\n## ")[0]
    assert "the baseline single has a single seed" in seeds
    assert "| cyclip | 3 / 3 |" not in seeds
    md = build_report([tmp_path / "results"], tmp_path / "out2", baseline="cyclip-s0")["markdown"].read_text()
    seeds = md.split("## Seeds")[1].split("\n## ")[0]
    assert "| clip | 3 / 3 |" in seeds and "| single |" not in seeds  # a one-seed configuration gets no row


def test_per_class_plots_compare_one_checkpoint_per_configuration(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    # make_result stores seed % 100 in the training config and derives the checkpoint hash from the seed.
    runs = [
        ("clip-s0", "clip", 0.5, 0),
        ("clip-s1", "clip", 0.55, 1),
        ("cyclip-s0", "cyclip", 0.6, 100),
        ("cyclip-s1", "cyclip", 0.7, 101),
        ("other", "cyclip", 0.65, 207),
    ]
    for label, loss, p, seed in runs:
        doc = make_result(label, loss, p, seed, None)
        if label == "other":
            doc["checkpoint"]["train_config"]["lr"] = 0.5  # another configuration, one seed
        (folder / f"{label}__world.json").write_text(json.dumps(doc))
    plots = {p.name for p in build_report([folder], tmp_path / "out", baseline="clip-s0")["plots"]}
    per_class = {name for name in plots if name.startswith("per-class-") and name.endswith(".png")}
    assert per_class, plots
    # cyclip and clip share seeds 0 and 1: one plot of cyclip − clip averaged over the two seed pairs, named after
    # the configuration; no plot per seed, none of clip-s1 (a seed-mate of the baseline); "other" (one seed) alone.
    assert any(name.endswith("-zeroshot-cyclip.png") for name in per_class), per_class
    assert not any(name.endswith(("-cyclip-s0.png", "-cyclip-s1.png", "-clip-s1.png")) for name in per_class)
    assert any(name.endswith("-other.png") for name in per_class), per_class


def test_baseline_option(tmp_path):
    write_results(tmp_path / "results")
    md = build_report([tmp_path / "results"], tmp_path / "out", baseline="cyclip-s0")["markdown"].read_text()
    assert "paired comparison against cyclip-s0" in md
    with pytest.raises(UserError, match="--baseline 'nope'"):
        build_report([tmp_path / "results"], tmp_path / "out2", baseline="nope")


def test_missing_run_dir_is_reported(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    for label, seed in (("a", 0), ("b", 1)):
        doc = make_result(label, "clip", 0.5, seed, tmp_path / "gone" / label)
        (folder / f"{label}.json").write_text(json.dumps(doc))
    md = build_report([folder], tmp_path / "out")["markdown"].read_text()
    assert "metrics.jsonl not found" in md


def test_out_dir_safety(tmp_path):
    write_results(tmp_path / "results")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("my notes")
    (out / "keep.txt").write_text("unrelated")
    with pytest.raises(UserError, match="not written by `cyclip-bench report`"):
        build_report([tmp_path / "results"], out)
    assert (out / "report.md").read_text() == "my notes"
    (out / "report.md").unlink()
    first = build_report([tmp_path / "results"], out)
    # A second report with fewer tasks removes the first report's now-stale plots, and nothing else.
    only = tmp_path / "only"
    only.mkdir()
    (only / "a.json").write_text((tmp_path / "results" / "clip-s0__world.json").read_text())
    second = build_report([only / "a.json"], out)
    assert (out / "keep.txt").read_text() == "unrelated"
    stale = set(first["plots"]) - set(second["plots"])
    assert stale and not any(p.exists() for p in stale)
    assert all(p.exists() for p in second["plots"])


# ---- errors: one line, exit code 2 --------------------------------------------------


def _run_cli(args, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"schema_version": 99, "suite": {}, "checkpoint": {}, "tasks": []}', "unknown schema_version 99"),
        ("{not json", "not valid JSON (line 1"),
        ('{"schema_version": 1}', "missing or invalid 'suite'"),
        ("[1, 2]", "results must be a JSON object"),
        ('{"tasks": []}', "missing 'schema_version'"),
    ],
)
def test_bad_results_exit_2(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, out, err = _run_cli(["report", str(bad), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err and str(bad) in err
    assert not (tmp_path / "out" / "report.html").exists()


def test_malformed_task_exit_2(tmp_path, capsys):
    doc = make_result("a", "clip", 0.5, 0, None)
    doc["tasks"][0]["metrics"]["top1"] = "high"
    doc["tasks"][1]["per_example"]["top1"] = [1, 0]
    bad = tmp_path / "a.json"
    bad.write_text(json.dumps(doc))
    code, _, err = _run_cli(["report", str(bad), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "metric 'top1' must be a number" in err and err.count("\n") == 1


def test_missing_input_exit_2(tmp_path, capsys):
    code, _, err = _run_cli(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "no such results file or folder" in err


def test_cli_writes_report(tmp_path, capsys):
    write_results(tmp_path / "results")
    main(
        [
            "report",
            str(tmp_path / "results"),
            "--out",
            str(tmp_path / "out"),
            "--title",
            "T",
            "--n-boot",
            "500",
        ]
    )
    out = capsys.readouterr().out
    assert "report.html" in out and (tmp_path / "out" / "report.md").is_file()


def test_paper_lookup():
    assert lookup("zeroshot", "imagenet1k", "top1").values == {"CLIP": 20.03, "CyCLIP": 22.08}
    assert lookup("linear_probe", "CIFAR-100", "top1").values == {"CLIP": 72.37, "CyCLIP": 72.77}
    assert lookup("consistency", "imagenet1k", "coarse_top1").values["CyCLIP"] == 56.79
    assert lookup("consistency", "ImageNet-Sketch", "fine_top1").values["CLIP"] == 25.11
    analogue = lookup("consistency", "world-shapes", "consistency@10")
    assert analogue.analogue and analogue.values == {"CLIP": 48.45, "CyCLIP": 53.71}
    assert lookup("zeroshot", "cifar10", "top1") is None  # the paper gives only relative gains there
    assert lookup("retrieval", "world-retrieval", "image_to_text_R@1") is None


# ---- real results from the eval engine --------------------------------------------------


@pytest.mark.slow
def test_report_on_real_eval_results(eval_results, tmp_path):
    """The issue's bar: real `eval` results of briefly trained tiny CLIP and CyCLIP checkpoints."""
    paths = build_report(list(eval_results), tmp_path / "out", title="real results")
    md = paths["markdown"].read_text()
    html = paths["html"].read_text()
    for heading in ("## Overview", "## Suite world", "## Training", "## Provenance"):
        assert heading in md, heading
    assert "paired comparison against clip" in md and "McNemar exact" in md
    assert "significant (p = " in md  # every comparison carries a verdict
    assert re.search(r"\d+\.\d\d \\\[\d+\.\d\d, \d+\.\d\d\\\]", md), "values with bootstrap CIs"
    assert "CIFAR-10 (analogue)" in md  # the paper beside us, labelled as an analogue
    kinds = {p.name.split("-")[0] for p in paths["plots"] if p.suffix == ".png"}
    assert {"bars", "er", "consistency", "geometry", "training"} <= kinds, kinds
    assert all(p.with_suffix(".svg").is_file() for p in paths["plots"] if p.suffix == ".png")
    parsed = _parse(html)
    assert "script" not in parsed.tags
    assert len(parsed.imgs) == len([p for p in paths["plots"] if p.suffix == ".png"])
    # Every fraction with a per-example array is stored as exactly hits / n (float64) with its counts, and
    # zero-shot predictions agree with top-1 example by example (one tie rule for both).
    for path in eval_results:
        for task in json.loads(path.read_text())["tasks"]:
            for metric, info in task["metric_info"].items():
                if info["unit"] == "fraction" and info["per_example"]:
                    values = task["per_example"][info["per_example"]]
                    assert task["counts"][metric] == {"hits": sum(values), "n": len(values)}, (task["name"], metric)
                    assert task["metrics"][metric] == sum(values) / len(values)
            if task["kind"] == "zeroshot":
                pe = task["per_example"]
                assert [int(p == y) for p, y in zip(pe["prediction"], pe["label"], strict=True)] == pe["top1"]


def test_training_table_shows_the_logit_bias_only_for_runs_that_learn_one(tmp_path):
    """SigLIP runs log a learnt bias; the training table gets a column for it, CLIP-only reports do not."""
    results = write_results(tmp_path / "results")
    plain = build_report(results, tmp_path / "plain")
    assert "final logit bias" not in plain["markdown"].read_text()

    doc = json.loads(results[0].read_text())
    metrics = Path(doc["checkpoint"]["run_dir"]) / "metrics.jsonl"
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    for row in rows:
        if row["split"] == "train":
            row["logit_bias"] = -10.0 + row["step"] / 1000
    metrics.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    last = max(r["step"] for r in rows if r["split"] == "train")
    md = build_report(results, tmp_path / "bias")["markdown"].read_text()
    header = next(line for line in md.splitlines() if "final logit bias" in line)
    columns = [c.strip() for c in header.strip("|").split("|")]
    row = next(line for line in md.splitlines() if line.startswith(f"| {doc['checkpoint']['label']} "))
    assert [c.strip() for c in row.strip("|").split("|")][
        columns.index("final logit bias")
    ] == f"{-10 + last / 1000:.4g}"


def test_markdown_escapes_markup_without_html_entities():
    from cyclip_bench.report.markdown import escape

    assert escape("p < 0.0001") == "p < 0.0001"  # no markup can start here: left as written
    assert escape("a & b > c") == "a & b > c"
    assert escape("<b>x</b>") == "\\<b>x\\</b>"
    assert escape("&amp;") == "\\&amp;"  # an entity would be decoded: escaped, not encoded
    assert escape("\\<i>") == "\\\\\\<i>"  # a backslash cannot un-escape the '<' after it
    assert escape("> quote") == "\\> quote"
    assert escape("x_y|z*") == "x\\_y\\|z\\*"


def test_headline_bars_show_configurations_when_there_are_seeds(tmp_path, monkeypatch):
    """With several seeds per configuration the suite's headline bars are one per configuration: the mean over its
    seeds, the mean's t-interval, each seed a dot; with one checkpoint per configuration, one bar per checkpoint
    with its bootstrap CI over test examples."""
    import math

    from cyclip_bench.report import plots

    drawn = []
    real = plots.grouped_bars
    monkeypatch.setattr(plots, "grouped_bars", lambda *a, **k: drawn.append((a, k)) or real(*a, **k))
    _seed_results(tmp_path / "results", {"shapes-zeroshot": ([0.50, 0.52, 0.54], [0.58, 0.60, 0.62])})
    md = build_report([tmp_path / "results"], tmp_path / "out", n_boot=200)["markdown"].read_text()
    (groups, series, colours, title, _), kwargs = next(d for d in drawn if d[0][3] == "suite world: headline metrics")
    assert list(series) == ["clip (n = 3)", "cyclip (n = 3)"] and set(colours) == set(series)
    i = groups.index("shapes-zeroshot\ntop1")
    half = 4.302652729749464 * 2.0 / math.sqrt(3)  # t_{0.975, 2} · sd 2 pp / √3
    assert series["clip (n = 3)"][i] == (pytest.approx(52.0), pytest.approx(52.0 - half), pytest.approx(52.0 + half))
    assert series["cyclip (n = 3)"][i] == (pytest.approx(60.0), pytest.approx(60.0 - half), pytest.approx(60.0 + half))
    assert kwargs["points"]["clip (n = 3)"][i] == [pytest.approx(v) for v in (50.0, 52.0, 54.0)]
    assert "Bars: mean over each configuration's seeds" in md

    drawn.clear()
    write_results(tmp_path / "single")  # clip-s0 and cyclip-s0: one checkpoint per configuration
    md = build_report([tmp_path / "single"], tmp_path / "out-single", n_boot=200)["markdown"].read_text()
    (groups, series, _, _, _), kwargs = next(d for d in drawn if d[0][3] == "suite world: headline metrics")
    assert list(series) == ["clip-s0", "cyclip-s0"] and "points" not in kwargs
    value, low, high = series["clip-s0"][groups.index("shapes-zeroshot\ntop1")]
    assert low < value < high  # the bootstrap CI over test examples
    assert "Bars: value per checkpoint" in md


def test_consistency_curves_show_configurations_when_there_are_seeds(tmp_path, monkeypatch):
    """consistency@k per configuration: the mean over its seeds with the mean's t-interval, each seed a dot."""
    from cyclip_bench.report import plots
    from cyclip_bench.report.stats import seed_mean_interval
    from cyclip_bench.results import load

    drawn = []
    real = plots.consistency_curves
    monkeypatch.setattr(plots, "consistency_curves", lambda *a, **k: drawn.append((a, k)) or real(*a, **k))
    _seed_results(tmp_path / "results", {})
    md = build_report([tmp_path / "results"], tmp_path / "out", n_boot=200)["markdown"].read_text()
    (ks, series, colours, _, title), kwargs = next(d for d in drawn if d[0][4] == "shapes-consistency: consistency@k")
    assert list(series) == ["clip (n = 3)", "cyclip (n = 3)"] and set(colours) == set(series)
    seeds = [
        100 * load(tmp_path / "results" / f"clip-s{s}__world.json").task("shapes-consistency").metrics["consistency@1"]
        for s in range(3)
    ]
    assert kwargs["points"]["clip (n = 3)"][ks.index(1)] == [pytest.approx(v) for v in seeds]
    assert series["clip (n = 3)"][ks.index(1)] == pytest.approx(tuple(seed_mean_interval(seeds)))
    assert "mean over each configuration's seeds (n in the legend), dots: each seed" in md


def test_per_class_differences_over_seed_pairs_are_the_mean_with_its_t_interval(tmp_path, monkeypatch):
    """clip-s0..2 against cyclip-s0..2: each class's difference is averaged over the three same-seed pairs, with
    the t-interval of that mean (t_{0.975, 2}) as its error bar — checked against the per-example arrays."""
    import numpy as np
    from scipy import stats as sps

    from cyclip_bench.report.task_plots import per_class
    from cyclip_bench.results import load

    drawn = []
    real = per_class.per_class_differences
    monkeypatch.setattr(per_class, "per_class_differences", lambda *a, **k: drawn.append((a, k)) or real(*a, **k))
    _seed_results(tmp_path / "results", {})
    build_report([tmp_path / "results"], tmp_path / "out", baseline="clip-s0", n_boot=200)
    (diff, base, other, _, title), kwargs = next(d for d in drawn if d[0][4].startswith("shapes-zeroshot:"))
    assert (base, other) == ("clip", "cyclip") and title.endswith("mean over 3 seed pairs")

    def per_class_top1(label: str) -> dict[str, float]:
        task = load(tmp_path / "results" / f"{label}__world.json").task("shapes-zeroshot")
        labels, hits = np.asarray(task.per_example["label"]), np.asarray(task.per_example["top1"], dtype=float)
        return {task.class_names[c]: hits[labels == c].mean() for c in np.unique(labels)}

    pairs = [(per_class_top1(f"clip-s{s}"), per_class_top1(f"cyclip-s{s}")) for s in range(3)]
    for name in diff.index:
        d = np.array([o[name] - b[name] for b, o in pairs])
        assert diff[name] == pytest.approx(d.mean())
        assert kwargs["errors"][name] == pytest.approx(sps.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3))
