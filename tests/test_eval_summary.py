"""The terminal's headline table after `eval`: each task's main metric where it declares one."""

from __future__ import annotations

import io
import json

from rich.console import Console

from cyclip_bench.eval.summary import headline_table
from tests.tiny_inputs import minimal_result


def _render(table) -> str:
    out = io.StringIO()
    Console(file=out, width=200).print(table)
    return out.getvalue()


def test_the_headline_is_the_tasks_main_metric_where_it_declares_one(tmp_path):
    doc = minimal_result()
    task = doc["tasks"][0]
    task["name"] = "pets-zeroshot"
    task["metrics"] = {"top1": 0.5, "mean_per_class_recall": 0.25}
    task["metric_info"]["mean_per_class_recall"] = {"higher_is_better": True, "unit": "fraction", "per_example": None}
    task["extra"] = {"main_metric": "mean_per_class_recall"}  # Pets' main metric, as DataComp reports it
    other = json.loads(json.dumps(task))
    other["name"] = "plain-zeroshot"
    other["extra"] = {}
    doc["tasks"].append(other)
    path = tmp_path / "a__s.json"
    path.write_text(json.dumps(doc))
    rows = [line for line in _render(headline_table([path])).splitlines() if "zeroshot" in line]
    assert "mean_per_class_recall" in rows[0] and "25.00" in rows[0]
    assert "top1" in rows[1] and "50.00" in rows[1]
