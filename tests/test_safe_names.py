"""Names that become file names — run names, suite names, checkpoint labels, dataset and task names — can never
put a file outside --out/--logs: config values are refused, labels derived from file names are sanitised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import cli
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_inputs import minimal_task

from cyclip_bench.errors import ConfigError
from cyclip_bench.results import result_filename
from cyclip_bench.train import TrainConfig
from cyclip_bench.validation import MAX_NAME_BYTES, check_name, name_problem, safe_label

BAD_NAMES = {
    "separator": "a/b",
    "backslash": "a\\b",
    "parent": "..",
    "dot": ".",
    "escape": "../../etc/cron.d/x",
    "absolute": "/etc/passwd",
    "nul": "a\x00b",
    "newline": "a\nb",
    "long": "x" * (MAX_NAME_BYTES + 1),
    "long-multibyte": "é" * (MAX_NAME_BYTES // 2 + 1),
    "empty": "",
}


@pytest.mark.parametrize("value", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_unsafe_names_are_refused_with_the_reason(value):
    assert name_problem(value) is not None
    with pytest.raises(ConfigError, match="expected a name usable as a file name"):
        check_name(value, "--name")
    if value:  # an empty --name means "not given" to the CLI
        with pytest.raises(ConfigError, match="--name"):
            TrainConfig.from_sources(None, train_data="a.csv", name=value)
    with pytest.raises(ConfigError, match="suite name"):
        result_filename("label", value)


@pytest.mark.parametrize("value", ["clip-s0", "CyCLIP λ=0.25", "run.v2", "-dash", "x" * MAX_NAME_BYTES])
def test_ordinary_names_pass(value):
    assert name_problem(value) is None
    assert TrainConfig.from_sources(None, train_data="a.csv", name=value).run_name == value


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_a_sanitised_label_is_always_one_safe_component(text):
    label = safe_label(text)
    assert name_problem(label) is None
    out = Path("/out")
    target = out / result_filename(label, "suite")
    assert target.parent == out and len(target.name.encode("utf-8", "surrogatepass")) <= 255


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=MAX_NAME_BYTES + 1, max_size=300), st.text(min_size=1, max_size=5))
def test_long_labels_that_differ_stay_apart(text, tail):
    assert safe_label(text) != safe_label(text + tail) or text == text + tail


def test_a_checkpoint_label_from_a_hostile_run_folder_stays_inside_out(tmp_path):
    from cyclip_bench.models import create_model, model_payload, save_checkpoint
    from cyclip_bench.models.interop import load_for_eval

    model, info = create_model("tiny")
    payload = model_payload(model, info)
    for run in ["a\nb", "x" * 250, "..", "ü" * 120]:  # a folder name has at most 255 bytes
        path = tmp_path / "logs" / run / "checkpoints" / "latest.pt"
        save_checkpoint(path, payload)
        label = load_for_eval(str(path)).label
        out = tmp_path / "out"
        assert (out / result_filename(label, "world")).parent == out, (run, label)


def test_a_report_of_results_with_hostile_names_writes_only_inside_out(tmp_path):
    task = minimal_task() | {
        "name": "../../task",
        "dataset": "../../../dataset",
        "split": "../split",
        "class_names": ["../a", "/b"],
    }
    results = tmp_path / "results"
    results.mkdir()
    for i, label in enumerate(["../../evil", "/abs/label"]):
        doc = {
            "schema_version": 1,
            "suite": {"name": "../../suite", "version": 1},
            "checkpoint": {"label": label, "sha256": f"{i}" * 64},
            "run": {},
            "tasks": [task],
        }
        (results / f"r{i}.json").write_text(json.dumps(doc))
    before = set(tmp_path.parent.iterdir())
    result = cli("report", str(results), "--out", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    assert set(tmp_path.parent.iterdir()) == before
    assert {p.name for p in tmp_path.iterdir()} == {"results", "report"}
    report = (tmp_path / "report").resolve()
    for path in (tmp_path / "report").rglob("*"):
        assert path.resolve().is_relative_to(report)
