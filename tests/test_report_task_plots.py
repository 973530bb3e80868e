"""The task-plot registry: built-ins chosen by task kind or metric family, a plot registered here for a task kind
of our own (as a plugin would), ordering, bad registrations, and a plot from an entry point."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from tiny_inputs import minimal_result, minimal_task

from cyclip_bench.errors import UserError
from cyclip_bench.report import build_report
from cyclip_bench.report.task_plots import TASK_PLOTS, TaskPlot, TaskView, plots_for, task_plot
from cyclip_bench.results import TaskResult as Task


@pytest.fixture
def own_registry(monkeypatch):
    """Registrations made by a test stay in that test."""
    monkeypatch.setattr(TASK_PLOTS, "_items", dict(TASK_PLOTS._items))
    monkeypatch.setattr(TASK_PLOTS, "_aliases", dict(TASK_PLOTS._aliases))
    return TASK_PLOTS


def _task(kind: str, metrics: list[str]) -> Task:
    return Task("t", kind, "d", "test", dict.fromkeys(metrics, 0.5), {}, {}, None, {})


def _count_results(folder: Path) -> list[Path]:
    """Two checkpoints with one task of the kind ``image_count`` (not a built-in) and one zero-shot task."""
    folder.mkdir(parents=True)
    paths = []
    for label, count in (("a", 50.0), ("b", 70.0)):
        doc = minimal_result()
        doc["checkpoint"] = {"label": label, "sha256": label * 64}
        counting = minimal_task()
        counting.update(
            name="counting",
            kind="image_count",
            metrics={"count": count},
            metric_info={"count": {"higher_is_better": True, "unit": "count", "per_example": None}},
            per_example={},
        )
        doc["tasks"] = [minimal_task(), counting]
        paths.append(folder / f"{label}__s.json")
        paths[-1].write_text(json.dumps(doc))
    return paths


def test_built_ins_are_chosen_by_kind_or_metric_family():
    names = lambda task: [name for name, _ in plots_for(task)]  # noqa: E731
    assert names(_task("effective_robustness", ["shift/effective_robustness"])) == ["effective-robustness"]
    assert names(_task("consistency", ["consistency@1", "modality_gap", "top1"])) == [
        "consistency-at-k",
        "geometry",
        "per-class-top1",
    ]
    assert names(_task("zeroshot", ["top1", "top5"])) == ["per-class-top1"]
    # a metric family matches whole names only
    assert names(_task("retrieval", ["image_to_text_R@1", "top10", "inmodal_gap_normalised_x"])) == []


def test_a_plot_registered_for_an_own_task_kind_is_drawn(tmp_path, own_registry):
    seen: list[dict[str, float]] = []

    @task_plot("image-count-bars", kinds=("image_count",))
    def image_count_bars(view: TaskView) -> None:
        counts = {label: task.metrics["count"] for label, task in view.tasks().items()}
        seen.append(counts)
        fig = Figure(figsize=(3, 2))
        ax = fig.add_subplot()
        ax.bar(range(len(counts)), list(counts.values()), color=[view.colours[label] for label in counts])
        view.add_plot(fig, f"count-{view.stem}", "Images counted", "One bar per checkpoint <b>.")
        view.add_note("Counted by the image_count plugin.")

    paths = build_report(_count_results(tmp_path / "results"), tmp_path / "out")
    assert seen == [{"a": 50.0, "b": 70.0}]  # drawn once: for the image_count task, not the zero-shot one
    assert [p.name for p in paths["plots"] if p.name.startswith("count-")] == [
        "count-s-counting.png",
        "count-s-counting.svg",
    ]
    md = paths["markdown"].read_text()
    section = md.split("### counting")[1]
    assert "![Images counted](plots/count-s-counting.png)" in section
    assert "> Counted by the image\\_count plugin." in section
    html = paths["html"].read_text()
    assert "One bar per checkpoint &lt;b&gt;." in html and "<b>." not in html
    assert '<a href="plots/count-s-counting.svg">' in html


def test_plots_run_in_order_then_name(own_registry):
    order: list[str] = []
    for name, position in (("z-late", 100), ("a-late", 100), ("first", 5)):
        own_registry.add(name, TaskPlot(lambda view, name=name: order.append(name), ("image_count",), None, position))
    chosen = [name for name, _ in plots_for(_task("image_count", ["count"]))]
    assert chosen == ["first", "a-late", "z-late"]


def test_kinds_and_metric_family_together_must_both_hold():
    entry = TaskPlot(lambda view: None, kinds=("zeroshot",), metrics=r"top\d+")
    assert entry.applies(_task("zeroshot", ["top5"]))
    assert not entry.applies(_task("linear_probe", ["top5"]))
    assert not entry.applies(_task("zeroshot", ["mean_per_class_recall"]))


def test_bad_registrations(own_registry):
    with pytest.raises(ValueError, match="task kinds or a metric family"):
        task_plot("nothing")(lambda view: None)
    with pytest.raises(ValueError, match="tuple of task kinds"):
        TaskPlot(lambda view: None, kinds="zeroshot")
    with pytest.raises(ValueError, match="already registered"):
        task_plot("geometry", kinds=("zeroshot",))(lambda view: None)
    with pytest.raises(Exception, match="unterminated|missing"):
        task_plot("bad-regex", metrics="top(")(lambda view: None)


PLUGIN = """
from matplotlib.figure import Figure
from cyclip_bench.report.task_plots import task_plot


@task_plot("image-count", kinds=("image_count",))
def image_count(view):
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().bar([0, 1], [task.metrics["count"] for task in view.tasks().values()])
    view.add_plot(fig, f"plugin-count-{view.stem}", "Plugin plot", "From an entry point.")


def undecorated(view):
    pass
"""


def _install_plugin(tmp_path: Path, monkeypatch, entry: str) -> None:
    site = tmp_path / "site"
    (site / "fake_plots-0.1.dist-info").mkdir(parents=True)
    (site / "fake_plots.py").write_text(PLUGIN)
    (site / "fake_plots-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-plots\nVersion: 0.1\n"
    )
    (site / "fake_plots-0.1.dist-info" / "entry_points.txt").write_text(f"[cyclip_bench.task_plots]\n{entry}\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "fake_plots", raising=False)  # import afresh: its decorator registers
    monkeypatch.setattr(TASK_PLOTS, "_entry_points_loaded", False)


def test_task_plot_from_an_entry_point(tmp_path, monkeypatch, own_registry):
    _install_plugin(tmp_path, monkeypatch, "image-count = fake_plots:image_count")
    paths = build_report(_count_results(tmp_path / "results"), tmp_path / "out")
    assert "image-count" in TASK_PLOTS.names()
    assert "![Plugin plot](plots/plugin-count-s-counting.png)" in paths["markdown"].read_text()


def test_entry_point_to_an_undecorated_function_fails_loudly(tmp_path, monkeypatch, own_registry):
    _install_plugin(tmp_path, monkeypatch, "not-a-plot = fake_plots:undecorated")
    with pytest.raises(UserError, match=r"task plot 'not-a-plot' .* decorate its function with @task_plot"):
        build_report(_count_results(tmp_path / "results"), tmp_path / "out")
