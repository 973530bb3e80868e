"""The bad-input sweep: ~100 bad inputs across `data`, `train`, `eval` and `report`, each run through the CLI's
main() (tests/cli_runner.py). Every one must give exactly one line on stderr, `error: …` naming the flag, file
or entry, exit code 2, no traceback — and nothing written before the input was refused.

Rerun alone: `.venv/bin/python -m pytest -q tests/test_bad_input_sweep.py` (~15 s on 2 cores: no world and no
training are needed — every case is refused before data would be read).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from cli_runner import cli
from tiny_inputs import minimal_result, write_random_pairs

from cyclip_bench.train import TrainConfig

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")

# ---- files the cases read --------------------------------------------------------------------------------

TOMLS = {
    "lr_str": 'lr = "abc"\n',
    "lr_numstr": 'lr = "1e-3"\n',
    "lr_inf": "lr = inf\n",
    "wd_nan": "weight_decay = nan\n",
    "lambda_inf": 'loss = "cyclip"\nlambda_inmodal = inf\n',
    "epochs_float": "epochs = 1.5\n",
    "batch_bool": "batch_size = true\n",
    "loss_int": "loss = 3\n",
    "unknown": 'precison = "fp32"\n',
    "invalid": "lr = = 1\n",
    "train_scalar": "train = 3\n",
    "nested": "[train.model]\nname = 'tiny'\n",
    "name_escape": '[train]\nname = "../escape"\n',
    "workers_neg": "workers = -1\n",
    "device_bad": 'device = "gpu"\n',
    "seed_negative": "seed = -5\n",
    "delimiter_two": 'delimiter = ";;"\n',
    "grad_clip_zero": "grad_clip = 0.0\n",
    "loss_params_str": 'loss = "siglip"\n[loss_params]\ninit_logit_bias = "low"\n',
    "loss_params_unknown": 'loss = "siglip"\nloss_params = {temperature = 1.0}\n',
    "loss_params_scalar": 'loss = "siglip"\nloss_params = 3\n',
}

SUITE_HEAD = 'name = "s"\nversion = 1\n'
TASK = '[[tasks]]\nname = "z"\nkind = "zeroshot"\ndataset = "world-shapes"\n'
SUITES = {
    "name_escape": 'name = "../escape"\nversion = 1\n' + TASK,
    "name_slash": 'name = "a/b"\nversion = 1\n' + TASK,
    "name_abs": 'name = "/etc/passwd"\nversion = 1\n' + TASK,
    "name_long": f'name = "{"n" * 300}"\nversion = 1\n' + TASK,
    "name_nul": 'name = "a\\u0000b"\nversion = 1\n' + TASK,
    "name_dotdot": 'name = ".."\nversion = 1\n' + TASK,
    "version_str": 'name = "s"\nversion = "1"\n' + TASK,
    "version_zero": 'name = "s"\nversion = 0\n' + TASK,
    "no_tasks": SUITE_HEAD,
    "compositional_format": SUITE_HEAD
    + '[[tasks]]\nname = "c"\nkind = "compositional"\ndataset = { path = "x", format = "captions" }\n',
    "include_unknown": SUITE_HEAD + 'include = ["world-zershot"]\n',
    "include_cycle": SUITE_HEAD + 'include = ["suite_include_cycle.toml"]\n',
    "include_clash": SUITE_HEAD + 'include = ["world-zeroshot"]\n' + TASK.replace('"z"', '"fine-zeroshot"'),
    "tasks_scalar": SUITE_HEAD + "tasks = 3\n",
    "task_scalar": SUITE_HEAD + "tasks = [1]\n",
    "topk_zero": SUITE_HEAD + TASK + "options = { topk = [0] }\n",
    "topk_negative": SUITE_HEAD + TASK + "options = { topk = [1, -5] }\n",
    "topk_empty": SUITE_HEAD + TASK + "options = { topk = [] }\n",
    "topk_float": SUITE_HEAD + TASK + "options = { topk = [1.5] }\n",
    "topk_scalar": SUITE_HEAD + TASK + "options = { topk = 3 }\n",
    "option_unknown": SUITE_HEAD + TASK + "options = { topp = [1] }\n",
    "options_scalar": SUITE_HEAD + TASK + "options = 3\n",
    "class_metadata_unknown": SUITE_HEAD + TASK + 'options = { class_metadata = "food1O1" }\n',
    "class_metadata_missing": SUITE_HEAD + TASK + 'options = { class_metadata = "nope/names.json" }\n',
    "recall_zero": SUITE_HEAD
    + '[[tasks]]\nname = "r"\nkind = "retrieval"\ndataset = "world-retrieval"\noptions = { recall_at = [0] }\n',
    "consistency_k": SUITE_HEAD
    + '[[tasks]]\nname = "c"\nkind = "consistency"\ndataset = "world-shapes"\noptions = { k = [0, 3] }\n',
    "probe_fraction": SUITE_HEAD
    + '[[tasks]]\nname = "p"\nkind = "linear_probe"\ndataset = "world-shapes"\noptions = { val_fraction = 1.5 }\n',
    "probe_max_iter": SUITE_HEAD
    + '[[tasks]]\nname = "p"\nkind = "linear_probe"\ndataset = "world-shapes"\noptions = { max_iter = 0 }\n',
    "probe_fraction_inf": SUITE_HEAD
    + '[[tasks]]\nname = "p"\nkind = "linear_probe"\ndataset = "world-shapes"\noptions = { val_fraction = inf }\n',
    "probe_on_its_test_split": SUITE_HEAD
    + '[[tasks]]\nname = "p"\nkind = "linear_probe"\ndataset = "world-shapes"\noptions = { train_split = "test" }\n',
    "split_escape": SUITE_HEAD + TASK + 'split = "../../etc"\n',
    "dataset_int": SUITE_HEAD + '[[tasks]]\nname = "z"\nkind = "zeroshot"\ndataset = 3\n',
    "dataset_key": SUITE_HEAD + '[[tasks]]\nname = "z"\nkind = "zeroshot"\ndataset = { pth = "x" }\n',
    "dataset_delimiter": SUITE_HEAD
    + '[[tasks]]\nname = "z"\nkind = "zeroshot"\ndataset = { path = "x", delimiter = ";;" }\n',
    "kind_unknown": SUITE_HEAD + '[[tasks]]\nname = "z"\nkind = "zeroshoot"\ndataset = "world-shapes"\n',
    "task_name_int": SUITE_HEAD + '[[tasks]]\nname = 5\nkind = "zeroshot"\ndataset = "world-shapes"\n',
    "invalid": "name = \n",
    "not_utf8": None,  # written as bytes below
}

VALID_RESULT = minimal_result()


def _result(**changes) -> dict:
    doc = json.loads(json.dumps(VALID_RESULT))
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        target = doc
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last] = value
    return doc


RESULTS = {
    "version_99": _result(schema_version=99),
    "version_missing": {k: v for k, v in VALID_RESULT.items() if k != "schema_version"},
    "array": [1, 2],
    "metric_str": _result(**{"tasks.0.metrics": {"top1": "high"}}),
    "tasks_dict": _result(tasks={}),
    "per_example_str": _result(**{"tasks.0.per_example": {"top1": ["x"]}}),
    "label_missing": _result(checkpoint={}),
    "metric_info_ref": _result(**{"tasks.0.metric_info": {"top1": {"per_example": "nope"}}}),
    "points_bad": _result(
        **{"tasks.0.kind": "effective_robustness", "tasks.0.extra": {"points": [{"id_top1": "x", "shift_top1": 1}]}}
    ),
    "per_example_short": _result(**{"tasks.0.extra": {"num_examples": 3}}),
    "per_example_unequal": _result(**{"tasks.0.per_example": {"top1": [1, 0], "label": [0]}}),
    "label_999": _result(**{"tasks.0.per_example": {"top1": [1, 0], "label": [0, 999]}, "tasks.0.class_names": ["a"]}),
    "per_example_7_5": _result(**{"tasks.0.per_example": {"top1": [7.5, 7.5]}}),
}


def _checkpoints(root: Path) -> dict[str, Path]:
    """A valid untrained checkpoint and variants whose model part has the wrong form."""
    from cyclip_bench.models import create_model, model_payload, save_checkpoint

    torch.manual_seed(0)
    model, info = create_model("tiny")
    good = model_payload(model, info)
    sd = dict(good["state_dict"])
    # The form of a training checkpoint (what --resume checks before it restores anything): CLIP, tiny.
    training = {
        **model_payload(model, info, TrainConfig.from_sources(None, train_data="a.csv").to_dict()),
        **{key: {} for key in ("optimizer", "scheduler", "scaler", "sampler")},
        **{"rng": [], "step": 1, "epoch": 0},
    }
    variants = {
        "random": good,
        "trained": training,
        "mc_list": {**good, "model_config": [1, 2]},
        "mc_unknown": {**good, "model_config": {**good["model_config"], "colour": "red"}},
        "mc_vision_unknown": {
            **good,
            "model_config": {**good["model_config"], "vision_cfg": {**good["model_config"]["vision_cfg"], "wdth": 1}},
        },
        "mc_vision_type": {
            **good,
            "model_config": {
                **good["model_config"],
                "vision_cfg": {**good["model_config"]["vision_cfg"], "width": "64"},
            },
        },
        "mc_embed_str": {**good, "model_config": {**good["model_config"], "embed_dim": "64"}},
        "mc_no_text": {**good, "model_config": {k: v for k, v in good["model_config"].items() if k != "text_cfg"}},
        "sd_list": {**good, "state_dict": list(sd.values())},
        "sd_mixed_keys": {**good, "state_dict": {**sd, 3: torch.zeros(1)}},
        "sd_value": {**good, "state_dict": {**sd, "visual.extra": "not a tensor"}},
        "sd_extra_key": {**good, "state_dict": {**sd, "visual.extra": torch.zeros(1)}},
        "pre_size": {**good, "preprocess": {**good["preprocess"], "image_size": -1}},
        "pre_mean_inf": {**good, "preprocess": {**good["preprocess"], "mean": [float("inf"), 0.0, 0.0]}},
        "pre_interp": {**good, "preprocess": {**good["preprocess"], "interpolation": "lanczos9"}},
        "no_name": {k: v for k, v in good.items() if k != "model_name"},
        "name_int": {**good, "model_name": 5},
        "foreign_layout": {"weights": [1, 2, 3]},
    }
    paths = {}
    for name, payload in variants.items():
        paths[name] = root / f"{name}.pt"
        save_checkpoint(paths[name], payload)
    paths["garbage"] = root / "garbage.pt"
    paths["garbage"].write_bytes(b"not a checkpoint")
    paths["list_payload"] = root / "list_payload.pt"
    torch.save([1, 2, 3], paths["list_payload"])
    return paths


@pytest.fixture(scope="module")
def env(tmp_path_factory, world_dir) -> dict[str, str]:
    root = tmp_path_factory.mktemp("sweep")
    csv = write_random_pairs(root, name="pairs.csv")
    # The eval --data-root holds the datasets the suite reads: a bad checkpoint is refused when the run loads it,
    # after the plan (suite, labels, data) is checked and before anything is encoded or written.
    out: dict[str, str] = {"data_root": str(world_dir), "csv": str(csv), "root": str(root)}
    files = {
        "empty_csv": "",
        "header_only_csv": "image,caption\n",
        "nocol_csv": "img,text\na.png,b\n",
        "tabbed_csv": "image\tcaption\na.png\tb\n",
        "missing_img_csv": "image,caption\nnope.png,a caption\n",
        "corrupt.png": "not a png at all\n",
        "corrupt_img_csv": "image,caption\ncorrupt.png,a caption\n",
        "empty_image_csv": "image,caption\n ,a caption\n",
        "results_invalid": "{not json",
        "meta_invalid": "{not json",
        "meta_unknown": json.dumps({"classes": ["a"], "templates": ["{}"], "colours": 1}),
        "a_file": "a plain file\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
        out[name] = str(root / name)
    (root / "results_latin1").write_bytes(b'{"schema_version": 1, "x": "\xff"}')
    out["results_latin1"] = str(root / "results_latin1")
    for name, text in TOMLS.items():
        (root / f"cfg_{name}.toml").write_text(text)
        out[f"cfg_{name}"] = str(root / f"cfg_{name}.toml")
    for name, text in SUITES.items():
        path = root / f"suite_{name}.toml"
        path.write_bytes(b'name = "\xff"\n') if text is None else path.write_text(text)
        out[f"suite_{name}"] = str(path)
    (root / "results").mkdir()
    for name, doc in {"valid": VALID_RESULT, **RESULTS}.items():
        path = root / "results" / f"{name}.json"
        path.write_text(json.dumps(doc))
        out[f"res_{name}"] = str(path)
    (root / "copy").mkdir()
    (root / "copy" / "valid.json").write_text(json.dumps(VALID_RESULT))
    out["valid_copy"] = str(root / "copy" / "valid.json")
    (root / "empty_dir").mkdir()
    out["empty_dir"] = str(root / "empty_dir")
    labelled = root / "labelled"
    labelled.mkdir()
    (labelled / "labels.csv").write_text("image,label\nx.png,seven\n")
    (labelled / "classes.json").write_text(json.dumps({"classes": ["a", "b"], "templates": ["{}"]}))
    out["labelled_bad"] = str(labelled)
    for name, path in _checkpoints(root / "ckpt").items():
        out[f"ckpt_{name}"] = str(path)
    return out


# ---- the cases -----------------------------------------------------------------------------------------

TRAIN = ["train", "--train-data", "{csv}", "--logs", "{tmp}/logs", "--workers", "0", "--no-progress"]
TRAIN += ["--batch-size", "8", "--max-steps", "1"]
EVAL = ["eval", "--suite", "world-zeroshot", "--data-root", "{data_root}", "--out", "{tmp}/out"]
EVAL += ["--cache-dir", "{tmp}/cache", "--workers", "0", "-q"]
EVAL_DS = [a for a in EVAL if a not in ("--suite", "world-zeroshot")] + ["-c", "{ckpt_random}"]


def T(case_id: str, args: list[str], message: str, marks=()):  # noqa: N802
    return pytest.param([*TRAIN, *args], message, id=f"train-{case_id}", marks=marks)


def TC(case_id: str, message: str):  # noqa: N802
    return T(f"config-{case_id}", ["--config", f"{{cfg_{case_id}}}"], message)


def E(case_id: str, args: list[str], message: str, ckpt: str = "{ckpt_random}", marks=()):  # noqa: N802
    base = [*EVAL, "-c", ckpt] if ckpt else EVAL
    return pytest.param([*base, *args], message, id=f"eval-{case_id}", marks=marks)


def ES(case_id: str, message: str):  # noqa: N802
    return E(f"suite-{case_id}", ["--suite", f"{{suite_{case_id}}}"], message)


def EC(case_id: str, message: str):  # noqa: N802
    return E(f"ckpt-{case_id}", [], message, ckpt=f"{{ckpt_{case_id}}}")


def R(case_id: str, args: list[str], message: str, out: str = "{tmp}/report"):  # noqa: N802
    return pytest.param(["report", *args, "--out", out], message, id=f"report-{case_id}")


def D(case_id: str, args: list[str], message: str):  # noqa: N802
    return pytest.param(["data", *args], message, id=f"data-{case_id}")


CASES = [
    # --- train: flags -------------------------------------------------------------------------------------
    T("lr-inf", ["--lr", "inf"], "--lr inf: expected a finite number"),
    T("lr-nan", ["--lr", "nan"], "--lr nan: expected a finite number"),
    T("lr-negative", ["--lr", "-1"], "--lr -1.0: expected a number > 0"),
    T("lr-zero", ["--lr", "0"], "--lr 0.0: expected a number > 0"),
    T("lr-word", ["--lr", "fast"], "--lr"),
    T("wd-inf", ["--weight-decay", "inf"], "--weight-decay inf: expected a finite number"),
    T("wd-negative", ["--weight-decay", "-0.1"], "--weight-decay -0.1: expected at least 0"),
    T("lambda-in-inf", ["--loss", "cyclip", "--lambda-inmodal", "inf"], "--lambda-inmodal inf"),
    T("lambda-cross-nan", ["--loss", "cyclip", "--lambda-crossmodal", "nan"], "--lambda-crossmodal nan"),
    T("lambda-negative", ["--loss", "cyclip", "--lambda-inmodal", "-1"], "--lambda-inmodal -1.0: expected at least 0"),
    T("lambda-with-clip", ["--lambda-inmodal", "0.5"], "needs --loss cyclip"),
    T("grad-clip-zero", ["--grad-clip", "0"], "--grad-clip 0.0: expected a number > 0"),
    T("grad-clip-inf", ["--grad-clip", "inf"], "--grad-clip inf"),
    T("epochs-zero", ["--epochs", "0"], "--epochs 0: expected at least 1"),
    T("batch-one", ["--batch-size", "1"], "--batch-size 1: expected at least 2"),
    T("warmup-negative", ["--warmup", "-1"], "--warmup -1: expected at least 0"),
    T("accum-zero", ["--accum-steps", "0"], "--accum-steps 0"),
    T("workers-negative", ["--workers", "-1"], "--workers -1"),
    T("max-steps-zero", ["--max-steps", "0"], "--max-steps 0"),
    T("checkpoint-steps-zero", ["--checkpoint-steps", "0"], "--checkpoint-steps 0"),
    T("log-every-zero", ["--log-every", "0"], "--log-every 0"),
    T("val-batch-one", ["--val-batch-size", "1"], "--val-batch-size 1"),
    T("image-size-zero", ["--image-size", "0"], "--image-size 0"),
    T("image-size-odd", ["--image-size", "20"], "--image-size 20"),
    T("seed-negative", ["--seed", "-1"], "--seed -1: expected at least 0"),
    T("seed-huge", ["--seed", str(2**70)], "--seed"),
    T("precision", ["--precision", "fp8"], "--precision 'fp8'"),
    T("loss", ["--loss", "sigilp"], "--loss 'sigilp': unknown objective 'sigilp'. Did you mean 'siglip'?"),
    T(
        "loss-param-unknown",
        ["--loss", "siglip", "--loss-param", "temp=1"],
        "objective 'siglip' has no parameter 'temp'",
    ),
    T("loss-param-form", ["--loss", "siglip", "--loss-param", "init_logit_bias"], "expected NAME=NUMBER"),
    T("loss-param-word", ["--loss", "siglip", "--loss-param", "init_logit_bias=low"], "expected NAME=NUMBER"),
    T(
        "loss-param-inf",
        ["--loss", "siglip", "--loss-param", "init_logit_bias=inf"],
        "init_logit_bias inf: expected a finite",
    ),
    T("loss-param-range", ["--loss", "siglip", "--loss-param", "init_logit_scale=-1"], "init_logit_scale -1.0"),
    T("loss-param-clip", ["--loss-param", "init_logit_bias=-10"], "objective 'clip' has no parameter"),
    T("cyclic-normalization", ["--cyclic-normalization", "mean"], "--cyclic-normalization 'mean'"),
    T("bad-rows", ["--bad-rows", "ignore"], "--bad-rows 'ignore'"),
    T("data-cache", ["--data-cache", "disk"], "--data-cache 'disk'"),
    T("delimiter-two", ["--delimiter", ";;"], "--delimiter ';;': expected one character"),
    T("delimiter-empty", ["--delimiter", ""], "--delimiter ''"),
    T("device-word", ["--device", "tpu"], "--device 'tpu'"),
    T("device-cuda", ["--device", "cuda"], "--device cuda: no CUDA GPU", marks=NO_GPU),
    T("device-cuda-index", ["--device", "cuda:3"], "--device cuda:3", marks=NO_GPU),
    T("name-dotdot", ["--name", ".."], "--name '..'"),
    T("name-escape", ["--name", "../escape"], "--name '../escape': expected a name usable as a file name"),
    T("name-absolute", ["--name", "/tmp/abs"], "path separator"),
    T("name-nul", ["--name", "a\x00b"], "control character"),
    T("name-long", ["--name", "n" * 300], "longer than"),
    T("model-unknown", ["--model", "tiyn"], "Did you mean 'tiny'"),
    T("model-slash", ["--model", "a/b"], "pass --name"),
    T("pretrained-tag", ["--pretrained", "no-such-tag"], "--pretrained 'no-such-tag'"),
    T("nproc-zero", ["--nproc", "0"], "--nproc 0: expected at least 1"),
    T("train-samples-zero", ["--train-num-samples", "0"], "--train-num-samples 0"),
    T("logs-is-file", ["--logs", "{a_file}"], "--logs"),
    T("logs-under-file", ["--logs", "{a_file}/sub"], "is a file, not a folder"),
    T("train-data-missing", ["--train-data", "{root}/nope.csv"], "nope.csv: file not found"),
    T("train-data-folder", ["--train-data", "{empty_dir}"], "is a folder"),
    T("train-data-empty", ["--train-data", "{empty_csv}"], "file is empty"),
    T("train-data-header-only", ["--train-data", "{header_only_csv}"], "has a header but no rows"),
    T("train-data-columns", ["--train-data", "{nocol_csv}"], "missing column(s) 'image', 'caption'"),
    T("train-data-delimiter", ["--train-data", "{tabbed_csv}"], "wrong delimiter?"),
    T("train-data-image", ["--train-data", "{missing_img_csv}"], "row 1: image file"),
    # found before any status line ("decoding … into memory"), and under --nproc before any rank starts
    T("train-data-corrupt-image", ["--train-data", "{corrupt_img_csv}"], "row 1: image file"),
    T("batch-over-data", ["--batch-size", "32"], "16 pairs make 0 batch(es) of 32"),
    T("nproc-train-data-missing", ["--train-data", "{root}/nope.csv", "--nproc", "2"], "nope.csv: file not found"),
    T("nproc-corrupt-image", ["--train-data", "{corrupt_img_csv}", "--nproc", "2"], "corrupt.png unreadable"),
    T("nproc-batch-over-data", ["--batch-size", "16", "--nproc", "2"], "(--batch-size 16 × 2 rank(s))"),
    T("nproc-logs-is-file", ["--logs", "{a_file}", "--nproc", "2"], "--logs"),
    T("train-data-empty-image", ["--train-data", "{empty_image_csv}"], "row 1: empty 'image' value"),
    T("image-key", ["--image-key", "picture"], "missing column(s) 'picture'"),
    T("val-data-missing", ["--val-data", "{root}/nope-val.csv"], "nope-val.csv: file not found"),
    T("resume-missing", ["--resume", "{root}/nope.pt", "--name", "r"], "--resume"),
    T("resume-garbage", ["--resume", "{ckpt_garbage}", "--name", "r"], "not a torch.save checkpoint (byte 110"),
    T("resume-no-state", ["--resume", "{ckpt_random}", "--name", "r"], "no optimizer, scheduler"),
    T(
        "resume-other-arch",
        ["--resume", "{ckpt_trained}", "--name", "r", "--model", "tiny-vit"],
        "another architecture",
    ),
    T("resume-other-loss", ["--resume", "{ckpt_trained}", "--name", "r", "--loss", "cyclip"], "another loss config"),
    T(
        "resume-changed-run",
        ["--resume", "{ckpt_trained}", "--name", "r", "--lr", "0.1"],
        "would continue differently from the checkpoint (--batch-size 128 → 8, --lr 0.0005 → 0.1, --max-steps "
        "None → 1, --train-data a.csv → ",
    ),
    T("resume-bad-form", ["--resume", "{ckpt_sd_list}", "--name", "r"], "state_dict"),
    # --- train: --config TOML -----------------------------------------------------------------------------
    TC("lr_str", "key 'lr' = 'abc': expected a number"),
    TC("lr_numstr", "key 'lr' = '1e-3': expected a number"),
    TC("lr_inf", "key 'lr' = inf: expected a finite number"),
    TC("wd_nan", "key 'weight_decay' = nan"),
    TC("lambda_inf", "key 'lambda_inmodal' = inf"),
    TC("loss_params_str", "key 'loss_params' = 'low': expected a number"),
    TC("loss_params_unknown", "objective 'siglip' has no parameter 'temperature'"),
    TC("loss_params_scalar", "key 'loss_params' = 3"),
    TC("epochs_float", "key 'epochs' = 1.5: expected an integer"),
    TC("batch_bool", "key 'batch_size' = True: expected an integer"),
    TC("loss_int", "key 'loss' = 3"),
    TC("unknown", "unknown key 'precison'. Did you mean 'precision'?"),
    TC("invalid", "invalid TOML"),
    TC("train_scalar", "'train' must be a table"),
    TC("nested", "key 'model'"),
    TC("name_escape", "key 'name' = '../escape'"),
    TC("workers_neg", "key 'workers' = -1"),
    TC("device_bad", "key 'device' = 'gpu'"),
    TC("seed_negative", "key 'seed' = -5"),
    TC("delimiter_two", "key 'delimiter' = ';;'"),
    TC("grad_clip_zero", "key 'grad_clip' = 0.0"),
    T("config-missing", ["--config", "{root}/nope.toml"], "--config"),
    T("config-folder", ["--config", "{empty_dir}"], "is a folder"),
    # --- eval ---------------------------------------------------------------------------------------------
    E("batch-zero", ["--batch-size", "0"], "--batch-size 0: expected at least 1"),
    E("workers-negative", ["--workers", "-2"], "--workers -2"),
    E("precision", ["--precision", "fp8"], "--precision 'fp8'"),
    E("device-word", ["--device", "tpu"], "--device 'tpu'"),
    E("device-cuda", ["--device", "cuda"], "--device cuda: no CUDA GPU", marks=NO_GPU),
    E("out-is-file", ["--out", "{a_file}"], "--out"),
    E("out-under-file", ["--out", "{a_file}/sub"], "is a file, not a folder"),
    E("cache-is-file", ["--cache-dir", "{a_file}"], "--cache-dir"),
    E("data-root-missing", ["--data-root", "{root}/no-root"], "--data-root"),
    E("data-root-empty", ["--data-root", "{empty_dir}", "--no-cache"], "not found"),
    E("suite-missing-file", ["--suite", "{root}/nope.toml"], "suite file"),
    # --dataset instead of --suite (eval/dataset_suite.py): EVAL names --suite, so these build their own line
    E("suite-and-dataset", ["--dataset", "world-shapes"], "--suite and --dataset: give one of them"),
    E("task-with-suite", ["--task", "zeroshot"], "--task narrows the tasks of --dataset"),
    *(
        pytest.param([*EVAL_DS, *args], message, id=f"eval-dataset-{case_id}")
        for case_id, args, message in (
            ("unknown", ["--dataset", "world-shape"], "Did you mean 'world-shapes'?"),
            ("task-unknown", ["--dataset", "world-shapes", "--task", "probe"], "--task 'probe': unknown"),
            ("task-retrieval", ["--dataset", "world-retrieval", "--task", "zeroshot"], "--task zeroshot has nothing"),
            ("task-no-train", ["--dataset", "world-sketch", "--task", "linear_probe"], "fits on a train split"),
            ("missing", ["--dataset", "cifar10"], "wds_cifar10/test/nshards.txt"),
            ("wds-missing", ["--dataset", "wds/vtab/dtd"], "clip-benchmark/wds_vtab-dtd"),
            ("format-empty", ["--dataset", "imagefolder:"], "nothing after 'imagefolder:'"),
        )
    ),
    E("suite-unknown", ["--suite", "world-zeroshots"], "Did you mean"),
    E("checkpoint-missing", [], "does not exist", ckpt="{root}/nope.pt"),
    E("checkpoint-folder", [], "is a folder, expected a checkpoint file", ckpt="{empty_dir}"),
    E("checkpoint-tag-without-model", [], "needs --model", ckpt="openai"),
    E("checkpoint-label-slash", [], "'a/b' before '=' is not a label for LABEL=PATH", ckpt="a/b={root}/nope.pt"),
    E("checkpoint-label-no-path", [], "--checkpoint mine=: nothing after '='", ckpt="mine="),
    E("model-unknown", ["--model", "tiyn"], "tiyn", ckpt="openai"),
    ES("name_escape", "key 'name' = '../escape': expected a name usable as a file name"),
    ES("name_slash", "path separator"),
    ES("name_abs", "path separator"),
    ES("name_long", "longer than"),
    ES("name_nul", "control character"),
    ES("name_dotdot", "names a folder"),
    ES("version_str", "key 'version' = '1': expected an integer"),
    ES("version_zero", "key 'version' = 0: expected at least 1"),
    ES("no_tasks", "no tasks: give [[tasks]] tables or include"),
    ES("compositional_format", "a compositional task reads format 'sugarcrepe' or 'winoground', not 'captions'"),
    ES("include_unknown", "include: unknown suite 'world-zershot'. Did you mean 'world-zeroshot'?"),
    ES("include_cycle", "suite include cycle: "),
    ES("include_clash", "task 'fine-zeroshot' is already included from world-zeroshot.toml"),
    ES("tasks_scalar", "key 'tasks' = 3: expected a list"),
    ES("task_scalar", "key 'tasks'[0] = 1: expected a table"),
    ES("topk_zero", "option 'topk'[0] 0: expected at least 1"),
    ES("topk_negative", "option 'topk'[1] -5: expected at least 1"),
    ES("topk_empty", "option 'topk' []: expected at least 1 item"),
    ES("class_metadata_unknown", "class_metadata 'food1O1' is neither a .json file nor a shipped dataset"),
    ES("class_metadata_missing", "class_metadata: class metadata file nope/names.json not found"),
    ES("topk_float", "option 'topk'[0] 1.5: expected an integer"),
    ES("topk_scalar", "option 'topk' 3: expected a list"),
    ES("option_unknown", "unknown option 'topp'"),
    ES("options_scalar", "key 'options' = 3"),
    ES("recall_zero", "option 'recall_at'[0] 0"),
    ES("consistency_k", "option 'k'[0] 0"),
    ES("probe_fraction", "option 'val_fraction' 1.5: expected a number < 1"),
    ES("probe_max_iter", "option 'max_iter' 0"),
    ES("probe_fraction_inf", "option 'val_fraction' inf: expected a finite number"),
    ES("probe_on_its_test_split", "task 'p' (linear_probe) on dataset world-shapes: fits on split 'test', the split"),
    ES("split_escape", "key 'split' = '../../etc'"),
    ES("dataset_int", "key 'dataset' = 3"),
    ES("dataset_key", "unknown key 'pth'. Did you mean 'path'?"),
    ES("dataset_delimiter", "key 'delimiter' = ';;'"),
    ES("kind_unknown", "Did you mean 'zeroshot'"),
    ES("task_name_int", "key 'name' = 5"),
    ES("invalid", "invalid TOML"),
    ES("not_utf8", "invalid TOML"),
    EC("garbage", "cannot load checkpoint"),
    EC("list_payload", "is not a dict"),
    EC("mc_list", "model_config: expected a table"),
    EC("mc_unknown", "model_config: unknown key 'colour'"),
    EC("mc_vision_unknown", "model_config.vision_cfg: unknown key 'wdth'"),
    EC("mc_vision_type", "vision_cfg: key 'width' = '64': expected an integer"),
    EC("mc_embed_str", "'embed_dim' '64'"),
    EC("mc_no_text", "missing required key 'text_cfg'"),
    EC("sd_list", "state_dict: expected a mapping"),
    EC("sd_mixed_keys", "state_dict: key 3 is int"),
    EC("sd_value", "entry 'visual.extra' is str"),
    EC("sd_extra_key", "1 unexpected key(s)"),
    EC("pre_size", "preprocess: key 'image_size' = -1"),
    EC("pre_mean_inf", "preprocess: key 'mean'[0] = inf: expected a finite number"),
    EC("pre_interp", "preprocess: key 'interpolation' = 'lanczos9'"),
    EC("no_name", "no 'model_name' entry"),
    EC("name_int", "'model_name' 5"),
    EC("foreign_layout", "unrecognised layout"),
    # --- report -------------------------------------------------------------------------------------------
    R("missing", ["{root}/nope.json"], "no such results file"),
    R("empty-folder", ["{empty_dir}"], "has no result JSON files"),
    R("invalid-json", ["{results_invalid}"], "not valid JSON"),
    R("not-utf8", ["{results_latin1}"], "cannot read results file"),
    *(
        R(name, [f"{{res_{name}}}"], message)
        for name, message in [
            ("version_99", "unknown schema_version 99"),
            ("version_missing", "missing 'schema_version'"),
            ("array", "must be a JSON object"),
            ("metric_str", "metric 'top1' must be a number"),
            ("tasks_dict", "'tasks' must be a list"),
            ("per_example_str", "per_example['top1'] must be an array of numbers"),
            ("label_missing", "'label'"),
            ("metric_info_ref", "names 'nope'"),
            ("points_bad", "extra.points[0].id_top1 must be a number"),
            ("per_example_short", "(z): per_example['top1'] has 2 entries, expected 3 (extra.num_examples)"),
            ("per_example_unequal", "(z): per_example['label'] has 1 entries but per_example['top1'] has 2"),
            ("label_999", "(z): per_example['label'] holds 999; expected a class index 0..0"),
            ("per_example_7_5", "(z): per_example['top1'] holds 7.5"),
        ]
    ),
    R("duplicate", ["{res_valid}", "{valid_copy}"], "is also in"),
    R("out-is-file", ["{res_valid}"], "--out", out="{a_file}"),
    R("n-boot-small", ["{res_valid}", "--n-boot", "10"], "--n-boot 10: expected at least 100"),
    R("n-boot-huge", ["{res_valid}", "--n-boot", str(10**9)], "--n-boot"),
    R("seed-negative", ["{res_valid}", "--seed", "-1"], "--seed -1: expected at least 0"),
    R("baseline-unknown", ["{res_valid}", "--baseline", "nope"], "nope"),
    # --- export: the report's strict reader, and its own flags ---------------------------------------------
    *(
        pytest.param(["export", *args, "--out", out], message, id=f"export-{case_id}")
        for case_id, args, message, out in (
            ("missing", ["{root}/nope.json"], "no such results file", "{tmp}/export"),
            ("invalid-json", ["{results_invalid}"], "not valid JSON", "{tmp}/export"),
            ("version-99", ["{res_version_99}"], "unknown schema_version 99", "{tmp}/export"),
            ("format-unknown", ["{res_valid}", "--format", "csv"], "unknown export format 'csv'", "{tmp}/export"),
            ("language-slash", ["{res_valid}", "--language", "a/b"], "--language", "{tmp}/export"),
            ("out-is-file", ["{res_valid}"], "is a file; expected a folder", "{a_file}"),
        )
    ),
    # --- data ---------------------------------------------------------------------------------------------
    D("check-missing", ["check", "{root}/nope.csv"], "nope.csv"),
    D("check-delimiter-two", ["check", "{csv}", "--delimiter", ";;"], "--delimiter ';;'"),
    D("check-delimiter-empty", ["check", "{csv}", "--delimiter", ""], "--delimiter ''"),
    D("check-delimiter-quote", ["check", "{csv}", "--delimiter", '"'], "--delimiter"),
    D("check-empty", ["check", "{empty_csv}"], "file is empty"),
    D("check-wrong-delimiter", ["check", "{tabbed_csv}"], "wrong delimiter?"),
    D("check-columns", ["check", "{nocol_csv}"], "missing column(s)"),
    D("check-missing-image", ["check", "{missing_img_csv}"], "problem(s)"),
    D("check-bad-label", ["check", "{labelled_bad}"], "labels.csv"),
    D("check-metadata-missing", ["check", "{labelled_bad}", "--metadata", "{root}/nope.json"], "nope.json"),
    D("check-metadata-invalid", ["check", "{labelled_bad}", "--metadata", "{meta_invalid}"], "meta_invalid"),
    D("check-metadata-unknown", ["check", "{labelled_bad}", "--metadata", "{meta_unknown}"], "'colours'"),
    D("fixture-layout", ["fixture", "{tmp}/fx", "--layout", "webdataset"], "--layout 'webdataset'"),
    D("fixture-wds-shard-size", ["fixture", "{tmp}/fx", "--wds-shard-size", "0"], "--wds-shard-size 0"),
    D("synth-size-negative", ["synth", "{tmp}/w", "--size", "-1"], "--size -1.0: expected a number > 0"),
    D("synth-size-inf", ["synth", "{tmp}/w", "--size", "inf"], "--size inf: expected a finite number"),
    D("synth-size-nan", ["synth", "{tmp}/w", "--size", "nan"], "--size nan"),
    D("synth-image-size", ["synth", "{tmp}/w", "--image-size", "7"], "--image-size"),
    D("synth-seed-negative", ["synth", "{tmp}/w", "--seed", "-1"], "--seed"),
    D("synth-out-is-file", ["synth", "{a_file}"], "not a folder"),
    D("synth-out-not-empty", ["synth", "{root}/results"], "not empty"),
    # --- demo: its config goes through the same validation layer, before the world is generated -----------
    *(
        pytest.param(["demo", "--out", "{tmp}/demo", *args], message, id=f"demo-{case_id}")
        for case_id, args, message in (
            ("world-size-inf", ["--world-size", "inf"], "--world-size inf: expected a finite number"),
            ("world-size-zero", ["--world-size", "0"], "--world-size 0.0: expected a number > 0"),
            ("lr-nan", ["--lr", "nan"], "--lr nan: expected a finite number"),
            ("lr-negative", ["--lr", "-1"], "--lr -1.0: expected a number > 0"),
            ("epochs-zero", ["--epochs", "0"], "--epochs 0: expected at least 1"),
            ("batch-one", ["--batch-size", "1"], "--batch-size 1: expected at least 2"),
            ("seed-negative", ["--seeds", "0,-1"], "--seeds"),
            ("world-seed-negative", ["--world-seed", "-3"], "--world-seed -3: expected at least 0"),
            ("objective-unknown", ["--objectives", "clip,simclr"], "--objectives: unknown simclr"),
            ("suite-empty", ["--suite", ""], "--suite"),
        )
    ),
    pytest.param(["demo", "--out", "{a_file}"], "--out", id="demo-out-is-file"),
]


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


@pytest.mark.parametrize(("args", "message"), CASES)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(env, tmp_path, args, message):
    values = {**env, "tmp": str(tmp_path)}
    argv = [a.format_map(values) for a in args]
    shared_before = _snapshot(Path(env["root"]))
    result = cli(*argv)
    lines = result.stderr.splitlines()
    assert result.returncode == 2, (argv, result.stderr, result.stdout[-500:])
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert message in lines[0], lines[0]
    assert not list(tmp_path.iterdir()), f"written before the input was refused: {list(tmp_path.rglob('*'))}"
    assert _snapshot(Path(env["root"])) == shared_before, "a shared input file was changed"


def test_the_sweep_covers_every_command_with_about_a_hundred_cases():
    commands = [param.values[0][0] for param in CASES]
    assert len(CASES) >= 100
    assert {c: commands.count(c) >= 10 for c in ("train", "eval", "report", "data")} == dict.fromkeys(
        ("train", "eval", "report", "data"), True
    )
