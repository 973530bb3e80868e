"""CLIP_benchmark 1.6.2 and cyclip-bench side by side: the same real-layout fixture files, the same checkpoint, fp32.

Both tools run from their own CLI in their own process on one open_clip state dict (random init, seeded; saved once),
zero-shot on the datasets given (default CIFAR-10 and CIFAR-100 test batches in the real pickle format, written by
``cyclip-bench data fixture``; ``imagenet1k``: the val layout of 1,000 wnid folders, --per-class images each).
Prints one JSON line: per dataset top-1, top-5 and mean per-class recall of each tool, the share of images whose top-1
class both tools predict alike (and how many distinct classes ours predicts: equal accuracies of a model that names
one class for everything prove little), whether their class names and templates are the same, and each tool's wall
time for the whole multi-dataset run.

CLIP_benchmark needs its own venv (numpy < 2.4: its zero-shot helper calls float() on a 1-element array, which
numpy ≥ 2.4 rejects), e.g. reusing this project's torch through a .pth file:
    python3 -m venv /tmp/cb-venv
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/cb-venv/lib/python3.11/site-packages/zz_project.pth
    /tmp/cb-venv/bin/pip install --no-deps "clip-benchmark==1.6.2" "numpy<2.4" requests urllib3 certifi \\
        pycocoevalcap scikit-learn joblib threadpoolctl cloudpickle narwhals
    python bench/clip_benchmark_side_by_side.py --cb-python /tmp/cb-venv/bin/python --cifar-test-size 1000
torchvision's CIFAR loader (which CLIP_benchmark uses) checks the archive's md5 sums; the fixture's files are not the
real archive's, so that one check is switched off in CLIP_benchmark's process (``check_integrity``) and nothing else
changes; its ``run_classification`` is wrapped only to write down the logits' argmax and the labels it returns.
torchvision's ImageNet (CLIP_benchmark's imagenet1k) reads the wnids from the devkit archive, or from the ``meta.bin``
it caches from it; CLIP_benchmark gets a root of its own (symlinks to the same files) holding a ``meta.bin`` written
from the fixture's wnid folders — the class names it then uses are its own OpenAI list, as with the real release.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "cyclip_bench"]

# CLIP_benchmark's CLI in a process where torchvision's md5 check of the CIFAR archive accepts the fixture's files.
CB_MAIN = r"""
import sys
import torchvision.datasets.cifar as cifar
import cyclip_bench.models  # registers this project's presets (tiny, …) with open_clip, as in our own process
cifar.check_integrity = lambda *args, **kwargs: True
import json, os
from clip_benchmark.metrics import zeroshot_classification as zs
_run_classification = zs.run_classification
def _dump(*args, **kwargs):  # each dataset's top-1 predictions and labels, in CLIP_benchmark's order, to compare
    logits, target = _run_classification(*args, **kwargs)
    folder = os.environ.get("CB_PREDICTIONS")
    if folder:
        n = len(os.listdir(folder))
        doc = {"prediction": logits.argmax(1).tolist(), "label": target.tolist()}
        open(os.path.join(folder, f"{n:03d}.json"), "w").write(json.dumps(doc))
    return logits, target
zs.run_classification = _dump
from clip_benchmark.cli import main
sys.argv = ["clip_benchmark"] + sys.argv[1:]
main()
"""

# The catalog's datasets whose class metadata has another name (ImageNet's serves every ImageNet layout).
METADATA = {"imagenet1k": "imagenet"}

METRICS = ("top1", "top5", "mean_per_class_recall")

SUITE_TASK = '[[tasks]]\nname = "{name}-zeroshot"\nkind = "zeroshot"\ndataset = "{name}"\nsplit = "test"\n'


def _run(cmd: list[str], env: dict[str, str]) -> float:
    """Run a command; its wall time in seconds. Exits with the command's stderr tail if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} … failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def build_fixture(out: Path, datasets: list[str], cifar_test_size: int, per_class: int, env: dict[str, str]) -> None:
    cmd = [*CLI, "data", "fixture", str(out), "--train-per-class", "1", "--cifar-test-size", str(cifar_test_size)]
    cmd += ["--per-class", str(per_class)]
    for name in datasets:
        cmd += ["--dataset", name]
    _run(cmd, env)


def clip_benchmark_root(fixture: Path, datasets: list[str], tmp: Path) -> str:
    """CLIP_benchmark's --dataset_root template over the same files: ``ROOT/{dataset}`` → the fixture (CIFAR
    pickles) or, for imagenet1k, a folder with ``val`` linked to the fixture's and torchvision's ``meta.bin``."""
    import torch

    root = tmp / "cb-root"
    root.mkdir()
    for name in datasets:
        if name == "imagenet1k":
            folder = root / name
            folder.mkdir()
            (folder / "val").symlink_to((fixture / "imagenet" / "val").resolve())
            wnids = sorted(p.name for p in (folder / "val").iterdir() if p.is_dir())
            torch.save(({wnid: (wnid,) for wnid in wnids}, []), folder / "meta.bin")
        else:
            (root / name).symlink_to(fixture.resolve())
    return str(root / "{dataset}")


def save_checkpoint(args: argparse.Namespace, path: Path) -> None:
    """An open_clip state dict, the form both tools load (open_clip's own ``pretrained=FILE``): the weights of
    ``--checkpoint`` (a cyclip-bench checkpoint; ``--model`` becomes its architecture) or a seeded random init.
    A random RN50 tends to predict one class for every image, so equal accuracies alone prove little; a trained
    checkpoint gives varied predictions to compare."""
    import torch

    from cyclip_bench.models import create_model, load_checkpoint

    if args.checkpoint:
        payload = load_checkpoint(args.checkpoint)
        args.model = payload["model_name"]
        torch.save(payload["state_dict"], path)
        return
    torch.manual_seed(args.seed)
    net, _ = create_model(args.model)
    torch.save(net.state_dict(), path)


def ours(args: argparse.Namespace, checkpoint: Path, tmp: Path, env: dict[str, str]) -> tuple[float, dict]:
    suite = tmp / "side-by-side.toml"
    suite.write_text(
        'name = "side-by-side"\nversion = 1\n\n' + "\n".join(SUITE_TASK.format(name=n) for n in args.datasets)
    )
    out = tmp / "ours"
    cmd = [*CLI, "eval", "-c", str(checkpoint), "--model", args.model, "--suite", str(suite)]
    cmd += ["--data-root", str(args.fixture), "--out", str(out), "--no-cache", "--precision", "fp32"]
    cmd += ["--batch-size", str(args.batch_size), "--workers", str(args.workers)]
    seconds = _run(cmd, env)
    doc = json.loads(next(out.glob("*.json")).read_text())
    tasks = {t["dataset"]: t for t in doc["tasks"]}
    return seconds, {
        name: {
            **{k: tasks[name]["metrics"][k] for k in METRICS},
            **{k: tasks[name]["per_example"][k] for k in ("prediction", "label")},
        }
        for name in args.datasets
    }


def theirs(
    args: argparse.Namespace,
    checkpoint: Path,
    tmp: Path,
    env: dict[str, str],
    datasets: list[str] | None = None,
    classnames: Path | None = None,
) -> tuple[float, dict]:
    """CLIP_benchmark's CLI on ``datasets`` (default all); ``classnames``: its --custom_classname_file."""
    datasets = datasets or args.datasets
    out = tmp / ("theirs-with-our-names" if classnames else "theirs")
    out.mkdir()
    cmd = [args.cb_python, "-c", CB_MAIN, "eval", "--dataset", *datasets, "--dataset_root", args.cb_root]
    if classnames:
        cmd += ["--custom_classname_file", str(classnames)]
    cmd += ["--model", args.model, "--pretrained", str(checkpoint), "--task", "zeroshot_classification"]
    cmd += ["--no_amp", "--batch_size", str(args.batch_size), "--num_workers", str(args.workers)]
    cmd += ["--output", str(out / "{dataset}.json"), "--dump_classnames", "--dump_templates"]
    predictions = out / "predictions"
    predictions.mkdir()
    seconds = _run(cmd, {**env, "CB_PREDICTIONS": str(predictions)})
    dumps = sorted(predictions.glob("*.json"))  # one per dataset, in the order of --dataset
    found = {}
    for i, name in enumerate(datasets):
        doc = json.loads((out / f"{name}.json").read_text())
        metrics = doc["metrics"]
        found[name] = {
            "top1": metrics["acc1"],
            "top5": metrics["acc5"],
            "mean_per_class_recall": metrics["mean_per_class_recall"],
            "classnames": doc.get("classnames"),
            "templates": doc.get("templates"),
            **(json.loads(dumps[i].read_text()) if i < len(dumps) else {"prediction": None, "label": None}),
        }
    return seconds, found


def metrics_equal(ours_row: dict, cb_row: dict) -> bool:
    """Top-1, top-5 and mean per-class recall the same to 1e-6."""
    return all(abs(ours_row[k] - cb_row[k]) < 1e-6 for k in METRICS)


def agreement(ours_row: dict, cb_row: dict) -> dict:
    """Per-image top-1 agreement of the two tools (same images in the same order: the labels must match)."""
    if cb_row["label"] != ours_row["label"]:
        return {"same_labels_in_order": False}
    same = sum(a == b for a, b in zip(ours_row["prediction"], cb_row["prediction"], strict=True))
    return {
        "same_labels_in_order": True,
        "top1_prediction_agreement": round(same / max(len(ours_row["label"]), 1), 6),
        "distinct_predicted_classes": len(set(ours_row["prediction"])),
    }


def prompts_agree(name: str, cb: dict) -> dict[str, bool]:
    """Are CLIP_benchmark's class names and templates for ``name`` ours (its {c} is our {})?"""
    from cyclip_bench.data.metadata import builtin_metadata

    meta = builtin_metadata(METADATA.get(name, name))
    return {
        "same_class_names": list(meta.classes) == list(cb["classnames"] or []),
        "same_templates": [t.replace("{}", "{c}") for t in meta.templates] == list(cb["templates"] or []),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cb-python", required=True, help="python of a venv with clip-benchmark 1.6.2")
    parser.add_argument("--fixture", type=Path, default=None, help="real-layout fixture (built if missing)")
    parser.add_argument("--datasets", default="cifar10,cifar100", help="comma list (default cifar10,cifar100)")
    parser.add_argument("--cifar-test-size", type=int, default=1000, help="images per CIFAR test batch (≤ 10000)")
    parser.add_argument("--per-class", type=int, default=1, help="ImageNet val images per class")
    parser.add_argument("--model", default="RN50-quickgelu", help="architecture of a random-init checkpoint")
    parser.add_argument("--checkpoint", type=Path, default=None, help="a trained cyclip-bench checkpoint instead")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for both tools")
    args = parser.parse_args()
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]

    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="cb-side-"))
    args.fixture = args.fixture or tmp / "fixture"
    if not args.fixture.is_dir():
        build_fixture(args.fixture, args.datasets, args.cifar_test_size, args.per_class, env)
    args.cb_root = clip_benchmark_root(args.fixture, args.datasets, tmp)
    checkpoint = tmp / "open_clip_state_dict.pt"
    save_checkpoint(args, checkpoint)
    ours_s, ours_m = ours(args, checkpoint, tmp, env)
    theirs_s, theirs_m = theirs(args, checkpoint, tmp, env)
    rows = {
        name: {
            **{f"ours_{k}": round(ours_m[name][k], 6) for k in METRICS},
            **{f"clip_benchmark_{k}": round(theirs_m[name][k], 6) for k in METRICS},
            "equal": metrics_equal(ours_m[name], theirs_m[name]),
            **prompts_agree(name, theirs_m[name]),
            **agreement(ours_m[name], theirs_m[name]),
        }
        for name in args.datasets
    }
    # Where CLIP_benchmark names the classes differently (CIFAR-100: torchvision's "aquarium_fish" where OpenAI's
    # prompts, and ours, say "aquarium fish"), run it again with our names: then the numbers must be equal too.
    differ = [name for name in args.datasets if not rows[name]["same_class_names"]]
    if differ:
        from cyclip_bench.data.metadata import builtin_metadata

        names = tmp / "our-classnames.json"
        classes = {name: list(builtin_metadata(METADATA.get(name, name)).classes) for name in differ}
        names.write_text(json.dumps(classes))
        _, again = theirs(args, checkpoint, tmp, env, differ, names)
        for name in differ:
            rows[name].update({f"clip_benchmark_our_names_{k}": round(again[name][k], 6) for k in METRICS})
            rows[name]["equal_with_our_names"] = metrics_equal(ours_m[name], again[name])
            with_names = agreement(ours_m[name], again[name])
            if "top1_prediction_agreement" in with_names:
                rows[name]["top1_prediction_agreement_with_our_names"] = with_names["top1_prediction_agreement"]
    print(
        json.dumps(
            {
                "model": args.model,
                "datasets": rows,
                "ours_s": round(ours_s, 1),
                "clip_benchmark_s": round(theirs_s, 1),
                "ours_over_theirs": round(ours_s / theirs_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
