"""Fuzzed edges: whatever bytes or structures they are given, the readers of user files — caption CSV/TSV,
labels.csv, suite TOML, results JSON, train --config TOML, checkpoint contents — either load or raise the
project's UserError (one line on the CLI), never another exception.

Bounded for CI: 100 examples per reader (40 for checkpoints), no deadline (the machine is shared), ~10 s in all;
raise max_examples locally to hunt (1,500 per reader found the two bugs fixed with these tests).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_inputs import minimal_task

from cyclip_bench.errors import UserError

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters that matter to a CSV parser, and a few that matter to everything else.
CSV_CHARS = st.sampled_from([",", "\t", '"', "\n", "\r", ";", "|", " ", "a", "b", "1", "-", "é", "\x00", "\\", "/"])
CSV_TEXT = st.lists(
    st.one_of(CSV_CHARS, st.sampled_from(["image", "caption", "label", "x.png", "0", "7", "-3", "1e3"])),
    max_size=60,
).map("".join)
CSV_BYTES = st.one_of(CSV_TEXT.map(lambda t: t.encode("utf-8")), st.binary(max_size=200))
DELIMITERS = st.sampled_from([None, ",", "\t", ";", "|", " ", "", ";;", '"', "\n", "\x00"])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """One folder for the module: each example overwrites the same files."""
    return tmp_path_factory.mktemp("fuzz")


def _loads_or_user_error(call):
    try:
        return call()
    except UserError as err:
        assert "\n" not in str(err).strip(), f"a user error must be one line: {err!r}"
        return None


# ---- caption tables --------------------------------------------------------------------------------------


@FUZZ
@given(CSV_BYTES, DELIMITERS, st.sampled_from(["t.csv", "t.tsv", "t.txt"]), st.sampled_from(["image", "a", "1"]))
def test_caption_table_reader(scratch, data, delimiter, name, image_key):
    from cyclip_bench.data.captions import read_caption_table

    path = scratch / name
    path.write_bytes(data)
    table = _loads_or_user_error(lambda: read_caption_table(path, image_key, "caption", delimiter))
    if table is not None:
        assert list(table.columns) == ["image", "caption"] and len(table) > 0
        assert all(isinstance(v, str) and Path(v).is_absolute() for v in table["image"])


@FUZZ
@given(CSV_BYTES, st.booleans())
def test_labels_csv_reader(scratch, data, check_files):
    from cyclip_bench.data.labelled import load_labels_csv
    from cyclip_bench.data.metadata import ClassMetadata

    folder = scratch / "labelled"
    folder.mkdir(exist_ok=True)
    (folder / "labels.csv").write_bytes(data)
    (folder / "x.png").write_bytes(b"")
    metadata = ClassMetadata(classes=["a", "b", "c"], templates=["{}"])
    dataset = _loads_or_user_error(lambda: load_labels_csv(folder, metadata, check_files=check_files))
    if dataset is not None:
        assert all(0 <= label < 3 for label in dataset.labels)


# ---- TOML: suites and train configs ----------------------------------------------------------------------

SCALARS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(alphabet=st.sampled_from("az./\\_-0 \x00é"), max_size=12),
    st.sampled_from(["world-shapes", "world-retrieval", "test", "train", "top1", "z", "zeroshot"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=8,
)
KINDS = st.sampled_from(["zeroshot", "retrieval", "linear_probe", "consistency", "effective_robustness", "nope"])
OPTION_KEYS = ["topk", "recall_at", "k", "train_split", "val_fraction", "seed", "max_iter", "pairs", "id_task"]
OPTION_KEYS += ["shift_tasks", "metric", "bogus"]
TASK = st.fixed_dictionaries(
    {"name": st.one_of(st.sampled_from(["z", "r", "../t"]), SCALARS), "kind": st.one_of(KINDS, SCALARS)},
    optional={
        "dataset": st.one_of(
            SCALARS, st.dictionaries(st.sampled_from(["path", "format", "delimiter", "metadata", "pth"]), VALUES)
        ),
        "split": VALUES,
        "options": st.one_of(VALUES, st.dictionaries(st.sampled_from(OPTION_KEYS), VALUES, max_size=3)),
        "colour": VALUES,
    },
)
SUITE = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.sampled_from(["s", "../s", "/s", ".."]), SCALARS),
        "version": VALUES,
        "description": VALUES,
        "tasks": st.one_of(VALUES, st.lists(st.one_of(TASK, VALUES), max_size=3)),
        "bogus": VALUES,
    },
)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string (\u escapes included)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml(doc: dict) -> str:
    lines = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in doc.items()]
    return "\n".join(lines) + "\n"


@FUZZ
@given(st.one_of(SUITE.map(_toml), CSV_TEXT, st.text(max_size=80)))
def test_suite_reader_and_task_options(scratch, text):
    from cyclip_bench.eval import load_tasks

    path = scratch / "suite.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass") if text else path.write_text("")
    loaded = _loads_or_user_error(lambda: load_tasks(str(path)))
    if loaded is not None:
        suite, tasks = loaded
        assert suite.tasks and len(tasks) == len(suite.tasks)


@FUZZ
@given(st.dictionaries(st.sampled_from(["lr", "epochs", "batch_size", "loss", "name", "delimiter", "device"]), VALUES))
def test_train_config_toml(scratch, doc):
    from cyclip_bench.train import TrainConfig

    path = scratch / "train.toml"
    path.write_text(_toml(doc), encoding="utf-8", errors="surrogatepass")
    cfg = _loads_or_user_error(lambda: TrainConfig.from_sources(path, train_data="a.csv"))
    if cfg is not None:
        assert math.isfinite(cfg.lr) and cfg.lr > 0 and cfg.epochs >= 1 and cfg.batch_size >= 2


# ---- results JSON ------------------------------------------------------------------------------------------

VALID_TASK = minimal_task()
VALID_RESULT = {
    "schema_version": 1,
    "suite": {"name": "s", "version": 1},
    "checkpoint": {"label": "a"},
    "run": {},
    "tasks": [VALID_TASK],
}
PATHS = [(), ("suite",), ("checkpoint",), ("run",), ("tasks",), ("tasks", 0)]
PATHS += [("tasks", 0, key) for key in VALID_TASK] + [("tasks", 0, "metric_info", "top1"), ("tasks", 0, "extra")]
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10,
)


@st.composite
def mutated_results(draw):
    """A valid results document with one to three places replaced, added to or removed."""
    doc = json.loads(json.dumps(VALID_RESULT))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent, key = doc, None
        try:
            for part in path[:-1]:
                parent = parent[part]
            key = path[-1] if path else None
        except (KeyError, IndexError, TypeError):
            continue
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if key is None:
            doc = draw(JSON_VALUES) if action == "replace" else doc
        elif action == "replace" and isinstance(parent, (dict, list)):
            try:
                parent[key] = draw(JSON_VALUES)
            except (IndexError, TypeError):
                pass
        elif action == "delete" and isinstance(parent, dict):
            parent.pop(key, None)
        elif action == "add" and isinstance(parent, dict) and isinstance(parent.get(key), dict):
            parent[key][draw(st.sampled_from(["extra", "points", "per_example", "x"]))] = draw(JSON_VALUES)
    return doc


@FUZZ
@given(st.one_of(mutated_results().map(json.dumps), st.binary(max_size=120).map(lambda b: b.decode("latin-1"))))
def test_results_json_readers(scratch, text):
    from cyclip_bench.results import load_all, read_result

    path = scratch / "a__s.json"
    path.write_text(text, encoding="utf-8")
    loaded = _loads_or_user_error(lambda: load_all([path]))
    assert (loaded is None) == (_loads_or_user_error(lambda: read_result(path)) is None)
    if loaded is not None:
        assert loaded[0].label and all(isinstance(t.metrics, dict) for t in loaded[0].tasks)


# ---- checkpoint contents -------------------------------------------------------------------------------------

MODEL_CONFIG_PATHS = [("model_config",), ("model_config", "embed_dim"), ("model_config", "vision_cfg")]
MODEL_CONFIG_PATHS += [("model_config", "vision_cfg", "width"), ("model_config", "text_cfg", "layers")]
MODEL_CONFIG_PATHS += [("preprocess",), ("preprocess", "mean"), ("preprocess", "image_size"), ("model_name",)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(MODEL_CONFIG_PATHS), JSON_VALUES), min_size=1, max_size=3))
def test_checkpoint_model_part(changes):
    from cyclip_bench.models import check_payload, create_model_from_config, model_payload

    payload = _tiny_payload()
    payload = {**payload, "model_config": json.loads(json.dumps(payload["model_config"]))}
    payload["preprocess"] = dict(payload["preprocess"])
    for path, value in changes:
        parent = payload
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent[path[-1]] = value

    def build():
        check_payload(payload)
        return create_model_from_config(payload["model_name"], payload["model_config"], payload["preprocess"])

    built = _loads_or_user_error(build)
    if built is not None:
        assert model_payload(*built)["model_config"] is not None


_PAYLOAD: dict = {}


def _tiny_payload() -> dict:
    if not _PAYLOAD:
        from cyclip_bench.models import create_model, model_payload

        _PAYLOAD.update(model_payload(*create_model("tiny")))
    return _PAYLOAD
